"""Image quality along a run (docs/theory.md §12): the PSNR and SSIM of the outputs `x(t)` recorded
at the checkpoints against `x̄`, computed after the run on the host, `peak` the dynamic range of `x̄`."""

from __future__ import annotations

import importlib

import numpy as np


def _reference_for(outputs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`reference` (`[..., n]`, its leading axes `outputs`' first ones) with an axis of length 1 for
    each further leading axis of `outputs` (`[..., checkpoints, n]`): a `ValueError` naming both
    arguments unless the shapes fit so."""
    leading = reference.ndim - 1
    if (
        reference.ndim < 1
        or reference.ndim > outputs.ndim
        or reference.shape[-1] != outputs.shape[-1]
        or reference.shape[:leading] != outputs.shape[:leading]
    ):
        raise ValueError(
            f"reference must have shape [..., n] with its leading axes the first ones of outputs "
            f"(x̄ [seeds, n] for x(t) [seeds, checkpoints, n]); got outputs {outputs.shape}, reference {reference.shape}"
        )
    return reference.reshape(reference.shape[:leading] + (1,) * (outputs.ndim - reference.ndim) + reference.shape[-1:])


def _peak(reference: np.ndarray) -> np.ndarray:
    """The dynamic range `max(x̄) − min(x̄)` over the last axis."""
    return reference.max(axis=-1) - reference.min(axis=-1)


def psnr(outputs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`10 log₁₀(peak² / mean((x − x̄)²))`, `peak = max(x̄) − min(x̄)` (docs/theory.md §12), over the last
    axis: `outputs` `x` `[..., n]` (e.g. `[seeds, checkpoints, n]`), `reference` `x̄` whose leading axes
    are the first ones of `outputs` (e.g. `[seeds, n]`); NaN where `x` is NaN (a stopped seed's later
    checkpoints), `+inf` where `x = x̄`."""
    outputs, reference = np.asarray(outputs, np.float64), np.asarray(reference, np.float64)
    reference = _reference_for(outputs, reference)
    error = np.mean((outputs - reference) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(_peak(reference) ** 2 / error)


def ssim(outputs: np.ndarray, reference: np.ndarray, side: int) -> np.ndarray:
    """The structural similarity of each `side × side` image `x` in `outputs` (`[..., n]`, `n = side²`,
    row-major) with `x̄` (`reference`, as for `psnr`) by scikit-image's `structural_similarity` with
    `data_range = max(x̄) − min(x̄)` (its 7 × 7 window: `side ≥ 7`); NaN where `x` holds a NaN."""
    try:
        metrics = importlib.import_module("skimage.metrics")
    except ImportError:
        raise ValueError(
            "ssim needs scikit-image, which is not installed: pip install 'widedip[images]' (in a clone: pip install -e \".[images]\")"
        ) from None
    outputs, reference = np.asarray(outputs, np.float64), np.asarray(reference, np.float64)
    if not isinstance(side, (int, np.integer)) or side < 7 or side * side != outputs.shape[-1]:
        raise ValueError(
            f"side must be an integer >= 7 with side² = n = {outputs.shape[-1]} (the images' pixels), got {side!r}"
        )
    reference = np.broadcast_to(_reference_for(outputs, reference), outputs.shape)
    similarity = np.full(outputs.shape[:-1], np.nan)
    for index in np.ndindex(*outputs.shape[:-1]):
        image, clean = outputs[index].reshape(side, side), reference[index].reshape(side, side)
        if not np.isnan(image).any():
            similarity[index] = metrics.structural_similarity(image, clean, data_range=_peak(clean.ravel()))
    return similarity
