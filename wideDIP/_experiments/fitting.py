"""The time to fit a signal against the time to fit noise of the same norm (docs/theory.md §12):
the spectral bias of a generator, measured on the clean observation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._analysis.recovery import first_index_at_or_after
from .._config import Config, switched
from .._networks.base import Network
from .._results.simulation import SimulationResult
from .simulate import simulate

FIT_FRACTION = 0.01
"""A run has fitted its target once its loss is at most this fraction of its initial loss."""


class Fits(NamedTuple):
    """`fit_signal_and_noise`'s two runs, from the same keys: on `A x̄` and on `A g`, `g` Gaussian with `‖g‖ = ‖x̄‖`."""

    signal: SimulationResult
    noise: SimulationResult

    def times(self, fraction: float = FIT_FRACTION) -> dict[str, np.ndarray]:
        """Per run and seed, the first checkpoint time at which the loss is at most `fraction` of its
        initial value (NaN where it never is)."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1) (of the initial loss), got {fraction!r}")
        fitted = {}
        for name, result in self._asdict().items():
            below = result.loss <= fraction * result.initial_loss[:, None]
            first = first_index_at_or_after(result.times, below, np.zeros(below.shape[0]))
            fitted[name] = np.where(first >= 0, result.times[first], np.nan)
        return fitted

    def summary(self, fraction: float = FIT_FRACTION) -> str:
        """The median time of each run to `fraction` of its initial loss, with the seeds that reached it."""
        lines = []
        for name, times in self.times(fraction).items():
            reached = ~np.isnan(times)
            median = f"{np.median(times[reached]):.4g}" if reached.any() else "-"
            lines.append(
                f"{name:<7}  loss at {fraction:g} of its initial value: {int(reached.sum())}/{reached.size} seeds, "
                f"median time {median}"
            )
        return "\n".join(lines)


def fit_signal_and_noise(config: Config, *, network: Network | None = None, progress: bool = False) -> Fits:
    """Train `config` without noise on its signal, then on Gaussian noise of the signal's norm (the
    median over seeds of `‖x̄‖`: exact for the deterministic signals) in the same shape (`side`), with
    the same network, operator, dynamics and keys (docs/theory.md §12)."""
    if not isinstance(config, Config):
        raise ValueError(f"fit_signal_and_noise expects a wideDIP.Config as config, got {type(config).__name__}")
    clean = switched(config, noise=0.0)
    signal = simulate(clean, network=network, progress=progress)
    norm = float(np.median(np.linalg.norm(signal.signal, axis=1)))
    noise_config = switched(clean, signal="gaussian", signal_norm=norm)
    return Fits(signal, simulate(noise_config, network=network, progress=progress))
