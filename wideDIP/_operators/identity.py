"""Denoising (docs/theory.md §12): every sample observed, `A = I_n`."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from .base import OrthonormalRows


class Identity(OrthonormalRows):
    """`A = I_n`: `y = x̄ + ε` (denoising); `m = n` (`observations`), `ker A = {0}`."""

    name: ClassVar[str] = "identity"

    @classmethod
    def observations(cls, n, **fields):
        return n

    def draw(self, key, gaussian):
        return jnp.eye(self.n, dtype=gaussian.dtype)

    def describe(self, parameters=True):
        return "identity (denoising)"

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}
