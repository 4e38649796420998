"""Figures of a simulation: loss and recovery curves (docs/theory.md §7), kernels and loss with
Theorem 2.1's envelope (docs/theory.md §3, §5)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from .._resolve import resolve_dynamics
from .._runtime.paths import check_writable
from .captions import compact_shape, described_network, signal_label, wrapped

QUARTILES = (25, 50, 75)
"""Every curve is the median across all seeds with the band between these percentiles."""
SPREAD = "median and quartiles over all {seeds} seeds, stopped seeds held"
PRINT_DPI = 300
"""Resolution of the PNG files of every figure (their PDF files are vector)."""


def pyplot(headless: bool):
    """matplotlib's pyplot, on the file-only backend when the figure goes to a file."""
    import matplotlib

    if headless:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_formats() -> list[str]:
    """The file formats matplotlib writes figures in ("png", "pdf", "svg", ...), sorted."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_figure_path(path: Path, what: str) -> Path:
    """`path` if matplotlib can write a figure in the format its suffix names; else a
    `ValueError` naming `what` and the formats allowed (checked before a long computation)."""
    formats = figure_formats()
    if path.suffix.lstrip(".").lower() not in formats:
        raise ValueError(f"{what}: {str(path)!r} must end in one of {', '.join('.' + f for f in formats)}")
    return path


def checked_figure_file(path: str | os.PathLike | None, caller: str) -> Path | None:
    """The argument `path` of the plot method `caller`, checked for writing a figure before anything
    is drawn (`check_writable`, `check_figure_path`); None (no file) stays None."""
    if path is None:
        return None
    what = f"{caller}: path"
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{what} must be a file name (str or pathlib.Path), got {type(path).__name__}")
    return check_figure_path(check_writable(path, what), what)


def held(values: np.ndarray) -> np.ndarray:
    """Forward-fill along the checkpoint axis (axis 1): a seed that has stopped stays at its last
    recorded value (for states `[seeds, checkpoints, s]`, a checkpoint counts when all `s` are recorded)."""
    recorded = ~np.isnan(values)
    if values.ndim == 3:
        recorded = recorded.all(axis=2)
    last = np.maximum.accumulate(np.where(recorded, np.arange(values.shape[1]), 0), axis=1)
    return np.take_along_axis(values, last if values.ndim == 2 else last[..., None], axis=1)


def held_to_the_stop(
    times: np.ndarray, values: np.ndarray, stop_time: np.ndarray, final: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint `times` with every seed's stop time added, and `values` `[seeds, checkpoints]`
    on them: each seed's recorded values held (`held`) until its stop, its `final` value (e.g.
    `final_loss`; a NaN final, or none, keeps the last recorded value) from then on."""
    stops = stop_time[np.isfinite(stop_time)]
    grid = np.union1d(times, stops)
    placed = np.full((values.shape[0], grid.size), np.nan)
    placed[:, np.searchsorted(grid, times)] = values
    curves = held(placed)
    if final is not None:
        after = (grid[None, :] >= stop_time[:, None]) & ~np.isnan(final)[:, None]
        curves = np.where(after, np.asarray(final, float)[:, None], curves)
    return grid, curves


NOTHING_TO_DRAW = "nothing to draw"
"""Added to the legend label of a curve whose median is nowhere finite (`band`)."""


def band(
    axes, times: np.ndarray, values: np.ndarray, colour, label: str, columns: np.ndarray | None = None, **style
) -> np.ndarray:
    """Draw the median across all seeds (stopped seeds held, `held`) and the quartile band at the
    times > 0 among `columns`, the label saying where the median is nowhere finite; returns the
    quartiles `[3, times shown]`."""
    shown = times > 0 if columns is None else (times > 0) & columns
    with np.errstate(invalid="ignore"):  # quartiles between two infinite losses (diverged seeds)
        low, median, high = np.percentile(held(values)[:, shown], QUARTILES, axis=0)
    label = label if np.isfinite(median).any() else f"{label}: {NOTHING_TO_DRAW}"
    axes.plot(times[shown], median, color=colour, lw=1.6, label=label, ms=3, **style)
    axes.fill_between(times[shown], low, high, color=colour, alpha=0.2, lw=0)
    return np.stack([low, median, high])


def nothing_drawn_note(loss: np.ndarray, status: np.ndarray) -> str:
    """Why a band of a run with the curves `loss` `[..., seeds, checkpoints]` and outcomes `status`
    `[..., seeds]` has nothing to draw: seeds that diverged at their first step record nothing."""
    silent = (np.asarray(status) == "diverged") & np.isnan(loss).all(axis=-1)
    if silent.all():
        return "nothing recorded: every seed diverged at its first step"
    if silent.any():
        return (
            f"no median: {int(silent.sum())} of {silent.size} seeds diverged at their first step and recorded nothing"
        )
    return "nothing recorded"


def note_when_empty(
    axes, quartiles: list[np.ndarray], times: np.ndarray, note: str, references: tuple[float, ...] = ()
) -> None:
    """Where none of the bands `quartiles` (`band`'s) on `axes` has a finite value: `note` across the
    panel, time over the `times` > 0, and the y-range around the finite positive `references` (lines
    drawn across, such as the threshold), else a decade without ticks."""
    from matplotlib.ticker import NullLocator

    if any(np.isfinite(quartile).any() for quartile in quartiles):
        return
    axes.text(
        0.5,
        0.25,
        textwrap.fill(note, 30),
        transform=axes.transAxes,
        ha="center",
        va="center",
        fontsize=9,
        bbox={"facecolor": "white", "edgecolor": "0.6"},
    )  # under the reference lines, centred
    shown = times[times > 0]
    axes.set_xlim(shown[0], shown[-1])
    finite = [value for value in references if np.isfinite(value) and value > 0]
    if finite:
        axes.set_ylim(min(finite) / 2, max(finite) * 2)
    else:
        axes.set_ylim(1, 10)
        axes.yaxis.set_major_locator(NullLocator())
        axes.yaxis.set_minor_locator(NullLocator())


def run_title(result, width: int) -> str:
    """The settings that ran in short (the network where it is not the paper's, `described_network`;
    `k` and `φ` where it reads them) and the converged count, in lines of about `width` characters."""
    c = result.config
    network = [] if result.network_name == "two_layer" else [described_network(c, result.network)]
    method = result.dynamics or resolve_dynamics(c).label  # `dynamics`: simulate's optimizer=
    noise = [f"noise {c.noise:g}"] if c.noise > 0 else []
    return wrapped(
        [
            *network,
            " ".join(compact_shape(c, result.network)),
            f"A: {result.operator_label}",
            *filter(None, [signal_label(c)]),
            method,
            *noise,
            f"converged {int(result.converged.sum())}/{c.seeds}",
        ],
        width,
    )


def finish(plt, figure, path: str | Path | None):
    """`figure` laid out, and written to `path` (then closed) when given."""
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=PRINT_DPI)
        plt.close(figure)
    return figure


def time_label(result) -> str:
    """The abscissa of `result`'s curves: its time, or its iteration where its dynamics has no time
    axis (Adam, an optax transformation of one's own: docs/theory.md §11)."""
    timed = result.dynamics is None and getattr(resolve_dynamics(result.config), "has_time_axis", True)
    return "time t" if timed else "iteration τ"


def held_curve(result, name: str, final: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The field `name` of `result` held to each seed's stop (`held_to_the_stop`), then at `final`."""
    return held_to_the_stop(
        result.times, getattr(result, name), result.stop_time, None if final is None else getattr(result, final)
    )


def _loss_panel(axes, result) -> None:
    """The loss band (each seed at `final_loss` from its stop on) and the threshold, log-log, its
    y-range set by them (a curve drawn afterwards, such as an envelope, cannot stretch it)."""
    quartiles = band(axes, *held_curve(result, "loss", "final_loss"), "black", "loss ½‖A g − y‖²")
    low, _, high = quartiles
    threshold = result.config.threshold
    axes.axhline(threshold, color="grey", lw=0.8, ls=":", label="threshold")
    axes.set(xscale="log", yscale="log", xlabel=time_label(result), ylabel="loss")
    values = np.concatenate([low, high, [threshold]])
    values = values[np.isfinite(values) & (values > 0)]
    axes.set_ylim(values.min() / 2, values.max() * 2)
    note_when_empty(axes, [quartiles], result.times, nothing_drawn_note(result.loss, result.status), (threshold,))


def time_marker(axes, times: np.ndarray, moments: np.ndarray, name: str, colour) -> None:
    """A vertical line at the median of the finite `moments`, the legend saying for how many
    seeds they are finite (and whether the median falls outside the time axis `times`)."""
    finite = np.isfinite(moments)
    count = f"finite for {int(finite.sum())}/{finite.size} seeds"
    if not finite.any():
        axes.plot([], [], " ", label=f"{name}: {count}")
        return
    moment = float(np.median(moments[finite]))
    outside = "" if times[0] <= moment <= times[-1] else " (off the axis)"
    axes.axvline(moment, color=colour, lw=1, ls="--", label=f"{name} = {moment:.3g}{outside}, median; {count}")


RUN_FIGURE_SIZE = (8.0, 7.0)
"""Inches of `plot_run`'s figure: 2400 px wide at `PRINT_DPI`."""
NTK_FIGURE_SIZE = (8.0, 4.2)
"""Inches of `plot_ntk`'s figure."""
TITLE_CHARACTERS = 95
"""About how many characters of a 10-point title fill the width of these figures."""


def panel_title(axes, what: str, seeds: int) -> None:
    """`what` with how every curve is made (`SPREAD`, over two lines: a panel is narrow); the legend."""
    axes.set_title(f"{what}\n(" + SPREAD.format(seeds=seeds).replace(", ", ",\n") + ")", fontsize=8)
    axes.legend(fontsize=7)


def plot_run(result, path: str | Path | None = None):
    """Three panels over time (docs/theory.md §7): the loss with the threshold, `‖y(t) − ȳ‖` with
    `2‖ε‖`, and `‖x(t) − x̄‖/‖x̄‖` with its row-space and kernel parts; a noisy run's early-stopping
    times `T`, `T_H` marked. Each curve: the median and quartiles over all seeds, held to their stops
    (`held_to_the_stop`). `path` is checked before anything is drawn."""
    path = checked_figure_file(path, "SimulationResult.plot")
    if result.observation_error is None:
        raise ValueError("plot needs the recovery curves: this result was saved before they existed")
    plt = pyplot(path is not None)
    c = result.config
    times = result.times
    shown = times[times > 0]
    figure = plt.figure(figsize=RUN_FIGURE_SIZE)
    grid = figure.add_gridspec(2, 2)
    losses = figure.add_subplot(grid[0, 0])
    observation = figure.add_subplot(grid[0, 1], sharex=losses)
    signal = figure.add_subplot(grid[1, :], sharex=losses)
    _loss_panel(losses, result)
    observed = band(
        observation, *held_curve(result, "observation_error", "final_observation_error"), "tab:blue", "‖y(t) − ȳ‖"
    )
    signal_bands = [
        band(signal, *held_curve(result, name, final), colour, label)
        for name, final, colour, label in (
            ("signal_error", "final_signal_error", "black", "‖x(t) − x̄‖ / ‖x̄‖"),
            ("signal_error_row_space", None, "tab:blue", "row space  ‖P(x(t) − x̄)‖ / ‖x̄‖"),
            ("signal_error_kernel", None, "tab:orange", "kernel  ‖(I − P)(x(t) − x̄)‖ / ‖x̄‖"),
        )
    ]
    noise_lines = ()
    if c.noise > 0:
        noise_lines = (2 * np.median(result.noise_norm),)
        observation.axhline(noise_lines[0], color="tab:red", lw=0.8, ls=":", label="2‖ε‖ (median)")
        for axes in (observation, signal):
            time_marker(axes, shown, result.early_stopping_time, "T", "tab:green")
            time_marker(axes, shown, result.observation_early_stopping_time, "T_H", "tab:purple")
    observation.set(xscale="log", yscale="log", xlabel=time_label(result), ylabel="‖A x(t) − ȳ‖")
    signal.set(xscale="log", yscale="log", xlabel=time_label(result), ylabel="relative signal error")
    signal.set_xlim(shown[0], shown[-1])  # shared: a time T beyond the run does not stretch the axes
    note = nothing_drawn_note(result.loss, result.status)
    note_when_empty(observation, [observed], times, note, noise_lines)
    note_when_empty(signal, signal_bands, times, note)
    for axes, title in ((losses, "loss"), (observation, "observation error"), (signal, "signal error")):
        panel_title(axes, title, c.seeds)
        axes.xaxis.set_minor_formatter(plt.NullFormatter())  # short time ranges: no overlapping minor labels
    figure.suptitle(run_title(result, TITLE_CHARACTERS), fontsize=10)
    return finish(plt, figure, path)


EVALUATED_LABEL = "markers: checkpoints where the kernels were evaluated"
HELD_LABEL = "every seed stopped: the kernels are held from here on"


def plot_ntk(result, path: str | Path | None = None):
    """λ_min(K), λ_min(H), λ_max(H) and the loss with its predicted envelope
    `½ exp(−σ_A² σ_0² t/2) ‖r(0)‖²` (Theorem 2.1, certified seeds only) over time, as `plot_run`'s
    curves; markers at the checkpoints where the kernels were evaluated when not all were, a dotted
    line where the last seed stopped. `path` is checked before anything is drawn."""
    path = checked_figure_file(path, "SimulationResult.plot_ntk")
    if result.ntk is None:
        raise ValueError("plot_ntk needs a result simulated with Config.track_ntk=True")
    plt = pyplot(path is not None)
    figure, (kernels, losses) = plt.subplots(1, 2, figsize=NTK_FIGURE_SIZE)
    # the Jacobian route evaluates the kernels at `ntk_checkpoints` of the checkpoints only: the
    # others are left out while a seed runs (once all have stopped, every checkpoint holds them)
    times = result.times
    running = ~np.isnan(result.loss).all(axis=0)
    evaluated = np.isfinite(result.ntk["max_lambda_H"]).any(axis=0)
    tracked = evaluated | ~running
    markers = {} if tracked.all() else {"marker": "o", "markevery": evaluated[(times > 0) & tracked].tolist()}
    kernel_bands = [
        band(kernels, times, result.ntk[name], colour, label, tracked, **markers)
        for name, colour, label in (
            ("min_lambda_K", "tab:blue", "λ_min(K)  (n×n, signal)"),
            ("min_lambda_H", "tab:orange", "λ_min(H)  (m×m, observation)"),
            ("max_lambda_H", "tab:red", "λ_max(H)"),
        )
    ]
    if markers:
        kernels.plot([], [], ls="none", marker="o", ms=3, color="0.3", label=EVALUATED_LABEL)
    last_stop = np.max(result.stop_time)
    if times[times > 0][0] < last_stop < times[-1]:
        kernels.axvline(last_stop, color="0.4", lw=0.8, ls=":", label=HELD_LABEL)
    kernels.set(xscale="log", xlabel=time_label(result), ylabel="eigenvalue")
    kernels.xaxis.set_minor_formatter(plt.NullFormatter())  # short time ranges: no overlapping minor labels
    kernels.set_yscale("symlog", linthresh=1e-4)
    kernels.set_ylim(bottom=0)  # kernels are positive semi-definite
    note_when_empty(kernels, kernel_bands, times, nothing_drawn_note(result.loss, result.status))
    panel_title(kernels, "NTK extremes", result.config.seeds)
    _loss_panel(losses, result)  # the y-range of the data: the envelope is drawn within it
    certified = result.certified
    if certified is not None and certified.any():
        envelope = 0.5 * result.theory.envelope(times)[certified] ** 2
        band(losses, times, envelope, "tab:green", f"Theorem 2.1 envelope ({certified.sum()} certified seeds)")
    panel_title(losses, "loss", result.config.seeds)
    figure.suptitle(run_title(result, TITLE_CHARACTERS), fontsize=10)
    return finish(plt, figure, path)
