"""PSNR and SSIM along a run (docs/theory.md §12) against scikit-image and a NumPy formula."""

import sys

import numpy as np
import pytest
import skimage.metrics

from wideDIP._analysis.image_quality import psnr, ssim

SIDE = 16


def smooth_image(rng):
    """A `SIDE × SIDE` image with structure (a ramp and a bump) for SSIM, flattened row-major."""
    rows, columns = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    return (rows + np.exp(-((rows - 0.5) ** 2 + (columns - 0.3) ** 2) * 8) + 0.01 * rng.normal(size=rows.shape)).ravel()


def test_psnr_equals_scikit_image_and_numpy_with_nan_kept():
    rng = np.random.default_rng(0)
    seeds, checkpoints, n = 3, 4, SIDE * SIDE
    reference = rng.uniform(-1, 2, size=(seeds, n))
    outputs = reference[:, None, :] + rng.normal(size=(seeds, checkpoints, n)) * np.array([1, 0.3, 0.1, 0.01])[:, None]
    outputs[1, 2:] = np.nan  # seed 1 stopped after its second checkpoint
    measured = psnr(outputs, reference)
    assert measured.shape == (seeds, checkpoints)
    assert np.isnan(measured[1, 2:]).all() and not np.isnan(np.delete(measured.ravel(), [6, 7])).any()
    for s in range(seeds):
        peak = reference[s].max() - reference[s].min()
        for c in range(checkpoints):
            if np.isnan(outputs[s, c]).any():
                continue
            library = skimage.metrics.peak_signal_noise_ratio(reference[s], outputs[s, c], data_range=peak)
            formula = 10 * np.log10(peak**2 / np.mean((outputs[s, c] - reference[s]) ** 2))
            np.testing.assert_allclose(measured[s, c], [library, formula], rtol=1e-10)
    # one x̄ for checkpoints [c, n], and one image
    np.testing.assert_allclose(psnr(outputs[0], reference[0]), measured[0], rtol=1e-12)
    assert psnr(reference[2], reference[2]) == np.inf


def test_psnr_refuses_shapes_that_do_not_fit():
    with pytest.raises(
        ValueError, match=r"reference must have shape \[\.\.\., n\] .* got outputs \(2, 3, 5\), reference \(3, 5\)"
    ):
        psnr(np.zeros((2, 3, 5)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="reference must have shape"):
        psnr(np.zeros((2, 5)), np.zeros((2, 4)))


def test_ssim_is_one_for_the_image_itself_and_falls_with_noise():
    rng = np.random.default_rng(1)
    clean = smooth_image(rng)
    noise = rng.normal(size=clean.shape)
    levels = np.array([0.0, 0.02, 0.1, 0.5])
    outputs = np.stack([clean + level * noise for level in levels] + [np.full_like(clean, np.nan)])[None]
    similarity = ssim(outputs, clean[None], SIDE)
    assert similarity.shape == (1, len(levels) + 1)
    assert similarity[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(similarity[0, : len(levels)]) < 0)  # strictly falls as the noise grows
    assert similarity[0, len(levels) - 1] < 0.5
    assert np.isnan(similarity[0, -1])


def test_ssim_refuses_a_wrong_side_and_names_the_missing_extra(monkeypatch):
    image = smooth_image(np.random.default_rng(2))
    with pytest.raises(ValueError, match=r"side must be an integer >= 7 with side² = n = 256 .* got 15"):
        ssim(image, image, 15)
    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.metrics", None)
    with pytest.raises(
        ValueError,
        match=r"^ssim needs scikit-image, which is not installed: pip install 'widedip\[images\]' \(in a clone: pip install -e \".\[images\]\"\)$",
    ):
        ssim(image, image, SIDE)
