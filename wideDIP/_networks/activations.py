"""Activation functions `φ` with their derivatives and the constant `B` of A-4 (docs/theory.md §2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array


@dataclasses.dataclass(frozen=True)
class Activation:
    """`φ`, its derivative `φ'`, and `B` with `|φ'| ≤ B`, `|φ''| ≤ B` (A-4), `None` where A-4 fails."""

    name: str
    function: Callable[[Array], Array]
    derivative: Callable[[Array], Array]
    bound: float | None

    @property
    def satisfies_a4(self) -> bool:
        return self.bound is not None


def _sigmoid_derivative(z: Array) -> Array:
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def _tanh_derivative(z: Array) -> Array:
    return 1 - jnp.tanh(z) ** 2


ACTIVATION_TABLE: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, _sigmoid_derivative, 0.25),
    "tanh": Activation("tanh", jnp.tanh, _tanh_derivative, 1.0),
    "softplus": Activation("softplus", jax.nn.softplus, jax.nn.sigmoid, 1.0),
    "relu": Activation("relu", jax.nn.relu, lambda z: (z > 0).astype(z.dtype), None),
    "identity": Activation("identity", lambda z: z, jnp.ones_like, None),
}


def activation(name: str) -> Activation:
    """The activation called `name` (one of `Config.activation`'s values)."""
    try:
        return ACTIVATION_TABLE[name]
    except KeyError:
        raise ValueError(f"activation must be one of {tuple(ACTIVATION_TABLE)}, got {name!r}") from None
