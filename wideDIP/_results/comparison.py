"""What `compare` returns: gradient flow vs gradient descent on the time axis `t = iteration × η`
(docs/theory.md §1, §4, §5 last paragraph), with a summary, a plot and save."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._config import Config
from .._figures.captions import compact_shape, described_network, settings, signal_label, unused_note, wrapped
from .._figures.plots import (
    SPREAD,
    band,
    checked_figure_file,
    finish,
    held,
    note_when_empty,
    nothing_drawn_note,
    pyplot,
)
from .._integrate.outcomes import ENDINGS
from .._resolve import operator_of
from .simulation import (
    array_fields,
    grouped,
    json_fields,
    json_value,
    largest_where,
    prefixed,
    save_result,
    solver_label,
)

KERNEL_FIELDS = ("flow_ntk", "descent_ntk")
"""The fields holding the kernel statistics (`Config.track_ntk`), saved as `FIELD__statistic` arrays."""


@dataclasses.dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Flow and descent for each step size; axes `[step sizes, seeds, checkpoints]`.

    Descent with step `η` is recorded at its checkpoint iterations `τ`, time `τ η`; the flow
    is saved at exactly those times. Gaps are maxima over the times at which either run is
    still going, a run that has stopped (at the threshold, say) being held at its stopping
    point. `‖z_GD − z_GF‖` equals `‖W_GD − W_GF‖_F` (§4).
    """

    config: Config
    step_sizes: np.ndarray
    times: np.ndarray
    """`[step sizes, checkpoints]`, NaN-padded."""
    flow_loss: np.ndarray
    descent_loss: np.ndarray
    max_loss_gap: np.ndarray
    """`max_t |L_GD(t) − L_GF(t)|`, `[step sizes, seeds]`: usually attained in the first steps, where
    the loss is largest and falls fastest."""
    max_relative_loss_gap: np.ndarray
    """`max_t |L_GD(t) − L_GF(t)| / max(L_GF(t), threshold)`, `[step sizes, seeds]`: the gap relative
    to the flow's loss at each time. The threshold is the floor of the denominator: a loss below it
    is where a run stops, its value there is not dynamics, and a flow loss of 0 would divide by 0.
    Where both runs have converged the ratio is at most about 1 (docs/flow-and-descent.md)."""
    max_state_gap: np.ndarray
    """`[step sizes, seeds]`: for the paper's network `max_t ‖z_GD(t) − z_GF(t)‖` (= `‖W_GD − W_GF‖_F`,
    §4), for any other network `max_t ‖θ_GD(t) − θ_GF(t)‖`, the distance between its recorded states
    (its parameters; `(z, V)` for "two_layer_both", the same distance: docs/theory.md §9). The
    summary's column names which."""
    stability: np.ndarray
    """`η λ_max(H(W(0)))`, `[step sizes, seeds]`: above 2 descent has left the flow's regime."""
    status: np.ndarray
    """Descent outcome, `[step sizes, seeds]`."""
    flow_status: np.ndarray
    """Flow outcome, `[seeds]`."""
    wall_time: float
    environment: dict[str, str]
    operator_sha256: str | None = None
    network: dict[str, Any] | None = None
    """As `SimulationResult`'s (these four)."""
    flow_ntk: dict[str, np.ndarray] | None = None
    """With `Config.track_ntk`: the statistics of `SimulationResult.ntk` (docs/theory.md §3) along the
    flow, `[step sizes, seeds, checkpoints]` at `times`, where descent's are evaluated (NaN elsewhere)."""
    descent_ntk: dict[str, np.ndarray] | None = None
    """With `Config.track_ntk`: the same along descent, at the checkpoints `simulate` would evaluate
    (spread over those each descent reaches before its last stop), NaN elsewhere."""

    def summary(self) -> str:
        c = self.config
        flow = ", ".join(f"{name} {int(np.sum(self.flow_status == name))}" for name in ENDINGS)
        record = self.network
        paper = (record or {}).get("name", c.network) == "two_layer"  # then `max_state_gap` is the gap in z
        network = "" if paper else f"{described_network(c, record)}  "
        gap = f"median max {'||z_GD - z_GF||' if paper else '||theta_GD - theta_GF||'}"
        lines = [
            f"flow vs descent  {'  '.join(compact_shape(c, record))}  A: {operator_of(c).describe()}  "
            f"{signal_label(c) + '  ' if signal_label(c) else ''}{network}"
            f"horizon t={c.horizon:g}  {c.seeds} seeds",
            *unused_note(c, record),
            f"flow ({solver_label(c)}): {flow}",
            f"{'eta':>8} {'median eta*lmax(H0)':>20} {'median max loss gap':>20} {'(relative)':>11} "
            f"{gap}  descent outcomes",
        ]
        for e, eta in enumerate(self.step_sizes):
            outcomes = ", ".join(f"{name} {int(np.sum(self.status[e] == name))}" for name in ENDINGS[:3])
            lines.append(
                f"{eta:>8g} {np.median(self.stability[e]):>20.3g} {_median(self.max_loss_gap[e]):>20} "
                f"{_median(self.max_relative_loss_gap[e]):>11} "
                f"{_median(self.max_state_gap[e]):>{len(gap)}}  {outcomes}"
            )
        lines.append("relative: the loss gap over the flow's loss max(L_GF(t), threshold), largest over time")
        return "\n".join(lines + self._kernel_lines())

    def _kernel_lines(self) -> list[str]:
        """With `track_ntk`, one line per leg (the flow, then descent for each `eta`): its `_kernel_medians`
        (docs/theory.md §3); none without `track_ntk`."""
        if self.flow_ntk is None or self.descent_ntk is None:
            return []
        flow, descent = self.flow_ntk, self.descent_ntk
        # the flow: at the times of every leg together, `[seeds, step sizes × checkpoints]` in `times.ravel()`'s order
        joined = (np.concatenate(list(flow[name]), axis=1) for name in ("min_lambda_H", "max_lambda_H"))
        legs = {"flow": (self.times.ravel(), *joined)}
        for e, eta in enumerate(self.step_sizes):
            legs[f"eta={eta:g}"] = (self.times[e], descent["min_lambda_H"][e], descent["max_lambda_H"][e])
        width = max(8, *(len(name) for name in legs))
        lines = [
            f"{'NTK':>{width}} {'lambda_min(H) at t=0':>21} {'at the last evaluation':>23} {'at t':>7} "
            f"{'max lambda_max(H)':>18}"
        ]
        for name, curves in legs.items():
            at_start, at_last, last_time, largest = _kernel_medians(*curves)
            lines.append(f"{name:>{width}} {at_start:>21} {at_last:>23} {last_time:>7} {largest:>18}")
        lines.append(
            "NTK: medians over seeds; the last evaluation is each seed's last finite value, max lambda_max(H) "
            "each seed's largest (docs/theory.md §3)"
        )
        return lines

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON values (arrays as nested lists, NaN and inf as null), with the
        `horizon` compared over."""
        return json_value({"horizon": self.config.horizon, **json_fields(self)})

    def save(self, path: str | os.PathLike) -> Path:
        """Write one `.npz` holding the arrays and a JSON header (kind "comparison", config,
        versions, device); `wideDIP.load` reads it back."""
        kernels = prefixed({field: getattr(self, field) for field in KERNEL_FIELDS})
        return save_result(self, path, "comparison", array_fields(self) | kernels)

    @classmethod
    def from_saved(cls, fields: dict[str, Any], arrays: dict[str, np.ndarray]) -> ComparisonResult:
        """The result that `save` wrote: `fields` from the file's header, `arrays` from the file (the
        kernel statistics as `FIELD__statistic`, regrouped)."""
        arrays = dict(arrays)
        kernels = grouped(arrays, KERNEL_FIELDS)
        return cls(**fields, **kernels, **arrays)

    def plot(self, path: str | Path | None = None, seeds: int = 0):
        """Loss against time, log-log: the flow (black) and descent for each `η` (dashed), each the median
        across all seeds with the quartile band, a stopped run held at its last value (`_plots.held`), and the
        first `seeds` runs as thin lines; the title names the network, settings and horizon. Returns the figure
        and writes it to `path` (PNG at `PRINT_DPI`) when given, checked before anything is drawn."""
        path = checked_figure_file(path, "ComparisonResult.plot")
        plt = pyplot(path is not None)
        figure, axes = plt.subplots(figsize=(8, 5))
        colours = plt.cm.viridis(np.linspace(0, 0.85, len(self.step_sizes)))
        finest = int(np.argmin(self.step_sizes))  # the flow on the most times
        curves = [(self.times[finest], self.flow_loss[finest], "black", "flow", "-")]
        for e, eta in enumerate(self.step_sizes):
            label = f"descent η={eta:g} (η·λmax(H0) ≈ {np.median(self.stability[e]):.2g})"
            curves.append((self.times[e], self.descent_loss[e], colours[e], label, "--"))
        drawn = []
        for times, losses, colour, label, style in curves:
            drawn.append(band(axes, times, losses, colour, label, ls=style))
            positive = times > 0  # log axis: t = 0 is off the plot
            for run in held(losses)[:seeds]:
                axes.plot(times[positive], run[positive], color=colour, lw=0.5, alpha=0.5, ls=style)
        axes.axhline(self.config.threshold, color="grey", lw=0.8, ls=":", label="threshold")
        axes.set(xscale="log", yscale="log", xlabel="time t = iteration × η", ylabel="loss ½‖A g − y‖²")
        note_when_empty(
            axes,
            drawn,
            self.times[finest],
            nothing_drawn_note(
                np.concatenate([self.flow_loss[finest][None], self.descent_loss]),
                np.concatenate([self.flow_status[None], self.status]),
            ),
            (self.config.threshold,),
        )
        fixed = settings(
            self.config,
            hidden=("method", "step_size", "steps", "t_max"),
            operator_sha256=self.operator_sha256,
            network=self.network,
        ) + [f"horizon t = {self.config.horizon:g}"]
        axes.set_title(
            f"flow vs descent: {wrapped(fixed, 95)}\n{SPREAD.format(seeds=self.config.seeds)} at their last value",
            fontsize=8,
        )
        axes.legend(fontsize=8)
        return finish(plt, figure, path)


def _median(values: np.ndarray, spec: str = ".3g") -> str:
    """The median of the values of `values` that are not NaN, as the summary writes it (format `spec`);
    "-" where there are none (every seed diverged at its first step on both legs: no gap was measured)."""
    return "-" if np.isnan(values).all() else f"{np.nanmedian(values):{spec}}"


def _kernel_medians(times: np.ndarray, min_lambda: np.ndarray, max_lambda: np.ndarray) -> tuple[str, str, str, str]:
    """The summary's kernel columns for the checkpoints at `times` (NaN: padding) of `[seeds, checkpoints]`
    curves, NaN where not evaluated: the medians over seeds of `min_lambda` at t = 0, of its last finite
    value per seed and that value's time, and of `max_lambda`'s largest value per seed."""
    order = np.argsort(times, kind="stable")  # the padding (NaN) last
    times, min_lambda, max_lambda = times[order], min_lambda[:, order], max_lambda[:, order]
    finite = np.isfinite(min_lambda)
    last = finite.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    evaluated = finite.any(axis=1)
    at_last = np.where(evaluated, min_lambda[np.arange(len(last)), last], np.nan)
    last_time = np.where(evaluated, times[last], np.nan)
    largest = largest_where(max_lambda, np.isfinite(max_lambda))
    return _median(min_lambda[:, 0]), _median(at_last), _median(last_time, ".4g"), _median(largest)
