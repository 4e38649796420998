"""An operator of prescribed condition number (docs/theory.md §8): Haar singular vectors, geometric
singular values."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .base import Operator

_NORM_LABELS = {"none": "√n + √m", "sqrt_n": "1 + √(m/n)", "sqrt_m": "1 + √(n/m)"}
"""`‖A‖ = s(√n + √m)` of the "conditioned" operator for each `Config.operator_scale`."""


def _haar_columns(key: PRNGKeyArray, rows: int, columns: int, dtype) -> Float[Array, "rows columns"]:
    """`columns` columns of a Haar orthogonal matrix: a Gaussian matrix's Q, signs of diag(R) made positive."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (rows, columns), dtype), mode="reduced")
    signs = jnp.where(jnp.diagonal(r) < 0, -1, 1).astype(dtype)
    return q * signs


class Conditioned(Operator):
    """`A = U diag(s_i) Rᵀ`, Haar `U`, `R`, `s_i = s_1 κ^{−(i−1)/(r−1)}`, `s_1 = s(√n + √m)`: `κ(A) = κ`."""

    name: ClassVar[str] = "conditioned"
    config_fields: ClassVar[tuple[str, ...]] = (*Operator.config_fields, "condition_number")
    parameters: ClassVar[dict[str, float]] = {"condition_number": 1.0}
    scaled: ClassVar[bool] = True

    condition_number: Float[ArrayLike, ""]

    @classmethod
    def validate(cls, m, n, operator_scale, condition_number):
        super().validate(m, n, operator_scale)
        if min(m, n) == 1 and condition_number != 1:
            raise ValueError(
                "Config.condition_number must be 1 when min(m, n) = 1 (A has a single singular "
                f"value), got {condition_number:g}"
            )

    def draw(self, key, gaussian):
        m, n, dtype = self.m, self.n, gaussian.dtype
        rank = min(m, n)
        left_key, right_key = jax.random.split(key)
        left, right = _haar_columns(left_key, m, rank, dtype), _haar_columns(right_key, n, rank, dtype)
        exponents = jnp.arange(rank, dtype=dtype) / max(rank - 1, 1)
        singular = self.top_singular_value() / self.condition_number**exponents
        return (left * singular) @ right.T

    def describe(self, parameters=True):
        kappa = f", κ(A) = {float(self.condition_number):g}" if parameters else ""
        return f"conditioned{kappa}, ‖A‖ = {_NORM_LABELS[self.operator_scale]}"

    def spectrum(self):
        top = self.top_singular_value()
        return {"norm_A": top, "sigma_A": top / float(self.condition_number)}
