"""`simulate(config)`: draw every seed's problem, train all seeds at once (descent or flow),
collect the outcome (docs/theory.md §1, §4, §6)."""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import threading
import time

import jax
import jax.numpy as jnp
import equinox as eqx
import numpy as np
from tqdm.auto import tqdm

from . import _descent, _flow
from ._config import Config
from ._model import DYNAMICS, ReducedDynamics, signal_from_features
from ._ntk import KernelProbe, observation_ntk
from ._operators import checked_matrix, matrix_sha256, operator_arrays, placeholders, realised_spectrum
from ._outcomes import CONVERGED, DIVERGENCE_FACTOR, OUTCOMES
from ._parallel import over_seeds, padded_seeds
from ._problem import Problem, draw_problem_with, seed_keys
from ._result import SimulationResult, environment
from ._theory import TheoryReport, theory_inputs

CHECKPOINTS = 100
LAPACK_LOCK = threading.Lock()
"""Held while a computation with LAPACK calls (eigh, svd, qr) runs: two threads running such
XLA CPU programs at once were seen to deadlock (a sweep's workers); the loops still overlap."""


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
    (the operator's numbers, such as `condition_number`, travel in `operator_arrays`)."""
    return config.replace(seed=0, steps=1, step_size=1.0, threshold=1.0, method="descent", t_max=None,
                          **placeholders())


@eqx.filter_jit
def _setup(structure: Config, keys, arrays):
    """Every seed's problem (§1, §6), its operator's realised `‖A‖` and `σ_A` (docs/theory.md
    §8), dynamics (full, or §4's reduced), initial parameters, `λ_max(H(W(0)))`, and, when
    `track_ntk`, its kernel probe and the inputs of Theorem 2.1; one compilation per shape
    (`arrays`: the operator's numbers and custom matrix, `operator_arrays`)."""
    # one copy per seed: each seed then computes exactly as with a drawn operator (an unbatched
    # matrix would turn A x̄ into one product over all seeds, whose bits depend on their number)
    arrays = jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, keys.shape[:1] + leaf.shape), arrays)
    problems = jax.vmap(lambda key, seed_arrays: draw_problem_with(structure, key, seed_arrays))(keys, arrays)
    dynamics_type = DYNAMICS[structure.resolved_parametrization]

    def one(key, problem):
        reduced = ReducedDynamics.from_problem(structure, problem)
        largest = jnp.linalg.eigvalsh(observation_ntk(reduced.mixing, problem.features, structure.activation))[-1]
        dynamics = reduced if dynamics_type is ReducedDynamics else dynamics_type.from_problem(structure, problem)
        norm, sigma = realised_spectrum(problem.operator)
        tracked = None
        if structure.track_ntk:
            tracked = (KernelProbe(problem.layer, reduced.mixing, structure.activation),
                       theory_inputs(structure, problem, norm, sigma))
        return dynamics, dynamics_type.initial_parameters(structure, key, problem), largest, norm, sigma, tracked

    dynamics, parameters, largest, norm, sigma, tracked = jax.vmap(one)(keys, problems)
    probe, theory = (None, None) if tracked is None else tracked
    return problems, dynamics, parameters, largest, norm, sigma, probe, theory


@eqx.filter_jit
def _final_errors(structure: Config, problems, dynamics, parameters):
    """`‖x − x̄‖/‖x̄‖` and `‖A x − ȳ‖` per seed at the final parameters."""

    def one(problem, dyn, p):
        signal = signal_from_features(dyn.features(p), problem.layer, structure.activation)
        return (
            jnp.linalg.norm(signal - problem.signal) / jnp.linalg.norm(problem.signal),
            jnp.linalg.norm(problem.operator @ signal - problem.clean_observation),
        )

    return jax.vmap(one)(problems, dynamics, parameters)


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """What one method produced for every seed, on the host (times × seeds statistics)."""

    snapshots: _descent.Snapshot
    """loss, weight distance `[seeds, checkpoints]` and features `[seeds, checkpoints, k]`, NaN after the stop."""
    final_parameters: object
    initial_loss: np.ndarray
    final_loss: np.ndarray
    outcome: np.ndarray
    stop_time: np.ndarray
    stop_step: np.ndarray
    """Descent: the step; flow: accepted solver steps."""
    solver_steps: np.ndarray
    """Descent: gradient steps; flow: accepted and rejected solver steps."""


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
    probe: KernelProbe | None
    theory: dict[str, jax.Array] | None
    """Inputs of Theorem 2.1 per seed (`theory_inputs`), when `track_ntk`."""

    def head(self, seeds: int) -> Prepared:
        """The first `seeds` seeds (drops the padding of `padded_seeds`)."""
        return jax.tree.map(lambda leaf: leaf[:seeds], self)


def prepare(config: Config, matrix: np.ndarray | None = None) -> Prepared:
    """Draw and set up every seed of `config`, padded to a multiple of the device count (call
    inside `precision(config)`); `matrix`: the custom operator (`checked_matrix`)."""
    structure = _structure(config)
    keys = seed_keys(config.replace(seeds=padded_seeds(config.seeds)))
    arrays = operator_arrays(config, matrix)
    with LAPACK_LOCK:
        return Prepared(*jax.block_until_ready(_setup(structure, keys, arrays)))


def stopping_rule(config: Config) -> _descent.StoppingRule:
    dtype = jnp.dtype(config.dtype)
    return _descent.StoppingRule(jnp.asarray(config.threshold, dtype), jnp.asarray(DIVERGENCE_FACTOR, dtype))


@eqx.filter_jit
def _kernel_curves(probe: KernelProbe, features):
    """Kernel statistics at every checkpoint from the recorded `z(t) = W(t) u`, which determines
    them (§4); computed after the run, so the solver loop never pays for eigendecompositions.
    Seeds one after another, to bound memory (`checkpoints × n × k` at a time)."""

    def one_seed(arguments):
        seed_probe, zs = arguments
        return jax.vmap(lambda z: seed_probe.extremes(z, zs[0]))(zs)

    return jax.lax.map(one_seed, (probe, features))


def _nan_after(stopped: np.ndarray, snapshots: _descent.Snapshot) -> _descent.Snapshot:
    def mask(leaf):
        leaf = np.array(leaf, copy=True)
        leaf[stopped] = np.nan
        return leaf

    return jax.tree.map(mask, snapshots)


def run_descent(config: Config, prepared: Prepared, progress: bool) -> Trajectory:
    """Gradient descent, in chunks between checkpoints (progress bar, early exit)."""
    dynamics = prepared.dynamics
    step_size = jnp.asarray(config.step_size, jnp.dtype(config.dtype))
    rule = stopping_rule(config)
    state = _descent.start(dynamics, prepared.parameters, step_size)
    advance = over_seeds(_descent.advance, (True, True, False, False, False))
    checkpoints = checkpoint_steps(config.steps)
    recorded = []
    with tqdm(total=config.steps, unit="step", delay=2.0, disable=not progress, desc="descent", leave=False) as bar:
        for checkpoint in checkpoints:
            state, snapshot = advance(dynamics, state, jnp.asarray(checkpoint, jnp.int32), step_size, rule)
            recorded.append(snapshot)
            bar.update(int(jnp.max(state.step)) - bar.n)
            if not bool(jnp.any(state.running)):
                break
    state = _descent.finish(dynamics, state, rule)
    # after an early exit every seed has stopped: the later checkpoints are not recorded
    recorded += [recorded[-1]] * (len(checkpoints) - len(recorded))
    state = jax.tree.map(lambda leaf: leaf[: config.seeds], state)  # drop the padding
    snapshots = jax.tree.map(lambda *leaves: np.stack([np.asarray(x)[: config.seeds] for x in leaves], axis=1), *recorded)
    stop_step = np.asarray(state.stop_step)
    return Trajectory(
        snapshots=_nan_after(checkpoints[None, :] > stop_step[:, None], snapshots),
        final_parameters=state.parameters,
        initial_loss=np.asarray(state.initial_loss),
        final_loss=np.asarray(state.loss),
        outcome=np.asarray(state.outcome),
        stop_time=stop_step * config.step_size,
        stop_step=stop_step,
        solver_steps=stop_step,
    )


def run_flow(config: Config, prepared: Prepared, progress: bool, times: np.ndarray | None = None) -> Trajectory:
    """Gradient flow (3) with diffrax, saving statistics at `times` (default: the checkpoints)."""
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
    )
    integrate = over_seeds(_flow.integrate, (True, True, False, False, False))
    run = integrate(prepared.dynamics, prepared.parameters, jnp.asarray(times, dtype), stopping_rule(config), settings)
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
    )


def simulate(config: Config, *, operator: np.ndarray | None = None, progress: bool = True) -> SimulationResult:
    """Train the network (4) of `config` on `config.seeds` random draws, by gradient descent
    or gradient flow (3) (`config.method`).

    `operator`: the `(m, n)` matrix of `Config.operator="custom"` (docs/theory.md §8), the same
    for every seed; its SHA-256 is recorded in the result. A progress bar appears when a
    descent lasts more than two seconds (a flow shows diffrax's bar), unless `progress=False`.
    """
    if not isinstance(config, Config):
        raise ValueError(f"simulate expects a wideDIP.Config, got {type(config).__name__}")
    matrix = checked_matrix(config, operator)
    started = time.perf_counter()
    with precision(config):
        prepared = prepare(config, matrix)
        run = (run_descent if config.method == "descent" else run_flow)(config, prepared, progress)
        prepared = prepared.head(config.seeds)
        errors = _final_errors(_structure(config), prepared.problems, prepared.dynamics, run.final_parameters)
        signal_error, observation_error = (np.asarray(e) for e in errors)
        largest = np.asarray(prepared.largest_eigenvalue)
        theory = kernel = None
        if prepared.theory is not None:
            features = np.nan_to_num(run.snapshots.features)  # NaN after the stop: masked below
            with LAPACK_LOCK:
                kernel = jax.block_until_ready(_kernel_curves(prepared.probe, jnp.asarray(features, jnp.dtype(config.dtype))))
            stopped = np.isnan(run.snapshots.loss)
            kernel = {name: np.where(stopped, np.nan, np.asarray(values)) for name, values in kernel.items()}
            theory = TheoryReport.from_inputs(config, jax.tree.map(np.asarray, prepared.theory))
    converged = run.outcome == CONVERGED
    return SimulationResult(
        config=config,
        status=np.asarray(OUTCOMES)[run.outcome],
        steps_to_threshold=np.where(converged, run.stop_step, -1),
        stop_step=run.stop_step,
        stop_time=run.stop_time,
        time_to_threshold=np.where(converged, run.stop_time, np.nan),
        solver_steps=run.solver_steps,
        initial_loss=run.initial_loss,
        final_loss=run.final_loss,
        times=checkpoint_times(config),
        loss=run.snapshots.loss,
        weight_distance=run.snapshots.weight_distance,
        signal_error=signal_error,
        observation_error=observation_error,
        stability=config.step_size * largest,
        norm_A=np.asarray(prepared.norm_A),
        sigma_A=np.asarray(prepared.sigma_A),
        kappa_A=np.asarray(prepared.norm_A) / np.asarray(prepared.sigma_A),
        operator_sha256=matrix_sha256(matrix),
        ntk=kernel,
        theory=theory,
        wall_time=time.perf_counter() - started,
        environment=environment(),
    )
