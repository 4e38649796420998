"""Forward operators `A` (docs/theory.md §8): one registry entry per operator, each a small
frozen record that validates its configuration, draws `A` for one seed's key, and describes
itself. Adding an operator is adding one class to `OPERATORS`; `Config`, the problem draw,
the command line, summaries and figures all read it from here."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import TYPE_CHECKING, Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

if TYPE_CHECKING:
    from ._config import Config

_SCALE_LABELS = {"none": "N(0,1)", "sqrt_n": "N(0,1/n)", "sqrt_m": "N(0,1/m)"}
_NORM_LABELS = {"none": "√n + √m", "sqrt_n": "1 + √(m/n)", "sqrt_m": "1 + √(n/m)"}
"""`‖A‖ = s(√n + √m)` of the "conditioned" operator for each `Config.operator_scale`."""


def entry_scale(config: Config) -> float:
    """`s`, the standard deviation of the entries of the Gaussian ensemble: 1, `1/√n` or `1/√m`
    (`Config.operator_scale`)."""
    return {"none": 1.0, "sqrt_n": config.n**-0.5, "sqrt_m": config.m**-0.5}[config.operator_scale]


@dataclasses.dataclass(frozen=True)
class Operator:
    """A family of forward operators `A ∈ R^{m×n}` (docs/theory.md §8).

    `draw` is traced once per shape: it reads the numbers named in `parameters` from `arrays`
    (never from `config`, whose copies of them are placeholders in the compiled setup), so
    changing them does not recompile.
    """

    name: ClassVar[str]
    parameters: ClassVar[dict[str, float]] = {}
    """The `Config` fields `draw` reads, passed into the compiled setup as arrays, each with
    the placeholder (valid for every shape) that the setup's static config holds instead."""
    scaled: ClassVar[bool] = False
    """Whether `Config.operator_scale` applies (else it must be "none")."""
    sampling: ClassVar[bool] = False
    """Whether `A` keeps `m ≤ n` of the signal's samples (then `m > n` is refused)."""

    def validate(self, config: Config) -> None:
        """Raise `ValueError`, naming the field, if `config` does not suit this operator."""
        if not self.scaled and config.operator_scale != "none":
            raise ValueError(
                f"Config.operator_scale must be 'none' for operator={self.name!r} (it scales the "
                f"Gaussian ensembles 'gaussian' and 'conditioned' only), got {config.operator_scale!r}"
            )
        if self.sampling and config.m > config.n:
            raise ValueError(
                f"Config.m must be <= Config.n (= {config.n}) for operator={self.name!r}, which keeps "
                f"m of the n samples, got m={config.m}"
            )

    def validate_matrix(self, config: Config, matrix: np.ndarray | None) -> None:
        """Raise `ValueError` unless `matrix` is what this operator takes: none but for 'custom'."""
        if matrix is not None:
            raise ValueError(
                f"an operator matrix was given but Config.operator is {self.name!r}: "
                "set Config.operator='custom' to use it"
            )

    def draw(
        self, config: Config, key: PRNGKeyArray, gaussian: Float[Array, "m n"], arrays: dict[str, Array]
    ) -> Float[Array, "m n"]:
        """One seed's `A`: from `key` (this operator's own stream), the seed's shared Gaussian
        block `gaussian` (iid N(0,1)), and `arrays` (`operator_arrays`)."""
        raise NotImplementedError

    def describe(self, config: Config, parameters: bool = True) -> str:
        """A short label in words for summaries and figure titles, e.g. "conditioned, κ(A) = 100,
        ‖A‖ = √n + √m"; without the values of `parameters` when `parameters=False` (a figure whose
        axis varies them)."""
        return self.name

    def spectrum(self, config: Config) -> dict[str, float] | None:
        """`‖A‖` and `σ_A` as `width_bound` keywords when the config fixes them; `{}` for the
        Gaussian's typical values; None when they depend on data outside the config."""
        return None


@dataclasses.dataclass(frozen=True)
class Gaussian(Operator):
    """iid `N(0, s²)` entries (the paper), `s` from `Config.operator_scale`."""

    name: ClassVar[str] = "gaussian"
    scaled: ClassVar[bool] = True

    def draw(self, config, key, gaussian, arrays):
        return entry_scale(config) * gaussian

    def describe(self, config, parameters=True):
        return f"gaussian {_SCALE_LABELS[config.operator_scale]}"

    def spectrum(self, config):
        return {}


def _haar_columns(key: PRNGKeyArray, rows: int, columns: int, dtype) -> Float[Array, "rows columns"]:
    """The first `columns` columns of a Haar-distributed orthogonal matrix of size `rows`: the
    Q of a Gaussian matrix's QR, with the signs of diag(R) made positive."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (rows, columns), dtype), mode="reduced")
    signs = jnp.where(jnp.diagonal(r) < 0, -1, 1).astype(dtype)
    return q * signs


@dataclasses.dataclass(frozen=True)
class Conditioned(Operator):
    """`A = U diag(s_1..s_r) Rᵀ` with Haar singular vectors and the geometric spectrum
    `s_i = s_1 κ^{−(i−1)/(r−1)}`, `s_1 = s(√n + √m)`: `κ(A) = Config.condition_number` exactly."""

    name: ClassVar[str] = "conditioned"
    parameters: ClassVar[dict[str, float]] = {"condition_number": 1.0}
    scaled: ClassVar[bool] = True

    def validate(self, config):
        super().validate(config)
        if min(config.m, config.n) == 1 and config.condition_number != 1:
            raise ValueError(
                "Config.condition_number must be 1 when min(m, n) = 1 (A has a single singular "
                f"value), got {config.condition_number:g}"
            )

    def draw(self, config, key, gaussian, arrays):
        m, n, dtype = config.m, config.n, gaussian.dtype
        rank = min(m, n)
        left_key, right_key = jax.random.split(key)
        left, right = _haar_columns(left_key, m, rank, dtype), _haar_columns(right_key, n, rank, dtype)
        exponents = jnp.arange(rank, dtype=dtype) / max(rank - 1, 1)
        singular = _top_singular_value(config) / arrays["condition_number"] ** exponents
        return (left * singular) @ right.T

    def describe(self, config, parameters=True):
        """ "conditioned, κ(A) = 10, ‖A‖ = 1 + √(m/n)": its `κ(A)` and `‖A‖ = s(√n + √m)` in words."""
        kappa = f", κ(A) = {config.condition_number:g}" if parameters else ""
        return f"conditioned{kappa}, ‖A‖ = {_NORM_LABELS[config.operator_scale]}"

    def spectrum(self, config):
        top = _top_singular_value(config)
        return {"norm_A": top, "sigma_A": top / config.condition_number}


def _top_singular_value(config: Config) -> float:
    """`s (√n + √m)`, the typical `‖A‖` of the Gaussian ensemble at the same scaling."""
    return entry_scale(config) * (math.sqrt(config.n) + math.sqrt(config.m))


def _distinct_rows(key: PRNGKeyArray, m: int, n: int) -> Array:
    """`m` distinct indices of `range(n)`, uniformly drawn, in increasing order."""
    return jnp.sort(jax.random.permutation(key, n)[:m])


@dataclasses.dataclass(frozen=True)
class Inpainting(Operator):
    """The rows of `I_n` at `m` distinct coordinates drawn per seed: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "inpainting"
    sampling: ClassVar[bool] = True

    def draw(self, config, key, gaussian, arrays):
        rows = _distinct_rows(key, config.m, config.n)
        return (rows[:, None] == jnp.arange(config.n)[None, :]).astype(gaussian.dtype)

    def spectrum(self, config):
        return {"norm_A": 1.0, "sigma_A": 1.0}


def blur_kernel(n: int, width: Array | float, dtype) -> Float[Array, " n"]:
    """`h_j ∝ exp(−j²/(2w²))`, `j` taken modulo `n` (its representative nearest 0), `Σ h = 1`."""
    offsets = jnp.arange(n)
    distance = jnp.minimum(offsets, n - offsets).astype(dtype)
    kernel = jnp.exp(-(distance**2) / (2 * jnp.asarray(width, dtype) ** 2))
    return kernel / jnp.sum(kernel)


def evenly_spaced(m: int, n: int) -> np.ndarray:
    """The `m` sample positions `⌊i n / m⌋`, `i < m`, of the blur operator."""
    return (np.arange(m) * n) // m


@dataclasses.dataclass(frozen=True)
class Blur(Operator):
    """Circular convolution with a normalised Gaussian kernel of width `Config.blur_width`
    samples, then `m` evenly spaced samples; the same for every seed."""

    name: ClassVar[str] = "blur"
    parameters: ClassVar[dict[str, float]] = {"blur_width": 1.0}
    sampling: ClassVar[bool] = True

    def draw(self, config, key, gaussian, arrays):
        n = config.n
        kernel = blur_kernel(n, arrays["blur_width"], gaussian.dtype)
        rows = evenly_spaced(config.m, n)
        return kernel[(rows[:, None] - np.arange(n)[None, :]) % n]  # (C x)_i = Σ_j h_{i−j} x_j

    def describe(self, config, parameters=True):
        return f"Gaussian blur of width {config.blur_width:g} samples" if parameters else "Gaussian blur"

    def spectrum(self, config):
        with jax.enable_x64(True):
            matrix = np.asarray(
                self.draw(
                    config,
                    None,
                    jnp.zeros((), jnp.float64),
                    {"blur_width": jnp.asarray(config.blur_width, jnp.float64)},
                )
            )
        norm, sigma = realised_spectrum_numpy(matrix)
        return {"norm_A": norm, "sigma_A": sigma}


def _product_mod(a: Array, b: Array, modulus: int) -> Array:
    """`(a b) mod modulus`, exact in int32 for `0 ≤ a, b < modulus < 2²²` (9-bit pieces of `b`)."""
    result = jnp.zeros(jnp.broadcast_shapes(a.shape, b.shape), jnp.int32)
    for shift in (18, 9, 0):
        result = (result * 512) % modulus
        result = (result + (a * ((b >> shift) & 511)) % modulus) % modulus
    return result


@dataclasses.dataclass(frozen=True)
class PartialDCT(Operator):
    """`m` distinct rows, drawn per seed, of the orthonormal DCT-II matrix
    `C[k, j] = √(2/n) c_k cos(π (2j+1) k / (2n))`, `c_0 = 1/√2`: `A Aᵀ = I_m`."""

    name: ClassVar[str] = "dct"
    sampling: ClassVar[bool] = True
    largest_n: ClassVar[int] = 2**20 - 1

    def validate(self, config):
        super().validate(config)
        if config.n > self.largest_n:
            raise ValueError(f"Config.n must be <= {self.largest_n} for operator='dct', got {config.n}")

    def draw(self, config, key, gaussian, arrays):
        n, dtype = config.n, gaussian.dtype
        rows = _distinct_rows(key, config.m, n)
        # the angle π (2j+1) k / (2n) reduced modulo 2π exactly, in integers, then a table of
        # cosines rounded once from float64: every entry is accurate to the working precision
        phase = _product_mod(
            jnp.asarray(2 * np.arange(n) + 1, jnp.int32)[None, :], rows[:, None].astype(jnp.int32), 4 * n
        )
        table = jnp.asarray(np.cos(np.pi * np.arange(4 * n) / (2 * n)), dtype)
        weight = jnp.where(rows == 0, math.sqrt(1 / n), math.sqrt(2 / n)).astype(dtype)
        return weight[:, None] * table[phase]

    def describe(self, config, parameters=True):
        return "partial DCT"

    def spectrum(self, config):
        return {"norm_A": 1.0, "sigma_A": 1.0}


@dataclasses.dataclass(frozen=True)
class Custom(Operator):
    """A user's fixed `(m, n)` matrix, the same for every seed: `simulate(config, operator=A)`."""

    name: ClassVar[str] = "custom"

    def validate_matrix(self, config, matrix):
        if matrix is None:
            raise ValueError(
                "Config.operator='custom' needs its matrix: simulate(config, operator=A) (also compare "
                "and sweep; command line: --operator-file A.npy)"
            )
        if matrix.shape != (config.m, config.n):
            raise ValueError(
                f"the custom operator matrix must have shape (Config.m, Config.n) = "
                f"({config.m}, {config.n}), got {matrix.shape}"
            )
        if not np.all(np.isfinite(matrix)):
            raise ValueError("the custom operator matrix must be finite: it holds NaN or inf")
        if not np.any(matrix):
            raise ValueError("the custom operator matrix must not be all zeros")

    def draw(self, config, key, gaussian, arrays):
        return arrays["matrix"]


OPERATORS: dict[str, Operator] = {
    op.name: op for op in (Gaussian(), Conditioned(), Inpainting(), Blur(), PartialDCT(), Custom())
}
"""Every forward operator by name (the values of `Config.operator`)."""


def operator(name: str) -> Operator:
    """The operator called `name` (one of `Config.operator`'s values)."""
    try:
        return OPERATORS[name]
    except KeyError:
        raise ValueError(f"operator must be one of {tuple(OPERATORS)}, got {name!r}") from None


def describe(config: Config, parameters: bool = True) -> str:
    """`config`'s operator as a short label ("gaussian N(0,1)", "conditioned, κ(A) = 100, ‖A‖ = √n + √m", ...)."""
    return operator(config.operator).describe(config, parameters)


def checked_matrix(config: Config, matrix: Any) -> np.ndarray | None:
    """`matrix` as float64 (C order) after checking it suits `config` (a ValueError otherwise);
    None when there is none."""
    if matrix is not None:
        try:
            matrix = np.asarray(matrix)
        except Exception as error:  # e.g. ragged lists
            raise ValueError(f"the custom operator matrix must be an array of real numbers: {error}") from None
        if matrix.dtype.kind not in "biuf":
            raise ValueError(f"the custom operator matrix must hold real numbers, got dtype {matrix.dtype}")
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    operator(config.operator).validate_matrix(config, matrix)
    return matrix


def matrix_sha256(matrix: np.ndarray | None) -> str | None:
    """SHA-256 of a matrix's float64 C-order bytes (what `checked_matrix` returns); None for none."""
    if matrix is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float64).tobytes()).hexdigest()


def placeholders() -> dict[str, float]:
    """Every operator's parameters at their placeholder values: what the compiled setup's
    static config holds, so that the values themselves never recompile it."""
    return {name: value for op in OPERATORS.values() for name, value in op.parameters.items()}


def operator_arrays(config: Config, matrix: np.ndarray | None) -> dict[str, Array]:
    """What the compiled setup receives as arrays: the operator's numeric `parameters` and the
    custom matrix, in the config's dtype (call inside `precision(config)`)."""
    dtype = jnp.dtype(config.dtype)
    arrays = {name: jnp.asarray(getattr(config, name), dtype) for name in operator(config.operator).parameters}
    if matrix is not None:
        arrays["matrix"] = jnp.asarray(matrix, dtype)
    return arrays


def _nonzero_floor(singular: Array, shape: tuple[int, int], eps: float) -> Array:
    """The numerical-rank threshold of NumPy's `matrix_rank`: `σ_1 max(m, n) ε`."""
    return singular[0] * max(shape) * eps


def realised_spectrum(matrix: Float[Array, "m n"]) -> tuple[Array, Array]:
    """`‖A‖` and `σ_A`, the smallest singular value above the numerical-rank threshold
    (docs/theory.md §1), by SVD."""
    singular = jnp.linalg.svd(matrix, compute_uv=False)
    floor = _nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return singular[0], jnp.min(jnp.where(singular > floor, singular, jnp.inf))


def row_space_basis(matrix: Float[Array, "m n"]) -> Float[Array, "r n"]:
    """Orthonormal rows spanning `Im(Aᵀ)` (the right singular vectors above the numerical-rank
    threshold), padded with zero rows to `min(m, n)`: `Pv = basisᵀ (basis v)` (docs/theory.md §7)."""
    _, singular, right = jnp.linalg.svd(matrix, full_matrices=False)
    floor = _nonzero_floor(singular, matrix.shape, float(jnp.finfo(matrix.dtype).eps))
    return right * (singular > floor)[:, None]


def realised_spectrum_numpy(matrix: np.ndarray) -> tuple[float, float]:
    """`realised_spectrum` on the host, in float64."""
    singular = np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)
    floor = _nonzero_floor(singular, matrix.shape, float(np.finfo(np.float64).eps))
    return float(singular[0]), float(singular[singular > floor].min())
