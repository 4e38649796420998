"""Observers of any run against the kernel regime (docs/theory.md §3, §11): the measured exponential
rate of the residual, and the last value of a curve per seed (the final kernel drift)."""

from __future__ import annotations

import numpy as np

from .._dynamics.base import AbstractDynamics


def measured_rate(times: np.ndarray, loss: np.ndarray, threshold: float) -> np.ndarray:
    """Per seed (row of `loss`, `[seeds, checkpoints]` at `times`), the exponential decay rate of
    `‖r(t)‖ = √(2 L(t))` in the units of `times`: the least-squares slope of `−ln ‖r‖` against `t`.

    The window: the checkpoints where the loss is recorded (finite: up to the seed's stop) and above
    `threshold`, and among them those at times `t ≥ t_w/2`, `t_w` the last one's time (the later
    half of the run: the faster modes have died out there and the slowest dominates, whose rate is the
    linearised prediction of §11, `predicted_rate`). NaN where the window holds fewer than two
    checkpoints (a seed that stopped or diverged at once)."""
    loss = np.asarray(loss, np.float64)
    times = np.broadcast_to(np.asarray(times, np.float64), loss.shape)
    usable = np.isfinite(loss) & (loss > max(threshold, 0.0))
    last = np.where(usable, times, -np.inf).max(axis=1)
    window = usable & (times >= last[:, None] / 2)
    count = window.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.where(window, -0.5 * np.log(np.where(window, 2 * loss, 1.0)), 0.0)
        mean_time = np.where(window, times, 0.0).sum(axis=1) / count
        mean_decay = decay.sum(axis=1) / count
        centred = np.where(window, times - mean_time[:, None], 0.0)
        spread = (centred**2).sum(axis=1)
        slope = (centred * (decay - mean_decay[:, None])).sum(axis=1) / spread
    return np.where((count >= 2) & (spread > 0), slope, np.nan)


def last_recorded(curves: np.ndarray) -> np.ndarray:
    """Per seed (row of `[seeds, checkpoints]` curves, NaN where not evaluated), the last value that
    is not NaN; NaN for a seed with none."""
    recorded = ~np.isnan(curves)
    last = curves.shape[1] - 1 - np.argmax(recorded[:, ::-1], axis=1)
    return np.where(recorded.any(axis=1), curves[np.arange(curves.shape[0]), last], np.nan)


def eigenvalues_on_image(eigenvalues: np.ndarray, m: int, n: int) -> np.ndarray:
    """Per seed, the eigenvalues of `H` on Im(A) (docs/theory.md §3), `[seeds, min(m, n)]`, at least 0,
    from all of them ascending (`[seeds, m']`): the `min(m, n)` largest (`A` of rank `min(m, n)`; the
    padding of a padded cell, `m' > m`, adds zeros below them)."""
    return np.maximum(eigenvalues[:, eigenvalues.shape[1] - min(m, n) :], 0.0)


def predicted_rate(dynamics: AbstractDynamics, eigenvalues: np.ndarray) -> np.ndarray:
    """Per seed, the rate the kernel regime predicts for `‖r‖` in the dynamics' time units: the slowest
    of its `linearised_rate` over the eigenvalues of `H(θ(0))` on Im(A) (`[seeds, modes]`, docs/theory.md
    §11). That is the rate at `λ_min(H)` where the rate grows with `λ` (the flow, the heavy ball), not
    always: descent's `−ln|1 − ηλ|/η` is slowest at `λ_max` once `η (λ_min + λ_max) > 2`. NaN where the
    dynamics predicts none (Adam)."""
    rates = dynamics.linearised_rate(eigenvalues)
    return np.full(eigenvalues.shape[0], np.nan) if rates is None else np.min(np.asarray(rates, np.float64), axis=1)
