"""Theorem 2.1 (docs/theory.md §5) as a calculator and as an oracle on runs where (5) holds."""

import math

import numpy as np
import pytest

from wideDIP import Config, simulate
from wideDIP._analysis.theory import activation_constants, lemma2_probability, width_bound
from wideDIP._config import descent_of

# Wide network, tiny problem: hypothesis (5) holds for most seeds (found by a search; tanh, D = 1).
CERTIFIABLE = Config(
    m=1,
    n=2,
    d=5,
    k=2000,
    seeds=12,
    activation="tanh",
    v_law="rademacher",
    method="flow",
    track_ntk=True,
    rtol=1e-10,
    atol=1e-12,
    threshold=1e-12,
    dtype="float64",
)


@pytest.mark.parametrize(
    "name, c_phi, c_derivative",
    [("sigmoid", 0.5416, 0.2117), ("tanh", 0.6279, 0.6815), ("softplus", 0.9598, 0.5416), ("identity", 1.0, 1.0)],
)
def test_activation_constants_by_gauss_hermite(name, c_phi, c_derivative):
    """docs/theory.md §2's printed values (4 digits); identity: E X² = 1 exactly."""
    assert activation_constants(name) == pytest.approx((c_phi, c_derivative), abs=6e-5)


def test_relu_constants_have_their_closed_form():
    """E relu(X)² = 1/2 and E 1{X > 0} = 1/2 (an even number of symmetric nodes avoids the kink)."""
    assert activation_constants("relu") == pytest.approx((math.sqrt(0.5), math.sqrt(0.5)), rel=1e-12)


@pytest.fixture(scope="module")
def certified_run():
    return simulate(CERTIFIABLE, progress=False)


def test_certified_seeds_do_what_the_theorem_says(certified_run):
    result, theory = certified_run, certified_run.theory
    certified = result.certified
    assert certified.sum() >= 6
    assert np.all(result.converged[certified])
    residual = np.sqrt(2 * result.loss)  # ‖y(t) − y‖
    envelope = theory.envelope(result.times)
    recorded = ~np.isnan(residual)
    slack = 1e-6 * residual[:, :1]  # solver tolerance
    assert np.all((residual <= envelope + slack)[certified[:, None] & recorded])
    assert np.all((result.weight_distance <= theory.travel_bound[:, None])[certified[:, None] & recorded])
    assert np.all(theory.travel_bound[certified] < theory.radius[certified])  # R' < R
    min_lambda_k = result.ntk["min_lambda_K"]
    assert np.all((min_lambda_k >= theory.min_lambda_K[:, None] / 4)[certified[:, None] & recorded])  # σ_min ≥ σ_0/2


def test_lemma3_bound_is_never_below_the_empirical_lipschitz_ratio(certified_run):
    ratio = certified_run.ntk["jacobian_lipschitz_ratio"]
    bound = certified_run.theory.lipschitz_bound[:, None]
    assert np.nanmax(ratio) > 0
    assert np.all((ratio <= bound)[~np.isnan(ratio)])
    wide_descent = simulate(Config(m=10, n=100, d=5, k=500, seeds=5, steps=3000, track_ntk=True), progress=False)
    ratio = wide_descent.ntk["jacobian_lipschitz_ratio"]
    assert np.all((ratio <= wide_descent.theory.lipschitz_bound[:, None])[~np.isnan(ratio)])


def test_certificates_are_consistent(certified_run):
    theory = certified_run.theory
    np.testing.assert_array_equal(certified_run.min_lambda_K, theory.min_lambda_K)
    assert np.all(theory.rate_bound > 0) and np.all(theory.lemma2_probability <= 1)
    assert np.all(np.isinf(theory.early_stopping_time))  # noise-free: T does not exist
    assert set(certified_run.early_stopping_reason) == {"no noise: ||epsilon|| = 0"}
    lemma3 = math.sqrt(2 / 2000)  # B = 1 (tanh), D = 1 (Rademacher), √(n/k)
    np.testing.assert_allclose(theory.lipschitz_bound, lemma3, rtol=1e-12)
    np.testing.assert_allclose(theory.initial_error, np.sqrt(2 * certified_run.initial_loss), rtol=1e-10)


def test_k_below_n_has_singular_k_and_positive_h():
    """docs/theory.md §3: λ_min(K) = 0 when k < n, yet H = A K Aᵀ (m×m) is positive definite for k ≥ m."""
    result = simulate(
        Config(m=10, n=200, d=5, k=100, seeds=8, method="flow", t_max=300.0, track_ntk=True), progress=False
    )
    assert np.all(result.min_lambda_K == 0) and np.all(result.ntk["min_lambda_K"][~np.isnan(result.loss)] == 0)
    assert result.converged.sum() >= 4
    assert np.all(result.min_lambda_H > 0)
    assert np.all(np.nanmin(result.ntk["min_lambda_H"][result.converged], axis=1) > 0)
    assert not result.certified.any()  # (5) needs σ_0 > 0


def test_noise_gives_an_early_stopping_time():
    result = simulate(descent_of(CERTIFIABLE, noise=0.1, m=3, n=2, steps=2, seeds=3), progress=False)
    time = result.theory.early_stopping_time
    expected = (
        4
        * np.log(result.theory.initial_error / result.theory.noise_norm)
        / (result.theory.sigma_A**2 * result.theory.min_lambda_K)
    )
    np.testing.assert_allclose(time, expected)
    assert np.all(result.theory.noise_norm > 0)


def test_width_bound_is_quadratic_in_n_and_lemma2():
    exponent = math.log2(width_bound(20000, 10) / width_bound(10000, 10))
    assert 1.8 < exponent < 2.2  # k ∝ n² once n ≫ m, up to the log factor in D²
    assert width_bound(1000, 10, operator_scale="sqrt_n") == pytest.approx(width_bound(1000, 10), rel=1e-9)
    assert width_bound(100, 10, "relu") == math.inf
    assert lemma2_probability(10, 10**7, "sigmoid", 1.0) > 0.99
    assert lemma2_probability(10, 10, "sigmoid", 1.0) < 0
