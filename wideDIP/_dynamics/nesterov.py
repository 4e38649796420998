"""Nesterov's momentum (docs/theory.md §11)."""

from __future__ import annotations

from typing import ClassVar

from .heavy_ball import HeavyBall


class Nesterov(HeavyBall):
    """Nesterov's momentum (docs/theory.md §11): the heavy ball with the gradient taken at the
    extrapolated point, `optax.sgd(η, momentum=μ, nesterov=True)`; the same time axis `t = τ √η`."""

    optimizer: ClassVar[str] = "nesterov"
    title: ClassVar[str] = "Nesterov"
    nesterov: ClassVar[bool] = True

    def stability_bound(self) -> float:
        """`2(1 + μ)/(1 + 2μ)`: on a quadratic, Nesterov's momentum (optax's form) is stable while
        `η λ` is below it (docs/theory.md §11)."""
        momentum = float(self.momentum)
        return 2 * (1 + momentum) / (1 + 2 * momentum)
