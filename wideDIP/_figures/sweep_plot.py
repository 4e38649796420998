"""Figures of a sweep (docs/theory.md §6, §7): a statistic as a heatmap over two numeric axes
(the phase diagram: the value in each cell, the 50 % contour, Theorem 2.1(ii)'s width bound and
descent's stability limit) or as lines over one axis, and the recovery figure (median best vs
final signal error). Every figure names the settings its grid holds fixed (`_captions`)."""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.patheffects import withStroke
from matplotlib.ticker import NullLocator

from .._analysis.statistics import NEEDS, PLOTTED_STATISTICS, QUARTILE_STATISTICS
from .._analysis.theory import width_bound
from .._dynamics.registry import dynamics_class
from .._presets import PRESETS
from .._resolve import operator_of
from .._runtime.paths import check_writable
from .captions import STATISTIC_LABELS, axis_label, grid_settings, wrapped
from .plots import PRINT_DPI, figure_formats, pyplot

_INTEGER_AXES = ("n", "m")
_BOUND_COLUMNS = ("n", "m", "condition_number", "blur_width")
WILSON_Z = 1.96
"""The error bars of a frequency: the 95 % Wilson score interval."""
FULL_SEEDS = 50
"""The paper's seeds per cell: a cell with fewer writes its seed count under its value."""
COLOUR_MAP = "viridis"
_PANEL = (4.3, 3.9)
"""Inches of a heatmap panel (axes and tick labels)."""
_CHARACTERS_PER_INCH = 14
"""About how many characters of a 9-point caption fill an inch (where captions break)."""
CONTOUR_LABEL = "50 % of seeds reach the threshold"
NOT_RUN_LABEL = "not run (no result yet)"
RECOVERY_RATIO_LABEL = "median best / median final signal error  (cells: best, final)"
STABILITY_LIMIT = "η·λmax(H(W(0))) > 2 for most seeds"
"""What puts a cell beyond descent's stability limit (docs/theory.md §5), as the captions say it."""
UNSTABLE_LABEL = f"descent unstable: {STABILITY_LIMIT}"
STABLE = "η·λmax(H(W(0))) ≤ 2 for at least half the seeds"
"""What keeps a cell within descent's stability limit: the negation of `STABILITY_LIMIT`."""


LOG_COLOURS_FROM = 1e3
"""A statistic whose positive values span more than this ratio is coloured on a log scale."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _unevenness(gaps: np.ndarray) -> float:
    """Largest over smallest gap (1: evenly spaced)."""
    return float(gaps.max() / gaps.min()) if gaps.size else 1.0


def axis_scale(values: Sequence[Any]) -> str:
    """How an axis is drawn: "log" for increasing positive numbers at least as evenly spaced in
    log as in value (the paper's grids), "linear" for other increasing numbers at most 3× unevenly
    spaced, else "categorical": evenly spaced, each tick labelled with its value."""
    if not all(map(_is_number, values)):
        return "categorical"
    values = np.asarray(values, float)
    gaps = np.diff(values)
    if np.any(gaps <= 0):
        return "categorical"
    if values[0] > 0 and _unevenness(np.diff(np.log(values))) <= _unevenness(gaps):
        return "log"
    return "linear" if _unevenness(gaps) <= 3 else "categorical"


def _positions(values: Sequence[Any], scale: str) -> np.ndarray:
    """Where an axis's values are drawn: at the values, or at 0, 1, 2, … on a categorical axis."""
    return np.arange(len(values), dtype=float) if scale == "categorical" else np.asarray(values, float)


def _warp(scale: str):
    """The maps to and from the coordinates in which an axis is evenly drawn (log on a log axis)."""
    return (np.log, np.exp) if scale == "log" else (np.asarray, np.asarray)


def _edges(values: Sequence[Any], scale: str) -> np.ndarray:
    """Cell edges halfway between the positions (at geometric midpoints on a log axis)."""
    forward, back = _warp(scale)
    points = forward(_positions(values, scale))
    inner = (points[1:] + points[:-1]) / 2
    first = points[0] - (inner[0] - points[0]) if len(points) > 1 else points[0] - 0.5
    last = points[-1] + (points[-1] - inner[-1]) if len(points) > 1 else points[-1] + 0.5
    return back(np.concatenate([[first], inner, [last]]))


def _set_axis(axes, which: str, name: str, values: Sequence[Any], scale: str) -> None:
    """The x or y axis of `name`: its scale, label, and one tick per value, labelled with it."""
    getattr(axes, f"set_{which}scale")("log" if scale == "log" else "linear")
    getattr(axes, f"set_{which}label")(axis_label(name))
    getattr(axes, f"set_{which}ticks")(
        _positions(values, scale), [f"{v:g}" if _is_number(v) else str(v) for v in values]
    )
    getattr(axes, f"{which}axis").set_minor_locator(NullLocator())


def _coordinates(result) -> list[str]:
    """The axes drawn as coordinates: the first two numeric ones (a heatmap), else one (lines)."""
    numeric = [name for name, values in result.axes.items() if all(map(_is_number, values))]
    return numeric[:2] if len(numeric) >= 2 else (numeric or list(result.axes))[:1]


def _arranged(result, values: np.ndarray, front: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """`values` (shaped like the grid) with the axes `front` first and the others flattened into
    one last axis, and each entry's values of the other axes along it ([{}] without others)."""
    names = list(result.axes)
    others = [name for name in names if name not in front]
    order = [names.index(name) for name in front + others]
    arranged = np.transpose(values, order).reshape(*[len(result.axes[name]) for name in front], -1)
    labels = [
        {name: result.axes[name][i] for name, i in zip(others, index)}
        for index in np.ndindex(*[len(result.axes[name]) for name in others])
    ]
    return arranged, labels


def wilson_interval(frequency: np.ndarray, seeds: np.ndarray, z: float = WILSON_Z) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval (lower, upper) of a binomial proportion `frequency` over `seeds`
    trials (`z` = 1.96: 95 %)."""
    shrink = 1 + z**2 / seeds
    centre = (frequency + z**2 / (2 * seeds)) / shrink
    half = z / shrink * np.sqrt(frequency * (1 - frequency) / seeds + z**2 / (4 * seeds**2))
    return centre - half, centre + half


def plot_sweep(
    result,
    path: str | Path | None = None,
    formats: Sequence[str] = ("png", "pdf"),
    statistic: str = "frequency",
    values: bool = True,
    dpi: int = PRINT_DPI,
):
    """`statistic` (of `PLOTTED_STATISTICS`; a quartile statistic as its median) over the grid; a
    `ValueError` where no cell holds it. Two numeric axes: heatmaps (`_heatmaps`), each cell's value
    written in it (`values`), the 50 % contour (frequency only), Theorem 2.1(ii)'s width bound and
    descent's stability limit. Else lines (`_lines`), a frequency with 95 % Wilson score intervals.
    Writes `path` in `formats` (PNG at `dpi`), checked before anything is drawn."""
    files = _checked_files(path, formats, dpi, "SweepResult.plot")
    if statistic not in PLOTTED_STATISTICS:
        raise ValueError(f"plot_sweep: statistic must be one of {PLOTTED_STATISTICS}, got {statistic!r}")
    grid = result.statistic(statistic, "median" if statistic in QUARTILE_STATISTICS else None)
    if np.isnan(grid).all():
        needs = f": it needs {NEEDS[statistic]}" if statistic in NEEDS else ""
        raise ValueError(f"plot_sweep: statistic {statistic!r} was not recorded in this sweep (every cell NaN){needs}")
    label = STATISTIC_LABELS[statistic]
    fraction = statistic == "frequency" or statistic.endswith("_fraction")
    limits = (0, 1) if fraction else (None, None)
    plt, front = pyplot(path is not None), _coordinates(result)
    if len(front) == 2:
        text = _cell_values(result, grid, ".2f" if fraction else ".3g") if values else None
        figure = _heatmaps(plt, result, front, grid, label, limits, contour=statistic == "frequency", text=text)
    else:
        errors = wilson_interval(grid, result.seeds) if statistic == "frequency" else None
        figure = _lines(plt, result, front[0], [(grid, errors, "", "-")], label, limits)
    return _saved(plt, figure, files, dpi)


def plot_recovery(
    result, path: str | Path | None = None, formats: Sequence[str] = ("png", "pdf"), dpi: int = PRINT_DPI
):
    """Median best (smallest along the path) vs median final `‖x − x̄‖/‖x̄‖` per cell (docs/theory.md
    §7): as `plot_sweep` draws, a heatmap of the ratio best/final (at most 1) with the two medians in
    each cell, or two lines, final (solid) and best (dashed)."""
    files = _checked_files(path, formats, dpi, "SweepResult.plot_recovery")
    best, final = result.median_best_signal_error, result.median_final_signal_error
    plt, front = pyplot(path is not None), _coordinates(result)
    if len(front) == 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = best / final
        text = np.where(np.isfinite(ratio), np.vectorize(lambda b, f: f"{b:.3g}\n{f:.3g}")(best, final), "")
        figure = _heatmaps(plt, result, front, ratio, RECOVERY_RATIO_LABEL, (None, 1), contour=False, text=text)
    else:
        series = [(final, None, "final", "-"), (best, None, "best along the path", "--")]
        figure = _lines(plt, result, front[0], series, "median ‖x − x̄‖/‖x̄‖", (None, None))
    return _saved(plt, figure, files, dpi)


def _checked_files(path: str | os.PathLike | None, formats: Sequence[str], dpi: float, caller: str) -> list[Path]:
    """The files a sweep figure is written to, `path` with each suffix of `formats` (none without
    `path`), checked with `formats` and `dpi` before anything is drawn."""
    allowed = figure_formats()
    if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
        raise ValueError(f"{caller}: formats must be a list of file formats such as ('png', 'pdf'), got {formats!r}")
    unknown = [f for f in formats if not isinstance(f, str) or f.lower() not in allowed]
    if unknown:
        raise ValueError(f"{caller}: formats must be among {', '.join(allowed)}; got {', '.join(map(repr, unknown))}")
    if not _is_number(dpi) or not dpi > 0:
        raise ValueError(f"{caller}: dpi must be a positive number, got {dpi!r}")
    if path is None:
        return []
    if not isinstance(path, (str, os.PathLike)) or not Path(path).name:
        raise ValueError(f"{caller}: path must be a file name (str or pathlib.Path), got {path!r}")
    return [check_writable(Path(path).with_suffix("." + suffix), f"{caller}: path") for suffix in formats]


def _saved(plt, figure, files: list[Path], dpi: float):
    """`figure` written to each of `files` (then closed) when there are any."""
    if files:
        for file in files:
            figure.savefig(file, dpi=dpi)
        plt.close(figure)
    return figure


def _cell_values(result, values: np.ndarray, fmt: str) -> np.ndarray:
    """Each cell's value in `fmt`, with its seed count under it when under `FULL_SEEDS`; "" for NaN."""

    def text(value: float, seeds: int) -> str:
        if np.isnan(value):
            return ""
        return f"{value:{fmt}}" + (f"\n{seeds} seeds" if seeds < FULL_SEEDS else "")

    return np.vectorize(text, otypes=[object])(values, result.seeds)


def _preset(result) -> str | None:
    """ "preset fig1 with method changed" for a sweep over a preset's grid (`_presets.PRESETS`); None
    for any other."""
    if result.network is not None:
        return None
    for name, (base, axes) in PRESETS.items():
        if result.axes == {axis: list(values) for axis, values in axes.items()}:
            changed = [
                f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(result.base, f.name)
            ]
            return f"preset {name}" + (f" with {', '.join(changed)} changed" if changed else "")
    return None


def _about(result, marked: bool) -> list[str]:
    """What a sweep figure's title says before the settings: the grid ("preset fig1-quick, 3 × 3 grid
    (k × n)": its preset, `_preset`), how many cells are computed where some are missing, and descent's
    stability in words (`_stability`)."""
    computed, stability, preset = result.computed, _stability(result, marked), _preset(result)
    grid = f"{' × '.join(map(str, result.shape))} grid ({' × '.join(result.axes)})"
    progress = [] if computed.all() else [f"{int(computed.sum())} of {computed.size} cells computed"]
    return [grid if preset is None else f"{preset}, {grid}", *progress, *([stability] if stability else [])]


def _lines(
    plt,
    result,
    x_name: str,
    series: list[tuple[np.ndarray, tuple | None, str, str]],
    label: str,
    limits: tuple[float | None, float | None],
):
    """`series` (values shaped like the grid, (lower, upper) error bars or None, name, line style)
    over the axis `x_name`: one colour per value of the other axes, the legend beside the axes."""
    x_values = result.axes[x_name]
    scale = axis_scale(x_values)
    x = _positions(x_values, scale)
    size = (8.4, 4.8)
    figure, axes = plt.subplots(figsize=size, layout="constrained")
    for values, errors, name, style in series:
        lines, labels = _arranged(result, values, [x_name])
        bounds = None if errors is None else [_arranged(result, bound, [x_name])[0] for bound in errors]
        for i, fixed in enumerate(labels):
            y = lines[:, i]
            bars = None if bounds is None else np.clip([y - bounds[0][:, i], bounds[1][:, i] - y], 0, None)
            text = ", ".join(([name] if name else []) + [f"{k}={v}" for k, v in fixed.items()])
            axes.errorbar(x, y, yerr=bars, color=f"C{i}", ls=style, marker="o", ms=4, capsize=3, label=text or None)
    _set_axis(axes, "x", x_name, x_values, scale)
    if None not in limits:  # room for the markers at the ends of the range
        pad = 0.04 * (limits[1] - limits[0])
        axes.set_ylim(limits[0] - pad, limits[1] + pad)
    axes.set_ylabel(label)
    caption = _about(result, marked=False) + grid_settings(result, list(result.axes), result.configs)
    figure.suptitle(wrapped(caption, int(size[0] * _CHARACTERS_PER_INCH)), fontsize=9)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    return figure


def _heatmaps(
    plt,
    result,
    front: list[str],
    values: np.ndarray,
    label: str,
    limits: tuple[float | None, float | None],
    contour: bool,
    text: np.ndarray | None = None,
):
    """`values` as a heatmap over the axes `front` (rows, columns), one panel per value of the
    other axes, on one colour scale (`limits`, else the finite values' range); `text` (shaped like the
    grid) written in the cells. The settings shared by the panels are the figure's title."""
    row_name, column_name = front
    grid, panels = _arranged(result, values, front)
    configs = _arranged(result, result.configs, front)[0]
    words = None if text is None else _arranged(result, text, front)[0]
    unstable = _unstable_cells(result, front)
    about = _about(result, marked=True)
    missing = _arranged(result, ~result.computed, front)[0]
    rows, columns = result.axes[row_name], result.axes[column_name]
    scales = axis_scale(columns), axis_scale(rows)
    x, y = _edges(columns, scales[0]), _edges(rows, scales[1])
    centres = _positions(columns, scales[0]), _positions(rows, scales[1])
    bounded = "categorical" not in scales and row_name == "k" and column_name in _BOUND_COLUMNS  # Theorem 2.1(ii)
    norm = _colour_norm(grid, limits)
    own = [grid_settings(result, front, configs[:, :, p]) for p in range(len(panels))]
    shared = [words for words in own[0] if all(words in other for other in own[1:])]
    own = [[words for words in panel if words not in shared] for panel in own]
    size = (_PANEL[0] * len(panels) + 1.6, _PANEL[1] + 1.0 + 0.5 * bounded)
    title = wrapped(about + shared, int(size[0] * _CHARACTERS_PER_INCH))
    titles = [wrapped(panel, int(_PANEL[0] * _CHARACTERS_PER_INCH)) for panel in own]
    size = (size[0], size[1] + 0.17 * (title.count("\n") + max(t.count("\n") + 1 for t in titles)))
    figure, axes_list = plt.subplots(1, len(panels), figsize=size, squeeze=False, layout="constrained")
    fontsize = _cell_font_size(words, len(columns), len(rows))
    for p, axes in enumerate(axes_list[0]):
        panel = grid[:, :, p]
        mesh = axes.pcolormesh(x, y, panel, cmap=COLOUR_MAP, norm=norm)
        if missing[:, :, p].any():  # hatched grey, unlike a computed cell without a value (blank)
            axes.pcolor(
                x,
                y,
                np.ma.masked_where(~missing[:, :, p], np.zeros(panel.shape)),
                cmap=ListedColormap(["0.85"]),
                hatch="//",
                edgecolor="0.55",
                lw=0,
                label=NOT_RUN_LABEL,
            )
        finite = panel[np.isfinite(panel)]
        if contour and min(panel.shape) >= 2 and finite.size and finite.min() < 0.5 < finite.max():
            for line in contour_lines(centres, scales, panel, 0.5):
                axes.plot(*line.T, color="red", lw=1.5, label=CONTOUR_LABEL)
        if words is not None:
            _write_cells(axes, mesh, panel, words[:, :, p], centres, fontsize)
        if unstable is not None and unstable[:, :, p].any():
            _mark_unstable(axes, unstable[:, :, p], x, y, scales)
        _set_axis(axes, "x", column_name, columns, scales[0])
        _set_axis(axes, "y", row_name, rows, scales[1])
        axes.set_xlim(x[[0, -1]])
        axes.set_ylim(y[[0, -1]])
        if bounded:  # the bound lives in the axes' own values
            _theory_curve(result, axes, row_name, column_name, np.asarray(columns, float), configs[0, 0, p])
        if titles[p]:
            axes.set_title(titles[p], fontsize=9)
    figure.colorbar(mesh, ax=axes_list[0].tolist(), label=label)
    figure.suptitle(title, fontsize=9)
    _legend_below(figure, axes_list[0])
    return figure


def contour_lines(
    centres: tuple[np.ndarray, np.ndarray], scales: tuple[str, str], values: np.ndarray, level: float
) -> list[np.ndarray]:
    """The lines `[points, 2]` (x, y) where `values` (rows, columns at the `centres` of the column
    and row axes) cross `level`, interpolated linearly in the drawn coordinates (`_warp`)."""
    import contourpy

    (x_to, x_back), (y_to, y_back) = _warp(scales[0]), _warp(scales[1])
    generator = contourpy.contour_generator(
        x_to(centres[0]), y_to(centres[1]), np.ma.masked_invalid(values), line_type="Separate"
    )
    return [np.column_stack([x_back(line[:, 0]), y_back(line[:, 1])]) for line in generator.lines(level)]


def _colour_norm(values: np.ndarray, limits: tuple[float | None, float | None]) -> Normalize:
    """The colour scale of every panel, from `limits` where given, else from the finite values:
    logarithmic when they are positive and span more than `LOG_COLOURS_FROM`, else linear."""
    finite = values[np.isfinite(values)]
    low = float(limits[0] if limits[0] is not None else (finite.min() if finite.size else 0.0))
    high = float(limits[1] if limits[1] is not None else (finite.max() if finite.size else 1.0))
    logarithmic = limits == (None, None) and low > 0 and high / low > LOG_COLOURS_FROM
    return (LogNorm if logarithmic else Normalize)(low, high)


def _cell_font_size(words: np.ndarray | None, columns: int, rows: int) -> float:
    """A font size at which the longest text fits its cell (between 5 and 9 points)."""
    if words is None:
        return 9.0
    lines = [line for word in words.flat for line in word.split("\n")] or [""]
    longest = max(map(len, lines)) or 1
    height = max(word.count("\n") + 1 for word in words.flat)
    wide = 0.85 * _PANEL[0] * 72 / columns / (0.62 * longest)
    tall = 0.75 * _PANEL[1] * 72 / rows / (1.3 * height)
    return float(np.clip(min(wide, tall), 5, 9))


def _contrasting(colour) -> str:
    """Black or white, whichever has the larger contrast ratio with `colour` (RGBA; WCAG luminance)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in colour[:3]]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def _write_cells(
    axes, mesh, panel: np.ndarray, words: np.ndarray, centres: tuple[np.ndarray, np.ndarray], fontsize: float
) -> None:
    """Each cell's text at its centre, in black or white (`_contrasting`) with a thin outline in the
    other, above the lines, so that a line crossing it leaves it legible."""
    for (i, j), word in np.ndenumerate(words):
        if word:
            colour = _contrasting(mesh.cmap(mesh.norm(panel[i, j]))) if np.isfinite(panel[i, j]) else "black"
            outline = withStroke(linewidth=1.5, foreground="white" if colour == "black" else "black")
            axes.text(
                centres[0][j],
                centres[1][i],
                word,
                ha="center",
                va="center",
                fontsize=fontsize,
                color=colour,
                gid="cell value",
                path_effects=[outline],
                zorder=4,
            )


def _descent_stability(result) -> tuple[np.ndarray, np.ndarray]:
    """Shaped like the grid: the descent cells whose stability is known, and those where most seeds
    start beyond descent's stability limit (`STABILITY_LIMIT`, docs/theory.md §5)."""
    descent = np.vectorize(
        lambda config: dynamics_class(config.method, config.optimizer).stability_limit == 2, otypes=[bool]
    )(result.configs)
    fraction = result.unstable_fraction
    known = descent & np.isfinite(fraction)
    return known, known & (fraction > 0.5)


def _unstable_cells(result, front: list[str]) -> np.ndarray | None:
    """The descent cells beyond descent's stability limit (`_descent_stability`), arranged as
    `_arranged` does; None unless some descent cells are and some are not (`_stability` says it)."""
    known, unstable = _descent_stability(result)
    if not unstable.any() or unstable[known].all():
        return None
    return _arranged(result, unstable, front)[0]


def _stability(result, marked: bool) -> str | None:
    """Descent's stability limit in words, where no marker says it (not `marked`: a figure without
    markers); None without descent cells whose stability is known."""
    known, unstable = _descent_stability(result)
    if not known.any():
        return None
    cells = (
        "cell"
        if all(dynamics_class(c.method, c.optimizer).stability_limit == 2 for c in result.configs.flat)
        else "descent cell"
    )
    if unstable[known].all():
        return f"descent beyond its stability limit in every {cells} ({STABILITY_LIMIT})"
    if not unstable.any():
        return f"descent within its stability limit in every {cells} ({STABLE})"
    if marked:
        return None
    share = f"{int(unstable.sum())} of {int(known.sum())} {cells}s"
    return f"descent beyond its stability limit in {share} ({STABILITY_LIMIT})"


def _mark_unstable(axes, unstable: np.ndarray, x: np.ndarray, y: np.ndarray, scales: tuple[str, str]) -> None:
    """A small marker in the upper right corner of each `unstable` cell (edges `x`, `y`)."""

    def corner(edges: np.ndarray, scale: str) -> np.ndarray:
        forward, back = _warp(scale)
        low, high = forward(edges[:-1]), forward(edges[1:])
        return back(low + 0.84 * (high - low))

    rows, columns = np.nonzero(unstable)
    axes.scatter(
        corner(x, scales[0])[columns],
        corner(y, scales[1])[rows],
        marker="v",
        s=24,
        facecolor="white",
        edgecolor="black",
        linewidths=0.7,
        zorder=3,
        label=UNSTABLE_LABEL,
    )


def _legend_below(figure, axes_list) -> None:
    """One legend under the panels, each label once (with all the artists of a panel that bear it)."""
    entries = {}
    for axes in axes_list:
        handles, texts = axes.get_legend_handles_labels()
        for text in dict.fromkeys(texts):
            entries.setdefault(text, tuple(handle for handle, other in zip(handles, texts) if other == text))
    if entries:
        figure.legend(
            list(entries.values()),
            list(entries),
            loc="outside lower center",
            ncols=min(len(entries), 3),
            fontsize=8,
            frameon=False,
        )


def _theory_curve(result, axes, row_name: str, column_name: str, columns: np.ndarray, panel_config) -> None:
    """Theorem 2.1(ii)'s bound on k as a curve over the column axis (n, m, or an operator's
    parameter such as κ; docs/theory.md §8), none for a custom matrix; where it falls outside the
    chart, a note under the axes gives its values."""
    xs = np.geomspace(columns[0], columns[-1], 50)
    configs = [
        panel_config.replace(**{column_name: int(round(x)) if column_name in _INTEGER_AXES else float(x)}) for x in xs
    ]
    spectra = {c: operator_of(c).spectrum() for c in configs}
    if None in spectra.values():  # depends on a matrix the figure does not have
        return
    ks = np.array([width_bound(c.n, c.m, c.activation, c.operator_scale, c.v_law, **spectra[c]) for c in configs])
    if not np.all(np.isfinite(ks)):
        return
    low, high = axes.get_ylim()
    if np.any((ks >= low) & (ks <= high)):
        for colour, width, style in (("black", 3, "-"), ("white", 1.5, "--")):  # seen on every colour
            axes.plot(xs, ks, color=colour, lw=width, ls=style, label="Theorem 2.1(ii): width that suffices")
        axes.set_ylim(low, high)
        return
    symbol = {"condition_number": "κ", "blur_width": "w"}.get(column_name, column_name)
    where = f"k ≥ {ks[0]:.2g} at {symbol} = {columns[0]:g}"
    if columns[-1] != columns[0]:  # one column: said once
        where += f"\nand k ≥ {ks[-1]:.2g} at {symbol} = {columns[-1]:g}"
    axes.annotate(
        f"Theorem 2.1(ii) asks for {where}: {'above' if ks[0] > high else 'below'} the chart",
        xy=(0.5, 0),
        xycoords=axes.xaxis.label,
        xytext=(0, -4),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize=8,
        color="0.15",
        gid="theory note",
    )
