"""Inpainting (docs/theory.md §8, §12): `m` samples (pixels) kept, drawn per seed."""

from __future__ import annotations

from typing import ClassVar

from .base import OrthonormalRows, distinct_rows, selection


class Inpainting(OrthonormalRows):
    """The rows of `I_n` at `m` distinct coordinates drawn per seed: `A Aᵀ = I_m` (a vector or an
    image in raster order alike)."""

    name: ClassVar[str] = "inpainting"
    sampling: ClassVar[bool] = True

    def draw(self, key, gaussian):
        return selection(distinct_rows(key, self.m, self.n), self.n, gaussian.dtype)

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}
