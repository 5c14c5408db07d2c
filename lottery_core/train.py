"""Masked training as pure, jitted functions over an explicit state pytree.

A :class:`Trainer` holds the static pieces (``apply_fn``, an optax transformation, a learning-rate
schedule, the loss and two hooks) and exposes jitted functions of a :class:`TrainState`:

* ``run_steps(state, x, y, batch_indices)``: ``lax.scan`` over the rows of ``batch_indices``
  (shape ``[steps, batch]``); the data ``x, y`` stay on the device and each step gathers its
  batch, so an epoch is one compiled call;
* ``evaluate(params, model_state, x, y)``: mean loss and accuracy, ``lax.scan`` over batches;
* ``run_steps_seeds`` / ``evaluate_seeds``: the same, ``jax.vmap``-ed over a leading seed axis.

One step (DESIGN.md; JaxPruner's masked updates)::

    g      = grad_transform(∇ loss(params), state)        # default: g ⊙ mask
    u, opt = optimizer.update(g, opt, params)             # learning rate = schedule(step)
    params = param_transform(params + u, state)           # default: params ⊙ mask

so pruned weights stay exactly 0 under momentum and (coupled) weight decay: their gradient,
momentum and decay term are all 0 and the re-masking removes any rounding. Callers replace the
hooks for other actions (e.g. Zhou et al.'s "freeze pruned weights at their initial value":
``param_transform=lambda p, s: where(s.mask, p, s.aux)`` with ``aux = θ_0``), the loss
(``loss_fn``) or the model (``apply_fn``, e.g. an ``m ⊙ w`` reparameterization).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lottery_core.sparsity import apply_mask


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree)."""

    params: Any
    model_state: Any
    opt_state: Any
    mask: Any
    step: Any          # int32 position in the learning-rate schedule
    rng: Any           # PRNG key for data augmentation / stochastic hooks
    aux: Any = ()      # free slot for hooks (e.g. frozen initial weights)


# ----------------------------------------------------------------------------- schedules
def make_schedule(kind: str, learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
                  milestones: tuple[float, ...] = (), gamma: float = 0.1,
                  final_learning_rate: float = 0.0) -> Callable:
    """Learning rate as a function of the step: ``constant``, ``step`` (multiply by ``gamma``
    at each milestone, given as fractions of ``total_steps``), ``cosine`` (from
    ``learning_rate`` to ``final_learning_rate`` at ``total_steps``:
    ``lr_min + ½(1 + cos(π t/T))(lr − lr_min)``, the LRR paper's schedule with lr_min = 0.01,
    spec lrr.md §2.2 [C]); any of them after ``warmup_steps`` of linear warmup from 0."""
    if learning_rate <= 0:
        raise ValueError(f"learning rate must be positive, got {learning_rate}")
    if not 0.0 <= final_learning_rate <= learning_rate:
        raise ValueError(f"final learning rate must be in [0, learning rate = {learning_rate}], "
                         f"got {final_learning_rate}")
    if kind == "constant":
        main = optax.constant_schedule(learning_rate)
    elif kind == "step":
        boundaries = {int(round(m * total_steps)) - warmup_steps: gamma for m in milestones}
        main = optax.piecewise_constant_schedule(learning_rate, boundaries)
    elif kind == "cosine":
        main = optax.cosine_decay_schedule(learning_rate, max(1, total_steps - warmup_steps),
                                           alpha=final_learning_rate / learning_rate)
    else:
        raise ValueError(f"unknown schedule {kind!r}; allowed: constant, step, cosine")
    if warmup_steps <= 0:
        return main
    warm = optax.linear_schedule(0.0, learning_rate, warmup_steps)
    return optax.join_schedules([warm, main], [warmup_steps])


def make_optimizer(name: str, *, momentum: float = 0.0, nesterov: bool = False,
                   weight_decay: float = 0.0, learning_rate: float = 1e-3,
                   b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                   ) -> optax.GradientTransformation:
    """``sgd`` (momentum, Nesterov) or ``adam`` with coupled L2 weight decay (``wd · w`` added
    to the gradient, as PyTorch's ``weight_decay``), wrapped in ``optax.inject_hyperparams``
    so the trainer sets the learning rate of every step from its schedule."""
    if weight_decay < 0:
        raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
    if name not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {name!r}; allowed: sgd, adam")

    def build(learning_rate):
        if name == "sgd":
            base = optax.sgd(learning_rate, momentum=momentum or None, nesterov=nesterov)
        elif name == "adam":
            base = optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)
        else:
            raise ValueError(f"unknown optimizer {name!r}; allowed: sgd, adam")
        if weight_decay:
            return optax.chain(optax.add_decayed_weights(weight_decay), base)
        return base

    return optax.inject_hyperparams(build)(learning_rate=learning_rate)


# ----------------------------------------------------------------------------- losses
def cross_entropy_loss(apply_fn):
    """``loss(params, model_state, x, y, state) -> (mean CE, (logits, new model_state))``."""

    def loss(params, model_state, x, y, train_state):
        logits, new_model_state = apply_fn(params, model_state, x, True)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return ce, (logits, new_model_state)

    return loss


def mask_gradients(grads, state: TrainState):
    return apply_mask(grads, state.mask)


def mask_params(params, state: TrainState):
    return apply_mask(params, state.mask)


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

    def __post_init__(self):
        if self.loss_fn is None:
            self.loss_fn = cross_entropy_loss(self.apply_fn)
        if self.step_loop not in ("scan", "python"):
            raise ValueError(f"step_loop must be scan or python, got {self.step_loop!r}")
        self.trace_count = 0
        self._masked_start = jax.jit(lambda p, s: (lambda q: (q, self.optimizer.init(q)))(
            self.param_transform(p, s)))
        self._learning_rate = jax.jit(self.learning_rate) if self.schedule is not None else None
        self.evaluate = jax.jit(self._evaluate)
        self.evaluate_seeds = jax.jit(jax.vmap(self._evaluate, in_axes=(0, 0, None, None)))
        if self.step_loop == "scan":
            self.run_steps = jax.jit(self._run_steps)
            self.run_steps_seeds = jax.jit(jax.vmap(self._run_steps, in_axes=(0, None, None, 0)))
        else:
            one = jax.jit(self._single_step)
            one_seeds = jax.jit(jax.vmap(self._single_step, in_axes=(0, None, None, 0)))
            self.run_steps = lambda s, x, y, idx: self._python_loop(one, s, x, y, idx, 0)
            self.run_steps_seeds = lambda s, x, y, idx: self._python_loop(one_seeds, s, x, y,
                                                                           idx, 1)
            batch = jax.jit(self._evaluate_batch)
            batch_seeds = jax.jit(jax.vmap(self._evaluate_batch, in_axes=(0, 0, None, None,
                                                                          None)))
            self.evaluate = lambda p, s, x, y: self._python_evaluate(batch, p, s, x, y)
            self.evaluate_seeds = lambda p, s, x, y: self._python_evaluate(batch_seeds, p, s,
                                                                           x, y)

    @staticmethod
    def _python_loop(one_step, state, x, y, batch_indices, axis):
        """``run_steps`` as a loop of single-step calls (same math, same batches)."""
        losses = []
        for i in range(batch_indices.shape[axis]):
            rows = batch_indices[i:i + 1] if axis == 0 else batch_indices[:, i:i + 1]
            state, loss = one_step(state, x, y, rows)
            losses.append(loss)
        return state, jnp.concatenate(losses, axis=axis)

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
        opt_state = state.opt_state
        if self.schedule is not None and hasattr(opt_state, "hyperparams"):
            hyper = dict(opt_state.hyperparams)
            hyper["learning_rate"] = jnp.asarray(self.learning_rate(state.step),
                                                 jnp.asarray(hyper["learning_rate"]).dtype)
            opt_state = opt_state._replace(hyperparams=hyper)
        (loss, (logits, model_state)), grads = jax.value_and_grad(self.loss_fn, has_aux=True)(
            state.params, state.model_state, x, y, state)
        grads = self.grad_transform(grads, state)
        updates, opt_state = self.optimizer.update(grads, opt_state, state.params)
        params = self.param_transform(optax.apply_updates(state.params, updates), state)
        return state._replace(params=params, model_state=model_state, opt_state=opt_state,
                              step=state.step + 1), loss

    def _batch_step(self, state: TrainState, x, y, indices):
        xb, yb = x[indices], y[indices]
        if self.augment is not None:
            xb = self.augment(jax.random.fold_in(state.rng, state.step), xb)
        return self._step(state, xb, yb)

    def _run_steps(self, state: TrainState, x, y, batch_indices):
        self.trace_count += 1          # runs only while tracing: counts compilations
        state, losses = jax.lax.scan(lambda s, i: self._batch_step(s, x, y, i), state,
                                     batch_indices)
        return state, losses

    def _single_step(self, state: TrainState, x, y, batch_indices):
        """One step without a loop construct (``batch_indices`` has one row)."""
        self.trace_count += 1
        state, loss = self._batch_step(state, x, y, batch_indices[0])
        return state, loss[None]

    def _evaluate_batch(self, params, model_state, xb, yb, wb):
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
            xb, yb, wb = batch
            logits, _ = self.apply_fn(params, model_state, xb, False)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb)
            correct = (jnp.argmax(logits, -1) == yb).astype(jnp.float32)
            return (carry[0] + jnp.sum(ce * wb), carry[1] + jnp.sum(correct * wb)), None

        (loss_sum, correct_sum), _ = jax.lax.scan(body, (0.0, 0.0), (xs, ys, ws))
        return loss_sum / n, correct_sum / n


def epoch_batches(seed_sequence: tuple[int, ...], n_examples: int, batch_size: int,
                  first_step: int, n_steps: int):
    """Indices ``[n_steps, batch_size]`` of steps ``first_step .. first_step+n_steps-1``.

    Step ``s`` belongs to epoch ``s // (n_examples // batch_size)``; each epoch is a fresh
    permutation from ``numpy.random.default_rng((*seed_sequence, epoch))`` with the last
    partial batch dropped. Depending only on the step, the order is the same after a resume."""
    import numpy as np

    per_epoch = n_examples // batch_size
    if per_epoch < 1:
        raise ValueError(f"batch size {batch_size} exceeds the {n_examples} training examples")
    rows, cache = [], {}
    for step in range(first_step, first_step + n_steps):
        epoch, position = divmod(step, per_epoch)
        if epoch not in cache:
            cache = {epoch: np.random.default_rng((*seed_sequence, epoch)).permutation(
                n_examples)}
        rows.append(cache[epoch][position * batch_size:(position + 1) * batch_size])
    return np.asarray(rows, dtype=np.int32).reshape(n_steps, batch_size)
