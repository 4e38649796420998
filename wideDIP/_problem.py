"""Random draws of one run: the inverse problem (docs/theory.md §1, §6) and the network's
initialisation (A-1..A-3), one `jax.random` key per seed."""

from __future__ import annotations

import functools
import math

import jax
import jax.extend.random
import jax.numpy as jnp
import equinox as eqx
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._config import Config
from ._operators import OPERATORS, checked_matrix, operator_arrays

# Every Gaussian draw of a seed comes from one `jax.random.normal` call (one threefry
# kernel to compile instead of six), laid out in this order; `input` comes last so that,
# threefry being counter-based, the other blocks do not depend on `d`.
_GAUSSIAN_LAYOUT = ("operator", "signal", "noise", "layer", "features", "input")
# Streams with a key of their own: non-Gaussian laws, the part of W(0) orthogonal to u, and
# the operators other than "gaussian" (docs/theory.md §8). Append only: a stream's key is its
# position.
_OTHER_STREAMS = ("signal", "layer", "complement", "operator")


class Problem(eqx.Module):
    """Everything random in one run, except the part of `W(0)` orthogonal to `u`.

    `features = W(0) u ~ N(0, I_k)` is drawn directly, so the reduced dynamics (§4) never
    depend on `d`; `initial_weights` completes it into a full `W(0)` with iid N(0,1) entries.
    """

    operator: Float[Array, "m n"]
    signal: Float[Array, " n"]
    clean_observation: Float[Array, " m"]
    observation: Float[Array, " m"]
    layer: Float[Array, "n k"]
    input: Float[Array, " d"]
    features: Float[Array, " k"]


def seed_keys(config: Config) -> PRNGKeyArray:
    """Keys of the runs: run `i` gets `fold_in(PRNGKey(seed), i)`, whatever `seeds` is."""
    _require_config(config, "seed_keys")
    root = jax.random.PRNGKey(config.seed)
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(config.seeds))


def _require_config(config: object, caller: str) -> None:
    if not isinstance(config, Config):
        raise ValueError(f"{caller} expects a wideDIP.Config as config, got {type(config).__name__}")


def _stream(key: PRNGKeyArray, name: str) -> PRNGKeyArray:
    return jax.random.fold_in(key, 1 + _OTHER_STREAMS.index(name))


def _block_shapes(m, n, d: int, k: int) -> dict[str, tuple]:
    return {"operator": (m, n), "signal": (n,), "noise": (m,), "layer": (n, k), "features": (k,), "input": (d,)}


def _gaussian_blocks(config: Config, key: PRNGKeyArray, arrays: dict[str, Array]) -> dict[str, Array]:
    """The seed's Gaussian blocks: one flat `jax.random.normal` draw split by `_GAUSSIAN_LAYOUT`;
    in a padded setup (`arrays` holds this cell's true `m` and `n`, `config` the padded ones) the
    same numbers, drawn where they sit in that flat draw, with zeros in the padding."""
    shapes = _block_shapes(config.m, config.n, config.d, config.k)
    if "m" in arrays:
        return _padded_gaussian_blocks(config, jax.random.fold_in(key, 0), arrays["m"], arrays["n"], shapes)
    sizes = [math.prod(shapes[name]) for name in _GAUSSIAN_LAYOUT]
    flat = jax.random.normal(jax.random.fold_in(key, 0), (sum(sizes),), jnp.dtype(config.dtype))
    blocks = jnp.split(flat, np.cumsum(sizes)[:-1])
    return {name: block.reshape(shapes[name]) for name, block in zip(_GAUSSIAN_LAYOUT, blocks)}


def _counter_bits(key_data: Array, bit_width: int, shape: tuple[int, ...]) -> Array:
    """Threefry bits of the flat draw at counters `offset + row × stride + column`: JAX's
    partitionable threefry gives element `i` of a flat draw the bits of counter `i` alone, so
    these are the bits that element would have (`key_data` = the key's two words, offset, stride)."""
    k1, k2, offset, stride = (key_data[..., i] for i in range(4))
    rows = jax.lax.broadcasted_iota(jnp.uint32, shape, 0)
    columns = jax.lax.broadcasted_iota(jnp.uint32, shape, len(shape) - 1) if len(shape) == 2 else jnp.zeros(shape, jnp.uint32)
    counters = offset + (rows * stride + columns if len(shape) == 2 else rows)
    high, low = jax.extend.random.threefry2x32_p.bind(
        jnp.broadcast_to(k1, shape), jnp.broadcast_to(k2, shape), jnp.zeros(shape, jnp.uint32), counters)
    if bit_width == 64:
        return (high.astype(jnp.uint64) << jnp.uint64(32)) | low.astype(jnp.uint64)
    return (high ^ low).astype({8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32}[bit_width])


def _unused(*args):
    raise NotImplementedError("the counter PRNG only draws (wideDIP._problem._padded_gaussian_blocks)")


_COUNTER_PRNG = jax.extend.random.define_prng_impl(key_shape=(4,), seed=_unused, split=_unused, fold_in=_unused,
                                                   random_bits=_counter_bits, name="widedip_counter_threefry")


def _padded_gaussian_blocks(config: Config, key: PRNGKeyArray, m: Array, n: Array,
                            shapes: dict[str, tuple]) -> dict[str, Array]:
    """`_gaussian_blocks` of a cell with `m × n` observations padded to `config.m × config.n`."""
    if not jax.config.jax_threefry_partitionable:
        raise ValueError("padded draws need jax_threefry_partitionable=True (JAX's default)")
    true = _block_shapes(m.astype(jnp.uint32), n.astype(jnp.uint32), config.d, config.k)
    offset, blocks = jnp.uint32(0), {}
    for name in _GAUSSIAN_LAYOUT:
        shape, size = shapes[name], true[name]
        stride = size[-1] if len(size) == 2 else 1
        data = jnp.stack([*jax.random.key_data(key).astype(jnp.uint32), offset, jnp.asarray(stride, jnp.uint32)])
        values = jax.random.normal(jax.random.wrap_key_data(data, impl=_COUNTER_PRNG), shape, jnp.dtype(config.dtype))
        inside = functools.reduce(jnp.logical_and, [jax.lax.broadcasted_iota(jnp.uint32, shape, axis) < limit
                                                    for axis, limit in enumerate(size)])
        blocks[name] = jnp.where(inside, values, 0)
        offset = offset + functools.reduce(jnp.multiply, size, jnp.uint32(1))
    return blocks


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
    raise ValueError(f"v_law must be one of ('gaussian', 'rademacher', 'uniform'), got {law!r}")


def _signal(gaussian: Array, key: PRNGKeyArray, law: str) -> Array:
    if law == "sphere":
        return jnp.sqrt(jnp.asarray(gaussian.size, gaussian.dtype)) * gaussian / jnp.linalg.norm(gaussian)
    return _unit_variance(gaussian, key, law)


def project_onto_range(operator: Float[Array, "m n"], vector: Float[Array, " m"]) -> Float[Array, " m"]:
    """Orthogonal projection onto Im(A); the identity when A has full row rank (m ≤ n)."""
    m, n = operator.shape
    if m <= n:
        return vector
    q, _ = jnp.linalg.qr(operator, mode="reduced")
    return q @ (q.T @ vector)


def draw_problem(config: Config, key: PRNGKeyArray, operator: Array | np.ndarray | None = None) -> Problem:
    """One run's draws (docs/theory.md §1, §2, §6): `A` (`config.operator`, docs/theory.md §8; for
    "custom", the matrix `operator`), `x̄`, `y = A x̄ + ε` with `ε` projected onto Im(A), `V`,
    `u` uniform on S^{d-1} (A-1), and `W(0) u ~ N(0, I_k)` (A-2)."""
    _require_config(config, "draw_problem")
    return draw_problem_with(config, key, problem_arrays(config, checked_matrix(config, operator)))


def problem_arrays(config: Config, matrix: np.ndarray | None) -> dict[str, Array]:
    """What the compiled setup receives as arrays: the operator's (`operator_arrays`) and the
    noise level (call inside `precision(config)`)."""
    return {**operator_arrays(config, matrix), "noise": jnp.asarray(config.noise, jnp.dtype(config.dtype))}


def draw_problem_with(config: Config, key: PRNGKeyArray, arrays: dict[str, Array]) -> Problem:
    """`draw_problem` with the operator's numbers and matrix and the noise level already as
    arrays (`problem_arrays`): what the compiled setup traces once per shape."""
    gaussian = _gaussian_blocks(config, key, arrays)
    operator = OPERATORS[config.operator].draw(config, _stream(key, "operator"), gaussian["operator"], arrays)
    signal = _signal(gaussian["signal"], _stream(key, "signal"), config.signal)
    clean = operator @ signal
    observation = clean + project_onto_range(operator, arrays["noise"] * gaussian["noise"])
    return Problem(
        operator=operator,
        signal=signal,
        clean_observation=clean,
        observation=observation,
        layer=_unit_variance(gaussian["layer"], _stream(key, "layer"), config.v_law),
        input=gaussian["input"] / jnp.linalg.norm(gaussian["input"]),
        features=gaussian["features"],
    )


def initial_weights(config: Config, key: PRNGKeyArray, problem: Problem) -> Float[Array, "k d"]:
    """`W(0) = z(0) uᵀ + G (I − u uᵀ)` with `G` iid N(0,1): iid N(0,1) entries (A-2) and
    `W(0) u = z(0)` exactly, so `full` and `reduced` start from the same point."""
    u = problem.input
    g = jax.random.normal(_stream(key, "complement"), (config.k, config.d), jnp.dtype(config.dtype))
    return jnp.outer(problem.features, u) + g - jnp.outer(g @ u, u)
