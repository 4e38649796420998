"""The two-layer DIP network (4), its loss (2), and its two exact parametrizations:
the literal `W ∈ R^{k×d}` and the `k` numbers `z = W u` of docs/theory.md §4."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray

from ._activations import activation
from ._config import Config
from ._problem import Problem, initial_weights


def network(
    weights: Float[Array, "k d"], input: Float[Array, " d"], layer: Float[Array, "n k"], activation_name: str
) -> Float[Array, " n"]:
    """`g(u, W) = V φ(W u) / √k` (4)."""
    return signal_from_features(weights @ input, layer, activation_name)


def signal_from_features(features: Float[Array, " k"], layer: Float[Array, "n k"], activation_name: str) -> Array:
    """`x = V φ(z) / √k` with `z = W u` (docs/theory.md §4)."""
    return layer @ activation(activation_name).function(features) / jnp.sqrt(layer.shape[1])


class FullDynamics(eqx.Module):
    """One run's loss `½‖A g(u, W) − y‖²` (2) as a function of the whole `W ∈ R^{k×d}`;
    gradients by `jax.grad`, exactly as the paper writes the model."""

    operator: Float[Array, "m n"]
    layer: Float[Array, "n k"]
    input: Float[Array, " d"]
    observation: Float[Array, " m"]
    activation_name: str = eqx.field(static=True)

    @classmethod
    def from_problem(cls, config: Config, problem: Problem) -> FullDynamics:
        return cls(problem.operator, problem.layer, problem.input, problem.observation, config.activation)

    @staticmethod
    def initial_parameters(config: Config, key: PRNGKeyArray, problem: Problem) -> Float[Array, "k d"]:
        return initial_weights(config, key, problem)

    def loss(self, weights: Float[Array, "k d"]) -> Array:
        residual = self.operator @ network(weights, self.input, self.layer, self.activation_name) - self.observation
        return 0.5 * jnp.sum(residual**2)

    def loss_and_gradient(self, weights: Float[Array, "k d"]) -> tuple[Array, Array]:
        return jax.value_and_grad(self.loss)(weights)

    def features(self, weights: Float[Array, "k d"]) -> Float[Array, " k"]:
        return weights @ self.input


class ReducedDynamics(eqx.Module):
    """One run's loss `½‖B φ(z) − y‖²` with `B = A V / √k` and `z = W u ∈ R^k` (docs/theory.md §4);
    the gradient `φ'(z) ⊙ Bᵀ(B φ(z) − y)` is written out, two passes over `B`."""

    mixing: Float[Array, "m k"]
    observation: Float[Array, " m"]
    activation_name: str = eqx.field(static=True)

    @classmethod
    def from_problem(cls, config: Config, problem: Problem) -> ReducedDynamics:
        mixing = problem.operator @ problem.layer / jnp.sqrt(jnp.asarray(config.k, problem.layer.dtype))
        return cls(mixing, problem.observation, config.activation)

    @staticmethod
    def initial_parameters(config: Config, key: PRNGKeyArray, problem: Problem) -> Float[Array, " k"]:
        return problem.features

    def residual(self, features: Float[Array, " k"]) -> Float[Array, " m"]:
        return self.mixing @ activation(self.activation_name).function(features) - self.observation

    def loss(self, features: Float[Array, " k"]) -> Array:
        return 0.5 * jnp.sum(self.residual(features) ** 2)

    def loss_and_gradient(self, features: Float[Array, " k"]) -> tuple[Array, Array]:
        residual = self.residual(features)
        gradient = activation(self.activation_name).derivative(features) * (residual @ self.mixing)
        return 0.5 * jnp.sum(residual**2), gradient

    def features(self, features: Float[Array, " k"]) -> Float[Array, " k"]:
        return features


DYNAMICS = {"full": FullDynamics, "reduced": ReducedDynamics}
