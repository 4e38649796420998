"""Kernel spectra at scale (docs/theory.md §12 "Kernel spectra at scale"): the extreme eigenvalues and
the top eigenpairs of `K = J Jᵀ` (n × n) and `H = A J Jᵀ Aᵀ` (m × m) of any `wideDIP.Network`
without forming `J` (n × p) or the kernels: only the products `v ↦ J(Jᵀ v)`, each one JVP and one
VJP of the network linearised once (`jax.linearize`, and `jax.linear_transpose` of it: the VJP).

The eigensolver is Lanczos with full reorthogonalisation (two classical Gram–Schmidt passes against
the whole basis at each step), written here with `lax` loops, not
`jax.experimental.sparse.linalg.lobpcg_standard`. LOBPCG does reach 1e-6 (float64, n = 256: about
1e-14 at both ends, the smallest through the shift `c I − K`), but: it finds the top only, so the
smallest costs a second run whose accuracy is absolute in `c ≥ λ_max`; it refuses `5 × block ≥ n`
(the top-32 pairs need n > 160, the extremes of an `m ≤ 5` kernel none at all); and it applies the
kernel to three blocks per iteration: for the top 32 pairs of `K` at n = 4096 (two-layer, k = 200)
it took 2 to 10 times as long as Lanczos on two shared CPU cores. One Lanczos run gives both ends and the
top pairs at once, at any size. Each returned value comes with the residual `‖M y − θ y‖` of its
Ritz pair (computed by one more product each): a bound on the distance from `θ` to the spectrum,
so that an unconverged value is seen (`KernelSpectrum.converged`).

"Smallest" is `kernel_statistics`'s (`kernels.py`): for `K`, 0 by rank when `p < n`; for `H`, the
smallest on Im(A) (the `(m − n + 1)`-th smallest when `m > n`, 0 by rank when `p < min(m, n)`).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray, PyTree

_HIGHEST = jax.lax.Precision.HIGHEST
"""The reorthogonalisation's products in full precision (no TF32 on GPUs)."""


class KernelSpectrum(eqx.Module):
    """The extremes and top eigenpairs of `K` or `H` (docs/theory.md §12), each value with the
    residual `‖M y − θ y‖` of its unit Ritz vector `y`: a bound on `|θ − λ|` for the eigenvalue `λ`
    of `M` nearest to `θ` (0 where the value is known by rank)."""

    largest: Array
    """`λ_max`."""
    smallest: Array
    """`λ_min`: for `K`, 0 by rank when `p < n`; for `H`, on Im(A) (`kernel_statistics`'s)."""
    values: Float[Array, " r"]
    """The top `r` eigenvalues, descending."""
    vectors: Float[Array, "a r"]
    """Their orthonormal eigenvectors (columns; `a = n` for `K`, `m` for `H`)."""
    largest_residual: Array
    smallest_residual: Array
    residuals: Float[Array, " r"]
    """The residuals of the top `r` pairs."""

    def converged(self, rtol: float = 1e-6, atol: float = 0.0) -> Bool[Array, ""]:
        """Whether each value is within `rtol |value| + atol λ_max` of the spectrum (its residual is).
        A `λ_min` at rounding level (a kernel singular in floating point but not by rank) passes only
        with an `atol`: its relative accuracy cannot be had."""
        values = jnp.concatenate([jnp.stack([self.largest, self.smallest]), self.values])
        residuals = jnp.concatenate([jnp.stack([self.largest_residual, self.smallest_residual]), self.residuals])
        return jnp.all(residuals <= rtol * jnp.abs(values) + atol * self.largest)


def _gram_product(
    network: eqx.Module, parameters: PyTree, input: Float[Array, " d"], mixing: Float[Array, "n a"] | None
) -> Callable[[Float[Array, " a"]], Float[Array, " a"]]:
    """`v ↦ Mᵀ J Jᵀ M v` (`M = I` when `mixing` is None): the network linearised once, then one JVP
    and one VJP (the JVP's transpose) per product; `J` is never formed."""
    _, tangent = jax.linearize(lambda p: network.apply(p, input), parameters)
    cotangent = jax.linear_transpose(tangent, parameters)

    def product(v: Array) -> Array:
        if mixing is None:
            return tangent(*cotangent(v))
        return tangent(*cotangent(mixing @ v)) @ mixing

    return product


def kernel_product(
    network: eqx.Module,
    parameters: PyTree,
    input: Float[Array, " d"],
    operator: Float[Array, "m n"] | None = None,
) -> Callable[[Float[Array, " a"]], Float[Array, " a"]]:
    """`v ↦ K v = J(Jᵀ v)` (n), or with `operator` `v ↦ H v = A J Jᵀ Aᵀ v` (m), of the `wideDIP.Network`
    `network` at `parameters` (docs/theory.md §3, §12): one JVP and one VJP per product, `J` never formed."""
    return _gram_product(network, parameters, input, None if operator is None else operator.T)


def _orthogonalised(vector: Float[Array, " a"], basis: Float[Array, "s a"]) -> Float[Array, " a"]:
    """`vector` less its projection on the rows of `basis` (orthonormal or zero), twice (CGS2)."""
    for _ in range(2):
        vector = vector - jnp.matmul(jnp.matmul(basis, vector, precision=_HIGHEST), basis, precision=_HIGHEST)
    return vector


def _lanczos(
    product: Callable[[Array], Array], dimension: int, steps: int, key: PRNGKeyArray, dtype: jnp.dtype
) -> tuple[Float[Array, " s"], Float[Array, "s s"], Float[Array, "s a"]]:
    """The Ritz values (ascending), their coordinates (columns) in the basis and the orthonormal basis
    (rows) of `steps` Lanczos steps with full reorthogonalisation from a random start. Where `Kq` is (up to `√ε`) in the span of the basis
    (an invariant subspace: a rank-deficient kernel), the next direction is a fresh random one and
    the coupling is 0 (`T` block diagonal)."""
    start_key, restart_key = jax.random.split(key)
    start = jax.random.normal(start_key, (dimension,), dtype)
    basis = jnp.zeros((steps + 1, dimension), dtype).at[0].set(start / jnp.linalg.norm(start))
    floor = jnp.sqrt(jnp.finfo(dtype).eps)

    def step(j, state):
        basis, diagonal, coupling = state
        direction = basis[j]
        image = product(direction)
        residual = _orthogonalised(image, basis)
        norm = jnp.linalg.norm(residual)
        invariant = norm <= floor * jnp.linalg.norm(image)
        fresh = _orthogonalised(jax.random.normal(jax.random.fold_in(restart_key, j), (dimension,), dtype), basis)
        following = jnp.where(invariant, fresh / jnp.linalg.norm(fresh), residual / jnp.where(invariant, 1, norm))
        return (
            basis.at[j + 1].set(following),
            diagonal.at[j].set(direction @ image),
            coupling.at[j].set(jnp.where(invariant, 0, norm)),
        )

    zeros = jnp.zeros(steps, dtype)
    basis, diagonal, coupling = jax.lax.fori_loop(0, steps, step, (basis, zeros, zeros))
    off_diagonal = coupling[:-1]
    tridiagonal = jnp.diag(diagonal) + jnp.diag(off_diagonal, 1) + jnp.diag(off_diagonal, -1)
    values, coordinates = jnp.linalg.eigh(tridiagonal)
    return values, coordinates, basis[:steps]


def _observation_frame(operator: Float[Array, "m n"]) -> tuple[Float[Array, "n a"], Float[Array, "m a"] | None]:
    """`H` on Im(A) as `Mᵀ K M` on `R^a`, `a = min(m, n)`: `M = Aᵀ` when `m ≤ n` (Im(A) is `R^m` for a
    full-rank `A`); when `m > n`, `M = Wᵀ Σ` from `A = U Σ W` (thin SVD), `H = U (Mᵀ K M) Uᵀ`, and the
    frame `U` maps eigenvectors back to `R^m`."""
    m, n = operator.shape
    if m <= n:
        return operator.T, None
    left, singular, right = jnp.linalg.svd(operator, full_matrices=False)
    return right.T * singular, left


def kernel_spectrum(
    network: eqx.Module,
    parameters: PyTree,
    input: Float[Array, " d"],
    key: PRNGKeyArray,
    operator: Float[Array, "m n"] | None = None,
    *,
    rank: int = 0,
    steps: int = 200,
) -> KernelSpectrum:
    """`λ_max`, `λ_min` and the top-`rank` eigenpairs of `K(θ)` (`operator` None) or `H(θ)` of the
    `wideDIP.Network` `network` at `parameters` (docs/theory.md §12), by `steps` Lanczos steps (at most
    the kernel's dimension `a`: `n`, or `min(m, n)` on Im(A)) from `key`; `J` and the kernel are never
    formed. Jit-compiled; vmap it over seeds (`jax.vmap`, `eqx.filter_vmap`) with one key each."""
    n = jax.eval_shape(network.apply, parameters, input).shape[0]
    dimension = n if operator is None else min(operator.shape)
    if not 0 <= rank <= dimension:
        raise ValueError(f"rank must be from 0 to the kernel's dimension {dimension}, got {rank}")
    if steps < 1:
        raise ValueError(f"steps must be an integer >= 1 (Lanczos steps), got {steps}")
    if rank > min(steps, dimension):
        raise ValueError(
            f"steps must be >= rank = {rank} (the Ritz pairs come from `steps` Lanczos steps), got {steps}"
        )
    return _kernel_spectrum(network, parameters, input, key, operator, rank, min(steps, dimension))


@eqx.filter_jit
def _kernel_spectrum(
    network: eqx.Module,
    parameters: PyTree,
    input: Float[Array, " d"],
    key: PRNGKeyArray,
    operator: Float[Array, "m n"] | None,
    rank: int,
    steps: int,
) -> KernelSpectrum:
    """`kernel_spectrum` with its arguments checked and `steps` at most the kernel's dimension."""
    output = jax.eval_shape(network.apply, parameters, input)
    dtype = output.dtype
    mixing, frame = (None, None) if operator is None else _observation_frame(operator)
    dimension = output.shape[0] if mixing is None else mixing.shape[1]
    product = _gram_product(network, parameters, input, mixing)
    values, coordinates, basis = _lanczos(product, dimension, steps, key, dtype)
    order = jnp.concatenate([jnp.array([steps - 1, 0]), jnp.arange(steps - 1, steps - 1 - rank, -1)])
    picked_values = values[order]
    picked_vectors = jnp.matmul(coordinates[:, order].T, basis, precision=_HIGHEST)  # the Ritz vectors, rows
    images = jax.vmap(product)(picked_vectors)
    residuals = jnp.linalg.norm(images - picked_values[:, None] * picked_vectors, axis=1)
    count = jax.flatten_util.ravel_pytree(parameters)[0].size
    zero_by_rank = count < dimension  # rank(K) ≤ p, and rank(H) ≤ p on Im(A)
    smallest = jnp.zeros((), dtype) if zero_by_rank else jnp.maximum(picked_values[1], 0.0)
    top_vectors = picked_vectors[2:].T
    return KernelSpectrum(
        largest=picked_values[0],
        smallest=smallest,
        values=picked_values[2:],
        vectors=top_vectors if frame is None else frame @ top_vectors,
        largest_residual=residuals[0],
        smallest_residual=jnp.zeros((), dtype) if zero_by_rank else residuals[1],
        residuals=residuals[2:],
    )
