"""Gradient descent (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
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

    def linearised_rate(self, eigenvalue: np.ndarray) -> np.ndarray:
        """`−ln|1 − ηλ|/η`: in the kernel regime each step multiplies the residual's component along
        `λ` by `1 − ηλ` in time `η` (docs/theory.md §11); the flow's `λ` as `η → 0`, negative (growth)
        beyond the stability limit `ηλ > 2`, inf at `ηλ = 1` (one step ends it)."""
        step = float(self.step_size)
        with np.errstate(divide="ignore"):
            return -np.log(np.abs(1 - step * np.asarray(eigenvalue, np.float64))) / step
