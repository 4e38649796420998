"""A user's own matrix as the operator (docs/theory.md §8)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from jaxtyping import ArrayLike, Float

from .base import Operator


class Custom(Operator):
    """A user's fixed `(m, n)` matrix, the same for every seed: `simulate(config, operator=A)`."""

    name: ClassVar[str] = "custom"

    matrix: Float[ArrayLike, "m n"] | None = None
    """`checked_matrix`'s; None in an operator built only to be described."""

    @classmethod
    def validate_matrix(cls, m, n, matrix):
        if matrix is None:
            raise ValueError(
                "Config.operator='custom' needs its matrix: simulate(config, operator=A) (also compare "
                "and sweep; command line: --operator-file A.npy)"
            )
        if matrix.shape != (m, n):
            raise ValueError(
                f"the custom operator matrix must have shape (Config.m, Config.n) = ({m}, {n}), got {matrix.shape}"
            )
        if not np.all(np.isfinite(matrix)):
            raise ValueError("the custom operator matrix must be finite: it holds NaN or inf")
        if not np.any(matrix):
            raise ValueError("the custom operator matrix must not be all zeros")

    def draw(self, key, gaussian):
        return self.matrix
