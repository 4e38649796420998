"""Noise, early stopping and signal recovery along a run (docs/theory.md §7): the curves of
`‖A x(t) − ȳ‖` and `‖x(t) − x̄‖/‖x̄‖` (with its row-space and kernel parts) from the recorded
outputs `x(t)`, computed after the run; per seed, the oracle stop along the path and the check of
the bound `‖y(t) − ȳ‖ ≤ 2‖ε‖` after the early-stopping time `T` of (6)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._operators.base import row_space_basis
from .._problems.problem import Problem

CURVES = ("observation_error", "signal_error", "signal_error_row_space", "signal_error_kernel")
"""The recovery curves, `[seeds, checkpoints]`: `‖A x(t) − ȳ‖`, `‖x(t) − x̄‖/‖x̄‖`, and the
latter's parts in `Im(Aᵀ)` and in `ker A` (both relative to `‖x̄‖`)."""


@eqx.filter_jit
def _curves(problems: Problem, signals: Float[Array, "seeds checkpoints n"]) -> dict[str, Array]:
    def one(problem: Problem, outputs: Float[Array, "checkpoints n"]) -> dict[str, Array]:
        basis = row_space_basis(problem.operator)
        error = outputs - problem.signal
        row_space = (error @ basis.T) @ basis
        scale = jnp.linalg.norm(problem.signal)
        return {
            "observation_error": jnp.linalg.norm(outputs @ problem.operator.T - problem.clean_observation, axis=-1),
            "signal_error": jnp.linalg.norm(error, axis=-1) / scale,
            "signal_error_row_space": jnp.linalg.norm(row_space, axis=-1) / scale,
            "signal_error_kernel": jnp.linalg.norm(error - row_space, axis=-1) / scale,
            "noise_norm": jnp.linalg.norm(problem.observation - problem.clean_observation),
        }

    return jax.vmap(one)(problems, signals)


def recovery_curves(problems: Problem, signals: np.ndarray, dtype: str) -> dict[str, np.ndarray]:
    """The curves of `CURVES` from the outputs `x(t)` recorded at the checkpoints (NaN after a
    seed's stop stays NaN), and `noise_norm` `‖ε‖ = ‖y − ȳ‖` per seed."""
    return {name: np.asarray(values) for name, values in _curves(problems, jnp.asarray(signals, dtype)).items()}


def first_index_at_or_after(times: np.ndarray, recorded: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Per seed, the index of the first checkpoint with time ≥ `moment` where `recorded`
    (`[seeds, checkpoints]`) holds; −1 if none."""
    eligible = (times[None, :] >= moment[:, None]) & recorded
    return np.where(eligible.any(axis=1), np.argmax(eligible, axis=1), -1)


def first_at_or_after(times: np.ndarray, values: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Per seed, `values` at the first recorded checkpoint with time ≥ `moment` (NaN if none)."""
    return at_checkpoint(values, first_index_at_or_after(times, ~np.isnan(values), moment))


def best_checkpoint(values: np.ndarray) -> np.ndarray:
    """Per seed, the index of the checkpoint where `values` (`[seeds, checkpoints]`, NaN where not
    recorded) is smallest, the first if tied; −1 where no value is recorded (a network whose output is
    NaN from the start: that seed diverged at step 0)."""
    recorded = ~np.isnan(values)
    return np.where(recorded.any(axis=1), np.argmin(np.where(recorded, values, np.inf), axis=1), -1)


def at_checkpoint(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per seed `s`, `values[s, index[s]]` (`values`: `[seeds, checkpoints, ...]`), NaN where `index`
    is −1."""
    picked = values[np.arange(len(values)), np.maximum(index, 0)]
    return np.where((index >= 0).reshape(index.shape + (1,) * (picked.ndim - 1)), picked, np.nan)


def path_statistics(
    times: np.ndarray,
    curves: dict[str, np.ndarray],
    noise_norm: np.ndarray,
    early_stopping_time: np.ndarray,
    certified: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Per seed: the oracle stop (`oracle_time`, the checkpoint where `‖y(t) − ȳ‖` is smallest),
    the best observation and signal errors along the path, the signal error at the first
    checkpoint at or after `T`, and `bound_holds`: `‖y(t) − ȳ‖ ≤ 2‖ε‖` at every recorded
    checkpoint at or after `T` — True/False for a certified seed that ran past `T`, else None.
    NaN where no error was recorded (an output NaN from the start)."""
    observation, signal = curves["observation_error"], curves["signal_error"]
    with np.errstate(invalid="ignore"):
        after = (times[None, :] >= early_stopping_time[:, None]) & ~np.isnan(observation)
        within = observation <= 2 * noise_norm[:, None]
    if certified is None:  # no certificate for this network: nothing is checked
        certified = np.zeros(len(observation), bool)
    checked = after.any(axis=1) & np.isfinite(early_stopping_time) & certified
    holds = np.all(within | ~after, axis=1)
    bound_holds = np.array([bool(h) if c else None for h, c in zip(holds, checked)], dtype=object)
    best = best_checkpoint(observation)
    return {
        "oracle_time": at_checkpoint(np.broadcast_to(times, observation.shape), best),
        "best_observation_error": at_checkpoint(observation, best),
        "best_signal_error": at_checkpoint(signal, best_checkpoint(signal)),
        "signal_error_at_early_stop": first_at_or_after(times, signal, early_stopping_time),
        "bound_holds": bound_holds,
    }


def psnr_statistics(
    times: np.ndarray,
    psnr: np.ndarray,
    early_stopping_time: np.ndarray,
    threshold_time: np.ndarray,
    final_psnr: np.ndarray,
    stopped_at_threshold: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per seed (docs/theory.md §12): the largest PSNR along the path and its time, the PSNR at the
    first checkpoint at or after `T`, and where the loss first reached the threshold (`final_psnr`
    for a seed that stopped there, else the first checkpoint at or after `threshold_time`; NaN where
    the threshold was never reached)."""
    best = best_checkpoint(-psnr)
    return {
        "best_psnr": at_checkpoint(psnr, best),
        "best_psnr_time": at_checkpoint(np.broadcast_to(times, psnr.shape), best),
        "psnr_at_early_stop": first_at_or_after(times, psnr, early_stopping_time),
        "psnr_at_threshold": np.where(stopped_at_threshold, final_psnr, first_at_or_after(times, psnr, threshold_time)),
    }
