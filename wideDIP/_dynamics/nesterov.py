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
