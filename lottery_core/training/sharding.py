"""Data parallelism with ``jax.sharding``: a 1-D mesh over the batch (used by the Trainer).

The batch is split along its leading axis over the mesh axis ``"batch"``; parameters, model
state (BatchNorm statistics) and optimizer state are replicated. The Trainer's step is an
ordinary ``jax.jit`` of the one-device step with these shardings: XLA's SPMD partitioner
(GSPMD) inserts the all-reduces, so the gradient *and the BatchNorm batch statistics* are
computed over the global batch. The sharded step therefore computes the same function as the
one-device step (equal up to float summation order; tests/test_sharding.py checks it on two
forced host devices).

Multi-host (docs/multihost.md): after ``jax.distributed.initialize()`` in every process
(:func:`lottery_core.training.hosts.join`) ``jax.devices()`` lists the devices of all
processes and :func:`data_devices` picks the Trainer's from every one. The Trainer gives every
process the whole data and the same batch indices; ``jax.device_put`` onto the global
shardings keeps each process's shards (host data that is the same everywhere; an array
committed to one local device cannot move across processes). :func:`shard_batch` instead
assembles a global batch from each process's own slice
(``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


class DeviceError(ValueError):
    """A device count this process cannot provide, or a batch that does not split over it."""


def local_devices(count: int | None = None) -> list:
    """The first ``count`` devices of this process (``None``: all of them)."""
    available = jax.local_devices()
    if count is None:
        return available
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DeviceError(f"devices must be a positive integer, got {count!r}")
    if count > len(available):
        raise DeviceError(f"asked for {count} devices, but this process has {len(available)} "
                         f"({available[0].platform})")
    return available[:count]


def data_devices(count: int | None = None) -> list:
    """The devices a Trainer splits its batches over: the first ``count`` local devices
    (``None``: all) of every process, in process order (one process: :func:`local_devices`)."""
    local = local_devices(count)
    if jax.process_count() == 1:
        return local
    chosen = []
    for process in range(jax.process_count()):
        own = [d for d in jax.devices() if d.process_index == process]
        if len(own) < len(local):
            raise DeviceError(f"asked for {len(local)} devices per process, but process "
                              f"{process} has {len(own)}")
        chosen += own[:len(local)]
    return chosen


def data_mesh(devices: Sequence[jax.Device] | None = None, axis_name: str = BATCH_AXIS) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all devices of all processes)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_mesh needs at least one device")
    return Mesh(np.array(devices), (axis_name,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over the mesh's (single) axis, the other axes whole."""
    return NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Place every leaf of ``batch`` (leading axis = examples) split over the mesh.

    Single process: ``batch`` is the global batch, whose size must be divisible by the number
    of devices. Several processes: ``batch`` is this process's slice; the global batch is the
    concatenation of the slices in process order.
    """
    sharding = batch_sharding(mesh)
    n_devices = mesh.devices.size
    multi_process = jax.process_count() > 1
    n_local = sum(1 for d in mesh.devices.flat if d.process_index == jax.process_index())

    def place(leaf):
        leaf_shape = np.shape(leaf)
        if not leaf_shape:
            raise ValueError("shard_batch needs arrays with a leading batch axis, got a scalar")
        divisor = n_local if multi_process else n_devices
        if leaf_shape[0] % divisor:
            raise ValueError(
                f"batch size {leaf_shape[0]} is not divisible by the {divisor} devices it is split over"
            )
        if multi_process:
            return jax.make_array_from_process_local_data(sharding, np.asarray(leaf))
        return jax.device_put(leaf, sharding)

    return jax.tree.map(place, batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Copy every leaf of ``tree`` (parameters, model state, optimizer state) to all devices."""
    return jax.device_put(tree, replicated_sharding(mesh))
