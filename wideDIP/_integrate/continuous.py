"""A continuous dynamics (docs/theory.md §1, §10, §11) integrated by diffrax on all seeds at once
(vmap): the gradient flow `θ' = −∇L(θ)` (3), or any `GradientFlow` subclass that supplies its own
state (the inertial flow's `(θ, θ')`), vector field and position `θ` (`initial_state`,
`vector_field`, `position`, `stiffness`), with the same events, checkpoints, outcomes and solvers.

Each seed stops at a `diffrax.Event` (loss ≤ threshold unless told to go on, or diverged); only
statistics are saved at the checkpoint times (`SaveAt(fn=...)`), and the recorded state (`features`)
only at the times asked for, never whole trajectories of `W`. Solver failures (step budget, step
size underflow) never raise: they become `solver_failed`. `solver="auto"`: Tsit5, then Kvaerno5 in
float64 for the seeds it leaves short of the horizon (`run`)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PyTree

from .._dynamics.base import in_precision
from .._dynamics.flow import SOLVERS, GradientFlow
from .._problems.problem import Problem
from .._runtime.locks import LAPACK_LOCK
from .._runtime.parallel import over_seeds, padded_seeds
from .discrete import StoppingRule, Trajectory, snapshot
from .newton import ode_solver, solves_over_devices
from .outcomes import Outcome

AUTO_STIFF_SOLVER = "kvaerno5"
"""The solver that continues, in float64, the seeds that `solver="auto"` leaves unfinished."""
EXPLICIT_STABILITY = 3.0
"""`c` in the step limit `h ≲ c/|s|` of Tsit5 (docs/theory.md §10), `|s|` the largest rate of the
linearised ODE (`stiffness`; the flow's: `λ_max(H)`): `T |s|/c` steps to reach the horizon `T`."""
IMPLICIT_STEP_COST = 8.0
"""The cost of a Kvaerno5 step (float64, structured Newton solves) in Tsit5 steps, per seed: measured
4.5 to 8 at `(m, k)` = (10, 1000), (50, 250), (10, 100) (`benchmarks/run.py`, docs/performance.md)."""
IMPLICIT_STEPS = 1000
"""Kvaerno5's steps to the horizon on a stiff seed: measured 800 to 1130 on Figure 1's stiff corner."""
PROBE_FRACTION = 0.02
"""The share of the step budget that `solver="auto"` gives Tsit5 on a seed predicted stiff."""


class _StepLimit(diffrax.AbstractStepSizeController):
    """`controller` that also ends the solve, as `max_steps_reached`, once `limit` steps (accepted
    or rejected) are spent: a step budget per seed inside one vmapped solve (diffrax's
    `max_steps` is one number for all). It changes no step: below its limit a seed runs exactly
    as under `controller`."""

    controller: diffrax.PIDController
    limit: Int[Array, ""]
    end: Float[Array, ""]
    """The solve's `t1`: a step that reaches it finishes the solve, whatever the count."""

    def wrap(self, direction):
        return _StepLimit(self.controller.wrap(direction), self.limit, self.end)

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        tnext, state = self.controller.init(terms, t0, t1, y0, dt0, args, func, error_order)
        return tnext, (state, jnp.zeros((), self.limit.dtype))

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, controller_state):
        state, spent = controller_state
        keep, next_t0, next_t1, jump, state, result = self.controller.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, state
        )
        spent = spent + 1
        finished = keep & (next_t0 >= self.end)
        result = diffrax.RESULTS.where(
            (spent >= self.limit) & ~finished & diffrax.is_okay(result), diffrax.RESULTS.max_steps_reached, result
        )
        return keep, next_t0, next_t1, jump, (state, spent), result


class _Leg(eqx.Module):
    """One call of `diffeqsolve` for one seed: what the run needs of it."""

    saved: tuple
    """The statistics at the checkpoint times (and the states at the recording times), NaN
    outside `[t0, stop]`."""
    final: PyTree
    """The integrated state (`settings.position` of it: θ) at the stop."""
    result: diffrax.RESULTS
    event_mask: tuple
    stop_time: Float[Array, ""]
    accepted_steps: Int[Array, ""]
    solver_steps: Int[Array, ""]


def _solve(
    dyn: eqx.Module,
    problem: Problem,
    start: PyTree,
    origin: PyTree,
    t0: Float[Array, ""],
    conditions: tuple,
    times: Float[Array, " checkpoints"],
    recording_times: Float[Array, " recorded"] | None,
    settings: GradientFlow,
    budget: Int[Array, ""] | None = None,
) -> _Leg:
    """Integrate one seed from `(t0, start)` (`start`: the integrated state, `settings.initial_state`)
    to the horizon, stopping at the first of `conditions` (diffrax event conditions) that holds, or
    (`max_steps_reached`) once `budget` steps are spent when one is given (below
    `settings.max_steps`); statistics of the position `θ` against `origin = θ(0)`."""
    t1 = settings.time_budget
    term = diffrax.ODETerm(lambda t, y, args: settings.vector_field(dyn, y))
    clipped = jnp.clip(times, t0, t1)  # diffrax saves within [t0, t1] only
    subs = [
        diffrax.SubSaveAt(ts=clipped, fn=lambda t, y, args: snapshot(dyn, problem, settings.position(y), origin)),
        diffrax.SubSaveAt(t1=True),
    ]
    if recording_times is not None:
        record = lambda t, y, args: dyn.features(settings.position(y))  # noqa: E731
        subs.append(diffrax.SubSaveAt(ts=jnp.clip(recording_times, t0, t1), fn=record))
    if settings.solver == "euler":
        controller, dt0 = diffrax.ConstantStepSize(), settings.step_size
    else:
        controller, dt0 = diffrax.PIDController(rtol=settings.rtol, atol=settings.atol), None
        if budget is not None:
            controller = _StepLimit(controller, budget, t1)
    solution = diffrax.diffeqsolve(
        term,
        ode_solver(settings, dyn),
        t0=t0,
        t1=t1,
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
    # a solve that took no step (an event at t0, e.g. a NaN loss from the start; a solve of length
    # zero) saved nothing, not even at t0
    stepped = solution.stats["num_steps"] > 0

    def inside(at, leaf):  # diffrax fills the slots after an early stop with inf: "not recorded"
        kept = (at >= t0) & (at <= stop_time) & stepped
        return jnp.where(kept.reshape((-1,) + (1,) * (leaf.ndim - 1)), leaf, jnp.nan)

    saved = (
        jax.tree.map(lambda leaf: inside(times, leaf), solution.ys[0]),
        None if recording_times is None else inside(recording_times, solution.ys[2]),
    )
    return _Leg(
        saved,
        jax.tree.map(lambda leaf: leaf[0], solution.ys[1]),
        solution.result,
        solution.event_mask,
        stop_time,
        solution.stats["num_accepted_steps"],
        solution.stats["num_steps"],
    )


def _seed(
    dyn: eqx.Module,
    problem: Problem,
    start: PyTree,
    budget: Int[Array, ""] | None,
    origin: PyTree | None,
    t0: Float[Array, ""] | None,
    initial_loss: Float[Array, ""] | None,
    crossed_before: Bool[Array, ""] | None,
    *,
    times: Float[Array, " checkpoints"],
    rule: StoppingRule,
    settings: GradientFlow,
    recording_times: Float[Array, " recorded"] | None,
) -> Trajectory:
    """One seed from `(t0, start)` (`start`: an integrated state; without `origin`, a fresh start
    from `θ(0) = start` at 0) to the horizon, each leg within `budget` steps when given: stop at the
    threshold (unless told to go on) or at divergence (against `initial_loss`, the loss at θ(0) =
    `origin`). Without `settings.stop_at_threshold`, a seed that reaches the threshold goes on in a
    second leg (diffrax events end the solve), so that the crossing is exact; a seed that
    `crossed_before` this call (None: none did) has only that second leg. Crossing steps count from
    this call's start; `final_parameters` is the integrated state."""
    if origin is None:
        origin, t0, initial_loss = start, jnp.zeros_like(settings.time_budget), dyn.loss(start)
        start = settings.initial_state(dyn, start)
    crossed_before = None if settings.stop_at_threshold else crossed_before

    def loss(y):
        return dyn.loss(settings.position(y))

    def diverged(t, y, args, **kwargs):
        return ~(loss(y) <= rule.divergence_factor * initial_loss)

    def reached(t, y, args, **kwargs):
        return loss(y) <= rule.threshold

    # a seed that crossed before starts its first leg at the horizon: a solve of length zero
    first_t0 = t0 if crossed_before is None else jnp.where(crossed_before, settings.time_budget, t0)
    first = _solve(dyn, problem, start, origin, first_t0, (reached, diverged), times, recording_times, settings, budget)
    event_occurred = first.result == diffrax.RESULTS.event_occurred
    converged_event, diverged_event = first.event_mask
    crossed_now = event_occurred & converged_event
    crossed = crossed_now if crossed_before is None else crossed_now | crossed_before
    outcome = jnp.where(
        crossed,
        Outcome.CONVERGED,
        jnp.where(
            event_occurred & diverged_event,
            Outcome.DIVERGED,
            jnp.where(first.result == diffrax.RESULTS.successful, Outcome.STALLED, Outcome.SOLVER_FAILED),
        ),
    )
    saved, final, stop_time = first.saved, first.final, first.stop_time
    accepted, steps, result = first.accepted_steps, first.solver_steps, first.result
    if not settings.stop_at_threshold:
        # seeds that did not cross start at the horizon: a solve of length zero, ignored
        second_t0 = jnp.where(crossed_now, first.stop_time, settings.time_budget)
        if crossed_before is not None:
            second_t0 = jnp.where(crossed_before, t0, second_t0)  # (its first leg left `start` as it was)
        second = _solve(
            dyn, problem, first.final, origin, second_t0, (diverged,), times, recording_times, settings, budget
        )
        saved = jax.tree.map(lambda a, b: jnp.where(crossed & jnp.isnan(a), b, a), first.saved, second.saved)
        outcome = jnp.where(
            crossed & (second.result == diffrax.RESULTS.event_occurred),
            Outcome.DIVERGED,
            jnp.where(crossed & ~diffrax.is_okay(second.result), Outcome.SOLVER_FAILED, outcome),
        )
        final = second.final  # = first.final where the solve had length zero
        stop_time = jnp.where(crossed, second.stop_time, first.stop_time)
        result = diffrax.RESULTS.where(crossed, second.result, first.result)
        accepted, steps = accepted + second.accepted_steps, steps + second.solver_steps
    return Trajectory(
        snapshots=saved[0],
        states=saved[1],
        final_parameters=final,
        final_loss=loss(final),
        initial_loss=initial_loss,
        outcome=outcome,
        stop_time=stop_time,
        crossing_time=jnp.where(crossed_now, first.stop_time, jnp.nan),
        crossing_step=jnp.where(crossed_now, first.accepted_steps, -1),
        stop_step=accepted,
        solver_steps=steps,
        unfinished=result == diffrax.RESULTS.max_steps_reached,  # its step budget spent
    )


@eqx.filter_jit
def integrate(
    dynamics: eqx.Module,
    problems: Problem,
    parameters: PyTree,
    times: Float[Array, " checkpoints"],
    rule: StoppingRule,
    settings: GradientFlow,
    recording_times: Float[Array, " recorded"] | None = None,
    budgets: Int[Array, " seeds"] | None = None,
    origins: PyTree | None = None,
    starts: Float[Array, " seeds"] | None = None,
    initial_loss: Float[Array, " seeds"] | None = None,
    crossed: Bool[Array, " seeds"] | None = None,
) -> Trajectory:
    """The dynamics `settings` of every seed from `parameters` (θ(0)) to `settings.time_budget` by
    `settings.solver` (for "auto": its explicit leg), each leg within `budgets` steps when given, the
    state recorded at `recording_times` (a subset of `times`). Given `origins` (the θ(0)), a
    continuation of the integrated states `parameters` from the times `starts`, with the losses
    `initial_loss` at θ(0) and whether each seed `crossed` already. Its `final_parameters` are the
    integrated states (`run` gives their position θ)."""
    seed = functools.partial(_seed, times=times, rule=rule, settings=settings, recording_times=recording_times)
    return jax.vmap(seed)(dynamics, problems, parameters, budgets, origins, starts, initial_loss, crossed)


def explicit_budgets(settings: GradientFlow, largest_eigenvalue: np.ndarray) -> np.ndarray:
    """Per seed, the step budget of `solver="auto"`'s explicit (Tsit5) leg: `settings.max_steps`,
    or `PROBE_FRACTION` of it where `T |s|/c` (`|s|` = `settings.stiffness(λ_max(H(θ(0))))`, the
    flow's `λ_max`; c = `EXPLICIT_STABILITY`, docs/theory.md §10: Tsit5's steps to the horizon `T`)
    exceeds `settings.max_steps` or the cost of Kvaerno5 (`IMPLICIT_STEPS` steps of
    `IMPLICIT_STEP_COST`): a seed predicted stiff."""
    largest = settings.stiffness(np.asarray(largest_eigenvalue, np.float64))
    limit = min(settings.max_steps, IMPLICIT_STEP_COST * IMPLICIT_STEPS)
    stiff = float(settings.time_budget) * largest / EXPLICIT_STABILITY > limit
    probe = max(1, int(PROBE_FRACTION * settings.max_steps))
    return np.where(stiff, probe, settings.max_steps).astype(np.int32)


def _bucket(count: int) -> int:
    """Seeds continued at once, rounded up to a power of two (few shapes: few compilations; the
    same shape whatever the device count up to that many, so the same bits)."""
    return 1 << max(0, count - 1).bit_length()


def _merge(first: Trajectory, rest: Trajectory, index: np.ndarray) -> Trajectory:
    """`first` (every seed, on the host) with the seeds `index` continued by `rest`."""
    first = jax.tree.map(np.array, first)  # copies: written below
    rest = jax.tree.map(np.asarray, rest)
    before = first.stop_step[index]
    crossed_before = ~np.isnan(first.crossing_time[index])
    crossing_step = np.where(rest.crossing_step >= 0, before + rest.crossing_step, -1)
    rest = dataclasses.replace(
        rest,
        initial_loss=first.initial_loss[index],
        crossing_time=np.where(crossed_before, first.crossing_time[index], rest.crossing_time),
        crossing_step=np.where(crossed_before, first.crossing_step[index], crossing_step),
        stop_step=before + rest.stop_step,
        solver_steps=first.solver_steps[index] + rest.solver_steps,
    )

    def replaced(a, b):
        a[index] = b.astype(a.dtype)
        return a

    def joined(a, b):  # recorded before the continuation, else by it
        return replaced(a, np.where(np.isnan(a[index]), b.astype(a.dtype), a[index]))

    unsaved = [dataclasses.replace(run, snapshots=None, states=None) for run in (first, rest)]
    return dataclasses.replace(
        jax.tree.map(replaced, *unsaved),
        snapshots=jax.tree.map(joined, first.snapshots, rest.snapshots),
        states=None if first.states is None else joined(first.states, rest.states),
    )


def _implicit(settings: GradientFlow) -> bool:
    return issubclass(getattr(diffrax, SOLVERS[settings.solver]), diffrax.AbstractImplicitSolver)


def _placed(dynamics: eqx.Module, settings: GradientFlow, batched: tuple[bool, ...]) -> Callable:
    """`integrate` over every device (`over_seeds`), or on one for an implicit solver by GMRES or
    dense LU: lineax compares array structures that differ in their sharding under shard_map."""
    if _implicit(settings) and not solves_over_devices(settings, dynamics):
        return integrate
    return over_seeds(integrate, batched)


def run(
    dynamics: eqx.Module,
    problems: Problem,
    parameters: PyTree,
    times: Float[Array, " checkpoints"],
    rule: StoppingRule,
    settings: GradientFlow,
    recording_times: Float[Array, " recorded"] | None = None,
    *,
    largest_eigenvalue: Float[Array, " seeds"] | None = None,
) -> Trajectory:
    """The dynamics `settings` (the flow, the inertial flow) of every seed (leading axis = seed, a
    multiple of the device count) from `parameters` (θ(0)) over every device (an implicit solver
    under `LAPACK_LOCK`: its Newton steps factorise; on one device unless by Woodbury), its
    `final_parameters` the final θ. "auto" needs
    `largest_eigenvalue` (`λ_max(H(θ(0)))` per seed): a seed predicted stiff gets a fraction of the
    step budget on Tsit5 (`explicit_budgets`), and every seed that spends its Tsit5 budget is continued
    from its integrated state by `AUTO_STIFF_SOLVER` in float64 with `settings.max_steps` steps, its
    outputs back in the run's precision. The other seeds' results are those of `solver="tsit5"`, bit
    for bit."""
    auto = settings.solver == "auto" and largest_eigenvalue is not None
    arguments = [dynamics, problems, parameters, times, rule, settings, recording_times]
    if auto:
        arguments.append(jnp.asarray(explicit_budgets(settings, largest_eigenvalue)))
    batched = (True, True, True, False, False, False, False, True)
    with LAPACK_LOCK if _implicit(settings) else contextlib.nullcontext():
        first = _placed(dynamics, settings, batched[: len(arguments)])(*arguments)
    unfinished = np.asarray(first.unfinished) if auto else None
    if unfinished is None or not unfinished.any():
        return _positioned(settings, first)
    index = np.flatnonzero(unfinished)
    padded = np.concatenate([index, np.full(padded_seeds(_bucket(index.size)) - index.size, index[0])])
    take = lambda tree: jax.tree.map(lambda leaf: jnp.asarray(leaf)[padded], tree)  # noqa: E731
    stiff = dataclasses.replace(settings, solver=AUTO_STIFF_SOLVER)

    # Kvaerno5's Newton steps factorise with LAPACK: two sweep workers doing so at once hung
    # XLA's CPU runtime (fig1, at 0 % CPU), as eigh/svd/qr programs did (see LAPACK_LOCK)
    with LAPACK_LOCK, jax.enable_x64(True):
        wide = functools.partial(in_precision, dtype=jnp.float64)
        continued = wide(take((dynamics, problems, first.final_parameters)))
        origins, starts, initial_loss = wide(take((parameters, first.stop_time, first.initial_loss)))
        rest = _placed(dynamics, stiff, batched + (True,) * 4)(
            *continued,
            *wide((times, rule, stiff, recording_times)),
            None,
            origins,
            starts,
            initial_loss,
            take(~jnp.isnan(first.crossing_time)),
        )
        rest = jax.tree.map(lambda leaf: np.asarray(leaf)[: index.size], rest)
    return _positioned(settings, _merge(first, rest, index))


def _positioned(settings: GradientFlow, run: Trajectory) -> Trajectory:
    """`run` with its final integrated states (`integrate`'s `final_parameters`) as their position θ."""
    return dataclasses.replace(run, final_parameters=settings.position(run.final_parameters))
