"""Figures of a sweep (docs/theory.md §6, §7): a statistic as a heatmap over two numeric axes
(the phase diagram: with the 50 % contour, Theorem 2.1(ii)'s width bound and descent's stability
limit) or as lines over one axis, and the recovery figure (median best vs final signal error)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullLocator

from ._operators import describe, operator
from ._plots import pyplot
from ._statistics import SCALAR_STATISTICS
from ._theory import width_bound

_AXIS_LABELS = {"condition_number": "κ(A)  (condition_number)", "blur_width": "blur width w (samples)",
                "noise": "noise σ  (std of ε)"}
_STATISTIC_LABELS = {
    "frequency": "frequency of reaching the threshold",
    "median_best_signal_error": "median best ‖x(t) − x̄‖/‖x̄‖ along the path",
    "median_final_signal_error": "median final ‖x − x̄‖/‖x̄‖",
    "median_signal_error_at_early_stop": "median ‖x(t) − x̄‖/‖x̄‖ at the early-stopping time T",
    "bound_holds_fraction": "fraction of checked seeds with ‖y(t) − ȳ‖ ≤ 2‖ε‖ after T",
    "median_final_error_over_noise": "median final ‖A x − ȳ‖ / ‖ε‖",
}
_INTEGER_AXES = ("n", "m")
_BOUND_COLUMNS = ("n", "m", "condition_number", "blur_width")
WILSON_Z = 1.96
"""The error bars of a frequency: the 95 % Wilson score interval."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _unevenness(gaps: np.ndarray) -> float:
    """Largest over smallest gap (1: evenly spaced)."""
    return float(gaps.max() / gaps.min()) if gaps.size else 1.0


def axis_scale(values: Sequence[Any]) -> str:
    """How an axis is drawn: "log" for increasing positive numbers at least as evenly spaced in
    log as in value (the paper's grids), "linear" for other increasing numbers at most 3× unevenly
    spaced, else "categorical": evenly spaced, each tick labelled with its value (e.g. noise 0,
    0.01, 0.1, 1, or the values of a non-numeric axis)."""
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


def _edges(values: Sequence[Any], scale: str) -> np.ndarray:
    """Cell edges halfway between the positions (at geometric midpoints on a log axis)."""
    forward, back = (np.log, np.exp) if scale == "log" else (np.asarray, np.asarray)
    points = forward(_positions(values, scale))
    inner = (points[1:] + points[:-1]) / 2
    first = points[0] - (inner[0] - points[0]) if len(points) > 1 else points[0] - 0.5
    last = points[-1] + (points[-1] - inner[-1]) if len(points) > 1 else points[-1] + 0.5
    return back(np.concatenate([[first], inner, [last]]))


def _set_axis(axes, which: str, name: str, values: Sequence[Any], scale: str) -> None:
    """The x or y axis of `name`: its scale, label, and one tick per value, labelled with it."""
    getattr(axes, f"set_{which}scale")("log" if scale == "log" else "linear")
    getattr(axes, f"set_{which}label")(_AXIS_LABELS.get(name, name))
    getattr(axes, f"set_{which}ticks")(_positions(values, scale), [f"{v:g}" if _is_number(v) else str(v) for v in values])
    getattr(axes, f"{which}axis").set_minor_locator(NullLocator())


def _coordinates(result) -> list[str]:
    """The axes drawn as coordinates: the first two numeric ones (a heatmap), else the first
    numeric one or, with none, the first axis (lines); the other axes give panels or lines."""
    numeric = [name for name, values in result.axes.items() if all(map(_is_number, values))]
    return numeric[:2] if len(numeric) >= 2 else (numeric or list(result.axes))[:1]


def _arranged(result, values: np.ndarray, front: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """`values` (shaped like the grid) with the axes `front` first and the others flattened into
    one last axis, and each entry's values of the other axes along it ([{}] without others)."""
    names = list(result.axes)
    others = [name for name in names if name not in front]
    order = [names.index(name) for name in front + others]
    arranged = np.transpose(values, order).reshape(*[len(result.axes[name]) for name in front], -1)
    labels = [{name: result.axes[name][i] for name, i in zip(others, index)}
              for index in np.ndindex(*[len(result.axes[name]) for name in others])]
    return arranged, labels


def _title(result, fixed: dict[str, Any], separator: str) -> str:
    """The values `fixed` (a panel's), then the settings that no other axis of the sweep varies."""
    config = result.base.replace(**fixed)
    varied = set(result.axes) - set(fixed)
    label_a = describe(config, parameters=not set(operator(config.operator).parameters) & varied)
    settings = {"activation": config.activation, "operator": f"A: {label_a}", "step_size": f"η={config.step_size:g}",
                "seeds": f"{config.seeds} seeds", "noise": f"noise σ={config.noise:g}" if config.noise > 0 else ""}
    shown = ", ".join(text for field, text in settings.items() if text and field not in varied)
    head = ", ".join(f"{k}={v}" for k, v in fixed.items()) or ("" if "method" in varied else config.method)
    return f"{head}{separator}({shown})"


def wilson_interval(frequency: np.ndarray, seeds: np.ndarray, z: float = WILSON_Z) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval (lower, upper) of a binomial proportion `frequency` over `seeds`
    trials (`z` = 1.96: 95 %); unlike `p ± z √(p(1−p)/seeds)` it does not shrink to a point at 0 or 1."""
    shrink = 1 + z**2 / seeds
    centre = (frequency + z**2 / (2 * seeds)) / shrink
    half = z / shrink * np.sqrt(frequency * (1 - frequency) / seeds + z**2 / (4 * seeds**2))
    return centre - half, centre + half


def _is_fraction(statistic: str) -> bool:
    return statistic == "frequency" or statistic.endswith("_fraction")


def plot_sweep(result, path: str | Path | None = None, formats: Sequence[str] = ("png", "pdf"),
               statistic: str = "frequency"):
    """`statistic` (a name of `SCALAR_STATISTICS`, default the convergence frequency) over the
    grid. Two numeric axes (rows, columns): a heatmap, one panel per value of any other axis (e.g.
    `method`), with the 50 % contour (frequency only), the width bound of Theorem 2.1(ii) (dashed,
    where neither axis is categorical) and hatching where most seeds have `η λ_max(H(W(0))) > 2`
    (descent beyond its stability limit). One numeric axis (or none): lines over it, one per value
    of the other axes; a frequency has 95 % Wilson score intervals as error bars (`wilson_interval`).
    Axes are drawn as `axis_scale` says (log for the paper's grids, categorical for e.g. noise
    0, 0.1, 1). Writes `path` in `formats`."""
    if statistic not in SCALAR_STATISTICS:
        raise ValueError(f"plot_sweep: statistic must be one of {SCALAR_STATISTICS}, got {statistic!r}")
    values = result.statistic(statistic)
    label = _STATISTIC_LABELS.get(statistic, statistic)
    limits = (0, 1) if _is_fraction(statistic) else (None, None)
    plt, front = pyplot(path is not None), _coordinates(result)
    if len(front) == 2:
        figure = _heatmaps(plt, result, front, values, label, limits, contour=statistic == "frequency")
    else:
        errors = wilson_interval(values, result.seeds) if statistic == "frequency" else None
        figure = _lines(plt, result, front[0], [(values, errors, "", "-")], label, limits)
    return _saved(plt, figure, path, formats)


def plot_recovery(result, path: str | Path | None = None, formats: Sequence[str] = ("png", "pdf")):
    """Median best (smallest along the path) vs median final `‖x − x̄‖/‖x̄‖` per cell (docs/theory.md
    §7). Two numeric axes: a heatmap of the ratio best/final (at most 1, which means stopping at the
    best point would gain nothing; the colours span the smallest ratio to 1), each cell labelled
    with the two medians, panels as in `plot_sweep`. One
    axis: two lines, final (solid) and best (dashed). Writes `path` in `formats`."""
    best, final = result.median_best_signal_error, result.median_final_signal_error
    plt, front = pyplot(path is not None), _coordinates(result)
    if len(front) == 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = best / final
        text = np.where(np.isfinite(ratio), np.vectorize(lambda b, f: f"{b:.3g}\n{f:.3g}")(best, final), "")
        figure = _heatmaps(plt, result, front, ratio, "median best / median final signal error  (cells: best, final)",
                           (None, 1), contour=False, text=text)
    else:
        figure = _lines(plt, result, front[0], [(final, None, "final", "-"), (best, None, "best along the path", "--")],
                        "median ‖x − x̄‖/‖x̄‖", (None, None))
    return _saved(plt, figure, path, formats)


def _saved(plt, figure, path: str | Path | None, formats: Sequence[str]):
    if path is not None:
        path = Path(path)
        for suffix in formats:
            figure.savefig(path.with_suffix("." + suffix), dpi=120)
        plt.close(figure)
    return figure


def _lines(plt, result, x_name: str, series: list[tuple[np.ndarray, tuple | None, str, str]], label: str,
           limits: tuple[float | None, float | None]):
    """`series` (values shaped like the grid, (lower, upper) error bars or None, name, line style)
    over the axis `x_name`: one colour per value of the other axes."""
    x_values = result.axes[x_name]
    scale = axis_scale(x_values)
    x = _positions(x_values, scale)
    figure, axes = plt.subplots(figsize=(6.4, 4.6))
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
    axes.set_title(_title(result, {}, "  "), fontsize=9)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _heatmaps(plt, result, front: list[str], values: np.ndarray, label: str, limits: tuple[float | None, float | None],
              contour: bool, text: np.ndarray | None = None):
    """`values` as a heatmap over the axes `front` (rows, columns), one panel per value of the
    other axes; `text` (strings shaped like the grid) is written in the cells."""
    row_name, column_name = front
    grid, panels = _arranged(result, values, front)
    unstable = _arranged(result, result.unstable_fraction, front)[0]
    words = None if text is None else _arranged(result, text, front)[0]
    rows, columns = result.axes[row_name], result.axes[column_name]
    row_scale, column_scale = axis_scale(rows), axis_scale(columns)
    x, y = _edges(columns, column_scale), _edges(rows, row_scale)
    figure, axes_list = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 0.8, 4.6), squeeze=False)
    for p, (axes, fixed) in enumerate(zip(axes_list[0], panels)):
        config = result.base.replace(**fixed)
        panel = grid[:, :, p]
        mesh = axes.pcolormesh(x, y, panel, cmap="viridis", vmin=limits[0], vmax=limits[1])
        finite = panel[np.isfinite(panel)]
        if contour and min(panel.shape) >= 2 and finite.size and finite.min() < 0.5 < finite.max():
            axes.contour(_positions(columns, column_scale), _positions(rows, row_scale), panel, levels=[0.5],
                         colors="red", linewidths=1.5)
            axes.plot([], [], color="red", label="50 % converged")
        if words is not None:
            low, high = mesh.get_clim()
            for (i, j), word in np.ndenumerate(words[:, :, p]):  # viridis is dark at the bottom, NaN blank
                axes.text(_positions(columns, column_scale)[j], _positions(rows, row_scale)[i], word, ha="center",
                          va="center", fontsize=7, color="white" if panel[i, j] < (low + high) / 2 else "black")
        if config.method == "descent":
            for i, j in zip(*np.nonzero(unstable[:, :, p] > 0.5)):
                axes.add_patch(Rectangle((x[j], y[i]), x[j + 1] - x[j], y[i + 1] - y[i], fill=False, hatch="///",
                                         edgecolor="white", lw=0, alpha=0.5))
            if np.any(unstable[:, :, p] > 0.5):  # a legend swatch that shows on the legend's background
                axes.add_patch(Rectangle((0, 0), 0, 0, fill=False, hatch="///", edgecolor="grey",
                                         label="most seeds: η·λmax(H(W(0))) > 2"))
        _set_axis(axes, "x", column_name, columns, column_scale)
        _set_axis(axes, "y", row_name, rows, row_scale)
        axes.set_xlim(x[[0, -1]])
        axes.set_ylim(y[[0, -1]])
        if "categorical" not in (row_scale, column_scale):  # the bound lives in the axes' own values
            _theory_curve(result, axes, row_name, column_name, np.asarray(columns, float), config)
            axes.set_ylim(y[[0, -1]])
        axes.set_title(_title(result, fixed, "\n" if len(panels) > 1 else "  "), fontsize=9)  # side by side: one line
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7, loc="lower right")
    figure.colorbar(mesh, ax=axes_list[0].tolist(), label=label)
    return figure


def _theory_curve(result, axes, row_name: str, column_name: str, columns: np.ndarray, panel_config) -> None:
    """Theorem 2.1(ii)'s bound on k as a curve over the column axis (n, m, or an operator's
    parameter such as κ), if the rows are k; with the operator's `‖A‖`, `σ_A` when the config
    fixes them (docs/theory.md §8), none for a custom matrix."""
    if row_name != "k" or column_name not in _BOUND_COLUMNS:
        return

    def bound(x):
        value = int(round(x)) if column_name in _INTEGER_AXES else float(x)
        c = panel_config.replace(**{column_name: value})
        return width_bound(c.n, c.m, c.activation, c.operator_scale, c.v_law, **spectra[c])

    xs = np.geomspace(columns[0], columns[-1], 50)
    spectra = {}
    for x in xs:
        value = int(round(x)) if column_name in _INTEGER_AXES else float(x)
        c = panel_config.replace(**{column_name: value})
        spectra[c] = operator(c.operator).spectrum(c)
        if spectra[c] is None:  # depends on a matrix the figure does not have
            return
    ks = np.array([bound(x) for x in xs])
    axes.plot(xs, ks, color="white", lw=1.5, ls="--", label="Theorem 2.1(ii) bound on k")
    top = axes.get_ylim()[1]
    if np.all(ks > top):
        symbol = {"condition_number": "κ", "blur_width": "w"}.get(column_name, column_name)
        axes.annotate(f"Theorem 2.1(ii): k > {ks[0]:.1e} at {symbol}={columns[0]:g},\n"
                      f"{ks[-1]:.1e} at {symbol}={columns[-1]:g} (above the chart)",
                      xy=(0.02, 0.97), xycoords="axes fraction", va="top", fontsize=7, color="white",
                      bbox=dict(boxstyle="round", facecolor="black", alpha=0.35, linewidth=0))
