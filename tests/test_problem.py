"""Random draws (docs/theory.md §1, §2 A-1..A-3, §6)."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wideDIP import Config, draw_problem, initial_weights, seed_keys
from wideDIP._config import allowed_values
from wideDIP._experiments.simulate import precision
from wideDIP._signals.base import Signal
from wideDIP._signals.registry import SIGNALS


def draws(config):
    with precision(config):
        keys = seed_keys(config)
        problems = jax.vmap(lambda key: draw_problem(config, key))(keys)
        weights = jax.vmap(lambda key, p: initial_weights(config, key, p))(keys, problems)
        return jax.tree.map(np.asarray, problems), np.asarray(weights)


def test_same_key_same_bits_and_seed_prefix():
    config = Config(m=4, n=6, d=5, k=7, seeds=7)
    (first, w_first), (again, w_again) = draws(config), draws(config)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(w_first, w_again)
    prefix, w_prefix = draws(config.replace(seeds=3))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(prefix)):
        np.testing.assert_array_equal(a[:3], b)
    np.testing.assert_array_equal(w_first[:3], w_prefix)
    other, _ = draws(config.replace(seed=1))
    assert not np.array_equal(other.operator, first.operator)


def test_everything_but_the_input_is_independent_of_d():
    small, _ = draws(Config(m=3, n=5, d=2, k=4, seeds=3, dtype="float64"))
    large, _ = draws(Config(m=3, n=5, d=300, k=4, seeds=3, dtype="float64"))
    for name in ("operator", "signal", "observation", "layer", "features"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name))


def test_initial_weights_follow_a2_and_map_u_to_the_features():
    """W(0) u = z(0) exactly, and W(0) has iid N(0,1) entries: Monte Carlo over 12000 rows,
    the mean within 5 standard errors of 0 and the row covariance within 0.06 of I_d
    (standard error of each entry ≈ 0.013)."""
    config = Config(m=2, n=3, d=20, k=60, seeds=200, dtype="float64")
    problems, weights = draws(config)
    np.testing.assert_allclose(np.einsum("skd,sd->sk", weights, problems.input), problems.features, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(problems.input, axis=1), 1.0, rtol=1e-12)
    rows = weights.reshape(-1, config.d)
    assert np.abs(rows.mean(axis=0)).max() < 5 / np.sqrt(rows.shape[0])
    np.testing.assert_allclose(rows.T @ rows / rows.shape[0], np.eye(config.d), atol=0.06)


@pytest.mark.parametrize(
    "scale, variance", [("none", lambda m, n: 1.0), ("sqrt_n", lambda m, n: 1 / n), ("sqrt_m", lambda m, n: 1 / m)]
)
def test_operator_scale_sets_the_variance_of_a(scale, variance):
    config = Config(m=8, n=40, d=3, k=2, seeds=100, operator_scale=scale, dtype="float64")
    problems, _ = draws(config)
    assert abs(problems.operator.var() / variance(config.m, config.n) - 1) < 0.05  # 32000 entries: s.e. ≈ 0.8 %


@pytest.mark.parametrize("law", ["gaussian", "rademacher", "uniform"])
def test_v_laws_have_zero_mean_unit_variance(law):
    problems, _ = draws(Config(m=2, n=50, d=3, k=40, seeds=20, v_law=law, dtype="float64"))
    layer = problems.layer.ravel()  # 40000 entries
    assert abs(layer.mean()) < 5 / np.sqrt(layer.size)
    assert abs(layer.var() - 1) < 0.03
    if law == "rademacher":
        assert set(np.unique(layer)) == {-1.0, 1.0}
    if law == "uniform":
        assert np.abs(layer).max() <= np.sqrt(3)


def test_noise_is_projected_onto_the_range_of_a():
    config = Config(m=12, n=5, d=3, k=4, seeds=4, noise=0.5, dtype="float64")
    problems, _ = draws(config)
    for a, y, clean in zip(problems.operator, problems.observation, problems.clean_observation):
        solution, *_ = np.linalg.lstsq(a, y, rcond=None)
        np.testing.assert_allclose(a @ solution, y, atol=1e-10)  # y ∈ Im(A)
        assert np.linalg.norm(y - clean) > 0.1  # the noise is there
    wide, _ = draws(config.replace(m=4, n=12))  # m ≤ n: Im(A) = R^m, nothing to project
    noise = wide.observation - wide.clean_observation
    assert abs(noise.std() / 0.5 - 1) < 0.3


def test_signal_laws():
    sphere, _ = draws(Config(m=2, n=30, d=3, k=2, seeds=5, signal="sphere", dtype="float64"))
    np.testing.assert_allclose(np.linalg.norm(sphere.signal, axis=1), np.sqrt(30), rtol=1e-12)
    rademacher, _ = draws(Config(m=2, n=30, d=3, k=2, seeds=5, signal="rademacher"))
    assert set(np.unique(rademacher.signal)) == {-1.0, 1.0}


class Constant(Signal):
    """`x̄ = (1, ..., 1)`: a signal family defined outside the package."""

    name: ClassVar[str] = "constant"

    def draw(self, key, gaussian):
        return jnp.ones_like(gaussian)


def test_a_registered_signal_family_is_accepted_and_drawn(monkeypatch):
    monkeypatch.setitem(SIGNALS, Constant.name, Constant)
    config = Config(m=3, n=5, d=2, k=2, seeds=2, signal="constant", dtype="float64")
    assert "constant" in allowed_values("signal")  # the command line's choices too
    problems, _ = draws(config)
    np.testing.assert_array_equal(problems.signal, np.ones((2, 5)))
    np.testing.assert_allclose(problems.clean_observation, problems.operator.sum(axis=2), rtol=1e-12)
    gaussian, _ = draws(config.replace(signal="gaussian"))
    for name in ("operator", "layer", "input", "features"):  # the other draws are the seed's own
        np.testing.assert_array_equal(getattr(problems, name), getattr(gaussian, name), err_msg=name)
    monkeypatch.undo()
    builtin = r"\('gaussian', 'rademacher', 'sphere', 'blocks', 'bumps', 'heavisine', 'doppler', 'piecewise_constant', 'image'\)"
    with pytest.raises(ValueError, match=rf"Config\.signal must be one of {builtin}, got 'constant'"):
        Config(signal="constant")


def test_float64_draws_are_float64_and_float32_default():
    problems, weights = draws(Config(m=2, n=3, d=3, k=2, seeds=2, dtype="float64"))
    assert problems.operator.dtype == np.float64 and weights.dtype == np.float64
    problems, _ = draws(Config(m=2, n=3, d=3, k=2, seeds=2))
    assert problems.operator.dtype == np.float32
    assert jnp.zeros(1).dtype == jnp.float32  # the float64 context did not leak
