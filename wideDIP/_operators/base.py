"""The forward operator's interface (docs/theory.md §8): one component class per operator, which
checks the `Config` fields it is built from, draws `A` for one seed's key and describes itself; and
the numerics every operator shares (the Gaussian scale, the realised spectrum, the row space)."""

from __future__ import annotations

import abc
import hashlib
import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

OPERATOR_SCALES = ("none", "sqrt_n", "sqrt_m")
"""The entries' standard deviation `s` of the Gaussian ensembles: 1, `1/√n` or `1/√m` (`Config.operator_scale`)."""


def entry_scale(m: int, n: int, operator_scale: str) -> float:
    """`s` of the Gaussian ensemble of `m × n` matrices (`OPERATOR_SCALES`)."""
    return {"none": 1.0, "sqrt_n": n**-0.5, "sqrt_m": m**-0.5}[operator_scale]


class Operator(eqx.Module):
    """A family of forward operators `A ∈ R^{m×n}` (docs/theory.md §8). `draw` is traced once per
    structure (sizes, scale): the numbers named in `parameters` are array fields."""

    name: ClassVar[str]
    config_fields: ClassVar[tuple[str, ...]] = ("m", "n", "operator_scale")
    """The `Config` fields the operator is built from (`from_fields`)."""
    parameters: ClassVar[dict[str, float]] = {}
    """Its numbers among `config_fields`, each with the placeholder valid for every shape (`placeholders`)."""
    scaled: ClassVar[bool] = False
    """Whether `Config.operator_scale` applies (else it must be "none")."""
    sampling: ClassVar[bool] = False
    """Whether `A` keeps `m ≤ n` of the signal's samples (then `m > n` is refused)."""
    gaussian_block: ClassVar[bool] = False
    """Whether `A` is the seed's Gaussian block times `s`: with `s = 1`, what a padded batch
    reproduces bit for bit (wideDIP._experiments.batches)."""

    m: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    operator_scale: str = eqx.field(static=True)

    @classmethod
    def validate(cls, m: int, n: int, operator_scale: str, **numbers: Any) -> None:
        """Raise `ValueError`, naming the `Config` field, unless the fields suit this operator."""
        if not cls.scaled and operator_scale != "none":
            raise ValueError(
                f"Config.operator_scale must be 'none' for operator={cls.name!r} (it scales the "
                f"Gaussian ensembles 'gaussian' and 'conditioned' only), got {operator_scale!r}"
            )
        if cls.sampling and m > n:
            raise ValueError(
                f"Config.m must be <= Config.n (= {n}) for operator={cls.name!r}, which keeps "
                f"m of the n samples, got m={m}"
            )

    @classmethod
    def observations(cls, **fields: Any) -> int | None:
        """The `m` this operator fixes from its other `config_fields` (e.g. `n` for the identity); None: any `m`."""
        return None

    @classmethod
    def from_fields(cls, **fields: Any) -> Operator:
        cls.validate(**fields)
        return cls(**fields)

    @classmethod
    def validate_matrix(cls, m: int, n: int, matrix: np.ndarray | None) -> None:
        """Raise `ValueError` unless `matrix` is what this operator takes: none but for 'custom'."""
        if matrix is not None:
            raise ValueError(
                f"an operator matrix was given but Config.operator is {cls.name!r}: "
                "set Config.operator='custom' to use it"
            )

    @classmethod
    def checked_matrix(cls, m: int, n: int, matrix: Any) -> np.ndarray | None:
        """`matrix` as float64 (C order), checked to suit this operator (`m × n`); None if none."""
        if matrix is not None:
            try:
                matrix = np.asarray(matrix)
            except Exception as error:  # e.g. ragged lists
                raise ValueError(f"the custom operator matrix must be an array of real numbers: {error}") from None
            if matrix.dtype.kind not in "biuf":
                raise ValueError(f"the custom operator matrix must hold real numbers, got dtype {matrix.dtype}")
            matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        cls.validate_matrix(m, n, matrix)
        return matrix

    @abc.abstractmethod
    def draw(self, key: PRNGKeyArray, gaussian: Float[Array, "m n"]) -> Float[Array, "m n"]:
        """One seed's `A` from `key` (its own stream) and the seed's Gaussian block (iid N(0,1))."""

    def describe(self, parameters: bool = True) -> str:
        """A label for summaries and titles, e.g. "conditioned, κ(A) = 100, ‖A‖ = √n + √m"; without
        the values of `parameters` when `parameters=False` (a figure whose axis varies them)."""
        return self.name

    def spectrum(self) -> dict[str, float] | None:
        """`‖A‖`, `σ_A` as `width_bound` keywords if the fields fix them, `{}`: typical, None: unknown."""
        return None

    def top_singular_value(self) -> float:
        """`s (√n + √m)`, the typical `‖A‖` of the Gaussian ensemble at the same scaling."""
        return entry_scale(self.m, self.n, self.operator_scale) * (math.sqrt(self.n) + math.sqrt(self.m))


class OrthonormalRows(Operator):
    """An operator with `A Aᵀ = I_m` (docs/theory.md §8, §12): `Aᵀy` is the least-norm solution of
    `A x = y`, an image on the signal's scale (the observed image of denoising and inpainting)."""


class ImageOperator(Operator):
    """An operator that reads the image's shape `Config.side` (docs/theory.md §12): the signal is a
    `side × side` image in raster order (`n = side²`); None: a 1-D signal."""

    config_fields: ClassVar[tuple[str, ...]] = (*Operator.config_fields, "side")

    side: int | None = eqx.field(static=True, default=None, kw_only=True)


def distinct_rows(key: PRNGKeyArray, m: int, n: int) -> Array:
    """`m` distinct indices of `range(n)`, uniformly drawn, in increasing order."""
    return jnp.sort(jax.random.permutation(key, n)[:m])


def selection(rows: Array, n: int, dtype) -> Float[Array, "r n"]:
    """The rows of `I_n` at the indices `rows`."""
    return (rows[:, None] == jnp.arange(n)[None, :]).astype(dtype)


def matrix_sha256(matrix: np.ndarray | None) -> str | None:
    """SHA-256 of a matrix's float64 C-order bytes (what `checked_matrix` returns); None for none."""
    if matrix is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float64).tobytes()).hexdigest()


def nonzero_floor(singular: Array, shape: tuple[int, int], eps: float) -> Array:
    """The numerical-rank threshold of NumPy's `matrix_rank`: `σ_1 max(m, n) ε`."""
    return singular[0] * max(shape) * eps


def realised_spectrum(matrix: Float[Array, "m n"]) -> tuple[Array, Array]:
    """`‖A‖` and `σ_A`, the smallest singular value above the numerical-rank threshold (docs/theory.md §1)."""
    singular = jnp.linalg.svd(matrix, compute_uv=False)
    floor = nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return singular[0], jnp.min(jnp.where(singular > floor, singular, jnp.inf))


def row_space_basis(matrix: Float[Array, "m n"]) -> Float[Array, "r n"]:
    """Orthonormal rows spanning `Im(Aᵀ)` (the right singular vectors above the numerical-rank
    threshold), padded with zero rows to `min(m, n)`: `Pv = basisᵀ (basis v)` (docs/theory.md §7)."""
    _, singular, right = jnp.linalg.svd(matrix, full_matrices=False)
    floor = nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return right * (singular > floor)[:, None]
