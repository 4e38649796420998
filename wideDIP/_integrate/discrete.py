"""The discrete loop: a discrete dynamics (`_dynamics.DiscreteDynamics`: gradient descent
`θ ← θ − η ∇L(θ)`, docs/theory.md §1, or any optax transformation) on all seeds at once.

The loop is one `lax.while_loop` over steps whose state holds every seed; a seed that has
converged or diverged stops moving, and the loop ends when no seed is running or when it
reaches `stop_at` (the next checkpoint: the host records statistics there and updates the
progress bar, one compilation serves every chunk)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PyTree

from .._dynamics.base import DiscreteDynamics
from .._problems.problem import Problem
from .outcomes import Outcome


class StoppingRule(eqx.Module):
    """When a run stops: loss ≤ `threshold` (converged, if `stop_at_threshold`) or diverged;
    arrays so that changing them never recompiles."""

    threshold: Float[Array, ""]
    divergence_factor: Float[Array, ""]
    stop_at_threshold: Bool[Array, ""]
    """False: a seed that reaches the threshold records the crossing and goes on (docs/theory.md §7)."""


class RunState(eqx.Module):
    """Every seed's parameters and bookkeeping; leading axis = seed."""

    parameters: PyTree
    initial_parameters: PyTree
    optimizer_state: PyTree
    step: Int[Array, " seeds"]
    """The iteration count, the same for every seed of a device (a per-seed array so that
    every leaf can be sharded over the seed axis)."""
    outcome: Int[Array, " seeds"]
    stop_step: Int[Array, " seeds"]
    crossing_step: Int[Array, " seeds"]
    """The first step whose loss is ≤ threshold; −1 before."""
    loss: Float[Array, " seeds"]
    initial_loss: Float[Array, " seeds"]

    @property
    def running(self) -> Bool[Array, " seeds"]:
        return self.outcome == Outcome.RUNNING


def batched_loss(dynamics: eqx.Module, parameters: PyTree) -> Float[Array, " seeds"]:
    return jax.vmap(lambda dyn, p: dyn.loss(p))(dynamics, parameters)


class Snapshot(eqx.Module):
    """Statistics of every seed at one checkpoint; never the parameters (their recorded state,
    when it is needed, comes from `features`)."""

    loss: Float[Array, " seeds"]
    weight_distance: Float[Array, " seeds"]
    """`‖θ(t) − θ(0)‖`; for the two-layer network `‖W(t) − W(0)‖_F = ‖z(t) − z(0)‖` (docs/theory.md §4)."""
    signal: Float[Array, "seeds n"]
    """The network's output `x(t) = g(u, θ(t))`: the recovery curves come from it (docs/theory.md §7)."""


def snapshot(dynamics: eqx.Module, problem: Problem, parameters: PyTree, initial_parameters: PyTree) -> Snapshot:
    """One seed's statistics (vmap it over seeds)."""
    difference = jax.tree.map(lambda a, b: a - b, parameters, initial_parameters)
    distance = jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(difference)))
    return Snapshot(dynamics.loss(parameters), distance, dynamics.signal(parameters, problem))


class Trajectory(eqx.Module):
    """What one method produced for every seed (leading axis = seed): the discrete loop's and the
    diffrax solve's result, on the host once `integrate` returns it."""

    snapshots: Snapshot
    """At the checkpoints (`[seeds, checkpoints]`), NaN after the stop."""
    final_parameters: PyTree
    initial_loss: Float[ArrayLike, " seeds"]
    final_loss: Float[ArrayLike, " seeds"]
    outcome: Int[ArrayLike, " seeds"]
    stop_time: Float[ArrayLike, " seeds"]
    stop_step: Int[ArrayLike, " seeds"]
    """Descent: the step; flow: accepted solver steps."""
    solver_steps: Int[ArrayLike, " seeds"]
    """Descent: gradient steps; flow: accepted and rejected solver steps."""
    crossing_step: Int[ArrayLike, " seeds"]
    """When the loss first reached the threshold (descent: the step; flow: accepted solver
    steps), −1 if never."""
    crossing_time: Float[ArrayLike, " seeds"]
    """The time of that crossing, NaN if never."""
    states: Float[ArrayLike, "seeds recorded s"] | None = None
    """The recorded state (`features`: `z`, `(z, V)` or `θ` flattened) at the checkpoints
    `recorded`, NaN after the stop; None when nothing was recorded."""
    recorded: np.ndarray | None = None
    """Indices of the checkpoints where the state was recorded."""
    unfinished: Bool[ArrayLike, " seeds"] | None = None
    """Flow: stopped short of the horizon with no event, its step budget spent; None for a loop."""


@eqx.filter_jit
def features(dynamics: eqx.Module, parameters: PyTree) -> Float[Array, "seeds s"]:
    """Every seed's recorded state (`dynamics.features`, docs/theory.md §4, §9)."""
    return jax.vmap(lambda dyn, p: dyn.features(p))(dynamics, parameters)


def classify(state: RunState, loss: Float[Array, " seeds"], rule: StoppingRule) -> RunState:
    """Mark running seeds whose current loss is under the threshold (their first crossing is
    recorded; they stop if `stop_at_threshold`), or non-finite or above `divergence_factor ×
    initial loss`; those that stop, stop at the current step."""
    running = state.running
    below = running & (loss <= rule.threshold)
    converged = below & rule.stop_at_threshold
    diverged = running & ~below & (~jnp.isfinite(loss) | (loss > rule.divergence_factor * state.initial_loss))
    outcome = jnp.where(converged, Outcome.CONVERGED, jnp.where(diverged, Outcome.DIVERGED, state.outcome))
    return eqx.tree_at(
        lambda s: (s.outcome, s.stop_step, s.crossing_step, s.loss),
        state,
        (
            outcome,
            jnp.where(converged | diverged, state.step, state.stop_step),
            jnp.where(below & (state.crossing_step < 0), state.step, state.crossing_step),
            jnp.where(running, loss, state.loss),
        ),
    )


def _where_running(running: Bool[Array, " seeds"], new: PyTree, old: PyTree) -> PyTree:
    def pick(a, b):
        return jnp.where(running.reshape(running.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(pick, new, old)


@eqx.filter_jit
def start(dynamics: eqx.Module, parameters: PyTree, method: DiscreteDynamics) -> RunState:
    """The state at step 0."""
    loss = batched_loss(dynamics, parameters)
    seeds = loss.shape[0]
    return RunState(
        parameters=parameters,
        initial_parameters=parameters,
        optimizer_state=jax.vmap(method.transformation().init)(parameters),
        step=jnp.zeros((seeds,), jnp.int32),
        outcome=jnp.full((seeds,), Outcome.RUNNING, jnp.int32),
        stop_step=jnp.full((seeds,), -1, jnp.int32),
        crossing_step=jnp.full((seeds,), -1, jnp.int32),
        loss=loss,
        initial_loss=loss,
    )


@eqx.filter_jit
def advance(
    dynamics: eqx.Module,
    problems: Problem,
    state: RunState,
    stop_at: Int[Array, ""],
    method: DiscreteDynamics,
    rule: StoppingRule,
) -> tuple[RunState, Snapshot]:
    """Run `method` until step `stop_at` or until no seed is running; return the state and
    every seed's statistics there."""
    optimizer = method.transformation()

    def keep_going(s: RunState) -> Array:
        return (s.step[0] < stop_at) & jnp.any(s.running)

    def one_step(s: RunState) -> RunState:
        loss, gradient = jax.vmap(lambda dyn, p: dyn.loss_and_gradient(p))(dynamics, s.parameters)
        s = classify(s, loss, rule)
        updates, optimizer_state = jax.vmap(optimizer.update)(gradient, s.optimizer_state, s.parameters)
        running = s.running
        return eqx.tree_at(
            lambda t: (t.parameters, t.optimizer_state, t.step),
            s,
            (
                _where_running(running, optax.apply_updates(s.parameters, updates), s.parameters),
                _where_running(running, optimizer_state, s.optimizer_state),
                s.step + 1,
            ),
        )

    state = jax.lax.while_loop(keep_going, one_step, state)
    return state, jax.vmap(snapshot)(dynamics, problems, state.parameters, state.initial_parameters)


@eqx.filter_jit
def finish(dynamics: eqx.Module, state: RunState, rule: StoppingRule) -> RunState:
    """Classify the last iterate of seeds still running: converged (now, or at an earlier
    crossing when not `stop_at_threshold`), diverged or stalled."""
    state = classify(state, batched_loss(dynamics, state.parameters), rule)
    running = state.running
    finished = jnp.where(state.crossing_step >= 0, Outcome.CONVERGED, Outcome.STALLED)
    return eqx.tree_at(
        lambda s: (s.outcome, s.stop_step),
        state,
        (jnp.where(running, finished, state.outcome), jnp.where(running, state.step, state.stop_step)),
    )
