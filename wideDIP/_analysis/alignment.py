"""The alignment of the signal with the network's kernel (docs/theory.md §12): how much of `‖x̄‖²`,
and of its part in `ker A`, lies in the span of the top-`r` eigenvectors of `K(θ(0))`
(`wideDIP._networks.kernel_spectra`), against the same for a Gaussian vector of equal norm (whose
expected fraction is `r/n`: its direction is uniform on the sphere); and the energy per eigenvector
index, for the alignment spectrum. Pure JAX: vmap it over seeds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._operators.base import row_space_basis

ALIGNMENTS = ("signal_alignment", "kernel_alignment", "noise_alignment")
"""The fractions in span(U), per seed: of `‖x̄‖²`, of `‖P_ker x̄‖²` (NaN when `x̄` has no part in
`ker A` above rounding, `‖P_ker x̄‖² ≤ ε ‖x̄‖²`: denoising), and of a Gaussian vector's `‖g‖²`."""

ENERGIES = ("signal_energy", "noise_energy")
"""Per eigenvector index `i` (descending eigenvalues), `(u_iᵀ x̄)²/‖x̄‖²` and `(u_iᵀ g)²/‖g‖²`: `[r]` per seed."""


def _energy(vectors: Float[Array, "n r"], vector: Float[Array, " n"]) -> Float[Array, " r"]:
    """`(u_iᵀ v)²/‖v‖²` for each column `u_i` of `vectors` (NaN when `v = 0`)."""
    return (vector @ vectors) ** 2 / jnp.sum(vector**2)


def alignment(
    vectors: Float[Array, "n r"], signal: Float[Array, " n"], operator: Float[Array, "m n"], key: PRNGKeyArray
) -> dict[str, Array]:
    """`ALIGNMENTS` (scalars) and `ENERGIES` (`[r]`) of `signal` `x̄` with the orthonormal columns of
    `vectors` (the top-`r` eigenvectors `U` of `K(θ(0))`, `KernelSpectrum.vectors`), its part
    `P_ker x̄ = x̄ − P x̄` in `ker A` of `operator` `A` (docs/theory.md §7), and a Gaussian vector
    `g` drawn from `key` (docs/theory.md §12)."""
    basis = row_space_basis(operator)
    kernel_part = signal - (basis @ signal) @ basis
    noise = jax.random.normal(key, signal.shape, signal.dtype)
    signal_energy, noise_energy = _energy(vectors, signal), _energy(vectors, noise)
    kernel_norm = jnp.sum(kernel_part**2)
    relative_floor = jnp.finfo(signal.dtype).eps * jnp.sum(signal**2)  # ker A = {0} up to rounding
    kernel_alignment = jnp.where(kernel_norm > relative_floor, jnp.sum(_energy(vectors, kernel_part)), jnp.nan)
    return {
        "signal_alignment": jnp.sum(signal_energy),
        "kernel_alignment": kernel_alignment,
        "noise_alignment": jnp.sum(noise_energy),
        "signal_energy": signal_energy,
        "noise_energy": noise_energy,
    }
