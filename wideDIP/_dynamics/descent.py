"""Gradient descent (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import optax

from .base import DiscreteDynamics


class GradientDescent(DiscreteDynamics):
    """`θ ← θ − η ∇L(θ)` (docs/theory.md §1): `optax.sgd(η)`."""

    name: ClassVar[str] = "descent"

    def transformation(self) -> optax.GradientTransformation:
        return optax.sgd(self.step_size)
