"""Gradient descent (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import optax

from .base import DiscreteDynamics, LinearInGradients


class GradientDescent(DiscreteDynamics, LinearInGradients):
    """`θ ← θ − η ∇L(θ)` (docs/theory.md §1): `optax.sgd(η)`."""

    name: ClassVar[str] = "descent"
    optimizer: ClassVar[str] = "sgd"
    title: ClassVar[str] = "gradient descent"
    stability_limit: ClassVar[float] = 2.0

    def transformation(self) -> optax.GradientTransformation:
        return optax.sgd(self.step_size)
