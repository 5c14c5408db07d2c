"""Data-parallel training over all devices with ``jax.sharding``: a 1-D mesh over the batch.

The batch is split along its leading axis over the mesh axis ``"batch"``; parameters, model
state (BatchNorm statistics) and optimizer state are replicated. The step is an ordinary
``jax.jit`` of the single-device step with input/output shardings: XLA's SPMD partitioner
(GSPMD) inserts the all-reduces, so the gradient *and the BatchNorm batch statistics* are
computed over the global batch. The sharded step therefore computes the same function as the
one-device step (equal up to float summation order; tests/test_sharding.py checks it on two
forced host devices).

Multi-host (docs/cifar.md): call ``jax.distributed.initialize()`` in every process first; then
``jax.devices()`` lists the devices of all hosts, :func:`data_mesh` spans them, and
:func:`shard_batch` assembles the global batch from each process's local slice with
``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"


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
    local_devices = sum(1 for d in mesh.devices.flat if d.process_index == jax.process_index())

    def place(leaf):
        leaf_shape = np.shape(leaf)
        if not leaf_shape:
            raise ValueError("shard_batch needs arrays with a leading batch axis, got a scalar")
        divisor = local_devices if multi_process else n_devices
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


def make_train_step(
    loss_fn: Callable[[Any, Any, Any], Any],
    optimizer: optax.GradientTransformation,
    mesh: Mesh | None = None,
    has_state: bool = True,
    donate: bool = True,
):
    """A jitted SGD step ``(params, state, opt_state, batch) -> (params, state, opt_state, loss)``.

    ``loss_fn(params, state, batch)`` returns ``(loss, new_state)`` when ``has_state`` (e.g. the
    new BatchNorm statistics), else the scalar loss (``state`` is then passed through). The
    step is ``g = grad loss``, ``(u, opt_state) = optimizer.update(g, opt_state, params)``,
    ``params = params + u``.

    ``mesh=None`` gives the one-device step. With a mesh the same function is compiled with the
    batch split over the mesh and everything else replicated (pass the arguments through
    :func:`shard_batch` / :func:`replicate` to avoid a copy at every call). ``donate`` lets
    XLA reuse the buffers of params, state and opt_state for the outputs (the inputs are then
    invalid after the call).
    """

    def step(params, state, opt_state, batch):
        if has_state:
            (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, batch)
        else:
            loss, grads = jax.value_and_grad(loss_fn)(params, state, batch)
            new_state = state
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, new_state, opt_state, loss

    donate_argnums = (0, 1, 2) if donate else ()
    if mesh is None:
        return jax.jit(step, donate_argnums=donate_argnums)
    replicated = replicated_sharding(mesh)
    return jax.jit(
        step,
        in_shardings=(replicated, replicated, replicated, batch_sharding(mesh)),
        out_shardings=(replicated, replicated, replicated, replicated),
        donate_argnums=donate_argnums,
    )
