"""The alignment of x̄ with the top eigenvectors of K(θ(0)) (docs/theory.md §12): against NumPy,
the Gaussian's expectation r/n, and an image with the convolutional decoder's kernel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, draw_problem, seed_keys
from wideDIP._analysis.alignment import alignment
from wideDIP._networks.kernel_spectra import kernel_spectrum
from wideDIP._resolve import builtin_network


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def orthonormal_columns(rng, n, r):
    return np.linalg.qr(rng.normal(size=(n, r)))[0]


def test_fractions_and_energies_equal_numpy():
    """With `A` keeping the pixels `observed` (rows of the identity), `P_ker x̄` is `x̄` with those
    pixels set to 0; the Gaussian vector is `jax.random.normal(key)`."""
    rng = np.random.default_rng(0)
    n, r = 40, 6
    vectors, signal = orthonormal_columns(rng, n, r), rng.normal(size=n)
    observed = rng.choice(n, size=15, replace=False)
    key = jax.random.PRNGKey(3)
    measured = {name: np.asarray(value) for name, value in alignment(vectors, signal, np.eye(n)[observed], key).items()}
    kernel_part = signal.copy()
    kernel_part[observed] = 0
    noise = np.asarray(jax.random.normal(key, (n,), jnp.float64))
    for name, vector in (("signal", signal), ("kernel", kernel_part), ("noise", noise)):
        expected = np.sum((vectors.T @ vector) ** 2) / np.sum(vector**2)
        np.testing.assert_allclose(measured[f"{name}_alignment"], expected, rtol=1e-12)
    np.testing.assert_allclose(measured["signal_energy"], (vectors.T @ signal) ** 2 / np.sum(signal**2), rtol=1e-12)
    np.testing.assert_allclose(measured["noise_energy"], (vectors.T @ noise) ** 2 / np.sum(noise**2), rtol=1e-12)
    # all of x̄ in span(U) when x̄ is a column; none of it in ker A = {0} (denoising)
    whole = alignment(vectors, 2 * vectors[:, 1], np.eye(n), key)
    assert float(whole["signal_alignment"]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(whole["signal_energy"], np.eye(r)[1], atol=1e-12)
    assert np.isnan(whole["kernel_alignment"])


def test_noise_alignment_has_expectation_r_over_n():
    """A Gaussian direction is uniform on the sphere: `E ‖Uᵀ g‖²/‖g‖² = r/n`. Monte Carlo over 4000
    keys, within 5 standard errors (estimated from the draws), which are below 2 % of r/n."""
    rng = np.random.default_rng(1)
    n, r, draws = 64, 8, 4000
    vectors, signal = orthonormal_columns(rng, n, r), rng.normal(size=n)
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(5), i))(jnp.arange(draws))
    fractions = np.asarray(
        jax.vmap(lambda key: alignment(vectors, signal, np.eye(n)[:10], key)["noise_alignment"])(keys)
    )
    error = fractions.std() / np.sqrt(draws)
    assert abs(fractions.mean() - r / n) < 5 * error
    assert error < 0.02 * r / n  # the test has power


def test_an_image_aligns_with_the_decoders_top_eigenvectors_more_than_noise():
    """Heckel and Soltanolkotabi: the convolutional decoder's leading kernel eigenvectors are smooth,
    so a natural image (a 16 × 16 `camera`, in [−1, 1]) has most of its energy in the top 16 of 256
    (measured: about 0.8, its missing pixels' part about 0.45), Gaussian noise about r/n = 1/16."""
    image = dict(signal="image", image="camera", side=16, signal_range="symmetric", operator="inpainting", m=128)
    config = Config(**image, network="conv_decoder", k=8, decoder_layers=2, seeds=2, dtype="float64")
    network, rank = builtin_network(config), 16

    def one(key):
        problem = draw_problem(config, key)
        seed_network, parameters = network.for_seed(problem, key)
        spectrum = kernel_spectrum(seed_network, parameters, problem.input, key, rank=rank, steps=120)
        measured = alignment(spectrum.vectors, problem.signal, problem.operator, jax.random.fold_in(key, 1))
        return measured, spectrum.residuals / spectrum.values

    measured, relative_residuals = jax.vmap(one)(seed_keys(config))
    assert np.all(np.asarray(relative_residuals) < 1e-6)  # the top pairs converged
    signal, kernel, noise = (np.asarray(measured[f"{name}_alignment"]) for name in ("signal", "kernel", "noise"))
    assert np.all(signal > 0.6) and np.all(kernel > 0.3)
    assert np.all(noise < 3 * rank / config.n)
    assert np.all(signal > 4 * noise) and np.all(kernel > 2.5 * noise)


def test_an_alignment_rank_beyond_n_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"Config.alignment_rank must be at most n = 100 .* got 101"):
        Config(alignment_rank=101)
    with pytest.raises(ValueError, match=r"Config.alignment_rank must be an integer >= 0"):
        Config(alignment_rank=-1)


def test_an_alignment_rank_beyond_the_kernels_rank_is_flagged():
    """The two-layer network with `k < n` has `rank K = k`: its top `r > k` span is partly arbitrary."""
    config = Config(m=8, n=48, d=6, k=16, seeds=2, steps=3, alignment_rank=24, dtype="float64")
    result = wideDIP.simulate(config, progress=False)
    eigenvalues = result.alignment["eigenvalues"]
    assert np.all(eigenvalues[:, config.k :] < 1e-10 * eigenvalues[:, :1])  # rank k: the rest is 0
    assert f"K(theta(0)) has rank < 24 for {config.seeds} seeds" in result.summary()
    within = Config(m=8, n=48, d=6, k=16, seeds=2, steps=3, alignment_rank=8, dtype="float64")
    assert "has rank <" not in wideDIP.simulate(within, progress=False).summary()
