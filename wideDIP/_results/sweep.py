"""What `sweep` returns (docs/theory.md §6): a phase diagram's per-cell statistics, and a sweep
directory read back cell by cell, a damaged cell file detected."""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._analysis.statistics import FORMER_NAMES, QUARTILE_STATISTICS, QUARTILES, SCALAR_STATISTICS
from .._config import Config, switched
from .._figures.plots import PRINT_DPI
from .._integrate.outcomes import ENDINGS
from .simulation import SimulationResult

HEADER = "sweep.json"
CELLS = "cells"
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
"""Format 2 stores each quartile statistic as `{"q25": .., "median": .., "q75": ..}` where format 1
stored the list `[q25, median, q75]`; a format-1 directory is read as format 2, and resuming it
rewrites it in format 2 first (`_upgrade`)."""


def _quartiles_by_name(values: np.ndarray) -> dict[str, float | None]:
    """The 25th, 50th and 75th percentiles of the finite `values`, by name (`QUARTILES`); None if none is finite."""
    values = values[np.isfinite(values)]
    quartiles = np.percentile(values, [25, 50, 75]) if values.size else [None] * 3
    return {name: None if q is None else float(q) for name, q in zip(QUARTILES, quartiles)}


def cell_statistics(result: SimulationResult) -> dict[str, Any]:
    """What a sweep keeps of one cell: outcome counts and robust summaries, no curves. Under noise
    (docs/theory.md §7): median signal errors at the best point of the path, at the end and at `T`
    (seeds that reached it), the bound `‖y(t) − ȳ‖ ≤ 2‖ε‖` after `T` on the seeds where it was
    checked, and the median of `‖A x − ȳ‖/‖ε‖` at the end (1: the noise is fitted exactly; None
    without noise)."""
    converged = result.converged
    certified = result.theory is not None and result.certified is not None
    checked = np.array([holds for holds in result.bound_holds if holds is not None], dtype=bool)
    statistics = {
        "frequency": result.frequency,
        "counts": result.counts(),
        "steps_to_threshold": _quartiles_by_name(np.where(converged, result.steps_to_threshold, np.nan).astype(float)),
        "time_to_threshold": _quartiles_by_name(result.time_to_threshold),
        "median_final_loss": float(np.median(result.final_loss)),
        "total_steps": int(np.sum(result.stop_step)),
        "median_stability": float(np.median(result.stability)),
        "median_kappa_A": float(np.median(result.kappa_A)),
        "unstable_fraction": float(np.mean(result.stability > 2)),
        "certified_fraction": float(np.mean(result.certified)) if certified else None,
        "certified_observation_fraction": float(np.mean(result.certified_observation)) if certified else None,
        "median_best_signal_error": float(np.median(result.best_signal_error)),
        "median_final_signal_error": float(np.median(result.final_signal_error)),
        "median_signal_error_at_early_stop": _quartiles_by_name(result.signal_error_at_early_stop)["median"],
        "bound_holds_fraction": float(np.mean(checked)) if checked.size else None,
        "bound_checked": int(checked.size),
        "median_final_error_over_noise": float(np.median(result.final_observation_error / result.noise_norm))
        if result.config.noise > 0
        else None,
    }
    return json.loads(json.dumps(statistics))  # exactly what a reload gives (floats round-trip)


def _grid_of(name: str, doc: str, index: str | None = None) -> property:
    """A `SweepResult` property: the statistic `name` (at `index`) over the grid (`SweepResult.statistic`)."""
    return property(lambda self: self.statistic(name, index), doc=doc)


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """A phase diagram: per-cell statistics on the grid `axes` (arrays shaped like the grid,
    axes in the order given)."""

    base: Config
    axes: dict[str, list[Any]]
    cells: np.ndarray
    """Object array shaped like the grid: each cell's statistics dict (`cell_statistics`)."""
    wall_time: np.ndarray
    """Seconds per cell (compilation included)."""
    environment: dict[str, str]
    path: Path | None = None
    operator_sha256: str | None = None
    """SHA-256 of the custom operator matrix the cells used (docs/theory.md §8), if any."""
    network: dict[str, Any] | None = None
    """One's own network (`sweep(..., network=)`), for the figures' words: its `name` and the `Config`
    fields it reads (`config_fields`; a directory keeps the name only); None: `Config.network`'s."""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(values) for values in self.axes.values())

    def statistic(self, name: str, index: int | str | None = None) -> np.ndarray:
        """One statistic over the grid: a name of `SCALAR_STATISTICS`, or of `QUARTILE_STATISTICS`
        with `index` ("q25", "median", "q75", or 0, 1, 2 in that order); None → NaN."""
        name = FORMER_NAMES.get(name, name)
        if name not in SCALAR_STATISTICS + QUARTILE_STATISTICS:
            raise ValueError(f"statistic must be one of {SCALAR_STATISTICS + QUARTILE_STATISTICS}, got {name!r}")
        position = isinstance(index, numbers.Integral) and not isinstance(index, bool) and 0 <= index < len(QUARTILES)
        key = QUARTILES[index] if position else index
        scalar = name in SCALAR_STATISTICS
        if not (key is None if scalar else isinstance(key, str) and key in QUARTILES):
            wanted = (
                "no index (one number per cell)" if scalar else "index 'q25', 'median', 'q75' or 0, 1, 2 (a quartile)"
            )
            raise ValueError(f"statistic {name!r} takes {wanted}, got index={index!r}")

        def value(cell):
            entry = None if cell is None else cell.get(name)  # None: not computed yet, or stored before it existed
            if entry is not None and key is not None:
                entry = entry[key]
            return np.nan if entry is None else entry

        return np.vectorize(value, otypes=[float])(self.cells)

    @property
    def varying_axes(self) -> list[str]:
        """The axes with more than one value (an axis with one is a fixed setting in the captions)."""
        return [name for name, values in self.axes.items() if len(values) > 1]

    @property
    def computed(self) -> np.ndarray:
        """Whether each cell has been computed (False: not yet, e.g. a sweep killed before it)."""
        return np.vectorize(lambda cell: cell is not None, otypes=[bool])(self.cells)

    frequency = _grid_of("frequency", "Fraction of seeds that reached the threshold, per cell (the paper's figures).")

    @property
    def configs(self) -> np.ndarray:
        """Each cell's `Config` (an object array shaped like the grid)."""
        return cell_configs(self.base, self.axes)

    @property
    def seeds(self) -> np.ndarray:
        """Seeds per cell (an axis may change them)."""
        return np.vectorize(lambda config: config.seeds, otypes=[int])(self.configs)

    @property
    def noisy(self) -> bool:
        """Whether some cell has `noise > 0` (docs/theory.md §7)."""
        return any(value > 0 for value in self.axes.get("noise", [self.base.noise]))

    def counts(self, outcome: str) -> np.ndarray:
        if outcome not in ENDINGS:
            raise ValueError(f"outcome must be one of {ENDINGS}, got {outcome!r}")
        return np.vectorize(lambda cell: -1 if cell is None else cell["counts"][outcome], otypes=[int])(self.cells)

    median_steps = _grid_of("steps_to_threshold", "Median steps to the threshold (converged seeds).", "median")
    median_stability = _grid_of("median_stability", "Median of `η λ_max(H(W(0)))` over seeds (docs/theory.md §5).")
    unstable_fraction = _grid_of("unstable_fraction", "Fraction of seeds with `η λ_max(H(W(0))) > 2`.")
    certified_fraction = _grid_of("certified_fraction", "Fraction of seeds certified by (5) (needs `track_ntk`).")
    # recovery under noise (docs/theory.md §7): `cell_statistics`
    median_best_signal_error = _grid_of("median_best_signal_error", "Median smallest `‖x(t) − x̄‖/‖x̄‖` on the path.")
    median_final_signal_error = _grid_of("median_final_signal_error", "Median `‖x − x̄‖/‖x̄‖` at the end.")
    median_signal_error_at_early_stop = _grid_of(
        "median_signal_error_at_early_stop", "Median `‖x(t) − x̄‖/‖x̄‖` at `T` (seeds that reached it; NaN: none)."
    )
    bound_holds_fraction = _grid_of("bound_holds_fraction", "Fraction of the checked seeds where the bound holds.")
    median_final_error_over_noise = _grid_of(
        "median_final_error_over_noise", "Median `‖A x − ȳ‖/‖ε‖` at the end (1: the noise is fitted; NaN: no noise)."
    )

    def plot(
        self,
        path: str | Path | None = None,
        formats: Sequence[str] = ("png", "pdf"),
        statistic: str = "frequency",
        values: bool = True,
        dpi: int = PRINT_DPI,
    ):
        """The phase diagram (docs/theory.md §6), each cell's value written in it unless
        `values=False`, PNG at `dpi`; see `wideDIP._figures.sweep_plot.plot_sweep`."""
        from .._figures.sweep_plot import plot_sweep

        return plot_sweep(self, path, formats, statistic, values, dpi)

    def plot_recovery(
        self, path: str | Path | None = None, formats: Sequence[str] = ("png", "pdf"), dpi: int = PRINT_DPI
    ):
        """Median best vs final signal error (docs/theory.md §7); see `wideDIP._figures.sweep_plot.plot_recovery`."""
        from .._figures.sweep_plot import plot_recovery

        return plot_recovery(self, path, formats, dpi)


def cell_name(index: tuple[int, ...]) -> str:
    return "cell-" + "-".join(map(str, index)) + ".json"


def read_header(path: Path) -> dict[str, Any]:
    """A sweep directory's header, checked to be one this library can read."""
    try:
        header = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(
            f"{path}: not valid JSON (empty or truncated sweep header). To recover, remove it and "
            "run the same sweep again into this directory: the cell files already there are checked "
            "against the grid and kept"
        ) from None
    if not isinstance(header, dict) or not {"format", "base", "axes", "environment"} <= header.keys():
        raise ValueError(f"{path}: not a sweep header (keys format, base, axes, environment expected)")
    if header["format"] not in READABLE_FORMATS:
        raise ValueError(
            f"{path}: sweep format {header['format']!r}, this library reads {', '.join(map(str, READABLE_FORMATS))}"
        )
    return header


def cell_changes(axes: dict[str, list[Any]], index: tuple[int, ...]) -> dict[str, Any]:
    return {name: values[i] for (name, values), i in zip(axes.items(), index)}


def cell_configs(base: Config, axes: dict[str, list[Any]]) -> np.ndarray:
    """Each cell's `Config`, an object array shaped like the grid (an axis of dynamics resets the fields
    its cells do not read: `switched`)."""
    configs = np.empty(tuple(map(len, axes.values())), dtype=object)
    for index in np.ndindex(configs.shape):
        configs[index] = switched(base, **cell_changes(axes, index))
    return configs


class DamagedCell(ValueError):
    """A cell file that cannot be what the sweep wrote at its place in the grid."""


def read_cell(path: Path, base: Config, axes: dict[str, list[Any]], index: tuple[int, ...]) -> dict[str, Any]:
    """The record stored at `path` for grid cell `index`, checked: JSON as written, the
    recorded `cell` equal to this place's values, and outcome counts that add up to the seeds."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DamagedCell(f"{path}: not valid JSON (empty or truncated cell file)") from None
    expected = json.loads(json.dumps(cell_changes(axes, index)))
    if not isinstance(record, dict) or not {"cell", "statistics", "wall_time"} <= record.keys():
        raise DamagedCell(f"{path}: not a cell record (keys cell, statistics, wall_time expected)")
    if record["cell"] != expected:
        raise DamagedCell(f"{path}: records the cell {record['cell']}, but its place in the grid is {expected}")
    statistics = record["statistics"]
    seeds = switched(base, **cell_changes(axes, index)).seeds
    try:
        counts = statistics["counts"]
        consistent = (
            set(counts) == set(ENDINGS)
            and sum(counts.values()) == seeds
            and statistics["frequency"] == counts["converged"] / seeds
        )
    except (TypeError, KeyError, AttributeError):
        consistent = False
    if not consistent:
        raise DamagedCell(
            f"{path}: its statistics are incomplete or inconsistent (outcome counts must add up to "
            f"the {seeds} seeds and give the frequency)"
        )
    return record


def current_form(statistics: dict[str, Any]) -> dict[str, Any]:
    """A stored cell's statistics under today's names (`FORMER_NAMES`), each quartile statistic as a
    dict (format 1 stored the list `[q25, median, q75]`)."""
    current = {FORMER_NAMES.get(name, name): value for name, value in statistics.items()}
    for name in QUARTILE_STATISTICS:
        if isinstance(current.get(name), list):
            current[name] = dict(zip(QUARTILES, current[name]))
    return current


def _set_aside(path: Path) -> Path:
    """Rename a damaged cell file to `<name>.damaged[-N]` (kept for inspection, never read)."""
    target = path.with_name(path.name + ".damaged")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.damaged-{number}")
    os.replace(path, target)
    return target


def stored_cells(
    directory: Path | None, base: Config, axes: dict[str, list[Any]], *, set_aside: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The statistics and wall times of the cells already written (None / NaN elsewhere). A
    damaged cell file raises `DamagedCell`, or, with `set_aside`, is renamed (with a warning)
    so that its cell is computed again."""
    cells = np.empty(tuple(map(len, axes.values())), dtype=object)
    wall_time = np.full(cells.shape, np.nan)
    for index in np.ndindex(cells.shape):
        stored = None if directory is None else directory / CELLS / cell_name(index)
        if stored is None or not stored.exists():
            continue
        try:
            record = read_cell(stored, base, axes, index)
        except DamagedCell as damage:
            if not set_aside:
                raise
            warnings.warn(f"{damage}; moved to {_set_aside(stored).name}, the cell is computed again", stacklevel=3)
            continue
        cells[index], wall_time[index] = current_form(record["statistics"]), record["wall_time"]
    return cells, wall_time


def load_sweep(path: str | os.PathLike) -> SweepResult:
    """Read a sweep directory (finished cells; unfinished ones are None in `cells`)."""
    directory = Path(path)
    header_path = directory / HEADER
    if not header_path.exists():
        raise ValueError(f"{directory} is not a sweep directory (no {HEADER})")
    header = read_header(header_path)
    base, axes = Config.from_dict(header["base"]), header["axes"]
    try:
        cells, wall_time = stored_cells(directory, base, axes, set_aside=False)
    except DamagedCell as damage:
        raise DamagedCell(
            f"{damage}. Running the same sweep again on this directory (wideDIP.sweep, or "
            "widedip sweep … --resume) sets the file aside and computes that cell again"
        ) from None
    return SweepResult(
        base=base,
        axes=axes,
        cells=cells,
        wall_time=wall_time,
        environment=header["environment"],
        path=directory,
        operator_sha256=header.get("operator_sha256"),
        network=None if header.get("network") is None else {"name": header["network"]},
    )
