"""The figures a Deep Image Prior paper shows (docs/theory.md §12): the image grid (clean, observed,
reconstruction at the best PSNR, at the early-stopping time `T` of §7 and at the end) with the PSNR
over time, and the alignment spectrum of `x̄` with the top eigenvectors of `K(θ(0))`."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import numpy as np

from .captions import described_network, settings, wrapped
from .plots import (
    TITLE_CHARACTERS,
    band,
    checked_figure_file,
    finish,
    held_to_the_stop,
    note_when_empty,
    nothing_drawn_note,
    panel_title,
    pyplot,
    run_title,
    time_label,
    time_marker,
)

SHOWN_SEEDS = 3
"""The image grid shows the reconstructions of the first seeds, at most this many (one row each)."""
COLUMNS = ("clean x̄", "observed Aᵀy", "best PSNR", "at T", "end")
"""The image grid's columns: `x̄`, `Aᵀy`, and `x(t)` at the best-PSNR checkpoint, at the first
checkpoint at or after `T` and at the stop."""
PSNR_LABEL = "PSNR"
OBSERVED_LABEL = "observed Aᵀy (median)"
IMAGE_COLOUR_MAP = "gray"
_PANEL_INCHES = 1.6
"""Width and height of one panel of the image grid (five columns: 8 inches, as `plot_run`)."""
_PSNR_PANEL_INCHES = 3.2
"""Height of the PSNR panel under the grid, with its title and legend."""
ALIGNMENT_PANELS_INCHES = (8.0, 4.0)
"""Width and height of `plot_alignment`'s two panels with the title."""
_LEGEND_LINE_INCHES = 0.2
"""Height of a line of `plot_alignment`'s legend (under the panels: its labels are long)."""


def _decibels(value: float) -> str:
    """A PSNR as a panel's title gives it."""
    return f"{value:.2f} dB"


def _early_stop_note(result, seed: int, at_stop: np.ndarray | None) -> str | None:
    """Why seed `seed` has no reconstruction `at_stop` at `T`: `T` is infinite (and why), the
    reconstructions at the checkpoints were not saved (None), or the run stopped before it; None
    where it has one."""
    moment = result.early_stopping_time[seed]
    if not np.isfinite(moment):
        return f"no T: {result.early_stopping_reason[seed]}"
    if at_stop is None:
        return (
            f"T = {moment:.3g}: x(t) at the checkpoints not saved (save with reconstructions=True, --reconstructions)"
        )
    if np.isnan(at_stop).all():
        return f"T = {moment:.3g} not reached: the run stopped at t = {result.stop_time[seed]:.3g}"
    return None


def time_symbol(result) -> str:
    """The symbol of `result`'s abscissa in panel titles: `t`, or `τ` where it counts iterations (`time_label`)."""
    return "t" if time_label(result).startswith("time") else "τ"


def _grid_panels(result, seed: int) -> list[tuple[np.ndarray | None, str]]:
    """Seed `seed`'s row of the grid: per column of `COLUMNS`, the signal drawn (None: a blank panel)
    and its title (its PSNR, or why the panel is blank)."""
    saved = result.reconstructions is not None
    at_stop = result.reconstruction_at(result.early_stopping_time)[seed] if saved else None
    note = _early_stop_note(result, seed, at_stop)
    moment = result.early_stopping_time[seed]
    return [
        (result.signal[seed], COLUMNS[0]),
        (result.back_projection[seed], f"{COLUMNS[1]}\n{_decibels(result.observed_psnr[seed])}"),
        (  # the largest PSNR is the smallest ‖x − x̄‖: `best_reconstruction`, saved with every result
            result.best_reconstruction[seed],
            f"{COLUMNS[2]}, {time_symbol(result)} = {result.best_psnr_time[seed]:.3g}\n{_decibels(result.best_psnr[seed])}",
        ),
        (None, textwrap.fill(note, 24))
        if note
        else (at_stop, f"{COLUMNS[3]} = {moment:.3g}\n{_decibels(result.psnr_at_early_stop[seed])}"),
        (
            result.final_reconstruction[seed],
            f"{COLUMNS[4]}, {time_symbol(result)} = {result.stop_time[seed]:.3g}\n{_decibels(result.final_psnr[seed])}",
        ),
    ]


def _draw_panel(
    axes, values: np.ndarray | None, clean: np.ndarray, side: int | None, title: str, over_clean: bool
) -> None:
    """One panel of the grid: `values` as a `side × side` grey image on the range of the clean signal
    `clean`, or (a 1-D signal) as a line over the sample index on the clean range, over `clean` in
    grey where `over_clean`; None: the `title` written across a blank panel."""
    axes.set_xticks([])
    axes.set_yticks([])
    if values is None:
        axes.text(0.5, 0.5, title, transform=axes.transAxes, ha="center", va="center", fontsize=7)
        return
    low, high = float(np.min(clean)), float(np.max(clean))
    if side is not None:
        axes.imshow(values.reshape(side, side), cmap=IMAGE_COLOUR_MAP, vmin=low, vmax=high)
    else:
        if over_clean:
            axes.plot(clean, color="0.7", lw=0.8)
        axes.plot(values, color="tab:blue" if over_clean else "black", lw=0.9)
        margin = 0.1 * (high - low) or 1.0
        axes.set_ylim(low - margin, high + margin)
    axes.set_title(title, fontsize=7)


def _psnr_panel(axes, result) -> None:
    """The PSNR over time: median and quartiles over all seeds, held to each seed's stop and at its
    `final_psnr` from then on (`held_to_the_stop`), the observed PSNR, and the median `T` and best time."""
    times = result.times
    shown = times[times > 0]
    quartiles = band(
        axes,
        *held_to_the_stop(times, result.psnr, result.stop_time, result.final_psnr),
        "black",
        PSNR_LABEL,
    )
    observed = float(np.median(result.observed_psnr))
    axes.axhline(observed, color="grey", lw=0.8, ls=":", label=OBSERVED_LABEL)
    time_marker(axes, shown, result.early_stopping_time, "T", "tab:green")
    time_marker(axes, shown, result.best_psnr_time, "best PSNR time", "tab:red")
    axes.set(xscale="log", xlabel=time_label(result), ylabel="PSNR (dB)")
    axes.set_xlim(shown[0], shown[-1])
    note_when_empty(axes, [quartiles], times, nothing_drawn_note(result.loss, result.status), (observed,))
    panel_title(axes, "PSNR  10 log₁₀(peak² / mean((x(t) − x̄)²))", result.config.seeds)


def plot_images(result, path: str | os.PathLike | None = None):
    """The image grid of a structured signal's run (docs/theory.md §12): a row for each of the first
    `SHOWN_SEEDS` seeds, the columns of `COLUMNS` each titled with its PSNR (images `side × side` in
    one grey colour map on the clean image's range; a 1-D signal as lines over the sample index); under
    it the PSNR over time with the observed PSNR and the median `T` and best time. `path` is checked
    before anything is drawn."""
    path = checked_figure_file(path, "SimulationResult.plot")
    plt = pyplot(path is not None)
    side = result.config.side
    rows = min(SHOWN_SEEDS, result.config.seeds)
    figure = plt.figure(figsize=(len(COLUMNS) * _PANEL_INCHES, rows * _PANEL_INCHES + _PSNR_PANEL_INCHES))
    grid = figure.add_gridspec(rows + 1, len(COLUMNS), height_ratios=[_PANEL_INCHES] * rows + [_PSNR_PANEL_INCHES])
    for seed in range(rows):
        panels = _grid_panels(result, seed)
        for column, (values, title) in enumerate(panels):
            axes = figure.add_subplot(grid[seed, column])
            _draw_panel(axes, values, result.signal[seed], side, title, over_clean=column > 0)
        figure.axes[seed * len(COLUMNS)].set_ylabel(f"seed {seed}", fontsize=8)
    _psnr_panel(figure.add_subplot(grid[rows, :]), result)
    figure.suptitle(run_title(result, TITLE_CHARACTERS), fontsize=10)
    return finish(plt, figure, path)


def _aligned_results(results, labels) -> tuple[list, list[str]]:
    """`results` (one result or a sequence of them) as a list, each with its `alignment`, and their
    legend labels (`labels`, one string per result; None: each network as `described_network` names
    it); a one-line `ValueError` otherwise."""
    listed = [results] if hasattr(results, "alignment") else list(results) if isinstance(results, Sequence) else None
    if not listed or not all(hasattr(result, "alignment") for result in listed):
        raise ValueError(f"plot_alignment: results must be a SimulationResult or a list of them, got {results!r:.80}")
    for index, result in enumerate(listed):
        if result.alignment is None:
            raise ValueError(
                f"plot_alignment: results[{index}] has no alignment: simulate it with Config.alignment_rank > 0 "
                "(the number of top eigenvectors of K(θ(0)))"
            )
    if labels is None:
        return listed, [described_network(result.config, result.network) for result in listed]
    one_each = isinstance(labels, Sequence) and not isinstance(labels, str) and len(labels) == len(listed)
    if not one_each or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"plot_alignment: labels must be {len(listed)} strings, one per result, got {labels!r}")
    return listed, list(labels)


def _kernel_part(fractions: np.ndarray) -> str:
    """The median fraction of `‖P_{ker A} x̄‖²` in the top-`r` span, for a legend; nothing where
    `ker A = {0}` (NaN: denoising)."""
    finite = fractions[np.isfinite(fractions)]
    return f" (its ker A part {np.median(finite):.3g})" if finite.size else ""


def _unconverged(converged: np.ndarray) -> str:
    """For a legend: on how many seeds the Krylov method left a Ritz pair above its residual tolerance."""
    missed = int(np.sum(~converged))
    return f"; eigenvectors not converged on {missed}/{converged.size} seeds" if missed else ""


def plot_alignment(results, path: str | os.PathLike | None = None, labels: Sequence[str] | None = None):
    """The alignment spectrum (docs/theory.md §12): for each of `results` (e.g. the two-layer network
    and the convolutional decoder on the same image), the fraction of `‖x̄‖²` on each of the top-`r`
    eigenvectors `u_i` of `K(θ(0))` against that of a Gaussian vector `g` of equal norm (median over seeds, log
    scale; the legend gives the top-`r` fractions), and the top-`r` eigenvalues beside it. `path` is
    checked before anything is drawn."""
    path = checked_figure_file(path, "plot_alignment")
    listed, labels = _aligned_results(results, labels)
    plt = pyplot(path is not None)
    width, height = ALIGNMENT_PANELS_INCHES
    legend_height = _LEGEND_LINE_INCHES * (2 * len(listed) + 1)
    figure = plt.figure(figsize=(width, height + legend_height))
    grid = figure.add_gridspec(2, 2, height_ratios=[height, legend_height])
    energies, eigenvalues = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    for index, (result, label) in enumerate(zip(listed, labels)):
        alignment, colour = result.alignment, f"C{index}"
        rank = alignment["signal_energy"].shape[1]
        indices = np.arange(1, rank + 1)
        energies.plot(
            indices,
            np.median(alignment["signal_energy"], axis=0),
            color=colour,
            lw=1.4,
            label=f"{label}: x̄, top {rank}: {np.median(alignment['signal_alignment']):.3g}"
            + _kernel_part(alignment["kernel_alignment"])
            + _unconverged(alignment["converged"]),
        )
        energies.plot(
            indices,
            np.median(alignment["noise_energy"], axis=0),
            color=colour,
            lw=1.0,
            ls="--",
            label=f"{label}: Gaussian g of equal norm, top {rank}: {np.median(alignment['noise_alignment']):.3g}",
        )
        eigenvalues.plot(indices, np.median(alignment["eigenvalues"], axis=0), color=colour, lw=1.4)
    energies.set(
        yscale="log", xlabel="index i of the eigenvector u_i of K(θ(0))", ylabel="(u_iᵀ v)² / ‖v‖²,  v = x̄ or g"
    )
    eigenvalues.set(yscale="log", xlabel="index i", ylabel="eigenvalue λ_i of K(θ(0))")
    seeds = ", ".join(sorted({str(result.config.seeds) for result in listed}))
    for axes, title in ((energies, "energy per eigenvector"), (eigenvalues, "top eigenvalues")):
        axes.set_title(f"{title}\n(median over {seeds} seeds)", fontsize=8)
    legend = figure.add_subplot(grid[1, :])
    legend.axis("off")
    legend.legend(*energies.get_legend_handles_labels(), loc="center", fontsize=7, frameon=False)
    shared = [settings(result.config, network=result.network) for result in listed]
    common = [words for words in shared[0] if all(words in other for other in shared[1:])]
    figure.suptitle(wrapped(common, TITLE_CHARACTERS), fontsize=9)
    return finish(plt, figure, path)
