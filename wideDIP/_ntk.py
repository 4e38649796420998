"""Neural tangent kernels of the two-layer network, closed forms of MATH.md §3 and §4."""

from __future__ import annotations

from jaxtyping import Array, Float

from ._activations import activation


def observation_ntk(
    mixing: Float[Array, "m k"], features: Float[Array, " k"], activation_name: str
) -> Float[Array, "m m"]:
    """`H = A K Aᵀ = B diag(φ'(z)²) Bᵀ` with `B = A V/√k`, `z = W u` (§3, §4)."""
    scaled = mixing * activation(activation_name).derivative(features)
    return scaled @ scaled.T
