"""What `compare_dynamics` returns: several dynamics from the same draws on one axis (time, or
iterations where a dynamics has no time axis: docs/theory.md §11), with a summary, a plot and save."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._config import Config
from .._figures.captions import settings, wrapped
from .._figures.plots import SPREAD, band, checked_figure_file, finish, held_to_the_stop, pyplot
from .._integrate.integrate import checkpoint_steps
from .._integrate.outcomes import ENDINGS
from .._resolve import resolve_dynamics
from .simulation import SimulationResult, json_value


@dataclasses.dataclass(frozen=True, eq=False)
class DynamicsComparison:
    """One `SimulationResult` per dynamics (and step size) run from the draws of `config`, compared on
    `axis`: "time" (each run's `times`) or "iteration" (its checkpoint iterations)."""

    config: Config
    axis: str
    results: tuple[SimulationResult, ...]

    @property
    def labels(self) -> list[str]:
        """What each run was, in a few words (`"heavy ball η=0.1 μ=0.9"`)."""
        return [resolve_dynamics(result.config).label for result in self.results]

    def abscissa(self, result: SimulationResult) -> np.ndarray:
        """The checkpoints of `result` on the shared axis."""
        return result.times if self.axis == "time" else checkpoint_steps(result.config.steps).astype(float)

    def to_threshold(self, result: SimulationResult) -> np.ndarray:
        """Per seed, the time (or iterations) at which the loss first reached the threshold; NaN if never."""
        if self.axis == "time":
            return result.time_to_threshold
        return np.where(result.steps_to_threshold >= 0, result.steps_to_threshold, np.nan)

    def summary(self) -> str:
        c = self.config
        unit = "time" if self.axis == "time" else "iterations"
        lines = [
            f"dynamics compared from the same draws  m={c.m} n={c.n} d={c.d} k={c.k}  {c.seeds} seeds  axis: {unit}"
        ]
        width = max(len(label) for label in self.labels)
        for label, result in zip(self.labels, self.results):
            reached = np.asarray(self.to_threshold(result), float)
            finite = reached[np.isfinite(reached)]
            median = f"{np.median(finite):.4g}" if finite.size else "-"
            outcomes = "  ".join(f"{name} {int(np.sum(result.status == name))}" for name in ENDINGS)
            lines.append(
                f"  {label:<{width}}  median {unit} to threshold {median:>8}  median final loss "
                f"{np.median(result.final_loss):.3g}  {outcomes}"
            )
        return "\n".join(lines)

    def to_json(self, **_: Any) -> dict[str, Any]:
        """The axis and, per run, its label and its simulation's JSON."""
        return json_value(
            {
                "axis": self.axis,
                "runs": [{"label": label, **result.to_json()} for label, result in zip(self.labels, self.results)],
            }
        )

    def save(self, path: str | os.PathLike, **large: bool) -> list[Path]:
        """Write each run as a simulation file `STEM.INDEX.npz` beside `path` (`wideDIP.load` reads
        each back); returns their paths."""
        path = Path(path)
        return [
            result.save(path.with_name(f"{path.stem}.{index}{path.suffix or '.npz'}"), **large)
            for index, result in enumerate(self.results)
        ]

    def plot(self, path: str | Path | None = None):
        """The loss of every run against the shared axis, log-log: the median across seeds with the
        quartile band, each seed at its final loss from its stop on; returns the figure and writes it to `path` when given."""
        path = checked_figure_file(path, "DynamicsComparison.plot")
        plt = pyplot(path is not None)
        figure, axes = plt.subplots(figsize=(8, 5))
        colours = plt.cm.viridis(np.linspace(0, 0.85, len(self.results)))
        for colour, label, result in zip(colours, self.labels, self.results):
            stops = result.stop_time if self.axis == "time" else result.stop_step.astype(float)
            band(axes, *held_to_the_stop(self.abscissa(result), result.loss, stops, result.final_loss), colour, label)
        axes.axhline(self.config.threshold, color="grey", lw=0.8, ls=":", label="threshold")
        xlabel = "time t (descent τη, heavy ball τ√η)" if self.axis == "time" else "iteration τ"
        axes.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="loss ½‖A g − y‖²")
        fixed = settings(self.config, hidden=("method", "optimizer", "step_size", "steps", "t_max"))
        axes.set_title(f"dynamics compared: {wrapped(fixed, 95)}\n{SPREAD.format(seeds=self.config.seeds)}", fontsize=8)
        axes.legend(fontsize=8)
        return finish(plt, figure, path)
