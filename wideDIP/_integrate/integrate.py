"""The integrators (docs/theory.md §1, §10): a dynamics (`_dynamics`) run on every seed's loss at
once — a discrete dynamics in the chunked discrete loop (`discrete`), a continuous one in the diffrax
solve (`continuous`) — into one `Trajectory` type for both, on the host."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from .._dynamics.base import AbstractDynamics, DiscreteDynamics, in_precision
from .._problems.problem import Problem
from .._runtime.parallel import over_seeds, placed_over_seeds
from . import continuous, discrete
from .discrete import Trajectory

CHECKPOINTS = 100


def checkpoint_steps(steps: int, count: int = CHECKPOINTS) -> np.ndarray:
    """Step 0 and about `count − 1` log-spaced steps up to `steps` (inclusive)."""
    for name, value, least in (("steps", steps, 1), ("count", count, 2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
            raise ValueError(f"checkpoint_steps: {name} must be an integer >= {least}, got {value!r}")
    spaced = np.unique(np.round(np.geomspace(1, steps, count - 1)).astype(np.int64))
    return np.concatenate([[0], spaced])


def checkpoint_times(method: AbstractDynamics) -> np.ndarray:
    """The result's time axis: the checkpoint steps in `method`'s time, up to its horizon (`t_max`)."""
    return checkpoint_steps(method.steps) * (float(method.horizon) / method.steps)


def evenly_spread(indices: np.ndarray, count: int) -> np.ndarray:
    """`count` of the sorted `indices` (all of them if there are fewer), evenly spread over their
    positions, the first and the last included."""
    return indices[np.unique(np.round(np.linspace(0, indices.size - 1, count)).astype(np.int64))]


def _stacked(entries: list, steps: np.ndarray, stop_step: np.ndarray):
    """`entries` (one pytree `[seeds (+ padding), ...]` per checkpoint reached) at the checkpoint
    `steps`, padded with the last (after an early exit every seed has stopped), stacked on axis 1 for
    the seeds of `stop_step`, NaN after each one's stop."""
    entries = entries + [entries[-1]] * (steps.size - len(entries))
    stopped = steps[None, :] > stop_step[:, None]

    def stack(*leaves):
        stacked = np.stack([np.asarray(x)[: stop_step.size] for x in leaves], axis=1)
        stacked[stopped] = np.nan
        return stacked

    return jax.tree.map(stack, *entries)


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


def integrate(
    method: AbstractDynamics,
    rule: discrete.StoppingRule,
    start: Start,
    *,
    seeds: int,
    progress: bool,
    record: np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> Trajectory:
    """`method` run on every seed of `start` (the first `seeds` of them kept: the others pad to a
    multiple of the device count), the state recorded at the checkpoints `record` (indices) when
    given. A continuous dynamics runs in diffrax, saving statistics at `times` (default: the
    checkpoints, `checkpoint_times`) and the state at `times[record]`; a discrete one at its
    checkpoint steps, and spreads `record`'s count over the checkpoints its run reaches when
    `record` asks for fewer than all (`SpreadStates`: diffrax saves at times fixed before the
    solve, a loop can choose as it goes)."""
    dtype = jax.tree.leaves(start.parameters)[0].dtype
    method, rule = in_precision(method, dtype), in_precision(rule, dtype)
    if isinstance(method, DiscreteDynamics):
        if record is not None and record.size < checkpoint_steps(method.steps).size:
            record = record.size
        return _run_discrete(method, rule, start, seeds, progress, record)
    times = checkpoint_times(method) if times is None else times
    time_dtype = start.largest_eigenvalue.dtype
    # diffrax's bar is one host callback: one device only; the second leg past the threshold is
    # compiled only when asked for
    method = dataclasses.replace(
        method, progress=progress and jax.device_count() == 1, stop_at_threshold=bool(rule.stop_at_threshold)
    )
    recording_times = None if record is None else jnp.asarray(np.asarray(times)[record], time_dtype)
    arguments = (start.dynamics, start.problems, start.parameters, jnp.asarray(times, time_dtype), rule, method)
    run = continuous.run(*arguments, recording_times, largest_eigenvalue=start.largest_eigenvalue)
    run = jax.tree.map(lambda leaf: np.asarray(leaf)[:seeds], run)  # on the host, the padding dropped
    return dataclasses.replace(run, recorded=None if record is None else np.asarray(record))


class Start(eqx.Module):
    """Every seed's loss (`dynamics`: the generic path or a network's reduced one), problem,
    initial parameters `θ(0)` and `λ_max(H(θ(0)))`: what an integrator starts from."""

    dynamics: eqx.Module
    problems: Problem
    parameters: Any
    largest_eigenvalue: jax.Array


def _run_discrete(
    method: DiscreteDynamics,
    rule: discrete.StoppingRule,
    start: Start,
    seeds: int,
    progress: bool,
    record: np.ndarray | int | None,
) -> Trajectory:
    """The discrete loop in chunks between checkpoints (progress bar, early exit), the state recorded
    at the checkpoints `record` (indices), or at a count of them (`SpreadStates`)."""
    # split over the devices once, not at every chunk (the problems hold V: n × k per seed)
    dynamics, problems = placed_over_seeds((start.dynamics, start.problems))
    state = discrete.start(dynamics, start.parameters, method)
    advance = over_seeds(discrete.advance, (True, True, True, False, False, False))
    features = over_seeds(discrete.features, (True, True))
    checkpoints = checkpoint_steps(method.steps)
    spread = SpreadStates(record) if isinstance(record, numbers.Integral) else None
    recording = set() if record is None or spread is not None else set(np.asarray(record).tolist())
    recorded, states = [], []
    with tqdm(total=method.steps, unit="step", delay=2.0, disable=not progress, desc=method.name, leave=False) as bar:
        for index, checkpoint in enumerate(checkpoints):
            state, snapshot = advance(dynamics, problems, state, jnp.asarray(checkpoint, jnp.int32), method, rule)
            recorded.append(snapshot)
            if index in recording:
                states.append(features(dynamics, state.parameters))
            elif spread is not None:
                spread.add(index, features(dynamics, state.parameters))
            bar.update(int(jnp.max(state.step)) - bar.n)
            if not bool(jnp.any(state.running[:seeds])):  # (the padding's seeds are dropped)
                break
        state = discrete.finish(dynamics, state, rule)
        state = jax.tree.map(lambda leaf: leaf[:seeds], state)  # drop the padding
        stop_step = np.asarray(state.stop_step)
        if stop_step.max() < method.steps:  # every seed stopped early: the bar ends at the last stop
            bar.total = bar.n = int(stop_step.max())
            # refreshed only once printed: enabled and past its `delay` (tqdm's own test)
            if not bar.disable and bar.last_print_t >= bar.start_t + bar.delay:
                bar.refresh()
    crossing_step = np.asarray(state.crossing_step)
    if spread is not None:
        record, states = spread.chosen(last_checkpoint_reached(checkpoints, stop_step))
    return Trajectory(
        snapshots=_stacked(recorded, checkpoints, stop_step),
        final_parameters=state.parameters,
        initial_loss=np.asarray(state.initial_loss),
        final_loss=np.asarray(state.loss),
        outcome=np.asarray(state.outcome),
        stop_time=method.time_of(stop_step),
        stop_step=stop_step,
        solver_steps=stop_step,
        crossing_step=crossing_step,
        crossing_time=np.where(crossing_step >= 0, method.time_of(crossing_step), np.nan),
        states=None if record is None else _stacked(states, checkpoints[record], stop_step),
        recorded=None if record is None else np.asarray(record),
    )
