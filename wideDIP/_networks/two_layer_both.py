"""The two-layer network (4) with both layers trained (docs/theory.md §9)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray, PyTree

from .._problems.problem import Problem, initial_weights
from .base import HasClosedFormKernels, HasReducedDynamics
from .kernels import BothKernelProbe
from .losses import ReducedBothDynamics, network
from .two_layer import TwoLayerShape


class TwoLayerBoth(TwoLayerShape, HasReducedDynamics, HasClosedFormKernels):
    """`g(u, (W, V)) = V φ(W u)/√k`, `θ = (W, V)` trained from the paper's draws (docs/theory.md §9):
    exact reduction to `(z, V)`, closed-form kernels, no known bound on `Lip(J)` (no certificate (5))."""

    @property
    def name(self) -> str:
        return "two_layer_both"

    def init(self, key: PRNGKeyArray) -> tuple[Array, Array]:
        """Fresh iid N(0,1) `W`, `V` (the engine takes them from the problem's draws instead)."""
        flat = jax.random.normal(key, (self.k * self.d + self.n * self.k,))
        return flat[: self.k * self.d].reshape(self.k, self.d), flat[self.k * self.d :].reshape(self.n, self.k)

    def apply(self, parameters: tuple[Array, Array], input: Array) -> Array:
        weights, layer = parameters
        return network(weights, input, layer, self.activation)

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[TwoLayerBoth, tuple]:
        return self, (initial_weights(key, problem), problem.layer)

    def features(self, parameters: tuple[Array, Array], input: Array) -> Array:
        """`(z, V)` with `z = W u`, flattened: `k + n k` numbers."""
        weights, layer = parameters
        return jnp.concatenate([weights @ input, layer.ravel()])

    def parameters_from_features(self, features, initial_features, initial_parameters, input):
        z, z0 = features[: self.k], initial_features[: self.k]
        return initial_parameters[0] + jnp.outer(z - z0, input), features[self.k :].reshape(self.n, self.k)

    def reduced(self, problem: Problem) -> tuple[ReducedBothDynamics, tuple[Array, Array]]:
        return (
            ReducedBothDynamics(problem.operator, problem.observation, self.activation),
            (problem.features, problem.layer),
        )

    def kernel_probe(self, problem: Problem) -> BothKernelProbe:
        return BothKernelProbe(problem.operator, self.k, self.activation)

    def observation_eigenvalues(self, problem: Problem, parameters: PyTree) -> Array:
        features = jnp.concatenate([problem.features, problem.layer.ravel()])
        return jnp.linalg.eigvalsh(self.kernel_probe(problem).observation_kernel(features))
