"""Gradient descent (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import optax
from jaxtyping import Array, Float

from .base import DiscreteDynamics, exact_number


class GradientDescent(DiscreteDynamics):
    """`θ ← θ − η ∇L(θ)` (docs/theory.md §1): `optax.sgd(η)`."""

    name: ClassVar[str] = "descent"
    config_fields: ClassVar[tuple[str, ...]] = ("steps", "step_size")
    steps: int = eqx.field(static=True)
    step_size: Float[Array, ""] = eqx.field(converter=exact_number)

    def transformation(self) -> optax.GradientTransformation:
        return optax.sgd(self.step_size)

    @property
    def label(self) -> str:
        return f"descent η={float(self.step_size):g}"
