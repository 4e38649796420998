"""Neural tangent kernels (docs/theory.md §3): the generic Jacobian route for any network written as
a pure function, the closed forms of the two-layer network, and their extreme eigenvalues."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from ._activations import activation
from ._problem import Problem

IMPLEMENTATIONS = ("auto", "jacobian", "closed_form")
JACOBIAN_MODES = ("auto", "forward", "reverse")
SPACES = ("signal", "observation")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def jacobian(function: Callable[[PyTree], Array], parameters: PyTree, mode: str = "auto") -> Float[Array, "outputs p"]:
    """`∂ function / ∂ parameters` as an `outputs × p` matrix, by `jax.jacfwd` (one JVP per
    parameter) or `jax.jacrev` (one VJP per output); "auto" takes the cheaper for the shape."""
    _choice("mode", mode, JACOBIAN_MODES)
    flat, unflatten = jax.flatten_util.ravel_pytree(parameters)
    outputs = jax.eval_shape(function, parameters).size
    if mode == "auto":
        mode = "reverse" if outputs < flat.size else "forward"
    transform = jax.jacrev if mode == "reverse" else jax.jacfwd
    return transform(lambda p: function(unflatten(p)).ravel())(flat)


def signal_ntk(layer: Float[Array, "n k"], features: Float[Array, " k"], activation_name: str) -> Float[Array, "n n"]:
    """`K = J_g J_gᵀ = V diag(φ'(z)²) Vᵀ / k` with `z = W u`, `‖u‖ = 1` (§3)."""
    scaled = layer * activation(activation_name).derivative(features) / jnp.sqrt(layer.shape[1])
    return scaled @ scaled.T


def observation_ntk(
    mixing: Float[Array, "m k"], features: Float[Array, " k"], activation_name: str
) -> Float[Array, "m m"]:
    """`H = A K Aᵀ = B diag(φ'(z)²) Bᵀ` with `B = A V/√k`, `z = W u` (§3, §4)."""
    scaled = mixing * activation(activation_name).derivative(features)
    return scaled @ scaled.T


def ntk(
    problem: Problem,
    weights: Float[Array, "k d"],
    activation_name: str,
    *,
    space: str = "signal",
    implementation: str = "auto",
) -> Array:
    """The NTK of the two-layer network (4) at `W`: signal space `K` (n×n) or observation
    space `H = A K Aᵀ` (m×m). "jacobian" differentiates the network with `jax.jacfwd` or
    `jax.jacrev` (the route for any network, and the oracle); "closed_form" uses §3; "auto"
    takes the closed form, which exists for this network."""
    _choice("space", space, SPACES)
    _choice("implementation", implementation, IMPLEMENTATIONS)
    if implementation == "jacobian":
        from ._model import network

        j = jacobian(lambda w: network(w, problem.input, problem.layer, activation_name), weights)
        if space == "observation":
            j = problem.operator @ j
        return j @ j.T
    features = weights @ problem.input
    if space == "signal":
        return signal_ntk(problem.layer, features, activation_name)
    mixing = problem.operator @ problem.layer / jnp.sqrt(problem.layer.shape[1])
    return observation_ntk(mixing, features, activation_name)


def _gram_eigenvalues(matrix: Float[Array, "a b"]) -> Float[Array, " r"]:
    """The eigenvalues of `M Mᵀ` that can be non-zero, from the smaller Gram matrix."""
    small = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    return jnp.linalg.eigvalsh(small)


class KernelProbe(eqx.Module):
    """What one seed needs to measure its kernels along a run without storing `W`."""

    layer: Float[Array, "n k"]
    mixing: Float[Array, "m k"]
    activation_name: str = eqx.field(static=True)

    def extremes(self, features: Float[Array, " k"], initial_features: Float[Array, " k"]) -> dict[str, Array]:
        """`λ_min(K)` (0 by rank when k < n), `λ_min(H)` on Im(A), `λ_max(H)`, and the
        Lipschitz ratio `‖J(W) − J(W(0))‖₂ / ‖W − W(0)‖_F` of the Jacobian (§3, §5)."""
        n, k = self.layer.shape
        m = self.mixing.shape[0]
        derivative = activation(self.activation_name).derivative
        scaled_layer = self.layer * derivative(features) / jnp.sqrt(k)
        signal = _gram_eigenvalues(scaled_layer)
        min_signal = jnp.maximum(signal[0], 0.0) if n <= k else jnp.zeros((), signal.dtype)
        observation = jnp.linalg.eigvalsh(observation_ntk(self.mixing, features, self.activation_name))
        change = self.layer * (derivative(features) - derivative(initial_features)) / jnp.sqrt(k)
        distance = jnp.linalg.norm(features - initial_features)
        change_norm = jnp.sqrt(jnp.maximum(_gram_eigenvalues(change)[-1], 0.0))
        return {
            "min_lambda_K": min_signal,
            "min_lambda_H": jnp.maximum(observation[max(0, m - n)], 0.0),
            "max_lambda_H": observation[-1],
            "jacobian_lipschitz_ratio": jnp.where(distance > 0, change_norm / jnp.where(distance > 0, distance, 1), jnp.nan),
        }
