"""The seed axis over every JAX device of every process: `shard_map`, so that each device runs its
own loops and early stopping never waits on a cross-device reduction at every step. On import: one
CPU device per core (`WIDEDIP_CPU_DEVICES` overrides), and, when `WIDEDIP_COORDINATOR` is set,
this process joins the others through `jax.distributed`.
Infrastructure: no formula of docs/theory.md; the seeds it splits are those of §6."""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import equinox as eqx
import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

SEED_AXIS = "seeds"
CPU_DEVICES = "WIDEDIP_CPU_DEVICES"
COORDINATOR = "WIDEDIP_COORDINATOR"
PROCESS_ID = "WIDEDIP_PROCESS_ID"
PROCESS_COUNT = "WIDEDIP_PROCESS_COUNT"
T = TypeVar("T")


def _integer(name: str, text: str | None, least: int, below: int | None = None) -> int:
    """The integer in environment variable `name`, checked to lie in [least, below)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or value < least or (below is not None and value >= below):
        allowed = f"an integer >= {least}" if below is None else f"an integer from {least} to {below - 1}"
        raise ValueError(f"{name} must be {allowed}, got {text!r}")
    return value


def cpu_device_count() -> int | None:
    """The CPU devices to give JAX: `$WIDEDIP_CPU_DEVICES`, else None when the user chose already
    (`jax_num_cpu_devices`, `JAX_NUM_CPU_DEVICES`, `--xla_force_host_platform_device_count` in
    `XLA_FLAGS`), else one per core this process may use."""
    setting = os.environ.get(CPU_DEVICES)
    if setting is not None:
        return _integer(CPU_DEVICES, setting, 1)
    if jax.config.jax_num_cpu_devices >= 0 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def use_every_core() -> None:
    """Split JAX's CPU platform into `cpu_device_count()` devices (the seeds then run on every core);
    nothing once JAX's backend has started, with a warning if `WIDEDIP_CPU_DEVICES` asked for it."""
    count = cpu_device_count()
    if count is None:
        return
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX computed before wideDIP was used: its devices stay as they are
        if CPU_DEVICES in os.environ:
            warnings.warn(
                f"{CPU_DEVICES}={count} is ignored: JAX's backend had started before wideDIP was imported", stacklevel=2
            )


def join_processes() -> bool:
    """When `WIDEDIP_COORDINATOR` (`host:port` of process 0) is set, join the `WIDEDIP_PROCESS_COUNT`
    processes as process `WIDEDIP_PROCESS_ID` through `jax.distributed` (CPU collectives: gloo).
    Must run before JAX's backend starts; returns whether it joined."""
    coordinator = os.environ.get(COORDINATOR)
    if not coordinator:
        for name in (PROCESS_ID, PROCESS_COUNT):
            if os.environ.get(name):
                raise ValueError(
                    f"{name} is set but {COORDINATOR} is not: set {COORDINATOR} to host:port of "
                    f"process 0 (the same on every process), or unset {name}"
                )
        return False
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{COORDINATOR} must be host:port of process 0, e.g. 10.0.0.1:1234, got {coordinator!r}")
    count = _integer(PROCESS_COUNT, os.environ.get(PROCESS_COUNT), 1)
    index = _integer(PROCESS_ID, os.environ.get(PROCESS_ID), 0, count)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes=count, process_id=index)
    return True


def is_writer() -> bool:
    """Whether this process writes files and prints results: the only process, or process 0."""
    return jax.process_index() == 0


def from_writer(compute: Callable[[], T]) -> T:
    """`compute()` run by the writing process alone, its value (or the exception it raised) given to
    every process; `compute()` itself with a single process."""
    if jax.process_count() == 1:
        return compute()
    outcome = None
    if is_writer():
        try:
            outcome = (True, compute())
        except Exception as error:  # raised on every process below
            outcome = (False, error)
    data = np.frombuffer(pickle.dumps(outcome), np.uint8)
    size = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    buffer = np.zeros(1 << max(12, (size - 1).bit_length()), np.uint8)  # few sizes: few compilations
    if is_writer():
        buffer[:size] = data
    succeeded, value = pickle.loads(np.asarray(multihost_utils.broadcast_one_to_all(buffer)).tobytes())
    if not succeeded:
        raise value
    return value


def concurrent_cells(workers: int) -> int:
    """How many sweep cells may run at once: `workers`, but one across several processes (they must
    start the same programs in the same order)."""
    return workers if jax.process_count() == 1 else 1


_THREAD = threading.local()


@contextlib.contextmanager
def sweep_cell(concurrent: int) -> Iterator[None]:
    """Around one sweep cell: with several cells at once (`concurrent` > 1), each runs on one device,
    as the cells keep the cores busy already (splitting small cells too cost a third more CPU time);
    otherwise its seeds go over every device."""
    _THREAD.one_device = concurrent > 1
    try:
        yield
    finally:
        _THREAD.one_device = False


def padded_seeds(seeds: int) -> int:
    """The seed count rounded up to a multiple of the device count (the extra seeds are drawn
    with their own keys, computed, and dropped)."""
    devices = jax.device_count()
    return -(-seeds // devices) * devices


_PLACED: dict[tuple[int, NamedSharding], jax.Array] = {}
"""Global copies of the process-local arrays given to `over_seeds`, until those arrays are freed
(the problems and dynamics go in at every checkpoint)."""


def _global(leaf: Any, sharding: NamedSharding) -> Any:
    """A process-local array (the same on every process) as a global array laid out as `sharding`."""
    if isinstance(leaf, np.ndarray):
        return jax.make_array_from_process_local_data(sharding, leaf, leaf.shape)
    if not isinstance(leaf, jax.Array):
        return leaf
    key = (id(leaf), sharding)
    if key not in _PLACED:
        _PLACED[key] = jax.make_array_from_process_local_data(sharding, np.asarray(leaf), leaf.shape)
        weakref.finalize(leaf, _PLACED.pop, key, None)
    return _PLACED[key]


def placed_over_seeds(tree: T) -> T:
    """`tree` (every leaf with a leading seed axis) split over the devices as `over_seeds` splits
    it, so that a loop of calls does not move it at every call (with one process on several
    devices, outside a sweep cell that runs on one device); else `tree` as it is."""
    devices = jax.devices()
    if len(devices) == 1 or jax.process_count() > 1 or getattr(_THREAD, "one_device", False):
        return tree
    return jax.device_put(tree, NamedSharding(Mesh(np.array(devices), (SEED_AXIS,)), PartitionSpec(SEED_AXIS)))


@functools.cache
def over_seeds(function: Callable, batched: tuple[bool, ...]) -> Callable:
    """`function` with the arguments flagged in `batched` split along their leading (seed) axis
    over all devices, the others replicated, and every output split the same way; `function`
    itself on one device. Across several processes, every process passes the same arguments and
    gets every output whole, as NumPy arrays. Cached, so each wrapper compiles once per shape."""
    devices = jax.devices()
    if len(devices) == 1:
        return function
    mesh = Mesh(np.array(devices), (SEED_AXIS,))
    specs = tuple(PartitionSpec(SEED_AXIS) if flag else PartitionSpec() for flag in batched)
    split = jax.shard_map(function, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(SEED_AXIS), check_vma=False)
    if jax.process_count() == 1:
        split = eqx.filter_jit(split)
        return lambda *arguments: (function if getattr(_THREAD, "one_device", False) else split)(*arguments)
    everywhere = NamedSharding(mesh, PartitionSpec())
    # the outputs gathered to every device within the same program: one run per call
    gathered = eqx.filter_jit(lambda *arguments: jax.lax.with_sharding_constraint(split(*arguments), everywhere))
    shardings = [NamedSharding(mesh, spec) for spec in specs]

    def on_every_process(*arguments):
        placed = [
            jax.tree.map(lambda leaf, sharding=sharding: _global(leaf, sharding), argument)
            for argument, sharding in zip(arguments, shardings)
        ]
        return jax.tree.map(lambda leaf: np.asarray(leaf.addressable_data(0)), gathered(*placed))

    return on_every_process


use_every_core()
join_processes()
