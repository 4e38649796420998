"""Block inpainting (docs/theory.md §12): an image with a centred square block of pixels missing."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .base import ImageOperator, OrthonormalRows, selection


class BlockInpainting(ImageOperator, OrthonormalRows):
    """The rows of `I_n` at the pixels (raster order) of a `side × side` image outside its centred
    `b × b` block, `b² = n − m`: `A Aᵀ = I_m`, the same for every seed; `ker A` is the block's pixels."""

    name: ClassVar[str] = "block_inpainting"
    sampling: ClassVar[bool] = True

    @classmethod
    def validate(cls, m, n, operator_scale, side):
        super().validate(m, n, operator_scale)
        if side is None:
            raise ValueError(
                f"Config.side must be set for operator={cls.name!r} (an image of side × side pixels with a "
                "centred square block missing), got None"
            )
        block = math.isqrt(max(n - m, 0))
        if block < 1 or block**2 != n - m:
            nearest = [b for b in (block, block + 1) if 1 <= b < side]
            options = " or ".join(f"m={n - b**2} ({b} × {b} missing)" for b in nearest)
            raise ValueError(
                f"Config.m must be n − b² for operator={cls.name!r} (a centred b × b block of the {side} × {side} "
                f"image missing, n = {n}, 1 <= b < {side}): e.g. {options}, got m={m}"
            )

    @property
    def block(self) -> int:
        """`b`, the side of the missing block."""
        return math.isqrt(self.n - self.m)

    def missing(self) -> np.ndarray:
        """The `side × side` mask of the missing pixels: rows and columns `⌊(side − b)/2⌋` to that `+ b − 1`."""
        start = (self.side - self.block) // 2
        mask = np.zeros((self.side, self.side), bool)
        mask[start : start + self.block, start : start + self.block] = True
        return mask

    def draw(self, key, gaussian):
        return selection(jnp.asarray(np.flatnonzero(~self.missing())), self.n, gaussian.dtype)

    def describe(self, parameters=True):
        return f"block inpainting ({self.block} × {self.block} missing)"

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}
