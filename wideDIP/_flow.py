"""Gradient flow `θ' = −∇L(θ)` (3) (docs/theory.md §1, §10) integrated by diffrax on all
seeds at once (vmap).

Each seed stops at a `diffrax.Event` (loss ≤ threshold unless told to go on, or diverged); only statistics are
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
from ._problem import Problem

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
    stop_at_threshold: bool = eqx.field(static=True, default=True)
    """False: integrate on past the threshold (a second leg, compiled only then)."""


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
    crossing_time: Float[Array, " seeds"]
    """When the loss first reached the threshold (NaN if never)."""
    crossing_steps: Int[Array, " seeds"]
    """Accepted solver steps until then (−1 if never)."""
    accepted_steps: Int[Array, " seeds"]
    solver_steps: Int[Array, " seeds"]
    """Accepted and rejected steps: the work done."""


class _Leg(eqx.Module):
    """One call of `diffeqsolve` for one seed: what the run needs of it."""

    saved: tuple
    """The statistics at the checkpoint times (and the states at the recording times), NaN
    outside `[t0, stop]`."""
    final: PyTree
    result: diffrax.RESULTS
    event_mask: tuple
    stop_time: Float[Array, ""]
    accepted_steps: Int[Array, ""]
    solver_steps: Int[Array, ""]


def _solve(dyn: eqx.Module, problem: Problem, start: PyTree, origin: PyTree, t0: Float[Array, ""],
           conditions: tuple, times: Float[Array, " checkpoints"], recording_times: Float[Array, " recorded"] | None,
           settings: FlowSettings) -> _Leg:
    """Integrate one seed from `(t0, start)` to the horizon, stopping at the first of `conditions`
    (diffrax event conditions) that holds; statistics against `origin = θ(0)`."""
    term = diffrax.ODETerm(lambda t, y, args: jax.tree.map(jnp.negative, dyn.loss_and_gradient(y)[1]))
    clipped = jnp.clip(times, t0, settings.horizon)  # diffrax saves within [t0, t1] only
    subs = [
        diffrax.SubSaveAt(ts=clipped, fn=lambda t, y, args: snapshot(dyn, problem, y, origin)),
        diffrax.SubSaveAt(t1=True),
    ]
    if recording_times is not None:
        subs.append(diffrax.SubSaveAt(ts=jnp.clip(recording_times, t0, settings.horizon),
                                      fn=lambda t, y, args: dyn.features(y)))
    if settings.solver == "euler":
        controller, dt0 = diffrax.ConstantStepSize(), settings.step_size
    else:
        controller, dt0 = diffrax.PIDController(rtol=settings.rtol, atol=settings.atol), None
    solution = diffrax.diffeqsolve(
        term,
        SOLVERS[settings.solver](),
        t0=t0,
        t1=settings.horizon,
        dt0=dt0,
        y0=start,
        saveat=diffrax.SaveAt(subs=subs),
        stepsize_controller=controller,
        event=diffrax.Event(conditions),
        max_steps=settings.max_steps,
        throw=False,
        progress_meter=diffrax.TqdmProgressMeter() if settings.progress else diffrax.NoProgressMeter(),
    )
    stop_time = solution.ts[1][0]

    def inside(at, leaf):  # diffrax fills the slots after an early stop with inf: "not recorded"
        kept = (at >= t0) & (at <= stop_time)
        return jnp.where(kept.reshape((-1,) + (1,) * (leaf.ndim - 1)), leaf, jnp.nan)

    saved = (jax.tree.map(lambda leaf: inside(times, leaf), solution.ys[0]),
             None if recording_times is None else inside(recording_times, solution.ys[2]))
    return _Leg(saved, jax.tree.map(lambda leaf: leaf[0], solution.ys[1]), solution.result, solution.event_mask,
                stop_time, solution.stats["num_accepted_steps"], solution.stats["num_steps"])


@eqx.filter_jit
def integrate(
    dynamics: eqx.Module,
    problems: Problem,
    parameters: PyTree,
    times: Float[Array, " checkpoints"],
    rule: StoppingRule,
    settings: FlowSettings,
    recording_times: Float[Array, " recorded"] | None = None,
) -> FlowRun:
    """Integrate the flow of every seed from `parameters` up to `settings.horizon`, recording
    the state at `recording_times` (a subset of `times`) when given. Without
    `settings.stop_at_threshold`, a seed that reaches the threshold is integrated on from there
    to the horizon (a second leg: diffrax events always end the solve), so that the crossing's
    time and solver steps are exact."""

    def one(dyn: eqx.Module, problem: Problem, start: PyTree) -> FlowRun:
        initial_loss = dyn.loss(start)

        def diverged(t, y, args, **kwargs):
            return ~(dyn.loss(y) <= rule.divergence_factor * initial_loss)

        def reached(t, y, args, **kwargs):
            return dyn.loss(y) <= rule.threshold

        first = _solve(dyn, problem, start, start, jnp.zeros_like(settings.horizon), (reached, diverged), times,
                       recording_times, settings)
        event_occurred = first.result == diffrax.RESULTS.event_occurred
        converged_event, diverged_event = first.event_mask
        crossed = event_occurred & converged_event
        outcome = jnp.where(
            crossed,
            CONVERGED,
            jnp.where(
                event_occurred & diverged_event,
                DIVERGED,
                jnp.where(first.result == diffrax.RESULTS.successful, STALLED, SOLVER_FAILED),
            ),
        )
        saved, final, stop_time = first.saved, first.final, first.stop_time
        accepted, steps = first.accepted_steps, first.solver_steps
        if not settings.stop_at_threshold:
            # seeds that did not cross start at the horizon: a solve of length zero, ignored
            t0 = jnp.where(crossed, first.stop_time, settings.horizon)
            second = _solve(dyn, problem, first.final, start, t0, (diverged,), times, recording_times, settings)
            saved = jax.tree.map(lambda a, b: jnp.where(crossed & jnp.isnan(a), b, a), first.saved, second.saved)
            outcome = jnp.where(
                crossed & (second.result == diffrax.RESULTS.event_occurred),
                DIVERGED,
                jnp.where(crossed & ~diffrax.is_okay(second.result), SOLVER_FAILED, outcome),
            )
            final = second.final  # = first.final where the solve had length zero
            stop_time = jnp.where(crossed, second.stop_time, first.stop_time)
            accepted, steps = accepted + second.accepted_steps, steps + second.solver_steps
        return FlowRun(
            snapshots=saved[0],
            states=saved[1],
            final_parameters=final,
            final_loss=dyn.loss(final),
            initial_loss=initial_loss,
            outcome=outcome,
            stop_time=stop_time,
            crossing_time=jnp.where(crossed, first.stop_time, jnp.nan),
            crossing_steps=jnp.where(crossed, first.accepted_steps, -1),
            accepted_steps=accepted,
            solver_steps=steps,
        )

    return jax.vmap(one)(dynamics, problems, parameters)
