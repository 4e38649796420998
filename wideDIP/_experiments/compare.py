"""Gradient flow vs gradient descent from the same draws, on the time axis `t = iteration × η`
(docs/theory.md §1, §4, §5 last paragraph)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Sequence

import numpy as np

from .._config import Config, descent_of, refuse_repeats, value_list
from .._dynamics.descent import GradientDescent
from .._dynamics.flow import GradientFlow
from .._dynamics.registry import dynamics_class
from .._figures.plots import held
from .._integrate.integrate import Trajectory, checkpoint_steps, evenly_spread, last_checkpoint_reached
from .._integrate.outcomes import outcome_labels
from .._networks.base import Network
from .._operators.base import matrix_sha256
from .._resolve import checked_matrix, resolve_network
from .._results.comparison import ComparisonResult
from .._results.simulation import environment, largest_where
from .simulate import (
    Plan,
    integrate_config,
    kernel_curves,
    make_plan,
    network_record,
    precision,
    prepare,
    recorded_checkpoints,
    refuse_unused_kernel_settings,
)


def _gaps(
    descent: Trajectory, flow_loss: np.ndarray, flow_features: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum gaps in loss, in loss relative to the flow's (floored at `threshold`) and in state,
    over the times at which either run is still running, each run held at its stopping point
    once it has stopped; NaN for a seed that neither run recorded at any time."""
    either = ~np.isnan(descent.snapshots.loss) | ~np.isnan(flow_loss)
    held_flow_loss = held(flow_loss)
    loss_gap = np.abs(held(descent.snapshots.loss) - held_flow_loss)
    relative_loss_gap = loss_gap / np.maximum(held_flow_loss, threshold)
    state_gap = np.linalg.norm(held(descent.states) - held(flow_features), axis=2)
    return tuple(largest_where(gap, either) for gap in (loss_gap, relative_loss_gap, state_gap))


def _kernel_checkpoints(config: Config, network: Network, plan: Plan, run: Trajectory) -> np.ndarray:
    """The checkpoints (indices) at which the kernels along the descent `run` of `config` are evaluated:
    `recorded_checkpoints`, spread over those it reaches up to its last stop (as `simulate`'s: `integrate`)."""
    every = recorded_checkpoints(config, network, plan)
    checkpoints = checkpoint_steps(config.steps)
    if every.size == checkpoints.size:
        return every
    return evenly_spread(np.arange(last_checkpoint_reached(checkpoints, run.stop_step) + 1), every.size)


def _at(run: Trajectory, recorded: np.ndarray) -> Trajectory:
    """`run` with its state kept at the checkpoints `recorded` only (it was recorded at every one)."""
    return dataclasses.replace(run, states=run.states[:, recorded], recorded=recorded)


def _kernels(
    dtype: str, recorded: list[np.ndarray], probe, flow: Trajectory, runs: list[Trajectory], columns: list[np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """`flow_ntk` and `descent_ntk` (`ComparisonResult`): the kernel statistics along each descent
    at its checkpoints `recorded`, and along the flow at the same times (`columns` of its time grid),
    each `[step sizes, seeds, checkpoints]`, NaN-padded (call inside `precision`)."""
    descent = [kernel_curves(probe, _at(run, kept), dtype) for run, kept in zip(runs, recorded)]
    evaluated = np.unique(np.concatenate([column[kept] for column, kept in zip(columns, recorded)]))
    along_flow = kernel_curves(probe, _at(flow, evaluated), dtype)
    flow_legs = []
    for column, kept in zip(columns, recorded):
        where = np.zeros(column.size, bool)
        where[kept] = True
        flow_legs.append({name: np.where(where, values[:, column], np.nan) for name, values in along_flow.items()})
    return {
        field: {name: _padded([leg[name] for leg in legs]) for name in legs[0]}
        for field, legs in (("flow_ntk", flow_legs), ("descent_ntk", descent))
    }


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    """`rows` stacked, each NaN-padded on its last axis to the longest."""
    width = max(row.shape[-1] for row in rows)
    out = np.full((len(rows),) + rows[0].shape[:-1] + (width,), np.nan)
    for i, row in enumerate(rows):
        out[i, ..., : row.shape[-1]] = row
    return out


def checked_step_sizes(step_sizes: Sequence[float], what: str = "compare: step_sizes") -> np.ndarray:
    """The descent steps `η`, in the order given; a `ValueError` naming `what` unless they are a
    list of distinct positive finite numbers."""
    listed = value_list(step_sizes, what, "(1.0, 0.1)")
    if not listed or not all(
        isinstance(eta, numbers.Real) and not isinstance(eta, bool) and math.isfinite(eta) and eta > 0 for eta in listed
    ):
        raise ValueError(f"{what} must be positive finite numbers, got {listed!r}")
    listed = [float(eta) for eta in listed]
    refuse_repeats(listed, what)
    return np.asarray(listed)


def compare(
    config: Config,
    step_sizes: Sequence[float] = (1.0, 0.5, 0.1),
    *,
    network: Network | None = None,
    operator: np.ndarray | None = None,
    progress: bool = True,
) -> ComparisonResult:
    """Run the flow once and descent for each step size from the same draws, over the horizon
    `config.horizon` (`t_max`, or `steps × step_size`), for the network of `config` or `network`;
    `operator`: the matrix of `Config.operator="custom"` (docs/theory.md §8). The state gap needs
    the recorded states at every checkpoint: `z` for the paper's network, the parameters (`p`
    numbers per checkpoint and seed) for the generic path. Descent runs with the flow's fields
    (`solver`, `rtol`, ...) at their defaults (`descent_of`); with `config.track_ntk`, the kernels
    are computed from those states along both (`flow_ntk`, `descent_ntk`, docs/theory.md §3)."""
    if not isinstance(config, Config):
        raise ValueError(f"compare expects a wideDIP.Config, got {type(config).__name__}")
    if dynamics_class(config.method, config.optimizer) not in (GradientDescent, GradientFlow):
        raise ValueError(f"compare runs the gradient flow against gradient descent, not method={config.method!r}")
    matrix = checked_matrix(config, operator)
    step_sizes = checked_step_sizes(step_sizes)
    network = resolve_network(config, network, "compare")
    refuse_unused_kernel_settings([(config, network)], "compare")
    horizon = config.horizon
    descents = [descent_of(config, step_size=float(eta), steps=max(1, int(round(horizon / eta)))) for eta in step_sizes]
    grids = [checkpoint_steps(c.steps) * c.step_size for c in descents]
    union = np.unique(np.concatenate(grids))
    columns = [np.searchsorted(union, grid) for grid in grids]  # exact: the union is made of these very floats
    flow_config = config.replace(method="flow", t_max=float(union[-1]))
    started = time.perf_counter()
    with precision(config):
        plan = make_plan(config, network)
        description = network_record(config, network, plan)
        prepared = prepare(config, network=network, plan=plan, matrix=matrix)
        flow = integrate_config(flow_config, prepared, config.seeds, progress, np.arange(union.size), times=union)
        runs = [
            integrate_config(c, prepared, c.seeds, progress, np.arange(checkpoint_steps(c.steps).size))
            for c in descents
        ]
        prepared = prepared.rows(0, config.seeds)
        largest = np.asarray(prepared.largest_eigenvalue)
        kernels = {}
        if plan.track:
            recorded = [_kernel_checkpoints(c, network, plan, run) for c, run in zip(descents, runs)]
            kernels = _kernels(config.dtype, recorded, prepared.probe, flow, runs, columns)
    flow_loss = [flow.snapshots.loss[:, column] for column in columns]
    gaps = [
        _gaps(run, loss, flow.states[:, column], config.threshold)
        for run, loss, column in zip(runs, flow_loss, columns)
    ]
    loss_gaps, relative_loss_gaps, state_gaps = map(np.stack, zip(*gaps))
    return ComparisonResult(
        config=config,
        step_sizes=step_sizes,
        times=_padded(grids),
        flow_loss=_padded(flow_loss),
        descent_loss=_padded([run.snapshots.loss for run in runs]),
        max_loss_gap=loss_gaps,
        max_relative_loss_gap=relative_loss_gaps,
        max_state_gap=state_gaps,
        stability=step_sizes[:, None] * largest[None, :],
        status=outcome_labels(np.stack([run.outcome for run in runs])),
        flow_status=outcome_labels(flow.outcome),
        wall_time=time.perf_counter() - started,
        environment=environment(),
        operator_sha256=matrix_sha256(matrix if config.operator == "custom" else None),
        network=description,
        **kernels,
    )
