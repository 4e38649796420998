"""The convolutional decoders (docs/theory.md §12): a fixed random tensor upsampled and convolved in
NTK parametrisation, trained by the generic path like any network."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.test_networks import _finite_difference_jacobian
from wideDIP import Config, draw_problem, network_jacobian, seed_keys, simulate
from wideDIP._networks.conv_decoder import ConvDecoder
from wideDIP._networks.decoder import upsampled
from wideDIP._resolve import builtin_network

# Small shapes (2 layers, k ≤ 16, side 16): little to compile.
IMAGE = Config(network="conv_decoder", side=16, k=4, decoder_layers=2, seeds=2, dtype="float64")
SIGNAL = Config(network="conv_decoder_1d", n=32, k=4, decoder_layers=2, upsampling="nearest", seeds=2, dtype="float64")


@pytest.mark.parametrize("config", [IMAGE, SIGNAL], ids=["2-D bilinear", "1-D nearest"])
def test_jacobian_equals_central_finite_differences(config):
    network = builtin_network(config)
    window = config.kernel_size ** (2 if config.side else 1)
    assert network.description.startswith(f"conv decoder {2 if config.side else 1}-D 4 ch × 2 layers")
    with jax.enable_x64(True):
        for key in seed_keys(config):
            problem = draw_problem(config, key)
            seed_network, parameters = network.for_seed(problem, key)
            j = np.asarray(eqx.filter_jit(network_jacobian)(seed_network, parameters, problem.input))
            # θ: two k × k × window convolutions and the last 1×1 convolution k → 1
            assert j.shape == (config.n, 2 * config.k**2 * window + config.k)
            expected = np.asarray(_finite_difference_jacobian(seed_network, parameters, problem.input))
            np.testing.assert_allclose(j, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
            assert np.abs(j).max() > 0.1


@pytest.mark.parametrize("k", [8, 64])
def test_output_variance_at_initialisation_is_one_whatever_the_width(k):
    """NTK parametrisation: with φ the identity and nearest upsampling, every convolution keeps the
    variance of the samples whose window lies inside the map, so `E g(x)² = E x_0² = 1` at the
    central 8 × 8 pixels (away from the zero padding at both layers) for every `k`; a width-dependent
    scaling would give `k · kernel_size²` or `1/k` instead. Monte Carlo over 512 seeds: the
    mean's standard error is about 4 % at k = 8, the tolerance 12 %."""
    config = Config(
        network="conv_decoder", side=16, k=k, decoder_layers=2, activation="identity", upsampling="nearest", seeds=512
    )
    network = builtin_network(config)

    def output(key):
        problem = draw_problem(config, key)
        seed_network, parameters = network.for_seed(problem, key)
        return seed_network.apply(parameters, problem.input).reshape(16, 16)

    outputs = np.asarray(jax.jit(jax.vmap(output))(seed_keys(config)), np.float64)
    assert np.mean(outputs[:, 4:12, 4:12] ** 2) == pytest.approx(1.0, rel=0.12)
    assert np.mean(outputs[:, 0, 0] ** 2) < 0.5  # the corners see the zero padding


def test_nearest_upsampling_repeats_and_bilinear_reproduces_a_ramp():
    rows, columns = np.meshgrid(np.arange(4.0), np.arange(5.0), indexing="ij")
    ramp = np.stack([0.5 + 2 * rows - 3 * columns, -rows + columns])  # 2 channels of a 4 × 5 image
    nearest = np.asarray(upsampled(jnp.asarray(ramp), "nearest"))
    np.testing.assert_array_equal(nearest, ramp.repeat(2, axis=1).repeat(2, axis=2))
    # bilinear, samples at their centres: output sample p sits at input coordinate (p + 1/2)/2 − 1/2
    coarse = lambda p: (p + 0.5) / 2 - 0.5  # noqa: E731
    fine_rows, fine_columns = np.meshgrid(coarse(np.arange(8.0)), coarse(np.arange(10.0)), indexing="ij")
    expected = np.stack([0.5 + 2 * fine_rows - 3 * fine_columns, -fine_rows + fine_columns])
    bilinear = np.asarray(upsampled(jnp.asarray(ramp), "bilinear"))
    assert bilinear.shape == (2, 8, 10)
    np.testing.assert_allclose(bilinear[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], rtol=1e-12, atol=1e-12)
    line = np.asarray(upsampled(jnp.asarray([np.arange(6.0)]), "bilinear"))[0]  # 1-D: linear interpolation
    np.testing.assert_allclose(line[1:-1], coarse(np.arange(1.0, 11.0)), atol=1e-12)
    assert line[0] == 0 and line[-1] == 5  # the edges are clamped, not extrapolated


@pytest.mark.parametrize(
    "config",
    [
        IMAGE.replace(
            k=8,
            operator="inpainting",
            m=128,
            noise=0.1,
            steps=30,
            step_size=0.02,
            track_ntk=True,
            ntk_checkpoints=2,
            dtype="float32",
        ),
        SIGNAL.replace(k=8, operator="inpainting", m=16, steps=30, step_size=0.02, dtype="float32"),
    ],
    ids=["2-D noisy, kernels tracked", "1-D"],
)
def test_descent_lowers_every_seeds_loss_from_its_own_initial_output(config):
    """The engine trains each seed's decoder from that seed's `x_0` and `θ(0)` (`for_seed`,
    vmapped): its first loss is `½‖A g(θ(0)) − y‖²` computed here seed by seed; descent lowers it on
    every seed; no bound on `Lip(J)` is known, so no certificate (5) is evaluated."""
    result = simulate(config, progress=False)
    assert result.parametrization == "full" and result.network["name"] == config.network
    network = builtin_network(config)
    for s, key in enumerate(seed_keys(config)):
        problem = draw_problem(config, key)
        seed_network, parameters = network.for_seed(problem, key)
        residual = problem.operator @ seed_network.apply(parameters, problem.input) - problem.observation
        assert result.loss[s, 0] == pytest.approx(0.5 * float(residual @ residual), rel=1e-5)
    assert np.all(result.final_loss < result.loss[:, 0])
    if config.track_ntk:
        assert result.network["ntk_implementation"] == "jacobian"
        assert result.theory.certified is None and result.theory.certified_observation is None
        assert np.all(np.isnan(result.theory.lipschitz_bound))
        summary = result.summary()
        assert "no certificate" in summary and "conv decoder 2-D 8 ch × 2 layers, bilinear, 3×3, sigmoid" in summary
        assert "unused by this network: d, v_law" in summary  # the decoder reads neither u nor V


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(network="conv_decoder"), r"Config\.side must be set for network='conv_decoder'"),
        (dict(network="conv_decoder", side=20), r"Config\.side must be divisible by 2\^decoder_layers = 8 .*side=20"),
        (
            dict(network="conv_decoder", side=16, kernel_size=5),
            r"Config\.kernel_size must be <= 4 for network='conv_decoder'.*got kernel_size=5",
        ),
        (
            dict(network="conv_decoder_1d", side=16),
            r"Config\.side must be left unset \(None\) for network='conv_decoder_1d'",
        ),
        (dict(network="conv_decoder_1d", n=100), r"Config\.n must be divisible by 2\^decoder_layers = 8 .*n=100"),
        (
            dict(network="conv_decoder_1d", n=32, kernel_size=9),
            r"Config\.kernel_size must be <= 8 for network='conv_decoder_1d'",
        ),
        (
            dict(network="conv_decoder", side=16, d=20),
            r"Config\.d applies to network=.two_layer. or .* only: .*network=.conv_decoder. do not read it",
        ),
        (
            dict(network="conv_decoder_1d", n=64, v_law="rademacher"),
            r"Config\.v_law applies to the two-layer networks' layer V only: network='conv_decoder_1d'",
        ),
        (dict(network="conv_decoder", side=16, hidden=(4,)), r"Config\.hidden applies to network='mlp' only"),
        (
            dict(network="conv_decoder", side=16, parametrization="reduced"),
            r"Config\.parametrization='reduced' needs .*'conv_decoder' has none",
        ),
        (
            dict(network="conv_decoder_1d", n=64, ntk_implementation="closed_form"),
            r"Config\.ntk_implementation='closed_form' needs .*'conv_decoder_1d' has none",
        ),
        (dict(network="conv_decoder", side=16, upsampling="bicubic"), r"Config\.upsampling must be one of"),
        (
            dict(kernel_size=5),
            r"Config\.kernel_size applies to network='conv_decoder' or network='conv_decoder_1d' only",
        ),
    ],
)
def test_bad_decoder_settings_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)


def test_a_decoder_without_its_seeds_input_tensor_is_refused():
    decoder = ConvDecoder((16, 16), 4, "sigmoid", 2, "nearest", 3)
    parameters = decoder.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"ConvDecoder\.apply needs the fixed input tensor x_0 of a seed: use"):
        decoder.apply(parameters, jnp.zeros(3))
