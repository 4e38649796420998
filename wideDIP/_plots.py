"""Figures of a simulation: loss and recovery curves (docs/theory.md §7), kernels and loss with
Theorem 2.1's envelope (docs/theory.md §3, §5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def check_figure_path(path: Path, what: str) -> Path:
    """`path` if matplotlib can write a figure in the format its suffix names; else a
    `ValueError` naming `what` and the formats allowed (checked before a long computation)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise ValueError(f"{what}: {str(path)!r} must end in one of {', '.join('.' + f for f in sorted(formats))}")
    return path


def held(values: np.ndarray) -> np.ndarray:
    """Forward-fill along the checkpoint axis (axis 1): a seed that has stopped stays at its last
    recorded value (for states `[seeds, checkpoints, s]`, a checkpoint counts when all `s` are recorded)."""
    recorded = ~np.isnan(values)
    if values.ndim == 3:
        recorded = recorded.all(axis=2)
    last = np.maximum.accumulate(np.where(recorded, np.arange(values.shape[1]), 0), axis=1)
    return np.take_along_axis(values, last if values.ndim == 2 else last[..., None], axis=1)


def held_to_the_stop(times: np.ndarray, values: np.ndarray, stop_time: np.ndarray,
                     final: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint `times` with every seed's stop time added, and `values` `[seeds, checkpoints]`
    on them: each seed's recorded values held (`held`) until its stop, its `final` value (at
    `stop_time`, e.g. `final_loss`) from then on (a NaN final, or none, keeps the last recorded value).
    The checkpoints end before the stop: without the final value a converged seed would be held
    above the threshold."""
    stops = stop_time[np.isfinite(stop_time)]
    grid = np.union1d(times, stops)
    placed = np.full((values.shape[0], grid.size), np.nan)
    placed[:, np.searchsorted(grid, times)] = values
    curves = held(placed)
    if final is not None:
        after = (grid[None, :] >= stop_time[:, None]) & ~np.isnan(final)[:, None]
        curves = np.where(after, np.asarray(final, float)[:, None], curves)
    return grid, curves


def _quartiles(times: np.ndarray, values: np.ndarray, columns: np.ndarray | None = None):
    """The times > 0 (log axis) among `columns`, and the 25th, 50th and 75th percentiles across
    all seeds of `held(values)` there."""
    shown = times > 0 if columns is None else (times > 0) & columns
    with np.errstate(invalid="ignore"):  # quartiles between two infinite losses (diverged seeds)
        return times[shown], np.percentile(held(values)[:, shown], QUARTILES, axis=0)


def band(axes, times: np.ndarray, values: np.ndarray, colour, label: str, columns: np.ndarray | None = None,
          **style) -> np.ndarray:
    """Draw the median across all seeds (stopped seeds held, `held`) and the quartile band, at
    the times > 0 among `columns`; returns the quartiles `[3, times shown]`."""
    shown, (low, median, high) = _quartiles(times, values, columns)
    axes.plot(shown, median, color=colour, lw=1.6, label=label, ms=3, **style)
    axes.fill_between(shown, low, high, color=colour, alpha=0.2, lw=0)
    return np.stack([low, median, high])


def _title(result) -> str:
    """The config's essentials and the converged count."""
    c = result.config
    network = "" if result.network_name == "two_layer" else f"{result.network_name} "
    method = f"descent η={c.step_size:g}" if c.method == "descent" else f"flow ({c.solver})"
    noise = f", noise {c.noise:g}" if c.noise > 0 else ""
    return (f"{network}m={c.m} n={c.n} d={c.d} k={c.k} {c.activation}, A: {result.operator_label}, {method}{noise}: "
            f"converged {int(result.converged.sum())}/{c.seeds}")


def finish(plt, figure, path: str | Path | None):
    """`figure` laid out, and written to `path` (then closed) when given."""
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=PRINT_DPI)
        plt.close(figure)
    return figure


def _held_curve(result, name: str, final: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The field `name` of `result` held to each seed's stop (`held_to_the_stop`), at the field
    `final` from the stop on."""
    return held_to_the_stop(result.times, getattr(result, name), result.stop_time,
                            None if final is None else getattr(result, final))


def _loss_panel(axes, result) -> None:
    """The loss band (each seed at `final_loss` from its stop on) and the threshold, log-log, its
    y-range set by them (so that a curve drawn afterwards, such as an envelope, cannot stretch it)."""
    low, _, high = band(axes, *_held_curve(result, "loss", "final_loss"), "black", "loss ½‖A g − y‖²")
    threshold = result.config.threshold
    axes.axhline(threshold, color="grey", lw=0.8, ls=":", label="threshold")
    axes.set(xscale="log", yscale="log", xlabel="time t", ylabel="loss")
    values = np.concatenate([low, high, [threshold]])
    values = values[np.isfinite(values) & (values > 0)]
    axes.set_ylim(values.min() / 2, values.max() * 2)


def _time_marker(axes, times: np.ndarray, moments: np.ndarray, name: str, colour) -> None:
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


def plot_run(result, path: str | Path | None = None):
    """Three panels over time (docs/theory.md §7): the loss with the threshold; `‖y(t) − ȳ‖` with
    `2‖ε‖` and the early-stopping times `T`, `T_H` (noisy runs); `‖x(t) − x̄‖/‖x̄‖` with its
    row-space and kernel parts. Each curve: median across all seeds, a stopped seed held at its
    final value from its stop time on (`held_to_the_stop`; its last recorded value where there is
    no final value), and the quartile band."""
    if result.observation_error is None:
        raise ValueError("plot needs the recovery curves: this result was saved before they existed")
    plt = pyplot(path is not None)
    c = result.config
    times = result.times
    shown = times[times > 0]
    figure, (losses, observation, signal) = plt.subplots(1, 3, figsize=(16, 4.6), sharex=True)
    _loss_panel(losses, result)
    band(observation, *_held_curve(result, "observation_error", "final_observation_error"), "tab:blue",
          "‖y(t) − ȳ‖")
    if c.noise > 0:
        observation.axhline(2 * np.median(result.noise_norm), color="tab:red", lw=0.8, ls=":",
                            label="2‖ε‖ (median)")
        _time_marker(observation, shown, result.early_stopping_time, "T", "tab:green")
        _time_marker(observation, shown, result.observation_early_stopping_time, "T_H", "tab:purple")
    observation.set(xscale="log", yscale="log", xlabel="time t", ylabel="‖A x(t) − ȳ‖")
    for name, final, colour, label in (
            ("signal_error", "final_signal_error", "black", "‖x(t) − x̄‖ / ‖x̄‖"),
            ("signal_error_row_space", None, "tab:blue", "row space  ‖P(x(t) − x̄)‖ / ‖x̄‖"),
            ("signal_error_kernel", None, "tab:orange", "kernel  ‖(I − P)(x(t) − x̄)‖ / ‖x̄‖")):
        band(signal, *_held_curve(result, name, final), colour, label)
    signal.set(xscale="log", yscale="log", xlabel="time t", ylabel="relative signal error")
    signal.set_xlim(shown[0], shown[-1])  # shared: a time T beyond the run does not stretch the axes
    for axes, title in ((losses, "loss"), (observation, "observation error"), (signal, "signal error")):
        axes.set_title(f"{title} ({SPREAD.format(seeds=c.seeds)})", fontsize=9)
        axes.xaxis.set_minor_formatter(plt.NullFormatter())  # short time ranges: no overlapping minor labels
        axes.legend(fontsize=7)
    figure.suptitle(_title(result), fontsize=10)
    return finish(plt, figure, path)


def plot_ntk(result, path: str | Path | None = None):
    """λ_min(K), λ_min(H), λ_max(H) and the loss with its predicted envelope
    `½ exp(−σ_A² σ_0² t/2) ‖r(0)‖²` (Theorem 2.1, certified seeds only) over time; medians and
    quartiles over all seeds, stopped seeds held (the loss at `final_loss` from the stop on)."""
    if result.ntk is None:
        raise ValueError("plot_ntk needs a result simulated with Config.track_ntk=True")
    plt = pyplot(path is not None)
    figure, (kernels, losses) = plt.subplots(1, 2, figsize=(11, 4.6))
    # the Jacobian route evaluates the kernels at `ntk_checkpoints` of the checkpoints only: the
    # others are left out while a seed runs (once all have stopped, every checkpoint holds them)
    running = ~np.isnan(result.loss).all(axis=0)
    tracked = ~(running & np.isnan(result.ntk["max_lambda_H"]).all(axis=0))
    for name, colour, label in (("min_lambda_K", "tab:blue", "λ_min(K)  (n×n, signal)"),
                                ("min_lambda_H", "tab:orange", "λ_min(H)  (m×m, observation)"),
                                ("max_lambda_H", "tab:red", "λ_max(H)")):
        band(kernels, result.times, result.ntk[name], colour, label, tracked, marker=None if tracked.all() else "o")
    kernels.set(xscale="log", xlabel="time t", ylabel="eigenvalue")
    kernels.xaxis.set_minor_formatter(plt.NullFormatter())  # short time ranges: no overlapping minor labels
    kernels.set_yscale("symlog", linthresh=1e-4)
    kernels.set_ylim(bottom=0)  # kernels are positive semi-definite
    kernels.legend(fontsize=8)
    spread = SPREAD.format(seeds=result.config.seeds)
    kernels.set_title(f"NTK extremes ({spread})", fontsize=9)
    _loss_panel(losses, result)  # the y-range of the data: the envelope is drawn within it
    certified = result.certified
    if certified is not None and certified.any():
        envelope = 0.5 * result.theory.envelope(result.times)[certified] ** 2
        band(losses, result.times, envelope, "tab:green", f"Theorem 2.1 envelope ({certified.sum()} certified seeds)")
    losses.legend(fontsize=8)
    losses.set_title(f"loss ({spread})", fontsize=9)
    figure.suptitle(_title(result), fontsize=10)
    return finish(plt, figure, path)
