"""The Deep Image Prior's regime on a small image (docs/theory.md §12, docs/images.md): the
convolutional decoder denoises before it fits the noise, and the image lies in its kernel's top
eigenvectors far more than Gaussian noise does."""

import numpy as np
import pytest

import wideDIP

pytest.importorskip("skimage", reason="the images need the optional extra: pip install 'widedip[images]'")


ADAM_ON_CAMERA = wideDIP.Config(
    signal="image",
    image="camera",
    side=16,
    operator="identity",
    network="conv_decoder",
    k=8,
    decoder_layers=2,
    optimizer="adam",
    step_size=0.05,
    seeds=2,
    threshold=1e-9,
)
"""A 16 × 16 crop of `camera` denoised by the 2-D decoder (8 channels, 2 bilinear layers) trained by
Adam, as Deep Image Prior is."""


@pytest.fixture(scope="module")
def denoised():
    """`ADAM_ON_CAMERA` at σ = 0.2, long enough to fit the noise; the top-16 alignment at θ(0)."""
    config = ADAM_ON_CAMERA.replace(noise=0.2, steps=600, alignment_rank=16)
    return wideDIP.simulate(config, progress=False)


def test_the_psnr_rises_above_the_noisy_image_then_falls_as_the_noise_is_fitted(denoised):
    result = denoised
    for seed in range(result.config.seeds):
        curve = result.psnr[seed][~np.isnan(result.psnr[seed])]
        peak = int(np.argmax(curve))
        assert curve[peak] == pytest.approx(result.best_psnr[seed])
        # the noisy image y = A^T y for denoising: its PSNR is the one to beat
        noisy = result.observation[seed]
        assert result.observed_psnr[seed] == pytest.approx(
            10 * np.log10(np.ptp(result.signal[seed]) ** 2 / np.mean((noisy - result.signal[seed]) ** 2))
        )
        assert curve[peak] > result.observed_psnr[seed] + 3  # it denoises: at least 3 dB better than y
        assert 0 < peak < curve.size - 1  # a peak inside the run ...
        assert curve[-1] < curve[peak] - 1  # ... after which fitting the noise costs at least 1 dB
        assert result.loss[seed][~np.isnan(result.loss[seed])][-1] < result.loss[seed][0] / 10  # it fits y


def test_the_image_aligns_with_the_decoders_top_eigenvectors_more_than_noise(denoised):
    alignment = denoised.alignment
    rank, n = alignment["signal_energy"].shape[1], denoised.config.n
    assert alignment["converged"].all()
    assert np.all(alignment["signal_alignment"] > 2 * alignment["noise_alignment"])
    assert np.all(alignment["signal_alignment"] > 0.5)  # most of the image in 16 of 256 directions
    assert np.all(alignment["noise_alignment"] < 4 * rank / n)  # noise: near its expectation r/n
    assert np.isnan(alignment["kernel_alignment"]).all()  # denoising: ker A = {0}


def test_the_decoder_fits_the_image_before_noise_of_the_same_norm():
    config = ADAM_ON_CAMERA.replace(steps=300)
    fits = wideDIP.fit_signal_and_noise(config)
    np.testing.assert_allclose(
        np.linalg.norm(fits.noise.signal, axis=1), np.linalg.norm(fits.signal.signal, axis=1), rtol=1e-6
    )
    assert np.all(fits.noise.noise_norm == 0) and np.all(fits.signal.noise_norm == 0)
    times = fits.times(0.1)
    assert np.all(np.isfinite(times["signal"]))  # the image reaches 10 % of its initial loss ...
    assert np.all(np.nan_to_num(times["noise"], nan=np.inf) > 4 * times["signal"])  # ... noise takes far longer
    with pytest.raises(ValueError, match="fraction must be in"):
        fits.times(1.5)
