"""Phase diagrams (docs/theory.md §6): grids of configurations, 50 runs per cell, stored cell by cell
so that an interrupted sweep resumes where it stopped and ends with the same bits."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .._config import Config, refuse_repeats, switched, value_list
from .._networks.base import Network
from .._operators.base import matrix_sha256
from .._resolve import checked_matrix, resolve_network
from .._results.simulation import SimulationResult, environment
from .._results.sweep import (
    CELLS,
    FORMAT_VERSION,
    HEADER,
    SweepResult,
    cell_changes,
    cell_configs,
    cell_name,
    cell_statistics,
    read_header,
    stored_cells,
)
from .._runtime.parallel import concurrent_cells, from_writer, is_writer, sweep_cell
from .batches import Batch, batch_of, group_cells
from .simulate import refuse_unused_kernel_settings, simulate_batch


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
        normalised[name] = [getattr(switched(base, **{name: v}), name) for v in values]  # validated, naming it
        refuse_repeats(normalised[name], f"sweep: axis {name!r}")
    return normalised


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
        header = read_header(header_path)
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


def _write_cell(
    directory: Path, axes: dict[str, list[Any]], index: tuple[int, ...], statistics: dict[str, Any], wall_time: float
) -> None:
    """Write the record of the cell `index` (its values on the `axes`, statistics, wall time)."""
    record = {"cell": cell_changes(axes, index), "statistics": statistics, "wall_time": wall_time}
    _write_atomically(directory / CELLS / cell_name(index), record)


def _upgrade(path: Path, header: dict[str, Any], base: Config, axes: dict[str, list[Any]]) -> dict[str, Any]:
    """Rewrite an older sweep directory in format `FORMAT_VERSION` before it is resumed, so that it
    never mixes formats: every cell file in today's form (`stored_cells`, which sets a damaged one
    aside), then the header, last, so that an interrupted upgrade is done again on the next resume."""
    cells, wall_time = stored_cells(path, base, axes, set_aside=True)
    for index in np.ndindex(cells.shape):
        if cells[index] is not None:
            _write_cell(path, axes, index, cells[index], wall_time[index])
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
    `n`, padded exactly): a descent's seeds leave the loop as they stop and the next cells' seeds
    take their slots, each cell written as its last seed stops; `workers` batches run at once, so
    that one compiles while another runs (results depend on neither). `operator`: the matrix of the cells
    with `operator="custom"` (docs/theory.md §8); its SHA-256 goes into the sweep's header, and
    resuming with another matrix is refused.
    """
    if not isinstance(base, Config):
        raise ValueError(f"sweep expects a wideDIP.Config as base, got {type(base).__name__}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"sweep: workers must be an integer >= 1 (batches run at once), got {workers!r}")
    axes = normalised_axes(base, axes)
    every_cell = cell_configs(base, axes)
    # before any computation
    refuse_unused_kernel_settings(
        [(cell, resolve_network(cell, network, "sweep")) for cell in every_cell.flat], "sweep"
    )
    matrix = _checked_sweep_matrix(every_cell.flat, operator)
    sha256 = matrix_sha256(matrix)
    directory = None if path is None else Path(path)
    name = None if network is None else network.name
    # several processes: process 0 alone reads and writes the directory, and tells the others
    header = (
        from_writer(lambda: _open_directory(directory, base, axes, sha256, name))
        if directory is not None
        else {"environment": environment()}
    )
    cells, wall_time = from_writer(lambda: stored_cells(directory, base, axes, set_aside=True))
    todo = [index for index in np.ndindex(cells.shape) if cells[index] is None]
    configs = [every_cell[index] for index in todo]
    # one job per batch, largest first: its cells share one setup and, for descent, one loop
    batches = [([todo[i] for i in group], batch_of(configs, group)) for group in group_cells(configs, network, pad)]
    total, concurrent = cells.size, min(concurrent_cells(workers), len(batches))
    lock = threading.Lock()

    with tqdm(total=total, initial=total - len(todo), unit="cell", disable=not progress, desc="sweep") as bar:

        def finished(indices: list[tuple[int, ...]], position: int, result: SimulationResult) -> None:
            """A cell of a batch, written as it finishes."""
            index, statistics = indices[position], cell_statistics(result)
            if directory is not None and is_writer():
                _write_cell(directory, axes, index, statistics, result.wall_time)
            with lock:
                cells[index], wall_time[index] = statistics, result.wall_time
                bar.update(1)

        def run(indices: list[tuple[int, ...]], batch: Batch) -> None:
            """One batch, on one device when several run at once (`sweep_cell`)."""
            custom = matrix if batch.shape.operator == "custom" else None
            with sweep_cell(concurrent):
                simulate_batch(batch, network=network, operator=custom, done=functools.partial(finished, indices))

        pool = ThreadPoolExecutor(max(concurrent, 1))
        try:
            for job in as_completed([pool.submit(run, *batch) for batch in batches]):
                job.result()
        finally:  # after Ctrl-C, batches not yet started are dropped; running ones still finish and are saved
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


def _checked_sweep_matrix(configs: Iterable[Config], operator: Any) -> np.ndarray | None:
    """The custom matrix, checked against every cell of `configs` that uses it (shape, values); a matrix
    that no cell uses, or a custom cell without one, is a ValueError."""
    custom = [config for config in configs if config.operator == "custom"]
    if not custom:
        if operator is not None:
            raise ValueError(
                "an operator matrix was given but no cell of this sweep has Config.operator='custom': "
                "set Config.operator='custom' (in the base config or on its axis) to use it"
            )
        return None
    return [checked_matrix(config, operator) for config in custom][0]
