"""The seed axis over every visible JAX device: `shard_map`, so that each device runs its own
loops and early stopping never waits on a cross-device reduction at every step.
Infrastructure: no formula of docs/theory.md; the seeds it splits are those of §6."""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

SEED_AXIS = "seeds"


def padded_seeds(seeds: int) -> int:
    """The seed count rounded up to a multiple of the device count (the extra seeds are drawn
    with their own keys, computed, and dropped)."""
    devices = jax.device_count()
    return -(-seeds // devices) * devices


@functools.lru_cache(maxsize=None)
def over_seeds(function: Callable, batched: tuple[bool, ...]) -> Callable:
    """`function` with the arguments flagged in `batched` split along their leading (seed) axis
    over all devices, the others replicated, and every output split the same way; `function`
    itself on one device. Cached, so each wrapper compiles once per shape."""
    devices = jax.devices()
    if len(devices) == 1:
        return function
    mesh = Mesh(np.array(devices), (SEED_AXIS,))
    specs = tuple(PartitionSpec(SEED_AXIS) if flag else PartitionSpec() for flag in batched)
    return eqx.filter_jit(
        jax.shard_map(function, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(SEED_AXIS), check_vma=False)
    )
