"""The paper's operator (docs/theory.md §8): iid Gaussian entries."""

from __future__ import annotations

from typing import ClassVar

from .base import Operator, entry_scale

_SCALE_LABELS = {"none": "N(0,1)", "sqrt_n": "N(0,1/n)", "sqrt_m": "N(0,1/m)"}


class Gaussian(Operator):
    """iid `N(0, s²)` entries (the paper), `s` from `Config.operator_scale`."""

    name: ClassVar[str] = "gaussian"
    scaled: ClassVar[bool] = True
    gaussian_block: ClassVar[bool] = True

    def draw(self, key, gaussian):
        return entry_scale(self.m, self.n, self.operator_scale) * gaussian

    def describe(self, parameters=True):
        return f"gaussian {_SCALE_LABELS[self.operator_scale]}"

    def spectrum(self):
        return {}
