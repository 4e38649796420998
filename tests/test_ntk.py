"""Neural tangent kernels (docs/theory.md §3): closed forms against jacfwd/jacrev, and E K(W(0))."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wideDIP import Config, draw_problem, initial_weights, network
from wideDIP._analysis.theory import activation_constants
from wideDIP._networks.kernels import KernelProbe, jacobian, ntk


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


def draw(shape, name="sigmoid", seed=0):
    config = Config(**shape, activation=name, dtype="float64")
    key = jax.random.PRNGKey(seed)
    problem = draw_problem(config, key)
    return config, problem, initial_weights(config, key, problem)


@pytest.mark.parametrize("shape", [dict(m=3, n=6, d=4, k=9), dict(m=4, n=8, d=3, k=5), dict(m=5, n=5, d=2, k=5)])
@pytest.mark.parametrize("space", ["signal", "observation"])
def test_closed_form_equals_jacfwd_and_jacrev(shape, space):
    config, problem, weights = draw(shape, "tanh")
    closed = ntk(problem, weights, "tanh", space=space, implementation="closed_form")
    via_jacobian = ntk(problem, weights, "tanh", space=space, implementation="jacobian")
    np.testing.assert_allclose(closed, via_jacobian, rtol=1e-12, atol=1e-14)
    assert ntk(problem, weights, "tanh", space=space) is not None  # "auto"
    function = lambda w: network(w, problem.input, problem.layer, "tanh")  # noqa: E731
    forward, reverse = jacobian(function, weights, "forward"), jacobian(function, weights, "reverse")
    assert forward.shape == (config.n, config.k * config.d)
    np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-15)
    if space == "signal" and config.k < config.n:
        eigenvalues = np.linalg.eigvalsh(np.asarray(closed))
        assert abs(eigenvalues[0]) < 1e-12 * eigenvalues[-1]  # rank ≤ k < n


def test_bad_implementation_names():
    _, problem, weights = draw(dict(m=2, n=3, d=2, k=4))
    with pytest.raises(ValueError, match="implementation must be one of"):
        ntk(problem, weights, "sigmoid", implementation="fast")
    with pytest.raises(ValueError, match="space must be one of"):
        ntk(problem, weights, "sigmoid", space="weights")
    with pytest.raises(ValueError, match="mode must be one of"):
        jacobian(jnp.sin, jnp.ones(3), "sideways")


def test_expected_signal_ntk_at_initialisation_is_c_squared_identity():
    """E K(W(0)) = C_φ'² I_n (§3). Monte Carlo over 400 draws; every entry within 5 standard
    errors (estimated from the draws) of C_φ'² I."""
    config = Config(m=2, n=4, d=3, k=30, seeds=400, dtype="float64")
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(7), i))(jnp.arange(config.seeds))
    kernels = jax.vmap(
        lambda key: ntk(draw_problem(config, key), initial_weights(config, key, draw_problem(config, key)), "sigmoid")
    )(keys)
    kernels = np.asarray(kernels)
    mean, error = kernels.mean(axis=0), kernels.std(axis=0) / np.sqrt(config.seeds)
    _, c_derivative = activation_constants("sigmoid")
    assert np.all(np.abs(mean - c_derivative**2 * np.eye(config.n)) < 5 * error)
    assert np.all(error < 0.1 * c_derivative**2)  # the test has power


def test_probe_matches_direct_eigenvalues_and_jacobian_differences():
    config, problem, weights = draw(dict(m=3, n=7, d=4, k=5), "softplus")
    moved = weights + 0.3 * jax.random.normal(jax.random.PRNGKey(1), weights.shape)
    moved = weights + jnp.outer((moved - weights) @ problem.input, problem.input)  # stay in W(0) + a uᵀ (§4)
    mixing = problem.operator @ problem.layer / np.sqrt(config.k)
    probe = KernelProbe(problem.layer, mixing, "softplus")
    stats = probe.extremes(moved @ problem.input, weights @ problem.input)
    h = np.linalg.eigvalsh(np.asarray(ntk(problem, moved, "softplus", space="observation", implementation="jacobian")))
    assert float(stats["min_lambda_K"]) == 0.0  # k = 5 < n = 7
    np.testing.assert_allclose(stats["min_lambda_H"], h[0], rtol=1e-10)
    np.testing.assert_allclose(stats["max_lambda_H"], h[-1], rtol=1e-10)
    function = lambda w: network(w, problem.input, problem.layer, "softplus")  # noqa: E731
    change = np.linalg.norm(np.asarray(jacobian(function, moved) - jacobian(function, weights)), 2)
    np.testing.assert_allclose(stats["jacobian_lipschitz_ratio"], change / np.linalg.norm(moved - weights), rtol=1e-10)


def test_spread_states_keep_bounded_evenly_spread_checkpoints():
    """`SpreadStates`: at most 2 × count + 3 states held whatever the run's length, and `count`
    checkpoints chosen up to the last stop, evenly spread, the first and the last included."""
    from wideDIP._integrate.integrate import SpreadStates

    spread = SpreadStates(5)
    for index in range(1000):
        spread.add(index, f"state {index}")
        assert len({**spread.kept, **spread.latest}) <= 2 * 5 + 3
    chosen, states = spread.chosen(998)
    assert chosen.size == 5 and chosen[0] == 0 and chosen[-1] == 998
    assert states == [f"state {index}" for index in chosen]
    gaps = np.diff(chosen)
    assert gaps.max() <= 2 * gaps.min()


def test_a_descent_that_stops_early_gets_every_kernel_checkpoint():
    """`ntk_checkpoints` are spread over the steps the run takes, not over the whole budget: a run
    that stops at step ~80 of 400 has its kernels at all 20, the last at its last recorded checkpoint."""
    from wideDIP import simulate

    config = Config(
        m=3,
        n=6,
        d=4,
        k=5,
        seeds=3,
        steps=400,
        step_size=0.5,
        operator_scale="sqrt_n",
        threshold=0.1,
        dtype="float64",
        track_ntk=True,
        ntk_implementation="jacobian",
        ntk_checkpoints=20,
    )
    result = simulate(config, progress=False)
    longest = int(np.argmax(result.stop_step))
    assert result.converged.all() and result.stop_step[longest] < config.steps / 4
    tracked = np.isfinite(result.ntk["max_lambda_H"][longest])
    recorded = np.flatnonzero(~np.isnan(result.loss[longest]))
    assert tracked.sum() == config.ntk_checkpoints
    assert tracked[0] and tracked[recorded[-1]] and not tracked[recorded[-1] + 1 :].any()
