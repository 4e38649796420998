"""`simulate(config)`: draw every seed's problem, train all seeds at once (descent or flow),
collect the outcome (docs/theory.md §1, §4, §6), for any network (§9)."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from . import _descent, _flow
from ._batches import Batch
from ._config import Config, descent_of
from ._locks import LAPACK_LOCK
from ._model import GenericDynamics
from ._networks import (
    HasLipschitzBound,
    Network,
    describe,
    resolve_network,
    resolved_ntk_implementation,
    resolved_parametrization,
)
from ._ntk import JacobianProbe, KernelProbe
from ._operators import checked_matrix, matrix_sha256, placeholders, realised_spectrum
from ._outcomes import CONVERGED, DIVERGENCE_FACTOR, OUTCOMES
from ._parallel import over_seeds, padded_seeds, placed_over_seeds
from ._problem import Problem, draw_problem_with, problem_arrays, seed_keys
from ._recovery import at_checkpoint, best_checkpoint, path_statistics, recovery_curves
from ._result import SimulationResult, environment
from ._theory import TheoryReport, generic_theory_inputs

CHECKPOINTS = 100
INITIAL_KERNELS = ("min_lambda_K", "min_lambda_H", "max_lambda_H")
"""The kernel statistics at θ(0) that Theorem 2.1 and the early-stopping times need (§5, §7)."""


def checkpoint_steps(steps: int, count: int = CHECKPOINTS) -> np.ndarray:
    """Step 0 and about `count − 1` log-spaced steps up to `steps` (inclusive)."""
    for name, value, least in (("steps", steps, 1), ("count", count, 2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"checkpoint_steps: {name} must be an integer >= {least}, got {value!r}")
    spaced = np.unique(np.round(np.geomspace(1, steps, count - 1)).astype(np.int64))
    return np.concatenate([[0], spaced])


def checkpoint_times(config: Config) -> np.ndarray:
    """The result's time axis: `step × step_size` at the checkpoint steps, stretched to
    `t_max` when the flow has its own horizon."""
    return checkpoint_steps(config.steps) * (config.horizon / config.steps)


def precision(config: Config) -> contextlib.AbstractContextManager:
    """The JAX precision context the config asks for (float64 needs `jax_enable_x64`)."""
    return jax.enable_x64(True) if config.dtype == "float64" else contextlib.nullcontext()


def _structure(config: Config) -> Config:
    """The fields that shape the compiled setup; the others are passed as arrays or unused
    (the operator's numbers, such as `condition_number`, and the noise level travel in
    `problem_arrays`)."""
    return descent_of(
        config,
        seed=0,
        steps=1,
        step_size=1.0,
        threshold=1.0,
        noise=0.0,
        stop_at_threshold=True,
        track_ntk=False,
        ntk_checkpoints=Config.ntk_checkpoints,
        **placeholders(),
    )


@dataclasses.dataclass(frozen=True)
class Plan:
    """What is simulated, resolved from the config and the network (static: it shapes the
    compiled setup)."""

    parametrization: str
    """"full" (the generic path on the literal parameters) or "reduced" (the network's fast path)."""
    kernels: str | None
    """How the kernels are computed, "closed_form" or "jacobian", when they are needed: along the
    run (`track`), or at θ(0) only, for the early-stopping times of a noisy run (docs/theory.md
    §7); None otherwise."""
    track: bool = False
    """Whether the kernels are tracked along the run (`Config.track_ntk`)."""


def make_plan(config: Config, network: Network, track: bool | None = None) -> Plan:
    """The plan of `config` for `network`; a `ValueError` naming the field when the network
    lacks what the config asks for."""
    track = config.track_ntk if track is None else track
    needed = track or config.noise > 0
    return Plan(
        resolved_parametrization(config, network),
        resolved_ntk_implementation(config, network) if needed else None,
        track,
    )


def refuse_unused_kernel_settings(cells: list[tuple[Config, Network]], caller: str) -> None:
    """A `ValueError` naming the field when a kernel setting applies to none of the `cells` (each a
    config and its resolved network): `ntk_implementation` where no kernel is computed (neither
    `track_ntk` nor noise, whose early-stopping time needs the kernels at θ(0): docs/theory.md §7),
    `ntk_checkpoints` where every kernel is evaluated at every checkpoint (the paper's network's
    closed form, which needs only `z(t)`). Checked over a whole sweep: a cell without noise may
    share the setting with noisy ones."""
    plans = [(config, network, make_plan(config, network)) for config, network in cells]
    if all(plan.kernels is None for _, _, plan in plans) and any(c.ntk_implementation != "auto" for c, _ in cells):
        raise ValueError(
            f"{caller}: Config.ntk_implementation applies only where kernels are computed: with Config.track_ntk, "
            "or with noise > 0 (the early-stopping time)"
        )
    tracked = [(config, network, plan) for config, network, plan in plans if plan.track]
    if any(config.ntk_checkpoints != Config.ntk_checkpoints for config, _ in cells) and all(
        network.kernel_checkpoints(config, plan.kernels) is None for config, network, plan in tracked
    ):
        raise ValueError(
            f"{caller}: Config.ntk_checkpoints applies to the kernels that need the recorded parameters (the Jacobian "
            "route, the closed form of two_layer_both); here they are evaluated at every checkpoint"
        )


def recorded_checkpoints(config: Config, network: Network, plan: Plan) -> np.ndarray | None:
    """The checkpoints (indices) at which the state is recorded for the kernels: every one for a
    closed form that needs only `z` (the paper's network), else `ntk_checkpoints` of them, evenly
    spaced in index (so log-spaced in time) over the whole budget, the first and the last included
    (the flow's; descent spreads them over the checkpoints its run reaches: `descent_recording`)."""
    if not plan.track:
        return None
    count = checkpoint_steps(config.steps).size
    wanted = network.kernel_checkpoints(config, plan.kernels)
    if wanted is None or wanted >= count:
        return np.arange(count)
    return evenly_spread(np.arange(count), wanted)


def evenly_spread(indices: np.ndarray, count: int) -> np.ndarray:
    """`count` of the sorted `indices` (all of them if there are fewer), evenly spread over their
    positions, the first and the last included."""
    return indices[np.unique(np.round(np.linspace(0, indices.size - 1, count)).astype(np.int64))]


@eqx.filter_jit
def _setup(structure: Config, network: Network, plan: Plan, keys, arrays, shared):
    """Every seed's problem (§1, §6), its operator's realised `‖A‖` and `σ_A` (docs/theory.md
    §8), dynamics (the generic path, or the network's fast path: §4, §9), initial parameters,
    `λ_max(H(θ(0)))`, and, when the plan needs kernels, its kernel probe (closed form or Jacobian
    route) and the inputs of Theorem 2.1; one compilation per shape (`arrays`: per seed, the
    operator's numbers, the noise level and, in a padded batch, the cell's `m` and `n`; `shared`:
    the custom matrix, `seed_arrays`). (The draws stay in this one program: compiled apart, the
    paper's `W(0)` for the full path changed in its last bits.)"""
    # one copy per seed: each seed then computes exactly as with a drawn operator (an unbatched
    # matrix would turn A x̄ into one product over all seeds, whose bits depend on their number)
    arrays = {**arrays, **jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, keys.shape[:1] + leaf.shape), shared)}
    problems = jax.vmap(lambda key, seed_arrays: draw_problem_with(structure, key, seed_arrays))(keys, arrays)

    def one(key, problem):
        seed_network, literal = network.for_seed(structure, problem, key)  # the other hooks: on this seed's network
        if plan.parametrization == "reduced":
            dynamics, parameters = seed_network.reduced(structure, problem)
        else:
            dynamics = GenericDynamics(seed_network, problem.operator, problem.input, problem.observation)
            parameters = literal
        probe = None
        if plan.kernels == "closed_form":
            probe = seed_network.kernel_probe(structure, problem)
        elif plan.kernels == "jacobian":
            probe = JacobianProbe(seed_network, literal, problem.operator, problem.input)
        return dynamics, parameters, probe

    def spectra_of(seed):
        key, problem = seed
        seed_network, literal = network.for_seed(structure, problem, key)
        return (
            seed_network.largest_observation_eigenvalue(structure, problem, literal),
            *realised_spectrum(problem.operator),
        )

    def theory_of(seed):
        key, problem, dynamics, parameters, probe, norm, sigma = seed
        seed_network, _ = network.for_seed(structure, problem, key)
        if isinstance(seed_network, HasLipschitzBound):
            return seed_network.theory_inputs(structure, problem, norm, sigma)
        theory = generic_theory_inputs(problem, dynamics.signal(parameters, problem), norm, sigma)
        if not plan.track:  # the kernels at θ(0) (when tracking: the curves' first checkpoint)
            at_start = probe.along(dynamics.features(parameters)[None])
            theory.update({name: at_start[name][0] for name in INITIAL_KERNELS})
        return theory

    dynamics, parameters, probe = jax.vmap(one)(keys, problems)
    # the decompositions one seed after another: a batched SVD and a batched eigh in one program
    # deadlock XLA's CPU runtime now and then (both wait in jaxlib's ParallelBatchMap for work
    # queued on the thread pool their own calls occupy: seen on 2 cores, gdb)
    largest, norm, sigma = jax.lax.map(spectra_of, (keys, problems))
    theory = None
    if plan.kernels is not None:
        theory = jax.lax.map(theory_of, (keys, problems, dynamics, parameters, probe, norm, sigma))
    return problems, dynamics, parameters, largest, norm, sigma, probe, theory


@eqx.filter_jit
def _final_errors(problems, dynamics, parameters):
    """`‖x − x̄‖/‖x̄‖`, `‖A x − ȳ‖` and the reconstruction `x` per seed at the final parameters."""

    def one(problem, dyn, p):
        signal = dyn.signal(p, problem)
        return (
            jnp.linalg.norm(signal - problem.signal) / jnp.linalg.norm(problem.signal),
            jnp.linalg.norm(problem.operator @ signal - problem.clean_observation),
            signal,
        )

    return jax.vmap(one)(problems, dynamics, parameters)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """What one method produced for every seed, on the host (times × seeds statistics)."""

    snapshots: _descent.Snapshot
    """loss and weight distance `[seeds, checkpoints]` and outputs `[seeds, checkpoints, n]`, NaN
    after the stop."""
    final_parameters: object
    initial_loss: np.ndarray
    final_loss: np.ndarray
    outcome: np.ndarray
    stop_time: np.ndarray
    stop_step: np.ndarray
    """Descent: the step; flow: accepted solver steps."""
    solver_steps: np.ndarray
    """Descent: gradient steps; flow: accepted and rejected solver steps."""
    crossing_step: np.ndarray
    """When the loss first reached the threshold (descent: the step; flow: accepted solver
    steps), −1 if never."""
    crossing_time: np.ndarray
    """The time of that crossing, NaN if never."""
    states: np.ndarray | None = None
    """The recorded state (`features`: `z`, `(z, V)` or `θ` flattened) at the checkpoints
    `recorded`, `[seeds, recorded, s]`, NaN after the stop; None when nothing was recorded."""
    recorded: np.ndarray | None = None
    """Indices of the checkpoints where the state was recorded."""

    def seeds(self, begin: int, end: int) -> Trajectory:
        """The seeds `begin:end` (one cell of a batch)."""
        return dataclasses.replace(
            self,
            **{
                field.name: jax.tree.map(lambda leaf: leaf[begin:end], getattr(self, field.name))
                for field in dataclasses.fields(self)
                if field.name != "recorded"
            },
        )


class Prepared(eqx.Module):
    """Every seed's problem, dynamics and initial parameters, ready for either method."""

    problems: Problem
    """Kept for the end-of-run errors: cheaper than drawing again."""
    dynamics: eqx.Module
    parameters: object
    largest_eigenvalue: jax.Array
    """`λ_max(H(W(0)))` per seed (docs/theory.md §3)."""
    norm_A: jax.Array
    """`‖A‖` per seed (docs/theory.md §8)."""
    sigma_A: jax.Array
    """`σ_A`, the smallest non-zero singular value of `A`, per seed."""
    probe: eqx.Module | None
    """The kernels' route when tracking: a closed form (`KernelProbe`, ...) or `JacobianProbe`."""
    theory: dict[str, jax.Array] | None
    """Inputs of Theorem 2.1 per seed (`theory_inputs`), when the plan needs kernels."""

    def head(self, seeds: int) -> Prepared:
        """The first `seeds` seeds (drops the padding of `padded_seeds`)."""
        return jax.tree.map(lambda leaf: leaf[:seeds], self)


def seed_arrays(batch: Batch, matrix: np.ndarray | None) -> tuple[jax.Array, dict, dict]:
    """The keys of every seed of `batch`, padded to a multiple of the device count (the extra
    seeds continue the last cell: drawn with their own keys, computed, dropped), their per-seed
    arrays (`problem_arrays`, and the cell's `m` and `n` when padded) and the shared ones (call
    inside `precision`)."""
    *cells, last = batch.configs
    last = last.replace(seeds=last.seeds + padded_seeds(batch.seeds) - batch.seeds)
    keys, arrays = [], []
    for config in (*cells, last):
        keys.append(seed_keys(config))
        cell = problem_arrays(config, None)
        if batch.padded:
            cell.update(m=jnp.asarray(config.m, jnp.int32), n=jnp.asarray(config.n, jnp.int32))
        arrays.append(jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (config.seeds,) + leaf.shape), cell))  # noqa: B023
    shared = {} if matrix is None else {"matrix": jnp.asarray(matrix, jnp.dtype(batch.shape.dtype))}
    return jnp.concatenate(keys), jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *arrays), shared


def prepare_batch(batch: Batch, network: Network, plan: Plan, matrix: np.ndarray | None = None) -> Prepared:
    """Draw and set up every seed of `batch` for `network` (resolved for `batch.shape`), padded
    to a multiple of the device count (call inside `precision`); `matrix`: the custom operator."""
    keys, arrays, shared = seed_arrays(batch, matrix)
    with LAPACK_LOCK:
        return Prepared(*jax.block_until_ready(_setup(_structure(batch.shape), network, plan, keys, arrays, shared)))


def prepare(
    config: Config, *, network: Network | None = None, plan: Plan | None = None, matrix: np.ndarray | None = None
) -> Prepared:
    """Draw and set up every seed of `config` for `network` (default: the built-in of
    `config.network`), padded to a multiple of the device count (call inside `precision(config)`);
    `matrix`: the custom operator (`checked_matrix`)."""
    network = resolve_network(config, None, "prepare") if network is None else network  # else resolved by the caller
    plan = make_plan(config, network) if plan is None else plan
    return prepare_batch(Batch((config,)), network, plan, matrix)


def stopping_rule(config: Config) -> _descent.StoppingRule:
    dtype = jnp.dtype(config.dtype)
    return _descent.StoppingRule(
        jnp.asarray(config.threshold, dtype),
        jnp.asarray(DIVERGENCE_FACTOR, dtype),
        jnp.asarray(config.stop_at_threshold),
    )


@eqx.filter_jit
def _kernel_curves(probe: KernelProbe | JacobianProbe, features):
    """Kernel statistics at the recorded checkpoints from the recorded states, which determine
    them (`z(t) = W(t) u` for the paper's network, §4; the parameters otherwise, §9); computed
    after the run, so the solver loop never pays for eigendecompositions or Jacobians. One
    compiled function; seeds one after another, to bound memory (`checkpoints × n × k` at a
    time for the closed form, one `n × p` Jacobian at a time for the Jacobian route)."""
    return jax.lax.map(lambda arguments: arguments[0].along(arguments[1]), (probe, features))


def kernel_curves(config: Config, probe, run: Trajectory) -> dict[str, np.ndarray]:
    """The kernel statistics `[seeds, checkpoints]`: computed at the recorded checkpoints, NaN at
    the others and after each seed's stop."""
    states = np.nan_to_num(run.states)  # NaN after the stop: masked below
    with LAPACK_LOCK:
        curves = jax.block_until_ready(_kernel_curves(probe, jnp.asarray(states, jnp.dtype(config.dtype))))
    stopped = np.isnan(run.snapshots.loss)
    kernel = {}
    for name, values in curves.items():
        values = np.asarray(values)
        every = np.full(stopped.shape, np.nan, values.dtype)
        every[:, run.recorded] = values
        kernel[name] = np.where(stopped, np.nan, every)
    return kernel


def _nan_after(stopped: np.ndarray, snapshots: _descent.Snapshot) -> _descent.Snapshot:
    def mask(leaf):
        leaf = np.array(leaf, copy=True)
        leaf[stopped] = np.nan
        return leaf

    return jax.tree.map(mask, snapshots)


def _stacked_states(config: Config, states: list, count: int) -> np.ndarray:
    states = states + [states[-1]] * (count - len(states))  # after an early exit: masked by the caller
    return np.stack([np.asarray(x)[: config.seeds] for x in states], axis=1)


class SpreadStates:
    """The states of a run at `count` of the checkpoints it reaches, spread evenly (in index, so
    log-spaced in time) up to its last stop, in bounded memory: the checkpoints whose index is a
    multiple of `stride` are kept, and when more than `2 × count` are, every other one is dropped
    (the first kept) and `stride` doubles; the last two reached are kept too (the last stop is at
    one of them). At most `2 × count + 3` states are held."""

    def __init__(self, count: int):
        self.count, self.stride = count, 1
        self.kept: dict[int, Any] = {}
        self.latest: dict[int, Any] = {}

    def add(self, index: int, state: Any) -> None:
        """The state at checkpoint `index`, reached after all those before it."""
        self.latest = {**dict(list(self.latest.items())[-1:]), index: state}
        if index % self.stride == 0:
            self.kept[index] = state
            if len(self.kept) > 2 * self.count:
                self.stride *= 2
                self.kept = {i: kept for i, kept in self.kept.items() if i % self.stride == 0}

    def chosen(self, last: int) -> tuple[np.ndarray, list]:
        """`count` of the checkpoints held up to index `last` (fewer if fewer are held), evenly spread,
        the first and the last of them included; and their states."""
        held = {**self.kept, **self.latest}
        indices = np.array(sorted(i for i in held if i <= last))
        picked = evenly_spread(indices, self.count)
        return picked, [held[i] for i in picked]


def last_checkpoint_reached(checkpoints: np.ndarray, stop_step: np.ndarray) -> int:
    """The index of the last of the `checkpoints` (steps) at or before the last seed's stop `stop_step`."""
    return int(np.searchsorted(checkpoints, np.max(stop_step), side="right")) - 1


def descent_recording(config: Config, network: Network, plan: Plan) -> np.ndarray | int | None:
    """What `run_descent` records for the kernels (`record`): every checkpoint (indices) where all are
    needed, else `ntk_checkpoints`, spread over the checkpoints the run reaches; None without tracking."""
    record = recorded_checkpoints(config, network, plan)
    if record is None or record.size == checkpoint_steps(config.steps).size:
        return record
    return record.size


def _shown(bar: tqdm) -> bool:
    """Whether the progress `bar` has been printed: enabled, and refreshed after its `delay` (tqdm's own test)."""
    return not bar.disable and bar.last_print_t >= bar.start_t + bar.delay


def run_descent(
    config: Config, prepared: Prepared, progress: bool, record: np.ndarray | int | None = None
) -> Trajectory:
    """Gradient descent, in chunks between checkpoints (progress bar, early exit); the state is
    recorded at the checkpoints `record` when given: indices, or a count of checkpoints spread evenly
    over those the run reaches up to its last stop (`SpreadStates`: a run that stops early still gets
    them all). When every seed stops early, the progress bar ends at the steps run."""
    # split over the devices once, not at every chunk (the problems hold V: n × k per seed)
    dynamics, problems = placed_over_seeds((prepared.dynamics, prepared.problems))
    step_size = jnp.asarray(config.step_size, jnp.dtype(config.dtype))
    rule = stopping_rule(config)
    state = _descent.start(dynamics, prepared.parameters, step_size)
    advance = over_seeds(_descent.advance, (True, True, True, False, False, False))
    features = over_seeds(_descent.features, (True, True))
    checkpoints = checkpoint_steps(config.steps)
    spread = SpreadStates(record) if isinstance(record, numbers.Integral) else None
    recording = set() if record is None or spread is not None else set(np.asarray(record).tolist())
    recorded, states = [], []
    with tqdm(total=config.steps, unit="step", delay=2.0, disable=not progress, desc="descent", leave=False) as bar:
        for index, checkpoint in enumerate(checkpoints):
            state, snapshot = advance(dynamics, problems, state, jnp.asarray(checkpoint, jnp.int32), step_size, rule)
            recorded.append(snapshot)
            if index in recording:
                states.append(features(dynamics, state.parameters))
            elif spread is not None:
                spread.add(index, features(dynamics, state.parameters))
            bar.update(int(jnp.max(state.step)) - bar.n)
            if not bool(jnp.any(state.running[: config.seeds])):  # (the padding's seeds are dropped)
                break
        state = _descent.finish(dynamics, state, rule)
        state = jax.tree.map(lambda leaf: leaf[: config.seeds], state)  # drop the padding
        stop_step = np.asarray(state.stop_step)
        if stop_step.max() < config.steps:  # every seed stopped early: the bar ends at the last stop
            bar.total = bar.n = int(stop_step.max())
            if _shown(bar):  # (a bar still within its delay stays unprinted)
                bar.refresh()
    # after an early exit every seed has stopped: the later checkpoints are not recorded
    recorded += [recorded[-1]] * (len(checkpoints) - len(recorded))
    snapshots = jax.tree.map(
        lambda *leaves: np.stack([np.asarray(x)[: config.seeds] for x in leaves], axis=1), *recorded
    )
    crossing_step = np.asarray(state.crossing_step)
    if spread is not None:
        record, states = spread.chosen(last_checkpoint_reached(checkpoints, stop_step))
    if record is not None:
        stacked = _stacked_states(config, states, len(record))
        stacked[checkpoints[record][None, :] > stop_step[:, None]] = np.nan
    return Trajectory(
        snapshots=_nan_after(checkpoints[None, :] > stop_step[:, None], snapshots),
        final_parameters=state.parameters,
        initial_loss=np.asarray(state.initial_loss),
        final_loss=np.asarray(state.loss),
        outcome=np.asarray(state.outcome),
        stop_time=stop_step * config.step_size,
        stop_step=stop_step,
        solver_steps=stop_step,
        crossing_step=crossing_step,
        crossing_time=np.where(crossing_step >= 0, crossing_step * config.step_size, np.nan),
        states=None if record is None else stacked,
        recorded=None if record is None else np.asarray(record),
    )


def run_flow(
    config: Config,
    prepared: Prepared,
    progress: bool,
    times: np.ndarray | None = None,
    record: np.ndarray | None = None,
) -> Trajectory:
    """Gradient flow (3) with diffrax, saving statistics at `times` (default: the checkpoints)
    and the state at `times[record]` when `record` (indices) is given."""
    dtype = jnp.dtype(config.dtype)
    times = checkpoint_times(config) if times is None else times
    settings = _flow.FlowSettings(
        rtol=jnp.asarray(config.rtol, dtype),
        atol=jnp.asarray(config.atol, dtype),
        horizon=jnp.asarray(config.horizon, dtype),
        step_size=jnp.asarray(config.step_size, dtype),
        solver=config.solver,
        max_steps=config.max_solver_steps,
        progress=progress and jax.device_count() == 1,  # diffrax's bar is one host callback
        stop_at_threshold=config.stop_at_threshold,
    )
    arguments = [
        prepared.dynamics,
        prepared.problems,
        prepared.parameters,
        jnp.asarray(times, dtype),
        stopping_rule(config),
        settings,
    ]
    if record is not None:
        arguments.append(jnp.asarray(np.asarray(times)[record], dtype))
    run = _flow.run(*arguments, largest_eigenvalue=prepared.largest_eigenvalue)
    run = jax.tree.map(lambda leaf: leaf[: config.seeds], run)  # drop the padding
    return Trajectory(
        snapshots=jax.tree.map(np.asarray, run.snapshots),
        final_parameters=run.final_parameters,
        initial_loss=np.asarray(run.initial_loss),
        final_loss=np.asarray(run.final_loss),
        outcome=np.asarray(run.outcome),
        stop_time=np.asarray(run.stop_time),
        stop_step=np.asarray(run.accepted_steps),
        solver_steps=np.asarray(run.solver_steps),
        crossing_step=np.asarray(run.crossing_steps),
        crossing_time=np.asarray(run.crossing_time),
        states=None if record is None else np.asarray(run.states),
        recorded=None if record is None else np.asarray(record),
    )


def simulate(
    config: Config, *, network: Network | None = None, operator: np.ndarray | None = None, progress: bool = True
) -> SimulationResult:
    """Train the network of `config` (`config.network`, or `network`, a `wideDIP.Network` of
    one's own) on `config.seeds` random draws, by gradient descent or gradient flow (3)
    (`config.method`).

    `operator`: the `(m, n)` matrix of `Config.operator="custom"` (docs/theory.md §8), the same
    for every seed; its SHA-256 is recorded in the result. A progress bar appears when a
    descent lasts more than two seconds (a flow shows diffrax's bar), unless `progress=False`.
    """
    if not isinstance(config, Config):
        raise ValueError(f"simulate expects a wideDIP.Config, got {type(config).__name__}")
    refuse_unused_kernel_settings([(config, resolve_network(config, network, "simulate"))], "simulate")
    return _simulate_together(Batch((config,)), network, checked_matrix(config, operator), progress)[0]


def simulate_batch(
    batch: Batch, *, network: Network | None = None, operator: np.ndarray | None = None, progress: bool = False
) -> list[SimulationResult]:
    """`simulate` of every cell of `batch` (`wideDIP._batches`): one setup and one loop compiled
    for `batch.shape`, one call per cell; `operator`: the custom matrix, checked."""
    return [result for call in batch.calls() for result in _simulate_together(call, network, operator, progress)]


def network_record(config: Config, network: Network, plan: Plan) -> dict[str, Any]:
    """What a result records of the network it ran: name, description, parameter count (`describe`,
    which checks the network's shapes) and the parametrization and kernels of `plan`."""
    return {**describe(config, network), "parametrization": plan.parametrization, "ntk_implementation": plan.kernels}


def _simulate_together(
    batch: Batch, network: Network | None, operator: np.ndarray | None, progress: bool
) -> list[SimulationResult]:
    """The cells of `batch` with their seeds run together, in one call."""
    started = time.perf_counter()
    shape = batch.shape
    resolved = resolve_network(shape, network, "simulate")
    plan = make_plan(shape, resolved)
    run_config = shape.replace(seeds=batch.seeds)
    with precision(shape):
        descriptions = [
            network_record(config, resolve_network(config, network, "simulate"), plan)  # checks it first
            for config in batch.configs
        ]
        prepared = prepare_batch(batch, resolved, plan, operator)
        if shape.method == "descent":
            run = run_descent(run_config, prepared, progress, descent_recording(shape, resolved, plan))
        else:  # diffrax saves at times fixed before the solve: spread over the whole horizon
            run = run_flow(run_config, prepared, progress, record=recorded_checkpoints(shape, resolved, plan))
        prepared = prepared.head(batch.seeds)
        errors = _final_errors(prepared.problems, prepared.dynamics, run.final_parameters)
        final_signal_error, final_observation_error, final_reconstruction = (np.asarray(e) for e in errors)
        with LAPACK_LOCK:
            curves = recovery_curves(prepared.problems, run.snapshots.signal, shape.dtype)
        kernel = None
        if plan.track:
            kernel = kernel_curves(run_config, prepared.probe, run)
        host = jax.tree.map(
            np.asarray, (prepared.largest_eigenvalue, prepared.norm_A, prepared.sigma_A, prepared.theory)
        )
        problem = {
            name: np.asarray(getattr(prepared.problems, name))
            for name in ("signal", "observation", "clean_observation", "operator")
        }
    elapsed = time.perf_counter() - started
    results = []
    for config, (begin, end), description in zip(batch.configs, batch.bounds(), descriptions):
        cell = lambda tree: jax.tree.map(lambda leaf: leaf[begin:end], tree)  # noqa: E731, B023
        results.append(
            _result(
                config,
                resolved,
                plan,
                run.seeds(begin, end),
                cell(final_signal_error),
                cell(final_observation_error),
                cell(final_reconstruction),
                cell(curves),
                cell(kernel),
                cell(host),
                cell(problem),
                operator,
                elapsed * config.seeds / batch.seeds,
                description,
            )
        )
    return results


def _result(
    config: Config,
    network: Network,
    plan: Plan,
    run: Trajectory,
    final_signal_error,
    final_observation_error,
    final_reconstruction,
    curves,
    kernel,
    host,
    problem,
    matrix,
    wall_time: float,
    description: dict,
) -> SimulationResult:
    """One cell's `SimulationResult` from its slice of a batch's run (`problem`: `x̄`, `y`, `ȳ` and `A`
    per seed, at the batch's shape: padded beyond the cell's `m` and `n`, `wideDIP._batches`)."""
    largest, norm_A, sigma_A, inputs = host
    m, n = config.m, config.n
    reconstructions = run.snapshots.signal[..., :n]
    theory = None
    if inputs is not None:
        certificate = isinstance(network, HasLipschitzBound) and "min_lambda_K" in inputs
        lipschitz_ratio = None
        if plan.track:
            lipschitz_ratio = _largest_recorded(kernel["jacobian_lipschitz_ratio"])
            if not certificate:  # σ_0², μ_0, λ_max(H) at θ(0) from the kernels' first checkpoint
                inputs = {**inputs, **{name: kernel[name][:, 0] for name in INITIAL_KERNELS}}
        theory = TheoryReport.from_inputs(
            config, inputs, lipschitz_bound_known=certificate, measured_lipschitz_ratio=lipschitz_ratio
        )
    curves = dict(curves)
    noise_norm = curves.pop("noise_norm")
    no_time = np.full(config.seeds, np.inf)
    early_stopping_time = no_time if theory is None else theory.early_stopping_time
    converged = run.outcome == CONVERGED
    times = checkpoint_times(config)
    return SimulationResult(
        config=config,
        status=np.asarray(OUTCOMES)[run.outcome],
        steps_to_threshold=np.where(converged, run.crossing_step, -1),
        stop_step=run.stop_step,
        stop_time=run.stop_time,
        time_to_threshold=np.where(converged, run.crossing_time, np.nan),
        solver_steps=run.solver_steps,
        initial_loss=run.initial_loss,
        final_loss=run.final_loss,
        times=times,
        loss=run.snapshots.loss,
        weight_distance=run.snapshots.weight_distance,
        **curves,
        final_signal_error=final_signal_error,
        final_observation_error=final_observation_error,
        noise_norm=noise_norm,
        early_stopping_time=early_stopping_time,
        observation_early_stopping_time=no_time if theory is None else theory.observation_early_stopping_time,
        **path_statistics(times, curves, noise_norm, early_stopping_time, None if theory is None else theory.certified),
        stability=config.step_size * largest,
        norm_A=norm_A,
        sigma_A=sigma_A,
        kappa_A=norm_A / sigma_A,
        operator_sha256=matrix_sha256(matrix if config.operator == "custom" else None),
        ntk=kernel,
        theory=theory,
        wall_time=wall_time,
        environment=environment(),
        network=description,
        signal=problem["signal"][:, :n],
        observation=problem["observation"][:, :m],
        clean_observation=problem["clean_observation"][:, :m],
        operator_matrix=problem["operator"][:, :m, :n],
        reconstructions=reconstructions,
        best_reconstruction=at_checkpoint(reconstructions, best_checkpoint(curves["signal_error"])),
        final_reconstruction=final_reconstruction[:, :n],
    )


def _largest_recorded(values: np.ndarray) -> np.ndarray:
    """Per seed, the largest value recorded (NaN where none was)."""
    recorded = ~np.isnan(values)
    return np.where(recorded.any(axis=1), np.where(recorded, values, -np.inf).max(axis=1), np.nan)
