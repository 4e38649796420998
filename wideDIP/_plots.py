"""Figures of a simulation: kernels and loss with Theorem 2.1's envelope (docs/theory.md §3, §5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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


def _band(axes, times, values, colour, label, marker=None):
    """Median across seeds and the band between the 10th and 90th percentiles (seeds that
    have stopped drop out)."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, median, high = np.nanpercentile(values, [10, 50, 90], axis=0)
    axes.plot(times, median, color=colour, lw=1.6, label=label, marker=marker, ms=3)
    axes.fill_between(times, low, high, color=colour, alpha=0.2, lw=0)


def plot_ntk(result, path: str | Path | None = None):
    """λ_min(K), λ_min(H), λ_max(H) and the loss with its predicted envelope
    `½ exp(−σ_A² σ_0² t/2) ‖r(0)‖²` (Theorem 2.1, certified seeds only) over time."""
    if result.ntk is None:
        raise ValueError("plot_ntk needs a result simulated with Config.track_ntk=True")
    plt = pyplot(path is not None)
    c = result.config
    shown = result.times > 0  # log time axis
    times = result.times[shown]
    figure, (kernels, losses) = plt.subplots(1, 2, figsize=(11, 4.2))
    # the Jacobian route evaluates the kernels at `ntk_checkpoints` of the checkpoints only
    tracked = np.isfinite(result.ntk["max_lambda_H"][:, shown]).any(axis=0)
    for name, colour, label in (("min_lambda_K", "tab:blue", "λ_min(K)  (n×n, signal)"),
                                ("min_lambda_H", "tab:orange", "λ_min(H)  (m×m, observation)"),
                                ("max_lambda_H", "tab:red", "λ_max(H)")):
        _band(kernels, times[tracked], result.ntk[name][:, shown][:, tracked], colour, label,
              marker=None if tracked.all() else "o")
    kernels.set(xscale="log", yscale="symlog", xlabel="time t", ylabel="eigenvalue")
    kernels.xaxis.set_minor_formatter(plt.NullFormatter())  # short time ranges: no overlapping minor labels
    kernels.set_yscale("symlog", linthresh=1e-4)
    kernels.set_ylim(bottom=0)  # kernels are positive semi-definite
    kernels.legend(fontsize=8)
    kernels.set_title("NTK extremes (median, 10–90 % of the seeds still running)", fontsize=10)
    _band(losses, times, result.loss[:, shown], "black", "loss ½‖A g − y‖²")
    certified = result.certified
    if certified is not None and certified.any():
        envelope = 0.5 * result.theory.envelope(times)[certified] ** 2
        _band(losses, times, envelope, "tab:green", f"Theorem 2.1 envelope ({certified.sum()} certified seeds)")
    losses.axhline(c.threshold, color="grey", lw=0.8, ls=":", label="threshold")
    losses.set(xscale="log", yscale="log", xlabel="time t", ylabel="loss")
    losses.legend(fontsize=8)
    network = "" if result.network_name == "two_layer" else f"{result.network_name} "
    losses.set_title(f"{network}m={c.m} n={c.n} k={c.k} {c.activation} {c.method}: "
                     f"converged {int(result.converged.sum())}/{c.seeds}", fontsize=10)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure
