"""`x̄ ~ N(0, I_n)`, the paper's signal (docs/theory.md §1)."""

from __future__ import annotations

from typing import ClassVar

from .base import AnyShapeSignal


class GaussianSignal(AnyShapeSignal):
    """`x̄ ~ N(0, I_n)`: the Gaussian block as drawn."""

    name: ClassVar[str] = "gaussian"
    gaussian_block: ClassVar[bool] = True

    def draw(self, key, gaussian):
        return gaussian
