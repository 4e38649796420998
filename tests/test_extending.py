"""docs/extending.md: a new forward operator and a new network, each one class registered by name
(`wideDIP.OPERATORS`, `wideDIP.NETWORKS`) without touching the package, run by `simulate` and by a
two-cell `sweep`, and checked against what they are."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import wideDIP
from wideDIP import Config, Network, Operator

BASE = Config(m=3, n=6, d=4, k=5, seeds=3, steps=40, step_size=0.5, operator_scale="none")


class SignedSampling(Operator):
    """`m` of the `n` coordinates drawn per seed, each with a random sign: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "signed_sampling"
    sampling: ClassVar[bool] = True

    def draw(self, key, gaussian):
        rows = jax.random.permutation(key, self.n)[: self.m]
        signs = jax.random.rademacher(jax.random.fold_in(key, 1), (self.m,), dtype=gaussian.dtype)
        return signs[:, None] * jax.nn.one_hot(rows, self.n, dtype=gaussian.dtype)


class TanhLayer(Network):
    """`g(u, W) = tanh(W u)` for `n` outputs: one trained layer `W ∈ R^{n×d}`."""

    n: int
    d: int

    @property
    def name(self) -> str:
        return "tanh_layer"

    def init(self, key):
        return jax.random.normal(key, (self.n, self.d))

    def apply(self, parameters, input):
        return jnp.tanh(parameters @ input)


@pytest.fixture
def registered(monkeypatch):
    """The operator and the network registered for one test (the registries are module state)."""
    monkeypatch.setitem(wideDIP.OPERATORS, SignedSampling.name, SignedSampling)
    monkeypatch.setitem(wideDIP.NETWORKS, "tanh_layer", TanhLayer)  # built from its config_fields: n, d


def test_a_registered_operator_runs_and_is_what_it_draws(registered):
    config = BASE.replace(operator="signed_sampling")
    result = wideDIP.simulate(config, progress=False)
    for matrix in result.operator_matrix:  # signed rows of the identity
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(config.m), atol=1e-6)
        assert set(np.abs(matrix).sum(axis=1)) == {1.0}
    np.testing.assert_allclose(result.kappa_A, 1.0, rtol=1e-5)
    grid = wideDIP.sweep(config, {"k": [5, 9]}, progress=False)
    for index, k in enumerate([5, 9]):
        alone = wideDIP.simulate(config.replace(k=k), progress=False)
        np.testing.assert_allclose(grid.statistic("median_final_loss")[index], np.median(alone.final_loss), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Config\.m must be <= Config\.n .* operator='signed_sampling'"):
        BASE.replace(operator="signed_sampling", m=7)  # its `sampling` capability is checked too


def test_a_registered_network_runs_and_its_loss_is_its_own(registered):
    config = BASE.replace(network="tanh_layer")
    result = wideDIP.simulate(config, progress=False)
    assert result.network["name"] == "tanh_layer" and result.parametrization == "full"
    assert result.network["parameters"] == config.n * config.d
    x0 = result.reconstructions[:, 0]  # g(u, W(0)) per seed
    residual = np.einsum("smn,sn->sm", result.operator_matrix, x0) - result.observation
    np.testing.assert_allclose(result.initial_loss, 0.5 * (residual**2).sum(axis=1), rtol=1e-5)
    assert np.all(np.abs(x0) < 1)  # tanh's range: the outputs are the network's
    assert "tanh_layer" in result.summary() and "k=5" not in result.summary()
    grid = wideDIP.sweep(config, {"step_size": [0.5, 0.25]}, progress=False)
    assert grid.computed.all()
    assert grid.statistic("median_final_loss")[0] == pytest.approx(np.median(result.final_loss), rel=1e-6)
    with pytest.raises(ValueError, match=r"Config\.network must be one of .*'tanh_layer'"):
        Config(network="tanh_layers")
