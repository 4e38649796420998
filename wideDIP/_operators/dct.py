"""The partial DCT (docs/theory.md §8, §12): `m` rows, drawn per seed, of the orthonormal DCT-II, 1-D or
2-D on a `side × side` image."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .base import ImageOperator, OrthonormalRows, distinct_rows


def _product_mod(a: Array, b: Array, modulus: int) -> Array:
    """`(a b) mod modulus`, exact in int32 for `0 ≤ a, b < modulus < 2²²` (9-bit pieces of `b`)."""
    result = jnp.zeros(jnp.broadcast_shapes(a.shape, b.shape), jnp.int32)
    for shift in (18, 9, 0):
        result = (result * 512) % modulus
        result = (result + (a * ((b >> shift) & 511)) % modulus) % modulus
    return result


def _dct_rows(rows: Array, size: int, dtype) -> Float[Array, "r size"]:
    """The rows `rows` of the orthonormal DCT-II on `size` points, every entry accurate to the working
    precision: the angle π (2j+1) k / (2 size) reduced modulo 2π exactly, in integers, then a table of
    cosines rounded once from float64."""
    phase = _product_mod(
        jnp.asarray(2 * np.arange(size) + 1, jnp.int32)[None, :], rows[:, None].astype(jnp.int32), 4 * size
    )
    table = jnp.asarray(np.cos(np.pi * np.arange(4 * size) / (2 * size)), dtype)
    weight = jnp.where(rows == 0, math.sqrt(1 / size), math.sqrt(2 / size)).astype(dtype)
    return weight[:, None] * table[phase]


class PartialDCT(ImageOperator, OrthonormalRows):
    """`m` distinct rows, drawn per seed, of the orthonormal DCT-II matrix
    `C[k, j] = √(2/n) c_k cos(π (2j+1) k / (2n))`, `c_0 = 1/√2`: `A Aᵀ = I_m`; with `Config.side`,
    of the 2-D DCT-II `C ⊗ C` (`C` on `side` points), row `(k₁, k₂) = C[k₁] ⊗ C[k₂]` in raster order."""

    name: ClassVar[str] = "dct"
    sampling: ClassVar[bool] = True
    largest_n: ClassVar[int] = 2**20 - 1

    @classmethod
    def validate(cls, m, n, operator_scale, side):
        super().validate(m, n, operator_scale)
        if n > cls.largest_n:
            raise ValueError(f"Config.n must be <= {cls.largest_n} for operator='dct', got {n}")

    def draw(self, key, gaussian):
        rows = distinct_rows(key, self.m, self.n)
        if self.side is None:
            return _dct_rows(rows, self.n, gaussian.dtype)
        vertical = _dct_rows(rows // self.side, self.side, gaussian.dtype)  # k₁ of each row (k₁, k₂)
        horizontal = _dct_rows(rows % self.side, self.side, gaussian.dtype)
        return (vertical[:, :, None] * horizontal[:, None, :]).reshape(self.m, self.n)

    def describe(self, parameters=True):
        return "partial DCT" if self.side is None else "partial 2-D DCT"

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}
