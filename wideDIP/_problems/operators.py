"""Forward operators `A` (docs/theory.md §8): one component class per operator, which checks the
`Config` fields it is built from, draws `A` for one seed's key and describes itself. Adding an
operator is adding one class to `OPERATORS`: `Config`, the draw, the command line and figures read it."""

from __future__ import annotations

import abc
import hashlib
import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._runtime.registry import Registry

OPERATOR_SCALES = ("none", "sqrt_n", "sqrt_m")
"""The entries' standard deviation `s` of the Gaussian ensembles: 1, `1/√n` or `1/√m` (`Config.operator_scale`)."""
_SCALE_LABELS = {"none": "N(0,1)", "sqrt_n": "N(0,1/n)", "sqrt_m": "N(0,1/m)"}
_NORM_LABELS = {"none": "√n + √m", "sqrt_n": "1 + √(m/n)", "sqrt_m": "1 + √(n/m)"}
"""`‖A‖ = s(√n + √m)` of the "conditioned" operator for each `Config.operator_scale`."""


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
    def validate(cls, m: int, n: int, operator_scale: str, **numbers: float) -> None:
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


def _distinct_rows(key: PRNGKeyArray, m: int, n: int) -> Array:
    """`m` distinct indices of `range(n)`, uniformly drawn, in increasing order."""
    return jnp.sort(jax.random.permutation(key, n)[:m])


class Inpainting(Operator):
    """The rows of `I_n` at `m` distinct coordinates drawn per seed: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "inpainting"
    sampling: ClassVar[bool] = True

    def draw(self, key, gaussian):
        rows = _distinct_rows(key, self.m, self.n)
        return (rows[:, None] == jnp.arange(self.n)[None, :]).astype(gaussian.dtype)

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}


def blur_kernel(n: int, width: Array | float, dtype) -> Float[Array, " n"]:
    """`h_j ∝ exp(−j²/(2w²))`, `j` taken modulo `n` (its representative nearest 0), `Σ h = 1`."""
    offsets = jnp.arange(n)
    distance = jnp.minimum(offsets, n - offsets).astype(dtype)
    kernel = jnp.exp(-(distance**2) / (2 * jnp.asarray(width, dtype) ** 2))
    return kernel / jnp.sum(kernel)


class Blur(Operator):
    """Circular convolution with a normalised Gaussian kernel of width `Config.blur_width`
    samples, then `m` evenly spaced samples; the same for every seed."""

    name: ClassVar[str] = "blur"
    config_fields: ClassVar[tuple[str, ...]] = (*Operator.config_fields, "blur_width")
    parameters: ClassVar[dict[str, float]] = {"blur_width": 1.0}
    sampling: ClassVar[bool] = True

    blur_width: Float[ArrayLike, ""]

    def draw(self, key, gaussian):
        return self._matrix(self.blur_width, gaussian.dtype)

    def _matrix(self, width: Array, dtype) -> Float[Array, "m n"]:
        """The rows `⌊i n / m⌋` of the convolution `(C x)_i = Σ_j h_{i−j} x_j`."""
        n = self.n
        rows = (np.arange(self.m) * n) // self.m
        return blur_kernel(n, width, dtype)[(rows[:, None] - np.arange(n)[None, :]) % n]

    def describe(self, parameters=True):
        return f"Gaussian blur of width {float(self.blur_width):g} samples" if parameters else "Gaussian blur"

    def spectrum(self):
        with jax.enable_x64(True):
            matrix = np.asarray(self._matrix(jnp.asarray(self.blur_width, jnp.float64), jnp.float64))
        singular = np.linalg.svd(matrix, compute_uv=False)  # `realised_spectrum` on the host, in float64
        floor = _nonzero_floor(singular, matrix.shape, float(np.finfo(np.float64).eps))
        return {"norm_A": float(singular[0]), "sigma_A": float(singular[singular > floor].min())}


def _product_mod(a: Array, b: Array, modulus: int) -> Array:
    """`(a b) mod modulus`, exact in int32 for `0 ≤ a, b < modulus < 2²²` (9-bit pieces of `b`)."""
    result = jnp.zeros(jnp.broadcast_shapes(a.shape, b.shape), jnp.int32)
    for shift in (18, 9, 0):
        result = (result * 512) % modulus
        result = (result + (a * ((b >> shift) & 511)) % modulus) % modulus
    return result


class PartialDCT(Operator):
    """`m` distinct rows, drawn per seed, of the orthonormal DCT-II matrix
    `C[k, j] = √(2/n) c_k cos(π (2j+1) k / (2n))`, `c_0 = 1/√2`: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "dct"
    sampling: ClassVar[bool] = True
    largest_n: ClassVar[int] = 2**20 - 1

    @classmethod
    def validate(cls, m, n, operator_scale):
        super().validate(m, n, operator_scale)
        if n > cls.largest_n:
            raise ValueError(f"Config.n must be <= {cls.largest_n} for operator='dct', got {n}")

    def draw(self, key, gaussian):
        n, dtype = self.n, gaussian.dtype
        rows = _distinct_rows(key, self.m, n)
        # the angle π (2j+1) k / (2n) reduced modulo 2π exactly, in integers, then a table of
        # cosines rounded once from float64: every entry is accurate to the working precision
        phase = _product_mod(
            jnp.asarray(2 * np.arange(n) + 1, jnp.int32)[None, :], rows[:, None].astype(jnp.int32), 4 * n
        )
        table = jnp.asarray(np.cos(np.pi * np.arange(4 * n) / (2 * n)), dtype)
        weight = jnp.where(rows == 0, math.sqrt(1 / n), math.sqrt(2 / n)).astype(dtype)
        return weight[:, None] * table[phase]

    def describe(self, parameters=True):
        return "partial DCT"

    def spectrum(self):
        return {"norm_A": 1.0, "sigma_A": 1.0}


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


OPERATORS = Registry(
    "OPERATORS", Operator, {cls.name: cls for cls in (Gaussian, Conditioned, Inpainting, Blur, PartialDCT, Custom)}
)
"""Every forward operator class by name (the values of `Config.operator`)."""


def operator(name: str) -> type[Operator]:
    """The operator class called `name` (one of `Config.operator`'s values)."""
    try:
        return OPERATORS[name]
    except KeyError:
        raise ValueError(f"operator must be one of {tuple(OPERATORS)}, got {name!r}") from None


def matrix_sha256(matrix: np.ndarray | None) -> str | None:
    """SHA-256 of a matrix's float64 C-order bytes (what `checked_matrix` returns); None for none."""
    if matrix is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float64).tobytes()).hexdigest()


def placeholders() -> dict[str, float]:
    """Every operator's parameters at their placeholders: what a compiled setup's static config holds."""
    return {name: value for op in OPERATORS.values() for name, value in op.parameters.items()}


def _nonzero_floor(singular: Array, shape: tuple[int, int], eps: float) -> Array:
    """The numerical-rank threshold of NumPy's `matrix_rank`: `σ_1 max(m, n) ε`."""
    return singular[0] * max(shape) * eps


def realised_spectrum(matrix: Float[Array, "m n"]) -> tuple[Array, Array]:
    """`‖A‖` and `σ_A`, the smallest singular value above the numerical-rank threshold (docs/theory.md §1)."""
    singular = jnp.linalg.svd(matrix, compute_uv=False)
    floor = _nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return singular[0], jnp.min(jnp.where(singular > floor, singular, jnp.inf))


def row_space_basis(matrix: Float[Array, "m n"]) -> Float[Array, "r n"]:
    """Orthonormal rows spanning `Im(Aᵀ)` (the right singular vectors above the numerical-rank
    threshold), padded with zero rows to `min(m, n)`: `Pv = basisᵀ (basis v)` (docs/theory.md §7)."""
    _, singular, right = jnp.linalg.svd(matrix, full_matrices=False)
    floor = _nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return right * (singular > floor)[:, None]
