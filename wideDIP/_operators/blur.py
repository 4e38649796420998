"""Gaussian blur (docs/theory.md §8, §12): a circular convolution, 1-D then evenly sampled, or 2-D on a
`side × side` image with every pixel observed."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .base import ImageOperator, nonzero_floor


def blur_kernel(n: int, width: Array | float, dtype) -> Float[Array, " n"]:
    """`h_j ∝ exp(−j²/(2w²))`, `j` taken modulo `n` (its representative nearest 0), `Σ h = 1`."""
    offsets = jnp.arange(n)
    distance = jnp.minimum(offsets, n - offsets).astype(dtype)
    kernel = jnp.exp(-(distance**2) / (2 * jnp.asarray(width, dtype) ** 2))
    return kernel / jnp.sum(kernel)


def _convolution_rows(size: int, rows: np.ndarray, width: Array, dtype) -> Float[Array, "r size"]:
    """The rows `rows` of the circular convolution `(C x)_i = Σ_j h_{i−j} x_j` on `size` samples."""
    return blur_kernel(size, width, dtype)[(rows[:, None] - np.arange(size)[None, :]) % size]


class Blur(ImageOperator):
    """Circular convolution with a normalised Gaussian kernel of width `Config.blur_width` samples,
    then `m` evenly spaced samples; with `Config.side`, the separable 2-D convolution of the image
    with the kernel `h ⊗ h` (pixels), every pixel observed (`m = n`). The same for every seed."""

    name: ClassVar[str] = "blur"
    config_fields: ClassVar[tuple[str, ...]] = (*ImageOperator.config_fields, "blur_width")
    parameters: ClassVar[dict[str, float]] = {"blur_width": 1.0}
    sampling: ClassVar[bool] = True

    blur_width: Float[ArrayLike, ""]

    @classmethod
    def observations(cls, n, side=None, **fields):
        return None if side is None else n

    def draw(self, key, gaussian):
        return self._matrix(self.blur_width, gaussian.dtype)

    def _matrix(self, width: Array, dtype) -> Float[Array, "m n"]:
        """1-D: the rows `⌊i n / m⌋` of the convolution; 2-D: `C ⊗ C`, `C` the convolution along one
        side, so that row `(i₁, i₂)` holds `h_{i₁−j₁} h_{i₂−j₂}` at column `(j₁, j₂)` (raster order)."""
        if self.side is None:
            return _convolution_rows(self.n, (np.arange(self.m) * self.n) // self.m, width, dtype)
        along_side = _convolution_rows(self.side, np.arange(self.side), width, dtype)
        return jnp.kron(along_side, along_side)

    def describe(self, parameters=True):
        what, unit = ("Gaussian blur", "samples") if self.side is None else ("2-D Gaussian blur", "pixels")
        return f"{what} of width {float(self.blur_width):g} {unit}" if parameters else what

    def spectrum(self):
        eps = float(np.finfo(np.float64).eps)
        with jax.enable_x64(True):
            width = jnp.asarray(self.blur_width, jnp.float64)
            if self.side is None:
                matrix = np.asarray(self._matrix(width, jnp.float64))
                singular = np.linalg.svd(matrix, compute_uv=False)  # `realised_spectrum` on the host, in float64
            else:  # C ⊗ C is circulant: its singular values are |ĥ_i ĥ_j|, ĥ the DFT of the 1-D kernel
                response = np.abs(np.fft.fft(np.asarray(blur_kernel(self.side, width, jnp.float64))))
                singular = np.sort(np.outer(response, response).ravel())[::-1]
        floor = nonzero_floor(singular, (self.m, self.n), eps)
        return {"norm_A": float(singular[0]), "sigma_A": float(singular[singular > floor].min())}
