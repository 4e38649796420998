"""Kernel spectra at scale (docs/theory.md §12): Lanczos on `v ↦ J(Jᵀ v)` against the dense route
(`jacobian_ntk` and `eigh`), for the two-layer network and the convolutional decoders."""

import functools

import equinox as eqx
import jax
import jax.extend
import numpy as np
import pytest

from wideDIP import Config, FunctionNetwork, draw_problem, jacobian_ntk, network_jacobian, seed_keys
from wideDIP._networks.kernel_spectra import kernel_product, kernel_spectrum
from wideDIP._resolve import builtin_network

CASES = {
    "two_layer": (Config(m=48, n=128, d=4, k=256, dtype="float64"), 100),
    "two_layer m > n": (Config(m=96, n=64, d=4, k=128, dtype="float64"), 64),
    "two_layer p < n": (Config(m=48, n=64, d=4, k=8, dtype="float64"), 64),
    # the decoders' K is ill-conditioned (κ ≈ 1e7 here, 1e15 with 2 bilinear layers): the whole Krylov space
    "conv_decoder": (
        Config(network="conv_decoder", side=16, k=8, decoder_layers=1, upsampling="nearest", m=40, dtype="float64"),
        256,
    ),
    "conv_decoder_1d": (
        Config(network="conv_decoder_1d", n=64, k=16, decoder_layers=2, upsampling="nearest", m=20, dtype="float64"),
        64,
    ),
}
RANK = 6


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def seed_network(config):
    key = seed_keys(config)[0]
    problem = draw_problem(config, key)
    network, parameters = builtin_network(config).for_seed(problem, key)
    return problem, network, parameters


@functools.cache
def spectra(case, space):
    """Lanczos's spectrum and the dense route's eigenvalues and eigenvectors (ascending) of one case."""
    config, steps = CASES[case]
    with jax.enable_x64(True):
        problem, network, parameters = seed_network(config)
        operator = None if space == "K" else problem.operator
        spectrum = kernel_spectrum(
            network, parameters, problem.input, jax.random.PRNGKey(1), operator, rank=RANK, steps=steps
        )
        dense = np.linalg.eigh(np.asarray(eqx.filter_jit(jacobian_ntk)(network, parameters, problem.input, operator)))
    count = sum(leaf.size for leaf in jax.tree.leaves(parameters))
    return config, count, jax.tree.map(np.asarray, spectrum), dense


@pytest.mark.parametrize("space", ["K", "H"])
@pytest.mark.parametrize("case", CASES)
def test_extremes_and_top_values_equal_dense_eigh(case, space):
    config, count, spectrum, (dense, _) = spectra(case, space)
    dimension = config.n if space == "K" else min(config.m, config.n)
    # kernel_statistics's smallest: on Im(A) for H, the (m − n + 1)-th smallest when m > n
    smallest = dense[max(0, dense.size - config.n)]
    np.testing.assert_allclose(spectrum.largest, dense[-1], rtol=1e-6)
    np.testing.assert_allclose(spectrum.values, dense[::-1][:RANK], rtol=1e-6)
    if count < dimension:  # 0 by rank; the dense route's at rounding level
        assert spectrum.smallest == 0.0 and abs(smallest) < 1e-12 * dense[-1]
    else:
        assert smallest > 1e-8 * dense[-1]  # well above rounding, so that 1e-6 relative means something
        np.testing.assert_allclose(spectrum.smallest, smallest, rtol=1e-6)
    assert spectrum.converged(rtol=1e-8)  # and the residuals say so


@pytest.mark.parametrize("case", ["two_layer", "conv_decoder"])
def test_top_eigenvectors_span_the_dense_ones(case):
    config, _, spectrum, (dense, eigenvectors) = spectra(case, "K")
    assert dense[-RANK] - dense[-RANK - 1] > 1e-3 * dense[-1]  # a gap: the top-RANK space is well defined
    top = eigenvectors[:, -RANK:]
    np.testing.assert_allclose(spectrum.vectors.T @ spectrum.vectors, np.eye(RANK), atol=1e-12)
    projector_difference = spectrum.vectors @ spectrum.vectors.T - top @ top.T
    assert np.linalg.norm(projector_difference, 2) < 1e-6


def test_observation_eigenvectors_when_m_exceeds_n_are_mapped_back_to_r_m():
    """`H` is solved on Im(A) (dimension n) when `m > n`: its eigenvectors come back as `m`-vectors."""
    config, _, spectrum, (dense, eigenvectors) = spectra("two_layer m > n", "H")
    assert spectrum.vectors.shape == (config.m, RANK)
    assert dense[-RANK] - dense[-RANK - 1] > 1e-3 * dense[-1]
    top = eigenvectors[:, -RANK:]
    assert np.linalg.norm(spectrum.vectors @ spectrum.vectors.T - top @ top.T, 2) < 1e-6


def test_a_short_run_is_flagged_and_its_residuals_bound_the_errors():
    """Eight steps do not converge at the bottom: `converged` says so, and each value is within its
    residual of an eigenvalue of the dense route (for a symmetric kernel and a unit Ritz vector)."""
    config, _ = CASES["two_layer"]
    problem, network, parameters = seed_network(config)
    spectrum = kernel_spectrum(network, parameters, problem.input, jax.random.PRNGKey(1), rank=2, steps=8)
    dense = np.linalg.eigvalsh(np.asarray(jacobian_ntk(network, parameters, problem.input)))
    assert not spectrum.converged(rtol=1e-6)
    assert abs(spectrum.smallest - dense[0]) > 1e-3 * dense[0]
    values = np.concatenate([[spectrum.largest, spectrum.smallest], spectrum.values])
    residuals = np.concatenate([[spectrum.largest_residual, spectrum.smallest_residual], spectrum.residuals])
    distances = np.abs(values[:, None] - dense[None, :]).min(axis=1)
    assert np.all(distances <= residuals * (1 + 1e-8) + 1e-14 * dense[-1])


def _largest_array(jaxpr) -> int:
    """The most elements of any value a (closed) jaxpr or its sub-jaxprs produce."""
    sizes = [0]
    for equation in jaxpr.eqns:
        sizes += [int(np.prod(v.aval.shape)) for v in equation.outvars]
        for sub in jax.extend.core.jaxprs_in_params(equation.params):
            sizes.append(_largest_array(sub))
    return max(sizes)


def test_the_product_is_one_jvp_and_one_vjp_and_forms_no_jacobian():
    """The product equals `J(Jᵀ v)` and `A J Jᵀ Aᵀ v` of the dense Jacobian; the network runs once
    (linearised when the product is made), not at each product; no value of `n × p` entries appears
    (the dense route's does); and the product holds none of the network's nonlinearity (sigmoid)."""
    config, _ = CASES["two_layer"]
    problem, network, parameters = seed_network(config)
    calls = []

    def counted(theta, u):
        calls.append(1)
        return network.apply(theta, u)

    counting = FunctionNetwork(lambda key: parameters, counted)
    k_product = kernel_product(counting, parameters, problem.input)
    h_product = kernel_product(counting, parameters, problem.input, problem.operator)
    assert len(calls) == 2
    j = np.asarray(network_jacobian(network, parameters, problem.input))
    a = np.asarray(problem.operator)
    v, w = np.random.default_rng(0).normal(size=(2, config.n))
    np.testing.assert_allclose(k_product(v), j @ (j.T @ v), rtol=1e-12)
    np.testing.assert_allclose(h_product(w[: config.m]), a @ j @ (j.T @ (a.T @ w[: config.m])), rtol=1e-12)
    assert len(calls) == 2

    n, p = j.shape
    jaxpr = jax.make_jaxpr(k_product)(v).jaxpr
    assert _largest_array(jaxpr) < n * p
    dense = jax.make_jaxpr(lambda theta: jacobian_ntk(network, theta, problem.input))(parameters).jaxpr
    assert _largest_array(dense) >= n * p  # the check sees a Jacobian where there is one
    primitives = {equation.primitive.name for equation in jaxpr.eqns}
    assert "logistic" not in primitives and "dot_general" in primitives


def test_vmapped_over_seeds_equals_one_seed_at_a_time():
    config = Config(m=12, n=24, d=3, k=40, seeds=2, dtype="float64")
    network = builtin_network(config)

    def one(key):
        problem = draw_problem(config, key)
        seed_network_, parameters = network.for_seed(problem, key)
        return kernel_spectrum(seed_network_, parameters, problem.input, key, problem.operator, rank=2, steps=12)

    keys = seed_keys(config)
    batched = jax.vmap(one)(keys)
    for s, key in enumerate(keys):
        single = one(key)
        for name in ("largest", "smallest", "values"):
            np.testing.assert_allclose(getattr(batched, name)[s], getattr(single, name), rtol=1e-12)
    assert not np.allclose(batched.largest[0], batched.largest[1])  # two seeds, two kernels


def test_bad_arguments_are_one_line_errors():
    problem, network, parameters = seed_network(CASES["two_layer p < n"][0])
    key = jax.random.PRNGKey(0)
    with pytest.raises(ValueError, match=r"^rank must be from 0 to the kernel's dimension 64, got 65$"):
        kernel_spectrum(network, parameters, problem.input, key, rank=65)
    with pytest.raises(ValueError, match=r"^rank must be from 0 to the kernel's dimension 48, got 49$"):
        kernel_spectrum(network, parameters, problem.input, key, problem.operator, rank=49)
    with pytest.raises(ValueError, match=r"^steps must be an integer >= 1 \(Lanczos steps\), got 0$"):
        kernel_spectrum(network, parameters, problem.input, key, steps=0)
    with pytest.raises(ValueError, match=r"^steps must be >= rank = 5 .*, got 4$"):
        kernel_spectrum(network, parameters, problem.input, key, rank=5, steps=4)
