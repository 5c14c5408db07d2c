"""The Trainer: one training step, jitted over an explicit state pytree, on one or many devices.

A :class:`Trainer` holds the static pieces (``apply_fn``, an optax transformation, a learning-rate
schedule, the loss and two hooks) and exposes jitted functions of a :class:`TrainState`:

* ``run_steps(state, x, y, batch_indices) -> (state, metrics)``: ``lax.scan`` of the step over
  the rows of ``batch_indices`` (``[steps, batch]``); the data ``x, y`` stay on the device and
  each step gathers its batch, so an epoch is one compiled call. ``metrics`` maps ``"loss"``
  (and whatever the loss function reports, e.g. PILoT's data loss and batch accuracy) to one
  value per step;
* ``evaluate(params, model_state, x, y)``: mean loss and accuracy, ``lax.scan`` over batches;
* ``run_steps_seeds`` / ``evaluate_seeds``: the same, ``jax.vmap``-ed over a leading seed axis;
* ``step(state, x, y, batch_indices)``: the step alone, jitted (``batch_indices`` has one row);
  with ``step_loop="python"`` ``run_steps`` is a Python loop over it.

The step (DESIGN.md; JaxPruner's masked updates)::

    (loss, (model_state, metrics)) = loss_fn(params, model_state, x, y, state)
    g      = grad_transform(∇ loss, state)                # default: g ⊙ mask
    u, opt = optimizer.update(g, opt, params)             # learning rate = schedule(step)
    params = param_transform(params + u, state)           # default: params ⊙ mask

so pruned weights stay exactly 0 under momentum and (coupled) weight decay: their gradient,
momentum and decay term are all 0 and the re-masking removes any rounding. Callers replace the
hooks for other actions (e.g. Zhou et al.'s "freeze pruned weights at their initial value":
``param_transform=lambda p, s: where(s.mask, p, s.aux)`` with ``aux = θ_0``), the loss
(``loss_fn``; it may read ``state.aux``, e.g. PILoT's α, :mod:`lottery_core.training.pilot`) or
the model (``apply_fn``, e.g. the ``m ⊙ w`` reparameterization).

Devices (``devices``; default: all local devices). On one device the functions are plain
``jax.jit``. With several, they are jitted over a 1-D mesh (:mod:`.sharding`): each step's batch
is split over the devices while params, model state and optimizer state are replicated, so
XLA's SPMD partitioner all-reduces the gradient *and the BatchNorm batch statistics* over the
global batch: the same function as on one device, equal up to the order of float sums. The
batch size must be divisible by the number of devices. ``run_steps_seeds`` splits each seed's
batch the same way (data parallel per seed, the seed axis replicated). In a multi-process run
(``jax.distributed``, :mod:`.hosts`) the mesh takes ``devices`` local devices of every process
(:func:`.sharding.data_devices`); every process passes the same data and indices.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding, PartitionSpec

from lottery_core.sparsity import apply_mask
from lottery_core.training import sharding


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree)."""

    params: Any
    model_state: Any
    opt_state: Any
    mask: Any
    step: Any          # int32 position in the learning-rate schedule
    rng: Any           # PRNG key for data augmentation / stochastic hooks
    aux: Any = ()      # free slot for hooks (e.g. frozen initial weights, PILoT's α)


# ----------------------------------------------------------------------------- hooks
def cross_entropy_loss(apply_fn):
    """``loss_fn(params, model_state, x, y, state) -> (mean CE, (new model_state, {}))``: the
    default loss; the empty dict is the step's extra metrics (none)."""

    def loss(params, model_state, x, y, train_state):
        logits, new_model_state = apply_fn(params, model_state, x, True)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return ce, (new_model_state, {})

    return loss


def mask_gradients(grads, state: TrainState):
    return apply_mask(grads, state.mask)


def mask_params(params, state: TrainState):
    return apply_mask(params, state.mask)


def unmasked(tree, state: TrainState):
    """The identity hook: no mask on gradients or params."""
    return tree


def default_step_loop(params) -> str:
    """``"python"`` for a network with convolution kernels (4-D leaves) on XLA:CPU, where a
    convolution inside a compiled loop runs ~25x slower than outside (see ``Trainer``),
    else ``"scan"``."""
    has_conv = any(len(leaf.shape) == 4 for leaf in jax.tree_util.tree_leaves(params))
    return "python" if has_conv and jax.default_backend() == "cpu" else "scan"


# ----------------------------------------------------------------------------- trainer
@dataclasses.dataclass(eq=False)
class Trainer:
    """Static training setup; build once per run, call its jitted functions per level.

    ``schedule(step)`` gives the learning rate, evaluated at ``min(step, last_step)`` so that
    training past the schedule's end continues at its final rate (fine-tuning). With an
    optimizer that is not ``inject_hyperparams``-wrapped the schedule is ignored and the
    optimizer's own is used."""

    apply_fn: Callable
    optimizer: optax.GradientTransformation
    schedule: Callable | None = None
    last_step: int | None = None
    loss_fn: Callable | None = None
    grad_transform: Callable = mask_gradients
    param_transform: Callable = mask_params
    augment: Callable | None = None        # augment(key, x_batch) -> x_batch
    eval_batch_size: int = 1000
    #: "scan": ``run_steps`` is one compiled ``lax.scan``; "python": a Python loop over one
    #: compiled step. XLA:CPU runs convolutions inside a while loop ~25x slower than outside
    #: (measured: ResNet-8, batch 64: 11 s vs 0.4 s per step), so CPU conv runs use "python".
    step_loop: str = "scan"
    #: data parallelism over the first ``devices`` local devices (None: all of them) of every
    #: process
    devices: int | None = None

    def __post_init__(self):
        if self.loss_fn is None:
            self.loss_fn = cross_entropy_loss(self.apply_fn)
        if self.step_loop not in ("scan", "python"):
            raise ValueError(f"step_loop must be scan or python, got {self.step_loop!r}")
        devices = sharding.data_devices(self.devices)
        self.n_devices = len(devices)
        self.mesh = sharding.data_mesh(devices) if self.n_devices > 1 else None
        self.trace_count = 0
        rep, by_row, by_seed_row = (self._sharding(k) for k in (None, 1, 2))
        self._masked_start = self._jit(
            lambda p, s: (lambda q: (q, self.optimizer.init(q)))(self.param_transform(p, s)),
            (rep, rep), rep, batched=False)
        self._learning_rate = jax.jit(self.learning_rate) if self.schedule is not None else None
        #: the one step, jitted: ``step(state, x, y, batch_indices[1, batch])``
        self.step = self._jit(self._single_step, (rep, rep, rep, by_row), rep, batched=True)
        loop = self._run_steps if self.step_loop == "scan" else self._single_step
        seeds = self._jit(jax.vmap(loop, in_axes=(0, None, None, 0)),
                          (rep, rep, rep, by_seed_row), rep, batched=True)
        if self.step_loop == "scan":
            self.run_steps = self._jit(self._run_steps, (rep, rep, rep, by_row), rep,
                                       batched=True)
            self.run_steps_seeds = seeds
            self.evaluate = self._jit(self._evaluate, (rep,) * 4, rep, batched=False)
            self.evaluate_seeds = self._jit(jax.vmap(self._evaluate, in_axes=(0, 0, None, None)),
                                            (rep,) * 4, rep, batched=False)
        else:
            self.run_steps = lambda s, x, y, idx: self._python_loop(self.step, s, x, y, idx, 0)
            self.run_steps_seeds = lambda s, x, y, idx: self._python_loop(seeds, s, x, y, idx, 1)
            batch = self._jit(self._evaluate_batch, (rep,) * 5, rep, batched=False)
            batch_seeds = self._jit(jax.vmap(self._evaluate_batch,
                                             in_axes=(0, 0, None, None, None)), (rep,) * 5, rep,
                                    batched=False)
            self.evaluate = lambda p, s, x, y: self._python_evaluate(batch, p, s, x, y)
            self.evaluate_seeds = lambda p, s, x, y: self._python_evaluate(batch_seeds, p, s,
                                                                           x, y)

    # -- devices ------------------------------------------------------------------------
    def _sharding(self, batch_axis: int | None):
        """Replicated (``None``) or split along ``batch_axis`` over the mesh; ``None`` on one
        device."""
        if self.mesh is None:
            return None
        if batch_axis is None:
            return sharding.replicated_sharding(self.mesh)
        return NamedSharding(self.mesh, PartitionSpec(*[None] * batch_axis, sharding.BATCH_AXIS))

    def _jit(self, fn, in_shardings, out_shardings, *, batched: bool):
        """``jax.jit(fn)`` on one device. On a mesh: jitted with these shardings, the
        arguments put there first (a no-op for arrays already placed), after checking that
        the batch (last axis of the last argument, the indices, when ``batched``) splits
        evenly."""
        if self.mesh is None:
            return jax.jit(fn)
        jitted = jax.jit(fn, in_shardings=in_shardings, out_shardings=out_shardings)

        def call(*args):
            if batched:
                self.check_batch_size(args[-1].shape[-1])
            return jitted(*jax.device_put(args, in_shardings))

        call.jitted = jitted       # e.g. to inspect the partitioned program: call.jitted.lower
        return call

    def check_batch_size(self, batch_size: int) -> None:
        """Raise :class:`sharding.DeviceError` (a ``ValueError``) unless ``batch_size`` splits
        evenly over the devices."""
        if batch_size % self.n_devices:
            raise sharding.DeviceError(f"batch size {batch_size} is not divisible by the "
                                       f"{self.n_devices} devices it is split over (choose "
                                       f"another --devices or --batch-size)")

    def put(self, tree):
        """``tree`` on the device(s): replicated over the mesh (the training and evaluation
        data, placed once), else ``jnp.asarray``."""
        if self.mesh is None:
            return jax.tree_util.tree_map(jnp.asarray, tree)
        return sharding.replicate(tree, self.mesh)

    def _split_batch(self, tree):
        """Inside a jitted function on a mesh: split the leading (example) axis over the
        devices when it divides evenly; a no-op on one device."""
        if self.mesh is None:
            return tree
        leaves = jax.tree_util.tree_leaves(tree)
        if any(leaf.shape[0] % self.n_devices for leaf in leaves):
            return tree
        return jax.lax.with_sharding_constraint(tree, sharding.batch_sharding(self.mesh))

    # -- training -----------------------------------------------------------------------
    @staticmethod
    def _python_loop(one_step, state, x, y, batch_indices, axis):
        """``run_steps`` as a loop of single-step calls (same math, same batches)."""
        rows = []
        for i in range(batch_indices.shape[axis]):
            chunk = batch_indices[i:i + 1] if axis == 0 else batch_indices[:, i:i + 1]
            state, metrics = one_step(state, x, y, chunk)
            rows.append(metrics)
        return state, jax.tree_util.tree_map(lambda *m: jnp.concatenate(m, axis=axis), *rows)

    def init_state(self, params, model_state, mask, *, step: int = 0, rng=None, aux=()
                   ) -> TrainState:
        """Fresh optimizer state for ``params ⊙ mask`` at schedule position ``step``."""
        mask = jax.tree_util.tree_map(lambda m: jnp.asarray(m, bool), mask)
        rng = jax.random.PRNGKey(0) if rng is None else rng
        state = TrainState(params, model_state, None, mask, jnp.asarray(step, jnp.int32), rng,
                           aux)
        params, opt_state = self._masked_start(params, state)   # default: params ⊙ mask
        return state._replace(params=params, opt_state=opt_state)

    def learning_rate(self, step):
        step = step if self.last_step is None else jnp.minimum(step, self.last_step)
        return self.schedule(step)

    def _step(self, state: TrainState, x, y):
        """The one training step: ``(state, metrics)`` after one batch ``(x, y)``."""
        opt_state = state.opt_state
        if self.schedule is not None and hasattr(opt_state, "hyperparams"):
            hyper = dict(opt_state.hyperparams)
            hyper["learning_rate"] = jnp.asarray(self.learning_rate(state.step),
                                                 jnp.asarray(hyper["learning_rate"]).dtype)
            opt_state = opt_state._replace(hyperparams=hyper)
        (loss, (model_state, metrics)), grads = jax.value_and_grad(self.loss_fn, has_aux=True)(
            state.params, state.model_state, x, y, state)
        grads = self.grad_transform(grads, state)
        updates, opt_state = self.optimizer.update(grads, opt_state, state.params)
        params = self.param_transform(optax.apply_updates(state.params, updates), state)
        return state._replace(params=params, model_state=model_state, opt_state=opt_state,
                              step=state.step + 1), {"loss": loss, **metrics}

    def _batch_step(self, state: TrainState, x, y, indices):
        xb, yb = self._split_batch((x[indices], y[indices]))
        if self.augment is not None:
            xb = self.augment(jax.random.fold_in(state.rng, state.step), xb)
        return self._step(state, xb, yb)

    def _run_steps(self, state: TrainState, x, y, batch_indices):
        self.trace_count += 1          # runs only while tracing: counts compilations
        return jax.lax.scan(lambda s, i: self._batch_step(s, x, y, i), state, batch_indices)

    def _single_step(self, state: TrainState, x, y, batch_indices):
        """One step without a loop construct (``batch_indices`` has one row)."""
        self.trace_count += 1
        state, metrics = self._batch_step(state, x, y, batch_indices[0])
        return state, jax.tree_util.tree_map(lambda m: m[None], metrics)

    # -- evaluation ---------------------------------------------------------------------
    def _evaluate_batch(self, params, model_state, xb, yb, wb):
        """Summed cross-entropy and correct predictions of one batch, weighted by ``wb``
        (0 for padding rows)."""
        xb, yb, wb = self._split_batch((xb, yb, wb))
        logits, _ = self.apply_fn(params, model_state, xb, False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
        correct = (jnp.argmax(logits, -1) == yb).astype(jnp.float32)
        return jnp.sum(ce * wb, -1), jnp.sum(correct * wb, -1)

    def _python_evaluate(self, batch_fn, params, model_state, x, y):
        """``evaluate`` as a loop of compiled single-batch calls (step_loop "python")."""
        n = x.shape[0]
        b = min(self.eval_batch_size, n)
        loss_sum, correct_sum = 0.0, 0.0
        for start in range(0, n, b):
            xb, yb = x[start:start + b], y[start:start + b]
            pad = b - xb.shape[0]
            weight = jnp.concatenate([jnp.ones(xb.shape[0], jnp.float32),
                                      jnp.zeros(pad, jnp.float32)])
            if pad:
                xb = jnp.concatenate([xb, jnp.zeros((pad,) + x.shape[1:], x.dtype)])
                yb = jnp.concatenate([yb, jnp.zeros((pad,), y.dtype)])
            loss, correct = batch_fn(params, model_state, xb, yb, weight)
            loss_sum, correct_sum = loss_sum + loss, correct_sum + correct
        return loss_sum / n, correct_sum / n

    def _evaluate(self, params, model_state, x, y):
        n = x.shape[0]
        b = min(self.eval_batch_size, n)
        pad = (-n) % b
        xp = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)]) if pad else x
        yp = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)]) if pad else y
        weight = (jnp.arange(n + pad) < n).astype(jnp.float32)
        xs = xp.reshape((-1, b) + x.shape[1:])
        ys, ws = yp.reshape((-1, b)), weight.reshape((-1, b))

        def body(carry, batch):
            loss, correct = self._evaluate_batch(params, model_state, *batch)
            return (carry[0] + loss, carry[1] + correct), None

        (loss_sum, correct_sum), _ = jax.lax.scan(body, (0.0, 0.0), (xs, ys, ws))
        return loss_sum / n, correct_sum / n
