"""Random draws of one run, one key per seed: the inverse problem by its law (docs/theory.md §1, §6)
and the network's initialisation (A-1..A-3)."""

from __future__ import annotations

import dataclasses
import functools
import math

import equinox as eqx
import jax
import jax.extend.random
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._operators.base import Operator
from .._signals.base import Signal

V_LAWS = ("gaussian", "rademacher", "uniform")
"""The laws of the entries of the layer `V` (A-3), each of unit variance (the values of `Config.v_law`)."""

# A seed's Gaussian draws: one `jax.random.normal` call (one threefry kernel to compile), in this
# order; `input` last, so that (threefry being counter-based) the other blocks do not depend on `d`.
_GAUSSIAN_LAYOUT = ("operator", "signal", "noise", "layer", "features", "input")
# Streams with a key of their own (append only: a stream's key is its position).
_OTHER_STREAMS = ("signal", "layer", "complement", "operator")


class Problem(eqx.Module):
    """Everything random in one run but the part of `W(0)` orthogonal to `u`: `features = W(0) u`
    is drawn directly, so the reduced dynamics (§4) never depend on `d` (`initial_weights`)."""

    operator: Float[Array, "m n"]
    signal: Float[Array, " n"]
    clean_observation: Float[Array, " m"]
    observation: Float[Array, " m"]
    layer: Float[Array, "n k"]
    input: Float[Array, " d"]
    features: Float[Array, " k"]

    def theory_inputs(self, signal: Array, residual: Array, norm_A: Array, sigma_A: Array) -> dict[str, Array]:
        """Theorem 2.1's inputs that need neither kernel nor `D` (docs/theory.md §5, §9), for a network's
        initial output `signal` and residual `A signal − y`: `‖A‖`, `σ_A`, `‖y(0) − y‖`, `‖g(u, θ(0))‖`,
        `‖y‖`, `‖ε‖`."""
        return {
            "norm_A": norm_A,
            "sigma_A": sigma_A,
            "initial_error": jnp.linalg.norm(residual),
            "network_norm": jnp.linalg.norm(signal),
            "observation_norm": jnp.linalg.norm(self.observation),
            "noise_norm": jnp.linalg.norm(self.observation - self.clean_observation),
        }


def seed_keys(seed: int, seeds: int) -> PRNGKeyArray:
    """Keys of the runs: run `i` gets `fold_in(PRNGKey(seed), i)`, whatever `seeds` is."""
    root = jax.random.PRNGKey(seed)
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(seeds))


def _stream(key: PRNGKeyArray, name: str) -> PRNGKeyArray:
    return jax.random.fold_in(key, 1 + _OTHER_STREAMS.index(name))


def _block_shapes(m, n, d: int, k: int) -> dict[str, tuple]:
    return {"operator": (m, n), "signal": (n,), "noise": (m,), "layer": (n, k), "features": (k,), "input": (d,)}


class ProblemLaw(eqx.Module):
    """The law of one run's draws (docs/theory.md §1, §6): operator, signal, noise level, the
    network's sizes `d`, `k` and the law of `V` (A-3), in `dtype`. `cell_sizes`: in a padded batch
    (`padded`), the cell's own `m` and `n`, the operator's being the batch's."""

    d: int = eqx.field(static=True)
    k: int = eqx.field(static=True)
    dtype: str = eqx.field(static=True)
    v_law: str = eqx.field(static=True)
    operator: Operator
    signal: Signal
    noise: Float[ArrayLike, ""]
    signal_norm: Float[ArrayLike, ""] | None = None
    """`‖x̄‖` after rescaling (docs/theory.md §12); None: as drawn."""
    cell_sizes: tuple[Int[ArrayLike, ""], Int[ArrayLike, ""]] | None = None

    def padded(self, m: int, n: int) -> ProblemLaw:
        """This law drawn at a batch's padded shape `m × n`, zeros in the padding (exact only for
        what `_experiments.batches.can_pad` admits)."""
        sizes = (jnp.asarray(self.operator.m, jnp.int32), jnp.asarray(self.operator.n, jnp.int32))
        return dataclasses.replace(self, operator=dataclasses.replace(self.operator, m=m, n=n), cell_sizes=sizes)

    def draw(self, key: PRNGKeyArray) -> Problem:
        """One run's draws (docs/theory.md §1, §2, §6, §8, §12): `A`, `x̄` (rescaled to `signal_norm`), `y = A x̄ + ε` with `ε`
        projected onto Im(A), `V`, `u` uniform on S^{d-1} (A-1), `W(0) u ~ N(0, I_k)` (A-2)."""
        gaussian = _gaussian_blocks(self, key)
        operator = self.operator.draw(_stream(key, "operator"), gaussian["operator"])
        signal = self.signal.draw(_stream(key, "signal"), gaussian["signal"])
        if self.signal_norm is not None:
            signal = signal * (self.signal_norm / jnp.linalg.norm(signal))
        clean = operator @ signal
        observation = clean + project_onto_range(operator, self.noise * gaussian["noise"])
        return Problem(
            operator=operator,
            signal=signal,
            clean_observation=clean,
            observation=observation,
            layer=_unit_variance(gaussian["layer"], _stream(key, "layer"), self.v_law),
            input=gaussian["input"] / jnp.linalg.norm(gaussian["input"]),
            features=gaussian["features"],
        )


def draw_seeds(laws: ProblemLaw, keys: PRNGKeyArray) -> Problem:
    """Every seed's draws: `laws` holds one law per seed (its array leaves stacked over the seeds)."""
    return jax.vmap(lambda law, key: law.draw(key))(laws, keys)


def _gaussian_blocks(law: ProblemLaw, key: PRNGKeyArray) -> dict[str, Array]:
    """The seed's Gaussian blocks: one flat `jax.random.normal` draw cut by `_GAUSSIAN_LAYOUT` (in a
    padded law, the cell's numbers where they sit in its flat draw, zeros in the padding)."""
    shapes = _block_shapes(law.operator.m, law.operator.n, law.d, law.k)
    if law.cell_sizes is not None:
        return _padded_gaussian_blocks(law, jax.random.fold_in(key, 0), *law.cell_sizes, shapes)
    size = sum(math.prod(shape) for shape in shapes.values())
    return _split(jax.random.normal(jax.random.fold_in(key, 0), (size,), jnp.dtype(law.dtype)), shapes)


def _split(flat: Array, shapes: dict[str, tuple]) -> dict[str, Array]:
    blocks = jnp.split(flat, np.cumsum([math.prod(shapes[name]) for name in _GAUSSIAN_LAYOUT])[:-1])
    return {name: block.reshape(shapes[name]) for name, block in zip(_GAUSSIAN_LAYOUT, blocks)}


def _normal_at(key: PRNGKeyArray, counters: Array, dtype) -> Array:
    """The entries `counters` of a flat `jax.random.normal(key, (size,), dtype)`, whatever its size:
    JAX's partitionable threefry gives entry `i` the bits of counter `i` alone; the bits become
    numbers as `jax.random.uniform` and `normal` make them (checked bit for bit in the tests)."""
    k1, k2 = jax.random.key_data(key).astype(jnp.uint32)
    high, low = jax.extend.random.threefry2x32_p.bind(
        jnp.broadcast_to(k1, counters.shape), jnp.broadcast_to(k2, counters.shape), jnp.zeros_like(counters), counters
    )
    finfo = jnp.finfo(dtype)
    if finfo.bits == 64:
        bits, unsigned = (high.astype(jnp.uint64) << jnp.uint64(32)) | low.astype(jnp.uint64), jnp.uint64
    else:
        bits, unsigned = high ^ low, jnp.uint32
    float_bits = jax.lax.shift_right_logical(bits, unsigned(finfo.bits - finfo.nmant)) | np.array(1.0, dtype).view(
        unsigned
    )
    floats = jax.lax.bitcast_convert_type(float_bits, dtype) - jnp.array(1.0, dtype)
    low_end, high_end = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype), np.array(1.0, dtype)
    uniform = jax.lax.max(jnp.asarray(low_end), floats * (high_end - low_end) + low_end)
    return jax.lax.mul(np.array(np.sqrt(2), dtype), jax.lax.erf_inv(uniform))


def _padded_gaussian_blocks(
    law: ProblemLaw, key: PRNGKeyArray, m: Array, n: Array, shapes: dict[str, tuple]
) -> dict[str, Array]:
    """`_gaussian_blocks` of an `m × n` cell padded to the operator's shape: one threefry call."""
    if not jax.config.jax_threefry_partitionable:
        raise ValueError("padded draws need jax_threefry_partitionable=True (JAX's default)")
    true = _block_shapes(m.astype(jnp.uint32), n.astype(jnp.uint32), law.d, law.k)
    offset, counters, inside = jnp.uint32(0), [], []
    for name in _GAUSSIAN_LAYOUT:
        shape, size = shapes[name], true[name]
        index = [jax.lax.broadcasted_iota(jnp.uint32, shape, axis) for axis in range(len(shape))]
        flat = index[0] * size[1] + index[1] if len(shape) == 2 else index[0]
        counters.append((offset + flat).ravel())
        inside.append(functools.reduce(jnp.logical_and, [i < limit for i, limit in zip(index, size)]).ravel())
        offset = offset + functools.reduce(jnp.multiply, size, jnp.uint32(1))
    values = jnp.where(jnp.concatenate(inside), _normal_at(key, jnp.concatenate(counters), jnp.dtype(law.dtype)), 0)
    return _split(values, shapes)


def _unit_variance(gaussian: Array, key: PRNGKeyArray, law: str) -> Array:
    """Unit-variance entries: the Gaussian block as drawn, or a fresh draw of another law."""
    shape, dtype = gaussian.shape, gaussian.dtype
    if law == "gaussian":
        return gaussian
    if law == "rademacher":
        return jax.random.rademacher(key, shape, dtype)
    if law == "uniform":
        limit = jnp.sqrt(jnp.asarray(3.0, dtype))
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    raise ValueError(f"v_law must be one of {V_LAWS}, got {law!r}")


def project_onto_range(operator: Float[Array, "m n"], vector: Float[Array, " m"]) -> Float[Array, " m"]:
    """Orthogonal projection onto Im(A); the identity when A has full row rank (m ≤ n)."""
    m, n = operator.shape
    if m <= n:
        return vector
    q, _ = jnp.linalg.qr(operator, mode="reduced")
    return q @ (q.T @ vector)


def initial_weights(key: PRNGKeyArray, problem: Problem) -> Float[Array, "k d"]:
    """`W(0) = z(0) uᵀ + G (I − u uᵀ)`, `G` iid N(0,1): iid N(0,1) entries (A-2) and `W(0) u = z(0)`
    exactly, so that `full` and `reduced` start from the same point."""
    u, features = problem.input, problem.features
    g = jax.random.normal(_stream(key, "complement"), (features.shape[0], u.shape[0]), u.dtype)
    return jnp.outer(features, u) + g - jnp.outer(g @ u, u)
