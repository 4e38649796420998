"""The phase diagram of a sweep: convergence frequency over two log-spaced axes (docs/theory.md §6),
with the 50 % contour, Theorem 2.1(ii)'s width bound and descent's stability limit."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.patches import Rectangle

from ._operators import describe, operator
from ._plots import pyplot
from ._theory import width_bound

_AXIS_LABELS = {"condition_number": "κ(A)  (condition_number)", "blur_width": "blur width w (samples)"}
_INTEGER_AXES = ("n", "m")
_BOUND_COLUMNS = ("n", "m", "condition_number", "blur_width")


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges at the geometric midpoints of log-spaced grid values."""
    logs = np.log(values)
    inner = (logs[1:] + logs[:-1]) / 2
    first = logs[0] - (inner[0] - logs[0]) if len(logs) > 1 else logs[0] - 0.5
    last = logs[-1] + (logs[-1] - inner[-1]) if len(logs) > 1 else logs[-1] + 0.5
    return np.exp(np.concatenate([[first], inner, [last]]))


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


def plot_sweep(result, path: str | Path | None = None, formats: Sequence[str] = ("png", "pdf")):
    """Heatmap of `result.frequency` (colour 0–1) for the first two numeric axes (rows, columns),
    one panel per value of any other axis (e.g. `method`), with overlays: the 50 % contour,
    the width bound of Theorem 2.1(ii) (dashed), and hatching where most seeds have
    `η λ_max(H(W(0))) > 2` (descent beyond its stability limit). Writes `path` in `formats`."""
    names = list(result.axes)
    numeric = [n for n in names if all(isinstance(v, numbers.Real) for v in result.axes[n])]
    if len(numeric) < 2:
        raise ValueError(f"plot needs two numeric axes, this sweep has {names}")
    row_name, column_name = numeric[:2]
    others = [n for n in names if n not in (row_name, column_name)]
    order = [names.index(row_name), names.index(column_name)] + [names.index(n) for n in others]
    frequency = np.transpose(result.frequency, order).reshape(len(result.axes[row_name]), len(result.axes[column_name]), -1)
    unstable = np.transpose(result.unstable_fraction, order).reshape(frequency.shape)
    panels = [dict(zip(others, values)) for values in np.ndindex(*[len(result.axes[n]) for n in others])] or [{}]
    labels = [{n: result.axes[n][i] for n, i in panel.items()} for panel in panels]
    rows, columns = np.asarray(result.axes[row_name], float), np.asarray(result.axes[column_name], float)

    plt = pyplot(path is not None)
    figure, axes_list = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 0.8, 4.6), squeeze=False)
    for p, (axes, label) in enumerate(zip(axes_list[0], labels)):
        config = result.base.replace(**label)
        mesh = axes.pcolormesh(_edges(columns), _edges(rows), frequency[:, :, p], cmap="viridis", vmin=0, vmax=1)
        if min(frequency.shape[:2]) >= 2 and np.nanmin(frequency[:, :, p]) < 0.5 < np.nanmax(frequency[:, :, p]):
            axes.contour(columns, rows, frequency[:, :, p], levels=[0.5], colors="red", linewidths=1.5)
            axes.plot([], [], color="red", label="50 % converged")
        if config.method == "descent":
            x, y = _edges(columns), _edges(rows)
            for i, j in zip(*np.nonzero(unstable[:, :, p] > 0.5)):
                axes.add_patch(Rectangle((x[j], y[i]), x[j + 1] - x[j], y[i + 1] - y[i], fill=False, hatch="///",
                                         edgecolor="white", lw=0, alpha=0.5))
            if np.any(unstable[:, :, p] > 0.5):  # a legend swatch that shows on the legend's background
                axes.add_patch(Rectangle((0, 0), 0, 0, fill=False, hatch="///", edgecolor="grey",
                                         label="most seeds: η·λmax(H(W(0))) > 2"))
        axes.set(xscale="log", yscale="log", xlabel=_AXIS_LABELS.get(column_name, column_name),
                 ylabel=_AXIS_LABELS.get(row_name, row_name))
        axes.set_xticks(columns, [f"{v:g}" for v in columns])
        axes.set_yticks(rows, [f"{v:g}" for v in rows])
        axes.minorticks_off()
        axes.set_xlim(_edges(columns)[[0, -1]])
        axes.set_ylim(_edges(rows)[[0, -1]])
        _theory_curve(result, axes, row_name, column_name, columns, config)
        axes.set_ylim(_edges(rows)[[0, -1]])
        title = ", ".join(f"{k}={v}" for k, v in label.items()) or config.method
        varied = set(operator(config.operator).parameters) & set(result.axes)
        label_a = describe(config, parameters=not varied)  # not the base value of an axis
        separator = "\n" if len(panels) > 1 else "  "  # side-by-side panels: room for one line only
        axes.set_title(f"{title}{separator}({config.activation}, A: {label_a}, η={config.step_size:g}, "
                       f"{config.seeds} seeds)", fontsize=9)
        axes.legend(fontsize=7, loc="lower right")
    figure.colorbar(mesh, ax=axes_list[0].tolist(), label="frequency of reaching the threshold")
    if path is not None:
        path = Path(path)
        for suffix in formats:
            figure.savefig(path.with_suffix("." + suffix), dpi=120)
        plt.close(figure)
    return figure
