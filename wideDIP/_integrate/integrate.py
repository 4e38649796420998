"""The integrators (docs/theory.md §1, §10): a dynamics (`_dynamics`) run on every seed's loss at
once — a discrete dynamics in the chunked discrete loop (`discrete`), a continuous one in the diffrax
solve (`continuous`) — into one `Trajectory` type for both, on the host."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterator, Sequence
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
from .outcomes import Outcome

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
    if isinstance(method, DiscreteDynamics):
        ((_, run),) = integrate_cells(method, rule, start, (seeds,), progress=progress, record=record)
        return run
    dtype = jax.tree.leaves(start.parameters)[0].dtype
    method, rule = in_precision(method, dtype), in_precision(rule, dtype)
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


def integrate_cells(
    method: DiscreteDynamics,
    rule: discrete.StoppingRule,
    start: Start,
    cells: Sequence[int],
    *,
    progress: bool,
    record: np.ndarray | None = None,
    chunk: int | None = None,
) -> Iterator[tuple[int, Trajectory]]:
    """`integrate` of a discrete `method` on the seeds of several cells at once (`cells`: their seed
    counts, one cell after another in `start`, any seeds beyond them ignored) in one loop
    (`_run_discrete`): each cell's index and `Trajectory` as soon as its last seed stops. `chunk`: the
    most steps between two visits of the host (default: up to the next checkpoint); the results do
    not depend on it."""
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
        raise ValueError(f"integrate_cells: chunk must be an integer >= 1 (steps) or None, got {chunk!r}")
    dtype = jax.tree.leaves(start.parameters)[0].dtype
    method, rule = in_precision(method, dtype), in_precision(rule, dtype)
    if record is not None and record.size < checkpoint_steps(method.steps).size:
        record = record.size
    return _run_discrete(method, rule, start, tuple(cells), progress, record, chunk)


class Start(eqx.Module):
    """Every seed's loss (`dynamics`: the generic path or a network's reduced one), problem,
    initial parameters `θ(0)` and `λ_max(H(θ(0)))`: what an integrator starts from."""

    dynamics: eqx.Module
    problems: Problem
    parameters: Any
    largest_eigenvalue: jax.Array


LEAST_SLOTS = 8
"""The fewest slots per device of the discrete loop: XLA's CPU kernels computed a seed's bits alike at
every slot count `LEAST_SLOTS × 2^j` tried, but not at 2, 3 or 6 slots (they vectorise across the
seeds there), so the loop runs only at those counts (`slot_count`)."""


def slot_count(seeds: int) -> int:
    """The slots that hold `seeds` seeds: the fewest of `LEAST_SLOTS × 2^j` per device."""
    size = LEAST_SLOTS * jax.device_count()
    while size < seeds:
        size *= 2
    return size


@eqx.filter_jit
def _rows(tree: Any, index: jax.Array) -> Any:
    """The rows `index` of every leaf of `tree` (leading axis: seed or slot)."""
    return jax.tree.map(lambda leaf: leaf[index] if eqx.is_array(leaf) else leaf, tree)


def _host_rows(tree: Any, index: np.ndarray) -> Any:
    """The rows `index` of every leaf of `tree`, on the host (a CPU device's arrays are not copied whole)."""
    return jax.tree.map(lambda leaf: np.asarray(leaf)[index], tree)


@eqx.filter_jit
def _repacked(
    state: discrete.RunState, initial: discrete.RunState, dynamics: eqx.Module, index: jax.Array, seeds: jax.Array
) -> tuple[discrete.RunState, eqx.Module]:
    """The slots' states, row `index` of `state` followed by `initial` (a joining seed's step 0), and
    their seeds' `dynamics` (rows `seeds`); the slots of seed −1 hold a stopped copy."""
    state = jax.tree.map(lambda old, new: jnp.concatenate([old, new])[index], state, initial)
    state = eqx.tree_at(lambda s: s.outcome, state, jnp.where(seeds < 0, Outcome.STALLED, state.outcome))
    return state, _rows(dynamics, jnp.maximum(seeds, 0))


BLOCK = 20
"""The most checkpoints whose statistics are computed at once (`discrete.snapshots`)."""
BLOCK_BYTES = 1 << 27
"""The most bytes of parameters a cell holds on the host for one block."""


@dataclasses.dataclass
class _Cell:
    """The seeds `first, …, first + seeds − 1` of a `Start` in the discrete loop: they join it
    together and move in lockstep (`step`, the next checkpoint `index`); what the host keeps of them.
    Their parameters at the checkpoints wait in `pending` until a block of `block` checkpoints is
    complete (`flush`)."""

    first: int
    seeds: int
    recording: set[int]
    spread: SpreadStates | None
    seed_rows: tuple
    """The cell's `(dynamics, problems, initial parameters)`."""
    block: int
    step: int = 0
    index: int = 0
    pending: list = dataclasses.field(default_factory=list)
    snapshots: list = dataclasses.field(default_factory=list)
    states: list = dataclasses.field(default_factory=list)
    final: list = dataclasses.field(default_factory=list)
    """`(positions, RunState rows)` of the seeds that left the loop."""

    def rows(self, positions: np.ndarray, values: Any) -> Any:
        """`values` (rows at the cell's seed `positions`) as rows of every seed, NaN elsewhere."""

        def spread_out(leaf):
            every = np.full((self.seeds, *leaf.shape[1:]), np.nan, leaf.dtype)
            every[positions] = leaf
            return every

        return jax.tree.map(spread_out, values)

    def keep(self, positions: np.ndarray, parameters: Any) -> None:
        """The parameters of the seeds at `positions` at the checkpoint `index`."""
        self.pending.append(self.rows(positions, parameters))
        self.index += 1
        if len(self.pending) == self.block:
            self.flush()

    def flush(self) -> None:
        """The statistics (and recorded states) of the pending checkpoints, a block at once (a short
        block padded with its last checkpoint, so that one compilation serves every block)."""
        if not self.pending:
            return
        first = self.index - len(self.pending)
        block = self.pending + [self.pending[-1]] * (self.block - len(self.pending))
        parameters = jax.tree.map(lambda *leaves: np.stack(leaves, axis=1), *block)
        wanted = self.spread is not None or any(i in self.recording for i in range(first, self.index))
        snapshots, states = jax.tree.map(np.asarray, discrete.snapshots(*self.seed_rows, parameters, wanted))
        for offset, index in enumerate(range(first, self.index)):
            self.snapshots.append(jax.tree.map(lambda leaf: leaf[:, offset], snapshots))  # noqa: B023
            if index in self.recording:
                self.states.append(states[:, offset])
            elif self.spread is not None:
                self.spread.add(index, states[:, offset])
        self.pending = []

    def trajectory(self, method: DiscreteDynamics, checkpoints: np.ndarray, record: np.ndarray | None) -> Trajectory:
        """The cell's `Trajectory`, once every seed has left the loop."""
        self.flush()
        positions = np.concatenate([p for p, _ in self.final])
        order = np.argsort(positions)
        state = jax.tree.map(lambda *leaves: np.concatenate(leaves)[order], *(rows for _, rows in self.final))
        stop_step, crossing_step = np.asarray(state.stop_step), np.asarray(state.crossing_step)
        states = self.states
        if self.spread is not None:
            record, states = self.spread.chosen(last_checkpoint_reached(checkpoints, stop_step))
        return Trajectory(
            snapshots=_stacked(self.snapshots, checkpoints, stop_step),
            final_parameters=state.parameters,
            initial_loss=state.initial_loss,
            final_loss=state.loss,
            outcome=state.outcome,
            stop_time=method.time_of(stop_step),
            stop_step=stop_step,
            solver_steps=stop_step,
            crossing_step=crossing_step,
            crossing_time=np.where(crossing_step >= 0, method.time_of(crossing_step), np.nan),
            states=None if record is None else _stacked(states, checkpoints[record], stop_step),
            recorded=None if record is None else np.asarray(record),
        )


def _run_discrete(
    method: DiscreteDynamics,
    rule: discrete.StoppingRule,
    start: Start,
    cells: Sequence[int],
    progress: bool,
    record: np.ndarray | int | None,
    chunk: int | None,
) -> Iterator[tuple[int, Trajectory]]:
    """The discrete loop over the seeds of `cells` (seed counts, one after another in `start`), each
    cell's `Trajectory` given as soon as its last seed stops. The seeds run in slots (`slot_count`),
    in chunks that end at the next checkpoint of some cell, where the host keeps the parameters of that
    cell's seeds (their statistics, and the state at the checkpoints `record` or at a count of them,
    `SpreadStates`, computed a block at a time: `_Cell.flush`); between chunks the seeds that stopped
    leave, the slots are repacked, and the cells not started join when the free slots hold them (a
    seed computes alone, so its bits do not depend on when it runs or beside whom)."""
    checkpoints = checkpoint_steps(method.steps)
    dynamics, problems = start.dynamics, start.problems
    every = jnp.asarray(np.resize(np.arange(sum(cells)), slot_count(sum(cells))))  # at a slot count, as the loop
    initial = discrete.start(_rows(dynamics, every), _rows(start.parameters, every), method)
    advance = over_seeds(discrete.advance, (True, True, True, False, False))
    capacity = max(slot_count(max(cells)), slot_count(sum(cells) + 1) // 2)
    firsts = np.cumsum([0, *cells])[:-1]
    waiting = list(range(len(cells)))
    live: dict[int, _Cell] = {}
    slot_seed, slot_cell = np.zeros(0, np.int64), np.zeros(0, np.int64)  # -1: a free slot
    state = slot_dynamics = None
    recording = set() if record is None or isinstance(record, numbers.Integral) else set(np.asarray(record).tolist())
    seed_bytes = sum(leaf[0].nbytes for leaf in jax.tree.leaves(start.parameters))
    last_stop = 0
    with tqdm(total=method.steps, unit="step", delay=2.0, disable=not progress, desc=method.label, leave=False) as bar:
        while waiting or live:
            held = int(np.sum(slot_seed >= 0))
            joining = []
            while waiting and held + cells[waiting[0]] <= capacity:
                joining.append(waiting.pop(0))
                held += cells[joining[-1]]
            if joining or slot_count(held) < slot_seed.size:  # repack
                kept = np.flatnonzero(slot_seed >= 0)
                joiners = [firsts[c] + np.arange(cells[c]) for c in joining]
                seeds = np.concatenate([slot_seed[kept], *joiners])
                source = np.concatenate([kept, *(slot_seed.size + rows for rows in joiners)])
                size = slot_count(held)
                idle = np.arange(size) >= held
                slot_seed = np.where(idle, -1, np.resize(seeds, size))
                slot_cell = np.where(
                    idle,
                    -1,
                    np.resize(np.concatenate([slot_cell[kept], *(np.full(cells[c], c) for c in joining)]), size),
                )
                state, slot_dynamics = _repacked(
                    initial if state is None else state,
                    initial,
                    dynamics,
                    jnp.asarray(np.resize(source, size)),
                    jnp.asarray(slot_seed),
                )
                slot_dynamics = placed_over_seeds(slot_dynamics)
                for c in joining:
                    rows = jnp.arange(firsts[c], firsts[c] + cells[c])
                    block = int(np.clip(BLOCK_BYTES // (cells[c] * seed_bytes), 1, BLOCK))
                    spread = None if recording or record is None else SpreadStates(record)
                    seed_rows = _rows((dynamics, problems, initial.parameters), rows)
                    live[c] = _Cell(int(firsts[c]), cells[c], recording, spread, seed_rows, block)
            length = min([checkpoints[cell.index] - cell.step for cell in live.values()] + [chunk or method.steps])
            steps = np.array([live[c].step if c >= 0 else 0 for c in slot_cell])
            state = advance(
                slot_dynamics, state, jnp.asarray(np.where(slot_seed >= 0, steps + length, 0), jnp.int32), method, rule
            )
            running = np.asarray(state.running) & (slot_seed >= 0)
            finished = None
            for c, cell in list(live.items()):
                cell.step += length
                slots = np.flatnonzero(slot_cell == c)
                if cell.step == checkpoints[cell.index]:
                    cell.keep(slot_seed[slots] - cell.first, _host_rows(state.parameters, slots))
                done = cell.index == checkpoints.size or not running[slots].any()
                leaving = slots if done else slots[~running[slots]]
                if leaving.size:
                    left = state
                    if done and running[slots].any():  # seeds still running at the budget's end
                        finished = discrete.finish(slot_dynamics, state, rule) if finished is None else finished
                        left = finished
                    rows = _host_rows(left, leaving)
                    cell.final.append((slot_seed[leaving] - cell.first, rows))
                    slot_seed[leaving], slot_cell[leaving] = -1, -1
                if done:
                    del live[c]
                    run = cell.trajectory(method, checkpoints, None if cell.spread is not None else record)
                    last_stop = max(last_stop, int(run.stop_step.max()))
                    yield c, run
            bar.update(max([cell.step for cell in live.values()] + [last_stop]) - bar.n)
        if last_stop < method.steps:  # every seed stopped early: the bar ends at the last stop
            bar.total = bar.n = last_stop
            # refreshed only once printed: enabled and past its `delay` (tqdm's own test)
            if not bar.disable and bar.last_print_t >= bar.start_t + bar.delay:
                bar.refresh()
