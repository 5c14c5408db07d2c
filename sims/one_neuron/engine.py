"""JAX engine for the single hidden neuron: population gradients, GD/RK4 vmapped over
initializations, magnitude pruning, and the IMP / LRR protocols of spec lrr.md §1.6.

Everything runs in float64 inside ``jax.enable_x64(True)``; inputs and outputs are numpy.
Input laws (the target coordinate is index 0):

- ``"gaussian"``: x ~ N(0, I). Population loss in closed form,
  L = ½(c a²‖w‖² − 2a g(w) + c), c = 1/2, g(w) = ‖w‖/(2π)(sin θ + (π − θ) cos θ),
  ∇g = ((π − θ) e_0 + sin θ w/‖w‖)/(2π)  (spec §1.3 [R]); at w = 0, ∇g = E[relu(x_0)1{0 > 0}x] = 0
  (relu'(0) = 0), so a weight that underflows to 0 in the absorbing region stays there. Cost O(d) per run and step.
- ``"uniform"``: x ~ U[-1,1]^d. For d = 1 the population gradient is exact
  (L = (c/2)(a w⁺ − 1)² + (c/2)a²(w⁻)², c = 1/6). For d ≥ 2 there is no closed form: the
  loss is the empirical mean over a fixed scrambled-Sobol sample ``x`` of [-1,1]^d with
  noise-free labels relu(x_0) (spec §1.7 caveat (ii): no label noise), cost O(n d) per step.
- ``"d1"``: d = 1 with a free constant c (any symmetric law), exact.

The pruned coordinates are zero and frozen: updates are multiplied by the mask.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

LAW_CONSTANT = {"gaussian": 0.5, "uniform": 1.0 / 6.0}
TINY = 1e-150  # > sqrt(smallest normal float64): squares never underflow


def sobol_sample(d: int, n: int, seed: int) -> np.ndarray:
    """A fixed scrambled Sobol sample of n points in [-1, 1]^d (quasi-Monte-Carlo inputs)."""
    from scipy.stats import qmc

    return 2.0 * qmc.Sobol(d, scramble=True, seed=seed).random(n) - 1.0


# --------------------------------------------------------------------------- per-run gradients
def _gaussian_terms(w):
    # |w_i| >= TINY or w_i = 0 (see _flush), so ‖w‖² does not underflow unless w = 0
    norm2 = jnp.sum(w**2)
    nonzero = norm2 > 0
    norm = jnp.sqrt(jnp.where(nonzero, norm2, 1.0))
    cos = jnp.clip(w[0] / norm, -1.0, 1.0)
    sin = jnp.sqrt(jnp.maximum(1.0 - cos**2, 0.0))
    theta = jnp.arccos(cos)
    g = norm / (2 * jnp.pi) * (sin + (jnp.pi - theta) * cos)
    grad_g = (sin / (2 * jnp.pi * norm)) * w
    grad_g = grad_g.at[0].add((jnp.pi - theta) / (2 * jnp.pi))
    # w = 0: g = 0 and ∇g = E[relu(x_0) 1{0 > 0} x] = 0 (relu'(0) = 0)
    return norm2, jnp.where(nonzero, g, 0.0), jnp.where(nonzero, grad_g, jnp.zeros_like(w))


def loss_and_gradients(a, w, law: str, c, x):
    """(L, ∂L/∂a, ∇_w L) for one run. ``x``: the Sobol sample for law ``"uniform"`` in d ≥ 2."""
    d = w.shape[-1]
    if law == "gaussian":
        c = LAW_CONSTANT["gaussian"]
        norm2, g, grad_g = _gaussian_terms(w)
        loss = 0.5 * (c * a**2 * norm2 - 2 * a * g + c)
        return loss, c * a * norm2 - g, c * a**2 * w - a * grad_g
    if law == "d1" or (law == "uniform" and d == 1):
        if law == "uniform":
            c = LAW_CONSTANT["uniform"]
        wp = jnp.maximum(w[0], 0.0)
        wn = jnp.minimum(w[0], 0.0)
        loss = 0.5 * c * ((a * wp - 1.0) ** 2 + (a * wn) ** 2)
        d_a = c * ((a * wp - 1.0) * wp + a * wn**2)
        d_w = c * ((a * wp - 1.0) * a * (w[0] > 0) + a**2 * wn)
        return loss, d_a, jnp.reshape(d_w, (1,))
    if law == "uniform":
        z = x @ w
        h = jnp.maximum(z, 0.0)
        residual = a * h - jnp.maximum(x[:, 0], 0.0)
        loss = 0.5 * jnp.mean(residual**2)
        d_a = jnp.mean(residual * h)
        d_w = a * ((residual * (z > 0)) @ x) / x.shape[0]
        return loss, d_a, d_w
    raise ValueError(f"unknown law {law!r}; allowed: gaussian, uniform, d1")


# --------------------------------------------------------------------------- time stepping
def _flow(a, w, mask, law, c, x):
    _, d_a, d_w = loss_and_gradients(a, w, law, c, x)
    return -d_a, -d_w * mask


def _step(a, w, mask, lr, law, c, x, method):
    if method == "gd":
        da, dw = _flow(a, w, mask, law, c, x)
        return a + lr * da, _flush(w + lr * dw)
    # classical RK4 on the gradient flow
    k1 = _flow(a, w, mask, law, c, x)
    k2 = _flow(a + lr / 2 * k1[0], w + lr / 2 * k1[1], mask, law, c, x)
    k3 = _flow(a + lr / 2 * k2[0], w + lr / 2 * k2[1], mask, law, c, x)
    k4 = _flow(a + lr * k3[0], w + lr * k3[1], mask, law, c, x)
    return (a + lr / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
            _flush(w + lr / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])))


def _flush(w):
    """Set |w_i| < TINY = 1e-150 to exactly 0 (sign kept). A weight decaying in the absorbing
    region would otherwise reach the range where w² underflows (and XLA on CPU flushes
    subnormals in some operations and not others), making it look 0 to one formula and
    nonzero to another. The dynamics at |w| < 1e-150 are immaterial to every claim."""
    return jnp.where(jnp.abs(w) < TINY, w * 0.0, w)


def _run_one(a0, w0, mask, lr, c, x, steps, *, law, method):
    w0 = w0 * mask

    def body(_, carry):
        a, w, a_min, a_max, w_min, w_max = carry
        a, w = _step(a, w, mask, lr, law, c, x, method)
        return (a, w, jnp.minimum(a_min, a), jnp.maximum(a_max, a),
                jnp.minimum(w_min, w[0]), jnp.maximum(w_max, w[0]))

    a, w, a_min, a_max, w_min, w_max = lax.fori_loop(
        0, steps, body, (a0, w0, a0, a0, w0[0], w0[0]))
    loss = loss_and_gradients(a, w, law, c, x)[0]
    return {"a": a, "w": w, "loss": loss, "a_min": a_min, "a_max": a_max,
            "w0_min": w_min, "w0_max": w_max}


@functools.partial(jax.jit, static_argnames=("law", "method"))
def _run_batch(a0, w0, mask, lr, c, x, steps, *, law, method):
    run = functools.partial(_run_one, law=law, method=method)
    return jax.vmap(run, in_axes=(0, 0, 0, None, None, None, None))(a0, w0, mask, lr, c, x, steps)


def simulate(a0, w0, *, law: str, lr: float, steps: int, mask=None, c: float | None = None,
             x=None, method: str = "gd") -> dict[str, np.ndarray]:
    """Train a batch of runs (a0: (B,), w0: (B, d)) for ``steps`` steps of size ``lr``.

    ``method="gd"``: gradient descent on the population (or fixed-sample) loss;
    ``"rk4"``: classical Runge-Kutta on the gradient flow. The step count is a traced loop
    bound (``lax.fori_loop``), so changing it does not recompile. Returns numpy arrays: final
    ``a``, ``w``, ``loss`` and the running extrema ``a_min``, ``a_max``, ``w0_min``,
    ``w0_max`` of a and of the target weight w_0 over all steps.
    """
    if method not in ("gd", "rk4"):
        raise ValueError(f"unknown method {method!r}; allowed: gd, rk4")
    if law not in ("gaussian", "uniform", "d1"):
        raise ValueError(f"unknown law {law!r}; allowed: gaussian, uniform, d1")
    a0 = np.asarray(a0, dtype=np.float64)
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.ndim != 2 or a0.shape != w0.shape[:1]:
        raise ValueError(f"need a0 of shape (B,) and w0 of shape (B, d); got {a0.shape}, {w0.shape}")
    if int(steps) < 0 or not lr > 0:
        raise ValueError(f"need steps >= 0 and lr > 0; got steps = {steps}, lr = {lr}")
    d = w0.shape[1]
    if law == "d1" and (d != 1 or c is None):
        raise ValueError("law 'd1' needs w0 of shape (B, 1) and a constant c")
    if law == "uniform" and d >= 2 and (x is None or np.shape(x)[1] != d):
        raise ValueError(f"law 'uniform' with d = {d} needs a sample x of shape (n, {d})")
    mask = np.ones_like(w0) if mask is None else np.broadcast_to(np.asarray(mask, np.float64), w0.shape)
    x = np.zeros((1, d)) if x is None else np.asarray(x, dtype=np.float64)
    with jax.enable_x64(True):
        out = _run_batch(jnp.asarray(a0), jnp.asarray(w0), jnp.asarray(mask), jnp.float64(lr),
                         jnp.float64(c if c is not None else 0.0), jnp.asarray(x),
                         jnp.int32(steps), law=law, method=method)
        return {k: np.asarray(v) for k, v in out.items()}


# --------------------------------------------------------------------------- pruning protocols
def magnitude_mask(w, mask, keep: int) -> np.ndarray:
    """Keep the ``keep`` largest |w_i| among the unpruned coordinates of each run (ties: lower index)."""
    scores = np.where(mask > 0, np.abs(w), -1.0)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]
    new = np.zeros_like(mask)
    np.put_along_axis(new, order, 1.0, axis=1)
    return new


def sample_initializations(rng: np.random.Generator, n: int, d: int, init: str, margin: float = 1.2):
    """w0 ~ N(0, I/d); a0 = ±margin·‖w0‖ (``"margin"``), ±‖w0‖ (``"balanced"``) or
    U[-1,1]·‖w0‖ (``"uniform"``), spec §1.7."""
    w0 = rng.normal(size=(n, d)) / math.sqrt(d)
    norm = np.linalg.norm(w0, axis=1)
    if init == "margin":
        a0 = rng.choice([-1.0, 1.0], size=n) * margin * norm
    elif init == "balanced":
        a0 = rng.choice([-1.0, 1.0], size=n) * norm
    elif init == "uniform":
        a0 = rng.uniform(-1.0, 1.0, size=n) * norm
    else:
        raise ValueError(f"unknown initialization {init!r}; allowed: margin, balanced, uniform")
    return a0, w0


def compress(w, mask):
    """Gather the unpruned coordinates of each run into a narrow array (exact for the Gaussian
    law, whose loss depends on w only through w_0 and the other coordinates' values).

    Returns ``(w_c, mask_c, index)`` of width k + 1 (k = kept per run): column 0 is the target
    coordinate (masked out if it was pruned), columns 1.. the kept other coordinates in
    increasing order, zero-padded; ``index`` maps columns back to coordinates (-1: padding).
    """
    n, d = w.shape
    keep = int(mask.sum(axis=1).max())
    others = np.where(mask[:, 1:] > 0, np.arange(1, d), d + 1)
    others = np.sort(others, axis=1)[:, :keep]
    index = np.concatenate([np.zeros((n, 1), dtype=int), others], axis=1)
    valid = index <= d - 1
    index = np.where(valid, index, -1)
    gathered = np.take_along_axis(w, np.where(valid, index, 0), axis=1)
    mask_c = np.where(valid, np.take_along_axis(mask, np.where(valid, index, 0), axis=1), 0.0)
    return gathered * mask_c, mask_c, index


def expand(w_c, index, d: int) -> np.ndarray:
    """Inverse of :func:`compress`: scatter the columns back into width d."""
    w = np.zeros((w_c.shape[0], d))
    valid = index >= 0
    rows = np.broadcast_to(np.arange(w_c.shape[0])[:, None], index.shape)
    w[rows[valid], index[valid]] = w_c[valid]
    return w


def retrain(a_start, w_start, mask, *, law: str, lr: float, steps: int, x=None):
    """Train from (a_start, w_start ⊙ mask) with the pruned coordinates frozen at 0.

    Gaussian law: on the compressed kept coordinates (see :func:`compress`). Uniform law: on all
    d coordinates with the fixed sample, except when one coordinate is left, where the target
    coordinate alone follows the exact d = 1 population dynamics (a run whose single kept
    coordinate is not the target cannot fit relu(x_0) and keeps its start values).
    """
    n, d = w_start.shape
    if law == "gaussian":
        w_c, mask_c, index = compress(w_start, mask)
        res = simulate(a_start, w_c, law=law, lr=lr, steps=steps, mask=mask_c)
        res["w"] = expand(res["w"], index, d) * mask
        return res
    if int(mask.sum(axis=1).max()) == 1:
        res = simulate(a_start, w_start[:, :1] * mask[:, :1], law=law, lr=lr, steps=steps)
        res["w"] = np.concatenate([res["w"], np.zeros((n, d - 1))], axis=1)
        on_target = mask[:, 0] > 0
        res["w"] = np.where(on_target[:, None], res["w"], w_start * mask)
        res["a"] = np.where(on_target, res["a"], a_start)
        res["loss"] = np.where(on_target, res["loss"], np.nan)
        return res
    return simulate(a_start, w_start, law=law, lr=lr, steps=steps, mask=mask, x=x)


def prune_protocol(a0, w0, *, law: str, lr: float, steps: int, keeps=(1,), x=None,
                   success_loss: float = 1e-8, dense=None) -> dict[str, np.ndarray]:
    """Dense training, then magnitude pruning of w down the ``keeps`` schedule (e.g. (5, 2, 1)),
    retraining after every pruning step, for IMP and LRR (spec §1.6 [R]):

    - IMP rewinds the surviving weights to (a0, w0 ⊙ mask) before each retraining;
    - LRR continues from the trained (a, w ⊙ mask) (under constant-step GD, restarting the
      learning-rate schedule is the identity).

    The last entry of ``keeps`` must be 1. Success: final loss < ``success_loss`` with the
    kept coordinate being 0 (the target). ``dense`` may pass a finished dense run (``simulate``
    output for the same a0, w0) to reuse it.
    """
    if keeps[-1] != 1 or any(k2 >= k1 for k1, k2 in zip(keeps, keeps[1:])):
        raise ValueError(f"the pruning schedule must decrease to 1 weight, got {keeps}")
    n, d = w0.shape
    if dense is None:
        dense = simulate(a0, w0, law=law, lr=lr, steps=steps, x=x)
    out = {"dense_a": dense["a"], "dense_w": dense["w"], "dense_loss": dense["loss"],
           "dense_success": (dense["loss"] < success_loss) & (np.argmax(np.abs(dense["w"]), 1) == 0)}
    for method in ("imp", "lrr"):
        a_cur, w_cur, mask = dense["a"], dense["w"], np.ones_like(w0)
        for keep in keeps:
            mask = magnitude_mask(w_cur, mask, keep)
            start_a, start_w = (a0, w0 * mask) if method == "imp" else (a_cur, w_cur * mask)
            res = retrain(start_a, start_w, mask, law=law, lr=lr, steps=steps, x=x)
            a_cur, w_cur = res["a"], res["w"]
        correct = mask[:, 0] > 0
        out[f"{method}_a"] = a_cur
        out[f"{method}_w"] = w_cur[:, 0]
        out[f"{method}_loss"] = np.where(correct, res["loss"], np.nan)
        out[f"{method}_mask_correct"] = correct
        out[f"{method}_success"] = correct & (np.nan_to_num(res["loss"], nan=np.inf) < success_loss)
    return out
