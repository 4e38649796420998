"""The discrete loop: a discrete dynamics (`_dynamics.DiscreteDynamics`: gradient descent
`θ ← θ − η ∇L(θ)`, docs/theory.md §1, or any optax transformation) on all seeds at once.

The loop is one `lax.while_loop` over steps whose state holds a slot per seed; a seed that has
converged or diverged stops moving, and the loop ends when every running seed has reached its own
`stop_at` (the host records statistics at the checkpoints and repacks the slots between chunks:
`integrate`)."""

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
    """Each seed's iteration count (seeds of different cells share a loop at different steps)."""
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
def snapshots(
    dynamics: eqx.Module, problems: Problem, initial_parameters: PyTree, parameters: PyTree, record: bool
) -> tuple[Snapshot, Float[Array, "seeds checkpoints s"] | None]:
    """Every seed's statistics at several checkpoints (`parameters`: `[seeds, checkpoints, ...]`), and
    its recorded state (`dynamics.features`, docs/theory.md §4, §9) if `record`: computed after the
    loop, a block of checkpoints at once, so that the network's output `x(t)` reads each seed's
    problem once per block (one matrix product) rather than once per checkpoint."""

    def one(dyn: eqx.Module, problem: Problem, initial: PyTree, recorded: PyTree):
        def at(p: PyTree):
            return snapshot(dyn, problem, p, initial), dyn.features(p) if record else None

        return jax.vmap(at)(recorded)

    return jax.vmap(one)(dynamics, problems, initial_parameters, parameters)


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
    dynamics: eqx.Module, state: RunState, stop_at: Int[Array, " seeds"], method: DiscreteDynamics, rule: StoppingRule
) -> RunState:
    """Run `method` on every running seed until its step reaches its `stop_at`; a seed computes
    alone (the others' steps never touch it), so its bits do not depend on its slot's neighbours."""
    optimizer = method.transformation()

    def moving(s: RunState) -> Bool[Array, " seeds"]:
        return s.running & (s.step < stop_at)

    def one_step(s: RunState) -> RunState:
        loss, gradient = jax.vmap(lambda dyn, p: dyn.loss_and_gradient(p))(dynamics, s.parameters)
        new = classify(s, loss, rule)
        updates, optimizer_state = jax.vmap(optimizer.update)(gradient, new.optimizer_state, new.parameters)
        running = new.running
        new = eqx.tree_at(
            lambda t: (t.parameters, t.optimizer_state, t.step),
            new,
            (
                _where_running(running, optax.apply_updates(new.parameters, updates), new.parameters),
                _where_running(running, optimizer_state, new.optimizer_state),
                new.step + 1,
            ),
        )
        return _where_running(moving(s), new, s)

    return jax.lax.while_loop(lambda s: jnp.any(moving(s)), one_step, state)


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
