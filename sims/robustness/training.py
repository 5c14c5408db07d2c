"""A small masked-MLP trainer private to the robustness simulations (spec nofreeprune.md §7).

Scope: ReLU MLPs on in-memory data, float32, Adam, fixed number of epochs, one full-batch
record per epoch. One run is a pure function; many runs (seeds × methods × sparsities) are
``jax.vmap``-ed and ``jax.jit``-compiled, epochs and minibatch steps are ``lax.scan``.
Pruned weights enter the forward pass as θ ⊙ m, so their gradients, Adam moments and
updates are exactly zero. (The lottery_core engine's ``training/`` may replace this on merge.)
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lottery_core import sparsity


@functools.partial(jax.jit, static_argnames=("sizes",))
def init_mlp(key, sizes: tuple[int, ...]):
    """PyTorch-default init: kernel and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32."""
    params = {}
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / jnp.sqrt(fan_in)
        params[f"dense_{i}"] = {
            "kernel": jax.random.uniform(keys[2 * i], (fan_in, fan_out), jnp.float32, -bound, bound),
            "bias": jax.random.uniform(keys[2 * i + 1], (fan_out,), jnp.float32, -bound, bound),
        }
    return params


def mlp_apply(params, state, x, train):
    """f(x) = W_L relu(... relu(W_1 x + b_1) ...) + b_L; the Model interface's apply."""
    depth = len(params)
    h = x
    for i in range(depth):
        layer = params[f"dense_{i}"]
        h = h @ layer["kernel"] + layer["bias"]
        if i < depth - 1:
            h = jax.nn.relu(h)
    return h, state


def mse_loss(outputs, targets):
    return jnp.mean((outputs[..., 0] - targets) ** 2)


def _record_accuracy(outputs, targets):
    return {"accuracy": jnp.mean(jnp.argmax(outputs, -1) == targets)}


def _record_predictions(outputs, targets):
    return {"predictions": jnp.argmax(outputs, -1).astype(jnp.int32)}


def _record_outputs(outputs, targets):
    return {"outputs": outputs[..., 0]}


TASKS: dict[str, tuple[Callable, Callable]] = {
    "classification": (sparsity.cross_entropy, _record_accuracy),
    "classification_predictions": (sparsity.cross_entropy, _record_predictions),
    "regression": (mse_loss, _record_outputs),
}


def train_one(params, mask, x, y, key, *, task: str, epochs: int, batch_size: int,
              learning_rate: float, target_mse: float | None = None):
    """Train θ ⊙ m with Adam; return (final params, per-epoch records stacked over epochs).

    ``target_mse`` (regression only): stop updating after the first epoch whose full-batch
    MSE of the clipped outputs is <= target ("train until the fit is below the noise level
    by ε", spec §7 R4); later epochs repeat the stopped network.
    """
    loss_fn, record_fn = TASKS[task]
    optimizer = optax.adam(learning_rate)
    n = x.shape[0]
    steps = n // batch_size

    def loss_of(p, xb, yb):
        return loss_fn(mlp_apply(sparsity.apply_mask(p, mask), {}, xb, True)[0], yb)

    def step(carry, idx):
        p, opt_state, done = carry
        grads = jax.grad(loss_of)(p, x[idx], y[idx])
        updates, new_state = optimizer.update(grads, opt_state, p)
        new_p = optax.apply_updates(p, updates)
        keep = lambda old, new: jnp.where(done, old, new)
        return (jax.tree_util.tree_map(keep, p, new_p),
                jax.tree_util.tree_map(keep, opt_state, new_state), done), None

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, n)[: steps * batch_size].reshape(steps, batch_size)
        carry, _ = jax.lax.scan(step, carry, order)
        outputs = mlp_apply(sparsity.apply_mask(carry[0], mask), {}, x, False)[0]
        done = carry[2]
        if target_mse is not None:
            fit = jnp.mean((jnp.clip(outputs[..., 0], -1.0, 1.0) - y) ** 2)
            done = done | (fit <= target_mse)
        return (carry[0], carry[1], done), record_fn(outputs, y)

    (params, _, _), records = jax.lax.scan(
        epoch, (params, optimizer.init(params), jnp.asarray(False)), jax.random.split(key, epochs))
    return params, records


@functools.partial(jax.jit, static_argnames=("task", "epochs", "batch_size", "learning_rate",
                                             "target_mse"))
def train_many(params, masks, x, y, keys, *, task: str, epochs: int, batch_size: int = 64,
               learning_rate: float = 1e-3, target_mse: float | None = None):
    """:func:`train_one` vmapped over the leading axis of every argument."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    if x.shape[1] < batch_size:
        raise ValueError(f"batch_size {batch_size} exceeds the {x.shape[1]} training examples")
    if target_mse is not None and task != "regression":
        raise ValueError("target_mse applies to the regression task only")
    run = functools.partial(train_one, task=task, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, target_mse=target_mse)
    return jax.vmap(run)(params, masks, x, y, keys)


def stack(trees):
    """Stack a list of pytrees along a new leading axis (a copy made on the host: no program
    is compiled per number and shape of the trees)."""
    return jax.tree_util.tree_map(
        lambda *leaves: jnp.asarray(np.stack([np.asarray(leaf) for leaf in leaves])), *trees)


def unstack(tree, count: int):
    """The ``count`` pytrees along the leading axis of ``tree`` (sliced on the host)."""
    host = jax.tree_util.tree_map(np.asarray, tree)
    return [jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf[i]), host) for i in range(count)]


def input_gradient_norms(params, mask, x):
    """||∇_x f(x)|| for a scalar-output MLP at each row of x."""
    def f(xi):
        return mlp_apply(sparsity.apply_mask(params, mask), {}, xi[None, :], False)[0][0, 0]
    return jnp.linalg.norm(jax.vmap(jax.grad(f))(x), axis=-1)


def pgd_lipschitz_ratio(params, mask, x, key, *, radius: float, steps: int = 20):
    """max over rows of |f(x+δ) - f(x)| / ||δ||, δ found by projected gradient ascent in the
    ball ||δ|| <= radius (a lower estimate of the global Lipschitz constant)."""
    def f(z):
        return mlp_apply(sparsity.apply_mask(params, mask), {}, z, False)[0][:, 0]

    base = f(x)

    def gain(delta):
        return jnp.sum(jnp.abs(f(x + delta) - base))

    delta = jax.random.normal(key, x.shape) * radius / jnp.sqrt(x.shape[1])
    step_size = radius / 4

    def ascend(delta, _):
        g = jax.grad(gain)(delta)
        delta = delta + step_size * g / (jnp.linalg.norm(g, axis=1, keepdims=True) + 1e-12)
        norms = jnp.linalg.norm(delta, axis=1, keepdims=True)
        return delta * jnp.minimum(1.0, radius / norms), None

    delta, _ = jax.lax.scan(ascend, delta, None, length=steps)
    ratios = jnp.abs(f(x + delta) - base) / jnp.linalg.norm(delta, axis=1)
    return jnp.max(ratios)


def operator_norm_product(params, mask):
    """Π_ℓ ||W_ℓ ⊙ m_ℓ||_op: an upper bound on the Lipschitz constant of a ReLU MLP."""
    masked = sparsity.apply_mask(params, mask)
    return jnp.prod(jnp.stack([jnp.linalg.norm(masked[f"dense_{i}"]["kernel"], ord=2)
                               for i in range(len(masked))]))
