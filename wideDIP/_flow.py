"""Gradient flow `θ' = −∇L(θ)` (3) (docs/theory.md §1, §10) integrated by diffrax on all
seeds at once (vmap).

Each seed stops at a `diffrax.Event` (loss ≤ threshold, or diverged); only statistics are
saved at the checkpoint times (`SaveAt(fn=...)`), and the recorded state (`features`) only at
the times asked for, never whole trajectories of `W`. Solver
failures (step budget, step size underflow) never raise: they become `solver_failed`."""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from ._descent import Snapshot, StoppingRule, snapshot
from ._outcomes import CONVERGED, DIVERGED, SOLVER_FAILED, STALLED

SOLVERS = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "kvaerno5": diffrax.Kvaerno5,
    "euler": diffrax.Euler,
}


class FlowSettings(eqx.Module):
    """The solver and its controls; `solver` and `max_steps` shape the compiled code."""

    rtol: Float[Array, ""]
    atol: Float[Array, ""]
    horizon: Float[Array, ""]
    step_size: Float[Array, ""]
    """The constant step of `euler` (unused by the adaptive solvers)."""
    solver: str = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    progress: bool = eqx.field(static=True)


class FlowRun(eqx.Module):
    """Every seed's integrated flow; leading axis = seed."""

    snapshots: Snapshot
    """Statistics at the checkpoint times, NaN after the seed stopped."""
    states: Float[Array, "seeds recorded s"] | None
    """The recorded state (`dynamics.features`) at the recording times, NaN after the stop; None
    when none were asked for."""
    final_parameters: PyTree
    final_loss: Float[Array, " seeds"]
    initial_loss: Float[Array, " seeds"]
    outcome: Int[Array, " seeds"]
    stop_time: Float[Array, " seeds"]
    accepted_steps: Int[Array, " seeds"]
    solver_steps: Int[Array, " seeds"]
    """Accepted and rejected steps: the work done."""


@eqx.filter_jit
def integrate(
    dynamics: eqx.Module,
    parameters: PyTree,
    times: Float[Array, " checkpoints"],
    rule: StoppingRule,
    settings: FlowSettings,
    recording_times: Float[Array, " recorded"] | None = None,
) -> FlowRun:
    """Integrate the flow of every seed from `parameters` up to `settings.horizon`, recording
    the state at `recording_times` (a subset of `times`) when given."""

    def one(dyn: eqx.Module, start: PyTree) -> FlowRun:
        initial_loss = dyn.loss(start)
        term = diffrax.ODETerm(lambda t, y, args: jax.tree.map(jnp.negative, dyn.loss_and_gradient(y)[1]))
        event = diffrax.Event(
            (
                lambda t, y, args, **kwargs: dyn.loss(y) <= rule.threshold,
                lambda t, y, args, **kwargs: ~(dyn.loss(y) <= rule.divergence_factor * initial_loss),
            )
        )
        subs = [
            diffrax.SubSaveAt(ts=times, fn=lambda t, y, args: snapshot(dyn, y, start)),
            diffrax.SubSaveAt(t1=True),
        ]
        if recording_times is not None:
            subs.append(diffrax.SubSaveAt(ts=recording_times, fn=lambda t, y, args: dyn.features(y)))
        saveat = diffrax.SaveAt(subs=subs)
        if settings.solver == "euler":
            controller, dt0 = diffrax.ConstantStepSize(), settings.step_size
        else:
            controller, dt0 = diffrax.PIDController(rtol=settings.rtol, atol=settings.atol), None
        solution = diffrax.diffeqsolve(
            term,
            SOLVERS[settings.solver](),
            t0=jnp.zeros_like(settings.horizon),
            t1=settings.horizon,
            dt0=dt0,
            y0=start,
            saveat=saveat,
            stepsize_controller=controller,
            event=event,
            max_steps=settings.max_steps,
            throw=False,
            progress_meter=diffrax.TqdmProgressMeter() if settings.progress else diffrax.NoProgressMeter(),
        )
        saved, final = solution.ys[:2]
        final = jax.tree.map(lambda leaf: leaf[0], final)
        event_occurred = solution.result == diffrax.RESULTS.event_occurred
        converged_event, diverged_event = solution.event_mask
        outcome = jnp.where(
            event_occurred & converged_event,
            CONVERGED,
            jnp.where(
                event_occurred & diverged_event,
                DIVERGED,
                jnp.where(solution.result == diffrax.RESULTS.successful, STALLED, SOLVER_FAILED),
            ),
        )
        stop_time = solution.ts[1][0]
        # diffrax fills the slots after an early stop with inf: mark them as "not recorded"
        saved = jax.tree.map(lambda leaf: jnp.where(times.reshape((-1,) + (1,) * (leaf.ndim - 1)) <= stop_time, leaf, jnp.nan), saved)
        states = None
        if recording_times is not None:
            states = jnp.where((recording_times <= stop_time)[:, None], solution.ys[2], jnp.nan)
        return FlowRun(
            snapshots=saved,
            states=states,
            final_parameters=final,
            final_loss=dyn.loss(final),
            initial_loss=initial_loss,
            outcome=outcome,
            stop_time=stop_time,
            accepted_steps=solution.stats["num_accepted_steps"],
            solver_steps=solution.stats["num_steps"],
        )

    return jax.vmap(one)(dynamics, parameters)
