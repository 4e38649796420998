"""The network (4), loss (2), activations (A-4) and the reduced gradient of docs/theory.md §4."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wideDIP import Config, FullDynamics, ReducedDynamics, activation, draw_problem, initial_weights, network
from wideDIP._networks.activations import ACTIVATION_TABLE


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("name", list(ACTIVATION_TABLE))
def test_derivative_matches_autodiff_and_bound_holds(name):
    phi = activation(name)
    z = jnp.linspace(-8, 8, 2001, dtype=jnp.float64)
    z = z[z != 0]  # relu is not differentiable at 0
    np.testing.assert_allclose(phi.derivative(z), jax.vmap(jax.grad(phi.function))(z), rtol=1e-12, atol=1e-15)
    if phi.satisfies_a4:
        second = jax.vmap(jax.grad(jax.grad(phi.function)))(z)
        assert jnp.max(jnp.abs(phi.derivative(z))) <= phi.bound + 1e-12
        assert jnp.max(jnp.abs(second)) <= phi.bound + 1e-12
    assert phi.satisfies_a4 == (name in ("sigmoid", "tanh", "softplus"))


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        activation("swish")


@pytest.mark.parametrize("shape", [dict(m=3, n=5, d=4, k=7), dict(m=4, n=4, d=1, k=3), dict(m=6, n=3, d=9, k=2)])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus"])
def test_reduced_loss_and_gradient_are_the_full_ones(shape, name):
    """§4: L(W) = ½‖B φ(Wu) − y‖² and ∇_W L = (∇_z L) uᵀ, with ∇_z L written out."""
    config = Config(**shape, activation=name, dtype="float64", noise=0.3)
    key = jax.random.PRNGKey(3)
    problem = draw_problem(config, key)
    weights = initial_weights(config, key, problem) + 0.1  # move off the initial point
    full = FullDynamics.from_problem(problem, name)
    reduced = ReducedDynamics.from_problem(problem, name)
    features = weights @ problem.input
    full_loss, full_gradient = full.loss_and_gradient(weights)
    reduced_loss, reduced_gradient = reduced.loss_and_gradient(features)
    np.testing.assert_allclose(reduced_loss, full_loss, rtol=1e-12)
    np.testing.assert_allclose(jnp.outer(reduced_gradient, problem.input), full_gradient, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reduced_gradient, jax.grad(reduced.loss)(features), rtol=1e-10, atol=1e-12)
    # (2), (4) written out independently
    x = problem.layer @ activation(name).function(weights @ problem.input) / np.sqrt(config.k)
    np.testing.assert_allclose(network(weights, problem.input, problem.layer, name), x, rtol=1e-13)
    np.testing.assert_allclose(full_loss, 0.5 * np.sum((problem.operator @ x - problem.observation) ** 2), rtol=1e-12)
