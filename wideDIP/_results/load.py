"""`wideDIP.load`: whatever wideDIP saved (a simulation, a comparison, a sweep directory), told
apart by its content; a damaged file is refused, naming the array (docs/configuration.md)."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._analysis.alignment import ALIGNMENTS, ENERGIES
from .._analysis.theory import TheoryReport
from .._config import Config
from .._networks.kernels import KERNEL_STATISTICS, TRACKED_STATISTICS
from .._resolve import has_ssim
from .comparison import KERNEL_FIELDS, ComparisonResult
from .simulation import (
    _TRI_STATE,
    HEADER_FIELDS,
    KINDS,
    READABLE_FORMATS,
    SIMULATION_HEADER_FIELDS,
    SimulationResult,
    _left_out,
)
from .sweep import HEADER, SweepResult, load_sweep

_SAVED_KINDS = (
    "wideDIP saves a sweep directory (with sweep.json), a simulation or a comparison (a .npz file: "
    "SimulationResult.save, ComparisonResult.save, widedip simulate/compare --out)"
)


def load(path: str | os.PathLike) -> SimulationResult | ComparisonResult | SweepResult:
    """Read what wideDIP saved at `path`: a `.npz` file of `SimulationResult.save` or
    `ComparisonResult.save` (which one: its header's `kind`), or a sweep directory (`load_sweep`)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"load: no file or directory {str(path)!r}; {_SAVED_KINDS}")
    if path.is_dir():
        if not (path / HEADER).is_file():
            raise ValueError(f"load: {str(path)!r} is a folder but not a sweep directory (no {HEADER}); {_SAVED_KINDS}")
        return load_sweep(path)
    header, arrays = _read_result_file(path)
    config = Config.from_dict(header["config"])
    names = HEADER_FIELDS if header["kind"] == "comparison" else SIMULATION_HEADER_FIELDS
    fields = {"config": config, **{name: header.get(name) for name in names}}
    if header["format"] == 1:  # a simulation, whose end-of-run errors had the names the curves have now
        for name in ("signal_error", "observation_error"):
            if name in arrays:
                arrays[f"final_{name}"] = arrays.pop(name)
    _check_arrays(path, header["kind"], header["format"], config, arrays)
    result_class = ComparisonResult if header["kind"] == "comparison" else SimulationResult
    return result_class.from_saved(fields, arrays)


_PER_SEED = ("seeds",)
_CURVE = ("seeds", "checkpoints")
_NOT_PER_SEED: dict[str, tuple[str, ...]] = {
    "times": ("checkpoints",),
    **dict.fromkeys(
        (
            "loss",
            "weight_distance",
            "observation_error",
            "signal_error",
            "signal_error_row_space",
            "signal_error_kernel",
            "psnr",
            "ssim",
        ),
        _CURVE,
    ),
    **dict.fromkeys(("signal", "best_reconstruction", "final_reconstruction", "back_projection"), ("seeds", "n")),
    **dict.fromkeys(("observation", "clean_observation"), ("seeds", "m")),
    "operator_matrix": ("seeds", "m", "n"),
    "reconstructions": ("seeds", "checkpoints", "n"),
}
SIMULATION_AXES: dict[str, tuple[str, ...]] = {
    field.name: _NOT_PER_SEED.get(field.name, _PER_SEED)
    for field in dataclasses.fields(SimulationResult)
    if field.name not in ("config", "ntk", "theory", "alignment", *SIMULATION_HEADER_FIELDS)
}
"""The axes of every array field of a saved simulation (one per seed but for `_NOT_PER_SEED`; `ntk__NAME`:
those of the curves; `theory__NAME`: one per seed); sizes from its header's config (`seeds`, `m`, `n`) and
its `times`."""
COMPARISON_AXES: dict[str, tuple[str, ...]] = {
    "step_sizes": ("step_sizes",),
    "times": ("step_sizes", "checkpoints"),
    **dict.fromkeys(("flow_loss", "descent_loss"), ("step_sizes", "seeds", "checkpoints")),
    **dict.fromkeys(
        ("max_loss_gap", "max_relative_loss_gap", "max_state_gap", "stability", "status"), ("step_sizes", "seeds")
    ),
    "flow_status": _PER_SEED,
}
"""The axes of every array of a saved comparison (`FIELD__NAME` of its kernel fields: those of the
losses); sizes from its header's config (`seeds`), its `step_sizes` and its `times`."""


_SAVED_SINCE: dict[str, int] = {
    **dict.fromkeys(("signal", "observation", "clean_observation", "best_reconstruction", "final_reconstruction"), 4),
    **dict.fromkeys(("measured_rate", "predicted_rate"), 5),
    **dict.fromkeys(
        (
            "back_projection",
            "psnr",
            "ssim",
            "observed_psnr",
            "final_psnr",
            "best_psnr",
            "best_psnr_time",
            "psnr_at_early_stop",
            "psnr_at_threshold",
        ),
        6,
    ),
}
"""The format that added an array `SimulationResult.save` always writes (the others: format 2)."""


ALIGNMENT_AXES = {
    **dict.fromkeys(("eigenvalues", *ENERGIES), ("seeds", "rank")),
    **dict.fromkeys(("converged", *ALIGNMENTS), _PER_SEED),
}
"""The axes of the arrays `alignment__NAME` of a saved simulation (`rank`: the config's `alignment_rank`)."""


def _expected_axes(kind: str, name: str) -> tuple[str, ...] | None:
    """The axes of the array `name` in a saved result of `kind`; None for a name it never holds."""
    prefix, _, statistic = name.partition("__")
    if kind == "comparison":
        kernel = prefix in KERNEL_FIELDS and statistic in TRACKED_STATISTICS
        return COMPARISON_AXES.get(name) or (("step_sizes", "seeds", "checkpoints") if kernel else None)
    if prefix == "ntk" and statistic:
        return _CURVE if statistic in TRACKED_STATISTICS else None
    if prefix == "alignment" and statistic:
        return ALIGNMENT_AXES.get(statistic)
    if prefix == "theory":
        known = {field.name for field in dataclasses.fields(TheoryReport)}
        return None if statistic not in known else () if statistic == "lipschitz_bound_known" else _PER_SEED
    return SIMULATION_AXES.get(name)


def _expected_dtype_kind(name: str) -> str:
    """The NumPy dtype kinds the array `name` may have in a saved result: strings for the outcomes,
    integers for the tri-state arrays (`_encoded`), numbers (booleans included) for the rest."""
    if name in ("status", "flow_status"):
        return "U"
    return "i" if name in _TRI_STATE else "biuf"


_DTYPE_KINDS = {
    "U": "strings (dtype kind 'U')",
    "i": "int8 (dtype kind 'i')",
    "biuf": "numbers (dtype kind b, i, u or f)",
}


def _required_arrays(kind: str, file_format: int, config: Config, arrays: dict[str, np.ndarray]) -> list[str]:
    """The arrays that every saved result of `kind` and `file_format` holds: since format 2, what
    `SimulationResult.save` always wrote in that format (`_SAVED_SINCE`); in format 1 and for a comparison,
    its dataclass's fields without a default. With them, every kernel statistic of a group that holds one
    or that its config tracked (a comparison's since format 4), and the theory report's fields without a
    default when a simulation holds one or computed one (`track_ntk`, or noise: docs/theory.md §7)."""

    def without_default(cls: type) -> list[str]:
        return [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in ("config", *HEADER_FIELDS)
        ]

    def groups(prefixes: tuple[str, ...], tracked: bool) -> list[str]:
        held = [prefix for prefix in prefixes if tracked or any(name.startswith(prefix + "__") for name in arrays)]
        statistics = TRACKED_STATISTICS if file_format >= 5 else KERNEL_STATISTICS  # format 5 added the drifts
        return [f"{prefix}__{statistic}" for prefix in held for statistic in statistics]

    if kind == "comparison":
        return without_default(ComparisonResult) + groups(KERNEL_FIELDS, config.track_ntk and file_format >= 4)
    if file_format == 1:
        always = without_default(SimulationResult)
    else:
        large = _left_out(reconstructions=False, operator_matrix=False)
        always = [name for name in SIMULATION_AXES if name not in large and _SAVED_SINCE.get(name, 2) <= file_format]
    computed = file_format >= 2 and (config.track_ntk or config.noise > 0)
    theory = computed or any(name.startswith("theory__") for name in arrays)
    tracked = groups(("ntk",), file_format >= 2 and config.track_ntk)
    if not has_ssim(config):  # the SSIM is a structured image's
        always = [name for name in always if name != "ssim"]
    aligned = [f"alignment__{name}" for name in ALIGNMENT_AXES if file_format >= 6 and config.alignment_rank]
    return always + tracked + aligned + [f"theory__{name}" for name in without_default(TheoryReport) if theory]


_AXIS_ORIGINS = {
    "seeds": "the config's seeds",
    "m": "the config's m",
    "n": "the config's n",
    "checkpoints": "the length most of its curves share",
    "step_sizes": "the number of step_sizes",
    "rank": "the config's alignment_rank",
}


def _check_arrays(path: Path, kind: str, file_format: int, config: Config, arrays: dict[str, np.ndarray]) -> None:
    """A `ValueError` naming the file and the array unless `arrays` are those a saved result of `kind`
    in `file_format` holds (`_required_arrays`), each of the dtype kind (`_expected_dtype_kind`) and the
    shape its header gives (`SIMULATION_AXES`, `COMPARISON_AXES`): a file cut short or edited is refused
    rather than read as data."""
    damaged = f"load: {str(path)!r} is damaged or not a {kind} saved by wideDIP"
    axes = {name: _expected_axes(kind, name) for name in arrays}
    for name, expected in axes.items():
        if expected is None:
            raise ValueError(f"{damaged}: it holds an array {name!r} that a saved {kind} does not have")
    for name in _required_arrays(kind, file_format, config, arrays):
        if name not in arrays:
            raise ValueError(f"{damaged}: the array {name!r} is missing")
    for name, values in arrays.items():
        expected = _expected_dtype_kind(name)
        if values.dtype.kind not in expected:
            raise ValueError(
                f"{damaged}: the array {name!r} has dtype {values.dtype} (kind {values.dtype.kind!r}), "
                f"expected {_DTYPE_KINDS[expected]}"
            )
    for name, values in arrays.items():
        if np.ndim(values) != len(axes[name]):
            expected = f"the axes [{', '.join(axes[name])}]" if axes[name] else "a single value"
            raise ValueError(f"{damaged}: the array {name!r} has shape {np.shape(values)}, expected {expected}")
    # the number of checkpoints has no field in the header: the length that most curves (times included) share,
    # so that the one array cut short is the one named
    lengths = [np.shape(values)[-1] for name, values in arrays.items() if axes[name][-1:] == ("checkpoints",)]
    checkpoints = collections.Counter(lengths).most_common(1)[0][0]
    sizes = {
        "seeds": config.seeds,
        "m": config.m,
        "n": config.n,
        "checkpoints": checkpoints,
        "rank": config.alignment_rank,
    }
    if kind == "comparison":
        sizes["step_sizes"] = len(arrays["step_sizes"])
    for name, values in arrays.items():
        expected = tuple(sizes[axis] for axis in axes[name])
        if np.shape(values) != expected:
            spelled = ", ".join(f"{axis} = {sizes[axis]} ({_AXIS_ORIGINS[axis]})" for axis in axes[name])
            raise ValueError(
                f"{damaged}: the array {name!r} has shape {np.shape(values)}, expected {expected} [{spelled}]"
            )


def _read_result_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON header (with its `kind`, "simulation" for formats 1 and 2) and the arrays of a
    result file, checked to be one this version reads."""
    not_a_result = ValueError(f"load: {str(path)!r} is not a result saved by wideDIP; {_SAVED_KINDS}")
    if not zipfile.is_zipfile(path):
        raise not_a_result
    with np.load(path, allow_pickle=False) as data:
        if "header" not in data.files:
            raise not_a_result
        try:
            header = json.loads(str(data["header"]))
        except json.JSONDecodeError:
            raise not_a_result from None
        arrays = {name: _read_array(path, data, name) for name in data.files if name != "header"}
    if not isinstance(header, dict) or header.get("format") not in READABLE_FORMATS:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(
            f"load: {str(path)!r} has result format {found!r}; this version reads "
            f"{', '.join(map(str, READABLE_FORMATS))}"
        )
    header.setdefault("kind", "simulation")
    if header["kind"] not in KINDS:
        raise ValueError(f"load: {str(path)!r} holds a result of kind {header['kind']!r}; this version reads {KINDS}")
    return header, arrays


def _read_array(path: Path, data: np.lib.npyio.NpzFile, name: str) -> np.ndarray:
    """The array `name` of the open result file `data`; a `ValueError` naming the file and the array
    where it cannot be read (an array of Python objects, which wideDIP never saves, needs pickle)."""
    try:
        return data[name]
    except ValueError as error:
        raise ValueError(
            f"load: {str(path)!r} is damaged or not a result saved by wideDIP: its array {name!r} "
            f"cannot be read ({error})"
        ) from None
