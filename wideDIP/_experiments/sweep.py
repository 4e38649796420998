"""Phase diagrams (docs/theory.md §6): grids of configurations, 50 runs per cell, stored cell by cell
so that an interrupted sweep resumes where it stopped and ends with the same bits."""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._analysis.statistics import FORMER_NAMES, QUARTILE_STATISTICS, QUARTILES, SCALAR_STATISTICS
from .._config import Config, refuse_repeats, value_list
from .._figures.plots import PRINT_DPI
from .._integrate.outcomes import ENDINGS
from .._networks.networks import Network
from .._problems.operators import matrix_sha256
from .._resolve import checked_matrix, resolve_network
from .._results.simulation import SimulationResult, environment
from .._runtime.parallel import concurrent_cells, from_writer, is_writer, sweep_cell
from .batches import batch_of, group_cells
from .simulate import refuse_unused_kernel_settings, simulate_batch

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


def _fraction(flags: np.ndarray) -> float:
    return float(np.mean(flags))


def _noise_statistics(result: SimulationResult) -> dict[str, Any]:
    """Recovery under noise (docs/theory.md §7): median signal errors at the best point of the
    path, at the end and at `T` (seeds that reached it), the bound `‖y(t) − ȳ‖ ≤ 2‖ε‖` after `T`
    on the seeds where it was checked, and the median of `‖A x − ȳ‖/‖ε‖` at the end (1: the noise
    is fitted exactly; None without noise)."""
    checked = np.array([holds for holds in result.bound_holds if holds is not None], dtype=bool)
    noisy = result.config.noise > 0
    return {
        "median_best_signal_error": float(np.median(result.best_signal_error)),
        "median_final_signal_error": float(np.median(result.final_signal_error)),
        "median_signal_error_at_early_stop": _quartiles_by_name(result.signal_error_at_early_stop)["median"],
        "bound_holds_fraction": _fraction(checked) if checked.size else None,
        "bound_checked": int(checked.size),
        "median_final_error_over_noise": float(np.median(result.final_observation_error / result.noise_norm))
        if noisy
        else None,
    }


def cell_statistics(result: SimulationResult) -> dict[str, Any]:
    """What a sweep keeps of one cell: outcome counts and robust summaries, no curves."""
    converged = result.converged
    statistics = {
        "frequency": result.frequency,
        "counts": result.counts(),
        "steps_to_threshold": _quartiles_by_name(np.where(converged, result.steps_to_threshold, np.nan).astype(float)),
        "time_to_threshold": _quartiles_by_name(result.time_to_threshold),
        "median_final_loss": float(np.median(result.final_loss)),
        "total_steps": int(np.sum(result.stop_step)),
        "median_stability": float(np.median(result.stability)),
        "median_kappa_A": float(np.median(result.kappa_A)),
        "unstable_fraction": _fraction(result.stability > 2),
        "certified_fraction": None
        if result.theory is None or result.certified is None
        else _fraction(result.certified),
        "certified_observation_fraction": None
        if result.theory is None or result.certified is None
        else _fraction(result.certified_observation),
        **_noise_statistics(result),
    }
    return json.loads(json.dumps(statistics))  # exactly what a reload gives (floats round-trip)


def _write_atomically(path: Path, payload: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(temporary, "w") as handle:
        json.dump(payload, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def normalised_axes(base: Config, axes: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The axes as lists of validated values (each turned into its field's type); a
    `ValueError` names a bad axis or value."""
    if not axes:
        raise ValueError("sweep: axes must name at least one Config field, e.g. {'k': [...], 'n': [...]}")
    fields = {f.name for f in dataclasses.fields(Config)}
    normalised = {}
    if not isinstance(axes, Mapping):
        raise ValueError(f"sweep: axes must be a dict of Config field -> list of values, got {type(axes).__name__}")
    for name, values in axes.items():
        if name not in fields:
            raise ValueError(f"sweep: axis {name!r} is not a Config field; fields are {sorted(fields)}")
        values = value_list(values, f"sweep: axis {name!r}", f"{{{name!r}: [{values!r}]}}")
        if not values:
            raise ValueError(f"sweep: axis {name!r} has no values")
        for value in values:
            base.replace(**{name: value})  # validates each value, naming the field
        normalised[name] = [getattr(base.replace(**{name: v}), name) for v in values]
        refuse_repeats(normalised[name], f"sweep: axis {name!r}")
    return normalised


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
            if cell is None:  # not computed yet
                return np.nan
            entry = cell.get(name)  # None: a cell stored before this statistic existed
            if entry is None:
                return np.nan
            entry = entry if key is None else entry[key]
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

    @property
    def frequency(self) -> np.ndarray:
        """Fraction of seeds that reached the threshold, per cell (the paper's figures)."""
        return self.statistic("frequency")

    @property
    def configs(self) -> np.ndarray:
        """Each cell's `Config` (an object array shaped like the grid)."""
        configs = np.empty(self.shape, dtype=object)
        for index in np.ndindex(self.shape):
            configs[index] = self.base.replace(**_cell_changes(self.axes, index))
        return configs

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

    @property
    def median_steps(self) -> np.ndarray:
        return self.statistic("steps_to_threshold", "median")

    @property
    def median_stability(self) -> np.ndarray:
        return self.statistic("median_stability")

    @property
    def unstable_fraction(self) -> np.ndarray:
        return self.statistic("unstable_fraction")

    @property
    def certified_fraction(self) -> np.ndarray:
        return self.statistic("certified_fraction")

    @property
    def median_best_signal_error(self) -> np.ndarray:
        """Median over seeds of the smallest `‖x(t) − x̄‖/‖x̄‖` along the path (docs/theory.md §7)."""
        return self.statistic("median_best_signal_error")

    @property
    def median_final_signal_error(self) -> np.ndarray:
        """Median over seeds of `‖x − x̄‖/‖x̄‖` at the end of the run."""
        return self.statistic("median_final_signal_error")

    @property
    def median_signal_error_at_early_stop(self) -> np.ndarray:
        """Median of `‖x(t) − x̄‖/‖x̄‖` at the early-stopping time `T`, over the seeds that reached a
        finite `T` (NaN where none did, e.g. without noise)."""
        return self.statistic("median_signal_error_at_early_stop")

    @property
    def bound_holds_fraction(self) -> np.ndarray:
        """Fraction of the checked seeds where `‖y(t) − ȳ‖ ≤ 2‖ε‖` after `T` (NaN where no seed was
        checked: only certified seeds that ran past `T` are)."""
        return self.statistic("bound_holds_fraction")

    @property
    def median_final_error_over_noise(self) -> np.ndarray:
        """Median of `‖A x − ȳ‖/‖ε‖` at the end (1: the noise is fitted; NaN without noise)."""
        return self.statistic("median_final_error_over_noise")

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


def _cell_name(index: tuple[int, ...]) -> str:
    return "cell-" + "-".join(map(str, index)) + ".json"


def _read_header(path: Path) -> dict[str, Any]:
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


def _open_directory(
    path: Path, base: Config, axes: dict[str, list[Any]], sha256: str | None, network: str | None
) -> dict[str, Any]:
    """Create the sweep directory, or check that it holds this very sweep (same base config, axes,
    custom operator matrix and network of one's own, by name)."""
    wanted = json.loads(
        json.dumps({"format": FORMAT_VERSION, "base": base.to_dict(), "axes": axes, "network": network})
    )
    header_path = path / HEADER
    if header_path.exists():
        header = _read_header(header_path)
        if header.get("network") != network:
            raise ValueError(
                f"{path} holds a sweep of network {header.get('network') or 'given by its config'!r}, "
                f"not {network or 'given by the config'!r}; use a new path, or load it with wideDIP.load_sweep"
            )
        try:  # a header written before a Config field existed holds that field's default
            stored = json.loads(json.dumps(Config.from_dict(header["base"]).to_dict()))
        except ValueError:
            stored = header["base"]
        if stored != wanted["base"]:
            differ = sorted(k for k in wanted["base"] if stored.get(k) != wanted["base"][k])
            raise ValueError(
                f"{path} holds a sweep with another base config (fields {differ} differ); "
                "use a new path, or load it with wideDIP.load_sweep"
            )
        if header["axes"] != wanted["axes"]:
            raise ValueError(
                f"{path} holds a sweep over other axes ({header['axes']}); use a new path, "
                "or load it with wideDIP.load_sweep"
            )
        if header.get("operator_sha256") != sha256:

            def name(digest):
                return "no custom operator matrix" if digest is None else f"the custom matrix sha256 {digest}"

            raise ValueError(
                f"{path} holds a sweep run with {name(header.get('operator_sha256'))}, but this one "
                f"has {name(sha256)}: pass the same matrix to resume it, or use a new path"
            )
        return header if header["format"] == FORMAT_VERSION else _upgrade(path, header, base, axes)
    try:
        (path / CELLS).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"sweep: cannot create the sweep directory {str(path)!r}: {error.strerror or error}") from None
    header = {**wanted, "operator_sha256": sha256, "environment": environment()}
    _write_atomically(header_path, header)
    return header


def _upgrade(path: Path, header: dict[str, Any], base: Config, axes: dict[str, list[Any]]) -> dict[str, Any]:
    """Rewrite an older sweep directory in format `FORMAT_VERSION` before it is resumed, so that it
    never mixes formats: every readable cell file (in today's form, `_current_form`; a damaged one
    is left for the resume to set aside), then the header, last, so that an interrupted upgrade is
    done again on the next resume."""
    for index in np.ndindex(tuple(len(values) for values in axes.values())):
        cell = path / CELLS / _cell_name(index)
        if cell.exists():
            try:
                record = _read_cell(cell, base, axes, index)
            except DamagedCell:
                continue
            _write_atomically(cell, {**record, "statistics": _current_form(record["statistics"])})
    header = {**header, "format": FORMAT_VERSION}
    _write_atomically(path / HEADER, header)
    return header


def sweep(
    base: Config,
    axes: Mapping[str, Sequence[Any]],
    path: str | os.PathLike | None = None,
    *,
    operator: np.ndarray | None = None,
    progress: bool = True,
    workers: int = 2,
    network: Network | None = None,
    pad: bool = True,
) -> SweepResult:
    """Simulate `base` with every combination of the axis values, e.g.
    `sweep(Config(m=10), {"k": [10, 100], "n": [10, 100]}, "runs/fig1")`; with `network`, a
    `wideDIP.Network` of one's own in every cell (its name is stored with the sweep).

    With `path`, each finished cell is written atomically to `path/cells/`; calling again
    with the same arguments skips the finished cells (resume), and a directory holding a
    different sweep is refused. Cells that share a compiled shape share one compiled setup and
    loop (`wideDIP._experiments.batches`; with `pad`, also cells of the paper's network that differ in `m` or
    `n`, padded exactly); `workers` cells run at once, so that one compiles while another runs,
    each batch's first cell before its others (results do not depend on either). `operator`: the matrix of the cells
    with `operator="custom"` (docs/theory.md §8); its SHA-256 goes into the sweep's header, and
    resuming with another matrix is refused.
    """
    if not isinstance(base, Config):
        raise ValueError(f"sweep expects a wideDIP.Config as base, got {type(base).__name__}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"sweep: workers must be an integer >= 1 (cells run at once), got {workers!r}")
    axes = normalised_axes(base, axes)
    every_cell = [base.replace(**_cell_changes(axes, index)) for index in np.ndindex(tuple(map(len, axes.values())))]
    # before any computation
    refuse_unused_kernel_settings([(cell, resolve_network(cell, network, "sweep")) for cell in every_cell], "sweep")
    matrix = _checked_sweep_matrix(base, axes, operator)
    sha256 = matrix_sha256(matrix)
    directory = None if path is None else Path(path)
    name = None if network is None else network.name
    # several processes: process 0 alone reads and writes the directory, and tells the others
    header = (
        from_writer(lambda: _open_directory(directory, base, axes, sha256, name))
        if directory is not None
        else {"environment": environment()}
    )
    cells, wall_time = from_writer(lambda: _stored_cells(directory, base, axes, set_aside=True))
    todo = [index for index in np.ndindex(cells.shape) if cells[index] is None]
    configs = [base.replace(**_cell_changes(axes, index)) for index in todo]
    # one job per cell, at its batch's shape; each batch's first cell first (largest batch first), then the others
    groups = group_cells(configs, network, pad)
    calls = [list(zip([todo[i] for i in group], batch_of(configs, group).calls())) for group in groups]

    def run(index: tuple[int, ...], call, first: Future | None = None) -> tuple[tuple[int, ...], dict[str, Any], float]:
        """One cell, written as it finishes; after `first` (its batch's first cell, which compiles the
        batch's programs: the other cells then find them compiled)."""
        if first is not None:
            first.result()
        config = call.configs[0]
        with sweep_cell(concurrent_cells(workers)):
            (result,) = simulate_batch(call, network=network, operator=matrix if config.operator == "custom" else None)
        statistics = cell_statistics(result)
        if directory is not None and is_writer():
            _write_atomically(
                directory / CELLS / _cell_name(index),
                {"cell": _cell_changes(axes, index), "statistics": statistics, "wall_time": result.wall_time},
            )
        return index, statistics, result.wall_time

    total = cells.size
    pool = ThreadPoolExecutor(concurrent_cells(workers))
    try:
        with tqdm(total=total, initial=total - len(todo), unit="cell", disable=not progress, desc="sweep") as bar:
            firsts = [pool.submit(run, *cells_of_batch[0]) for cells_of_batch in calls]
            others = [
                pool.submit(run, *cell, first)
                for first, cells_of_batch in zip(firsts, calls)
                for cell in cells_of_batch[1:]
            ]
            for finished in as_completed(firsts + others):
                index, statistics, elapsed = finished.result()
                cells[index], wall_time[index] = statistics, elapsed
                bar.update(1)
    finally:  # after Ctrl-C, cells not yet started are dropped; running ones still finish and are saved
        pool.shutdown(wait=False, cancel_futures=True)
    return SweepResult(
        base=base,
        axes=axes,
        cells=cells,
        wall_time=wall_time,
        environment=header["environment"],
        path=directory,
        operator_sha256=sha256,
        network=None if network is None else {"name": name, "config_fields": list(network.config_fields)},
    )


def _checked_sweep_matrix(base: Config, axes: dict[str, list[Any]], operator: Any) -> np.ndarray | None:
    """The custom matrix, checked against every cell that uses it (shape, values); a matrix
    that no cell uses, or a custom cell without one, is a ValueError."""
    configs = [base.replace(**_cell_changes(axes, index)) for index in np.ndindex(*map(len, axes.values()))]
    custom = [config for config in configs if config.operator == "custom"]
    if not custom:
        if operator is not None:
            raise ValueError(
                "an operator matrix was given but no cell of this sweep has Config.operator='custom': "
                "set Config.operator='custom' (in the base config or on its axis) to use it"
            )
        return None
    return [checked_matrix(config, operator) for config in custom][0]


def _cell_changes(axes: dict[str, list[Any]], index: tuple[int, ...]) -> dict[str, Any]:
    return {name: values[i] for (name, values), i in zip(axes.items(), index)}


class DamagedCell(ValueError):
    """A cell file that cannot be what the sweep wrote at its place in the grid."""


def _read_cell(path: Path, base: Config, axes: dict[str, list[Any]], index: tuple[int, ...]) -> dict[str, Any]:
    """The record stored at `path` for grid cell `index`, checked: JSON as written, the
    recorded `cell` equal to this place's values, and outcome counts that add up to the seeds."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DamagedCell(f"{path}: not valid JSON (empty or truncated cell file)") from None
    expected = json.loads(json.dumps(_cell_changes(axes, index)))
    if not isinstance(record, dict) or not {"cell", "statistics", "wall_time"} <= record.keys():
        raise DamagedCell(f"{path}: not a cell record (keys cell, statistics, wall_time expected)")
    if record["cell"] != expected:
        raise DamagedCell(f"{path}: records the cell {record['cell']}, but its place in the grid is {expected}")
    statistics = record["statistics"]
    seeds = base.replace(**_cell_changes(axes, index)).seeds
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


def _current_form(statistics: dict[str, Any]) -> dict[str, Any]:
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


def _stored_cells(
    directory: Path | None, base: Config, axes: dict[str, list[Any]], *, set_aside: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The statistics and wall times of the cells already written (None / NaN elsewhere). A
    damaged cell file raises `DamagedCell`, or, with `set_aside`, is renamed (with a warning)
    so that its cell is computed again."""
    shape = tuple(len(values) for values in axes.values())
    cells = np.empty(shape, dtype=object)
    wall_time = np.full(shape, np.nan)
    for index in np.ndindex(shape):
        stored = None if directory is None else directory / CELLS / _cell_name(index)
        if stored is None or not stored.exists():
            continue
        try:
            record = _read_cell(stored, base, axes, index)
        except DamagedCell as damage:
            if not set_aside:
                raise
            warnings.warn(f"{damage}; moved to {_set_aside(stored).name}, the cell is computed again", stacklevel=3)
            continue
        cells[index], wall_time[index] = _current_form(record["statistics"]), record["wall_time"]
    return cells, wall_time


def load_sweep(path: str | os.PathLike) -> SweepResult:
    """Read a sweep directory (finished cells; unfinished ones are None in `cells`)."""
    directory = Path(path)
    header_path = directory / HEADER
    if not header_path.exists():
        raise ValueError(f"{directory} is not a sweep directory (no {HEADER})")
    header = _read_header(header_path)
    base, axes = Config.from_dict(header["base"]), header["axes"]
    try:
        cells, wall_time = _stored_cells(directory, base, axes, set_aside=False)
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
