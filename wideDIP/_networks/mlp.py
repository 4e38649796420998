"""The NTK-parametrised multilayer perceptron (docs/theory.md §9)."""

from __future__ import annotations

import itertools
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .activations import activation
from .base import Network


class MLP(Network):
    """`h_1 = W_1 u`, `h_{l+1} = W_{l+1} φ(h_l)/√k_l`, `g = W_L φ(h_{L−1})/√k_{L−1}` (docs/theory.md
    §9): hidden widths `hidden + (k,)`, `θ = (W_1, …, W_L)` all trained, iid N(0,1) at first."""

    config_fields: ClassVar[tuple[str, ...]] = ("n", "d", "k", "hidden", "activation")
    n: int = eqx.field(static=True)
    d: int = eqx.field(static=True)
    widths: tuple[int, ...] = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    @classmethod
    def from_fields(cls, *, n: int, d: int, k: int, hidden: tuple[int, ...], activation: str) -> MLP:
        """Hidden widths `hidden + (k,)`."""
        return cls(n, d, tuple(hidden) + (k,), activation)

    @property
    def name(self) -> str:
        return "mlp"

    @property
    def description(self) -> str:
        return f"mlp {' x '.join(map(str, (self.d,) + self.widths + (self.n,)))} {self.activation}"

    @property
    def shapes(self) -> list[tuple[int, int]]:
        sizes = (self.d,) + self.widths + (self.n,)
        return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]

    def init(self, key: PRNGKeyArray) -> tuple[Array, ...]:
        """All weights from one `jax.random.normal` call (one threefry kernel to compile), in order."""
        sizes = [rows * columns for rows, columns in self.shapes]
        flat = jax.random.normal(key, (sum(sizes),))
        blocks = jnp.split(flat, list(itertools.accumulate(sizes))[:-1])
        return tuple(block.reshape(shape) for block, shape in zip(blocks, self.shapes))

    def apply(self, parameters: tuple[Array, ...], input: Array) -> Array:
        phi = activation(self.activation).function
        hidden = parameters[0] @ input
        for weights in parameters[1:]:
            hidden = weights @ phi(hidden) / jnp.sqrt(weights.shape[1])
        return hidden
