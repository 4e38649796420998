"""The two-layer network (4), and the losses (2) the engine trains: on any network's literal
parameters (docs/theory.md §1, §9), on `z = W u` (§4), and on `(z, V)` (§9)."""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._problems.problem import Problem
from .activations import activation


def network(
    weights: Float[Array, "k d"], input: Float[Array, " d"], layer: Float[Array, "n k"], activation_name: str
) -> Float[Array, " n"]:
    """`g(u, W) = V φ(W u) / √k` (4)."""
    return signal_from_features(weights @ input, layer, activation_name)


def signal_from_features(features: Float[Array, " k"], layer: Float[Array, "n k"], activation_name: str) -> Array:
    """`x = V φ(z) / √k` with `z = W u` (docs/theory.md §4)."""
    return layer @ activation(activation_name).function(features) / jnp.sqrt(layer.shape[1])


class GenericDynamics(eqx.Module):
    """The loss `½‖A g(u, θ) − y‖²` (2) of a network's literal parameters, by `jax.grad` (docs/theory.md §1)."""

    network: eqx.Module
    """This seed's `wideDIP.Network` (`Network.for_seed`)."""
    operator: Float[Array, "m n"]
    input: Float[Array, " d"]
    observation: Float[Array, " m"]

    def loss(self, parameters: PyTree) -> Array:
        residual = self.operator @ self.network.apply(parameters, self.input) - self.observation
        return 0.5 * jnp.sum(residual**2)

    def loss_and_gradient(self, parameters: PyTree) -> tuple[Array, PyTree]:
        return jax.value_and_grad(self.loss)(parameters)

    def features(self, parameters: PyTree) -> Array:
        return self.network.features(parameters, self.input)

    def signal(self, parameters: PyTree, problem: Problem) -> Float[Array, " n"]:
        return self.network.apply(parameters, self.input)


class DiagonalPlusLowRankHessian(eqx.Module):
    """A loss whose Hessian is `diag(d) + U Uᵀ` with `U` of few columns (docs/theory.md §10): the
    implicit flow solvers' Newton matrix `I + c ∇²L` is then solved by Woodbury."""

    @abc.abstractmethod
    def hessian_parts(self, state: Array) -> tuple[Float[Array, " k"], Float[Array, "k m"]]:
        """`(d, U)` with `∇²L(state) = diag(d) + U Uᵀ`."""


class ReducedDynamics(DiagonalPlusLowRankHessian):
    """One run's loss `½‖B φ(z) − y‖²` with `B = A V / √k` and `z = W u ∈ R^k` (docs/theory.md §4);
    the gradient `φ'(z) ⊙ Bᵀ(B φ(z) − y)` is written out, two passes over `B`."""

    mixing: Float[Array, "m k"]
    observation: Float[Array, " m"]
    activation_name: str = eqx.field(static=True)

    @classmethod
    def from_problem(cls, problem: Problem, activation_name: str) -> ReducedDynamics:
        """`B = A V / √k` of one seed's `problem` (`k` the width of its `V`), with `φ = activation_name`."""
        width = problem.layer.shape[1]
        mixing = problem.operator @ problem.layer / jnp.sqrt(jnp.asarray(width, problem.layer.dtype))
        return cls(mixing, problem.observation, activation_name)

    def residual(self, features: Float[Array, " k"]) -> Float[Array, " m"]:
        return self.mixing @ activation(self.activation_name).function(features) - self.observation

    def loss(self, features: Float[Array, " k"]) -> Array:
        return 0.5 * jnp.sum(self.residual(features) ** 2)

    def loss_and_gradient(self, features: Float[Array, " k"]) -> tuple[Array, Array]:
        residual = self.residual(features)
        gradient = activation(self.activation_name).derivative(features) * (residual @ self.mixing)
        return 0.5 * jnp.sum(residual**2), gradient

    def hessian_parts(self, features: Float[Array, " k"]) -> tuple[Float[Array, " k"], Float[Array, "k m"]]:
        """`∇²L = diag(φ''(z) ⊙ Bᵀr) + U Uᵀ` with `U = diag(φ'(z)) Bᵀ` (docs/theory.md §10)."""
        derivative = activation(self.activation_name).derivative
        slope, curvature = jax.jvp(derivative, (features,), (jnp.ones_like(features),))  # φ', φ'' (elementwise)
        return curvature * (self.residual(features) @ self.mixing), slope[:, None] * self.mixing.T

    def features(self, features: Float[Array, " k"]) -> Float[Array, " k"]:
        return features

    def signal(self, features: Float[Array, " k"], problem: Problem) -> Float[Array, " n"]:
        return signal_from_features(features, problem.layer, self.activation_name)


class ReducedBothDynamics(eqx.Module):
    """Both layers trained, on `(z, V)` (docs/theory.md §9): `r = A V φ(z)/√k − y`,
    `∇_z = φ'(z) ⊙ (Vᵀ Aᵀ r)/√k`, `∇_V = Aᵀ r φ(z)ᵀ/√k` written out, no `d`."""

    operator: Float[Array, "m n"]
    observation: Float[Array, " m"]
    activation_name: str = eqx.field(static=True)

    def residual(self, state: tuple[Array, Array]) -> Float[Array, " m"]:
        features, layer = state
        return self.operator @ signal_from_features(features, layer, self.activation_name) - self.observation

    def loss(self, state: tuple[Array, Array]) -> Array:
        return 0.5 * jnp.sum(self.residual(state) ** 2)

    def loss_and_gradient(self, state: tuple[Array, Array]) -> tuple[Array, tuple[Array, Array]]:
        features, layer = state
        phi = activation(self.activation_name)
        scale = jnp.sqrt(layer.shape[1])
        values = phi.function(features)
        residual = self.operator @ (layer @ values / scale) - self.observation
        back = residual @ self.operator  # Aᵀ r
        gradient = (phi.derivative(features) * (back @ layer) / scale, jnp.outer(back, values) / scale)
        return 0.5 * jnp.sum(residual**2), gradient

    def features(self, state: tuple[Array, Array]) -> Array:
        features, layer = state
        return jnp.concatenate([features, layer.ravel()])

    def signal(self, state: tuple[Array, Array], problem: Problem) -> Float[Array, " n"]:
        return signal_from_features(state[0], state[1], self.activation_name)
