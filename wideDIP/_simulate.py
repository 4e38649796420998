"""`simulate(config)`: draw every seed's problem, train all seeds at once, collect the outcome."""

from __future__ import annotations

import contextlib
import time

import jax
import jax.numpy as jnp
import equinox as eqx
import numpy as np
from tqdm.auto import tqdm

from . import _descent
from ._config import Config
from ._model import DYNAMICS, signal_from_features
from ._problem import draw_problem, seed_keys
from ._result import SimulationResult, environment

CHECKPOINTS = 100


def checkpoint_steps(steps: int, count: int = CHECKPOINTS) -> np.ndarray:
    """Step 0 and about `count − 1` log-spaced steps up to `steps` (inclusive)."""
    spaced = np.unique(np.round(np.geomspace(1, steps, count - 1)).astype(np.int64))
    return np.concatenate([[0], spaced])


def precision(config: Config) -> contextlib.AbstractContextManager:
    """The JAX precision context the config asks for (float64 needs `jax_enable_x64`)."""
    return jax.enable_x64(True) if config.dtype == "float64" else contextlib.nullcontext()


def _structure(config: Config) -> Config:
    """The fields that shape the compiled setup; the others are passed as arrays or unused."""
    return config.replace(seed=0, steps=1, step_size=1.0, threshold=1.0)


@eqx.filter_jit
def _draw(structure: Config, keys):
    """Every seed's problem (§1, §6); compiled once per shape, called at the start and the end."""
    return jax.vmap(lambda key: draw_problem(structure, key))(keys)


@eqx.filter_jit
def _setup(structure: Config, keys, problems):
    """Every seed's dynamics (full, or §4's reduced) and initial parameters."""
    dynamics_type = DYNAMICS[structure.resolved_parametrization]

    def one(key, problem):
        return dynamics_type.from_problem(structure, problem), dynamics_type.initial_parameters(structure, key, problem)

    return jax.vmap(one)(keys, problems)


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


def simulate(config: Config, *, progress: bool = True) -> SimulationResult:
    """Train the network (4) of `config` by gradient descent on `config.seeds` random draws.

    A progress bar appears when the run lasts more than two seconds, unless `progress=False`.
    """
    if not isinstance(config, Config):
        raise ValueError(f"simulate expects a wideDIP.Config, got {type(config).__name__}")
    started = time.perf_counter()
    with precision(config):
        dtype = jnp.dtype(config.dtype)
        structure = _structure(config)
        keys = seed_keys(config)
        dynamics, parameters = _setup(structure, keys, _draw(structure, keys))
        step_size = jnp.asarray(config.step_size, dtype)
        rule = _descent.StoppingRule(jnp.asarray(config.threshold, dtype), jnp.asarray(_descent.DIVERGENCE_FACTOR, dtype))
        state = _descent.start(dynamics, parameters, step_size)

        checkpoints = checkpoint_steps(config.steps)
        losses, distances = [], []
        with tqdm(total=config.steps, unit="step", delay=2.0, disable=not progress, desc="descent", leave=False) as bar:
            for checkpoint in checkpoints:
                state, loss, distance = _descent.advance(dynamics, state, jnp.asarray(checkpoint, jnp.int32), step_size, rule)
                losses.append(loss)
                distances.append(distance)
                bar.update(int(state.step) - bar.n)
                if not bool(jnp.any(state.running)):
                    break
            state = _descent.finish(dynamics, state, rule)
            signal_error, observation_error = _final_errors(structure, _draw(structure, keys), dynamics, state.parameters)

        outcome = np.asarray(state.outcome)
        stop_step = np.asarray(state.stop_step)
        recorded = len(losses)
        loss = np.full((config.seeds, len(checkpoints)), np.nan, dtype)
        distance = np.full_like(loss, np.nan)
        loss[:, :recorded] = np.stack([np.asarray(x) for x in losses], axis=1)
        distance[:, :recorded] = np.stack([np.asarray(x) for x in distances], axis=1)
        stopped = checkpoints[None, :] > stop_step[:, None]
        loss[stopped] = np.nan
        distance[stopped] = np.nan
        converged = outcome == _descent.CONVERGED

    return SimulationResult(
        config=config,
        status=np.asarray(_descent.OUTCOMES)[outcome],
        steps_to_threshold=np.where(converged, stop_step, -1),
        stop_step=stop_step,
        initial_loss=np.asarray(state.initial_loss),
        final_loss=np.asarray(state.loss),
        times=checkpoints * config.step_size,
        loss=loss,
        weight_distance=distance,
        signal_error=np.asarray(signal_error),
        observation_error=np.asarray(observation_error),
        wall_time=time.perf_counter() - started,
        environment=environment(),
    )
