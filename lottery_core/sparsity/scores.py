"""Scores: one number per weight, higher = more worth keeping.

Pytree scores are shaped like the params (prunable leaves: those named ``kernel``, see
:func:`lottery_core.models.prunable_leaves`; 0 on the others). ``apply_fn(params, state, x,
train) -> (logits, state)``.

* magnitude |θ| (Han et al. 2015; Frankle & Carbin 2019) and i.i.d. random scores;
* pruning at initialization, following the Synaptic-Flow code of Tanaka et al. 2020
  (``Pruners/pruners.py``) as summarised in spec ``nofreeprune.md`` §5.2:

  - SNIP (Lee et al. 2019): |θ ⊙ ∂L/∂θ|, normalised by the sum of all scores;
  - GraSP (Wang et al. 2020): logits / T (T = 200), g = stop_grad(∇L), Hg = ∇_θ(gᵀ∇_θ L),
    score θ ⊙ Hg normalised by |Σ score| + 1e-10; the lowest scores are pruned;
  - SynFlow (Tanaka et al. 2020): R = Σ f_{|θ|}(1) with an all-ones input of batch 1,
    score |θ ⊙ ∂R/∂θ| (one round; the iteration is :func:`.pai.synflow_mask`);
  - SNIP and GraSP run the network with BatchNorm in eval mode unless ``train=True``
    (Synaptic-Flow's default and SNIP's code; the original GraSP code uses train mode;
    docs/pai.md); SynFlow always in eval mode;

* the mask criteria of Zhou et al. (2019), "Deconstructing Lottery Tickets", §2 and Table 1:
  numpy functions of one layer's weights at the start (``w_i``) and end (``w_f``) of a round
  (spec zhou.md §3 [P] formulas, [C] the official ``get_weight_init.py``).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.models import prunable_leaves

ApplyFn = Callable[[object, object, object, bool], tuple[object, object]]
DISTRIBUTIONS = ("uniform", "normal")


# ----------------------------------------------------------------------------- helpers
def cross_entropy(logits, labels):
    """Mean softmax cross-entropy with integer labels (PyTorch's ``F.cross_entropy``)."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None].astype(jnp.int32), axis=-1))


def _zero_unprunable(tree, params):
    flags = prunable_leaves(params)
    return jax.tree_util.tree_map(lambda s, f: s if f else jnp.zeros_like(s), tree, flags)


def _normalise(scores, params, absolute: bool):
    flags = prunable_leaves(params)
    total = sum(jnp.sum(s) for s, f in zip(jax.tree_util.tree_leaves(scores),
                                           jax.tree_util.tree_leaves(flags)) if f)
    norm = jnp.abs(total) + 1e-10 if not absolute else total
    return jax.tree_util.tree_map(lambda s: s / norm, scores)


# ----------------------------------------------------------------------------- magnitude, random
def magnitude_scores(params):
    """|θ| on prunable leaves, 0 elsewhere. numpy leaves give numpy (no float32 round trip),
    JAX leaves and tracers give JAX (jit-able)."""
    flags = prunable_leaves(params)
    return jax.tree_util.tree_map(lambda p, f: abs(p) if f else jnp.zeros_like(p), params, flags)


def random_scores(key, params, *, distribution: str = "uniform"):
    """i.i.d. scores, leaf i drawn with the i-th key of ``jax.random.split(key, #leaves)``;
    0 on non-prunable leaves. ``"uniform"``: U[0, 1) in the default float dtype (random pruning
    in the level loop: with exact counts, a uniformly random mask); ``"normal"``: N(0, 1) in the
    leaf's dtype (Synaptic-Flow ``Rand``). Jit- and vmap-able."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; allowed: "
                         f"{', '.join(DISTRIBUTIONS)}")
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    if distribution == "uniform":
        draws = [jax.random.uniform(k, jnp.shape(leaf)) for k, leaf in zip(keys, leaves)]
    else:
        draws = [jax.random.normal(k, jnp.shape(leaf), jnp.result_type(leaf))
                 for k, leaf in zip(keys, leaves)]
    return _zero_unprunable(jax.tree_util.tree_unflatten(treedef, draws), params)


# ----------------------------------------------------------------------------- pruning at init
def _scoring_loss(apply_fn: ApplyFn, state, x, y, loss_fn, train: bool, batches: int,
                  temperature: float | None = None):
    """``L(θ)``: the sum over ``batches`` equal consecutive slices of ``(x, y)`` of the mean
    loss of each (Synaptic-Flow accumulates gradients over its pruning batches); the network
    runs with BatchNorm in train mode (batch statistics of each slice) or eval mode (running
    statistics) as ``train`` says; logits divided by ``temperature`` when given (GraSP)."""
    if isinstance(batches, bool) or int(batches) != batches or batches < 1:
        raise ValueError(f"batches must be a positive integer, got {batches!r}")
    if jnp.shape(x)[0] % batches:
        raise ValueError(f"{jnp.shape(x)[0]} scoring examples do not split into {batches} "
                         f"equal batches")
    xs, ys = jnp.split(x, batches), jnp.split(y, batches)

    def loss(p):
        losses = []
        for xb, yb in zip(xs, ys):
            logits = apply_fn(p, state, xb, train)[0]
            losses.append(loss_fn(logits if temperature is None else logits / temperature, yb))
        return sum(losses[1:], losses[0])

    return loss


def snip_scores(params, state, apply_fn: ApplyFn, x, y, *, loss_fn=cross_entropy,
                train: bool = False, batches: int = 1):
    """SNIP: |θ ⊙ ∂L/∂θ| = |∂L/∂c| at c = 1 for θ → c ⊙ θ, normalised to sum 1.

    ``train``: BatchNorm mode of the scoring pass (default eval, as Synaptic-Flow's
    ``--prune-train-mode False`` and SNIP's own code, ``is_train: False``; docs/pai.md);
    ``batches``: (x, y) split into that many batches, the loss summed over them."""
    grads = jax.grad(_scoring_loss(apply_fn, state, x, y, loss_fn, train, batches))(params)
    scores = _zero_unprunable(jax.tree_util.tree_map(lambda g, p: jnp.abs(g * p), grads, params),
                              params)
    return _normalise(scores, params, absolute=True)


def grasp_scores(params, state, apply_fn: ApplyFn, x, y, *, temperature: float = 200.0,
                 loss_fn=cross_entropy, train: bool = False, batches: int = 1):
    """GraSP: θ ⊙ Hg with g = stop_grad(∇L) on prunable leaves, logits divided by T,
    normalised by |Σ score| + 1e-10. Hg is a forward-over-reverse Hessian-vector product.
    ``train``, ``batches``: as :func:`snip_scores` (the original GraSP code scores in train
    mode, Synaptic-Flow in eval mode; docs/pai.md). Over several batches g is the summed
    gradient and Hg = Σ_b ∇(gᵀ∇L_b), Synaptic-Flow's two accumulation passes."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    loss = _scoring_loss(apply_fn, state, x, y, loss_fn, train, batches, temperature)

    grad_fn = jax.grad(loss)
    g = _zero_unprunable(jax.lax.stop_gradient(grad_fn(params)), params)
    _, hg = jax.jvp(grad_fn, (params,), (g,))
    scores = _zero_unprunable(jax.tree_util.tree_map(lambda h, p: h * p, hg, params), params)
    return _normalise(scores, params, absolute=False)


def synflow_scores(params, state, apply_fn: ApplyFn, input_shape: tuple[int, ...]):
    """One SynFlow round: |θ ⊙ ∂R/∂θ| with R = Σ f_{|θ|}(1), an all-ones input of batch 1.

    All parameters and the state (e.g. BatchNorm statistics) are replaced by their absolute
    values, as Synaptic-Flow's ``linearize`` does; the model is applied with train=False.
    """
    abs_params = jax.tree_util.tree_map(jnp.abs, params)
    abs_state = jax.tree_util.tree_map(jnp.abs, state)
    dtype = jnp.result_type(*jax.tree_util.tree_leaves(params))
    ones = jnp.ones((1, *tuple(input_shape)), dtype)
    grads = jax.grad(lambda p: jnp.sum(apply_fn(p, abs_state, ones, False)[0]))(abs_params)
    return _zero_unprunable(jax.tree_util.tree_map(lambda g, p: jnp.abs(g * p), grads, abs_params),
                            params)


# ----------------------------------------------------------------------------- Zhou et al.
def _same_sign(w_i, w_f):
    return np.sign(w_i) == np.sign(w_f)


#: name -> score(w_i, w_f); higher is kept. Spec zhou.md §3 table [P], sign variants [C].
ZHOU_SCORES: dict[str, Callable] = {
    "large_final": lambda w_i, w_f: np.abs(w_f),
    "small_final": lambda w_i, w_f: -np.abs(w_f),
    "large_init": lambda w_i, w_f: np.abs(w_i),
    "small_init": lambda w_i, w_f: -np.abs(w_i),
    "magnitude_increase": lambda w_i, w_f: np.abs(w_f) - np.abs(w_i),
    "movement": lambda w_i, w_f: np.abs(w_f - w_i),
    "random": lambda w_i, w_f: np.zeros(np.shape(w_f)),
    "large_final_same_sign": lambda w_i, w_f: np.where(_same_sign(w_i, w_f), np.abs(w_f), 0.0),
    "large_final_diff_sign": lambda w_i, w_f: np.where(_same_sign(w_i, w_f), 0.0, np.abs(w_f)),
    "magnitude_increase_same_sign": lambda w_i, w_f: np.where(
        _same_sign(w_i, w_f), np.abs(w_f) - np.abs(w_i), 0.0),
    "magnitude_increase_diff_sign": lambda w_i, w_f: np.where(
        _same_sign(w_i, w_f), 0.0, np.abs(w_f) - np.abs(w_i)),
}

#: criteria that keep the intersection of two aligned top-percentile sets (spec §3, α search)
ZHOU_ALIGNED = {
    "large_init_large_final": (lambda w_i, w_f: np.abs(w_i), lambda w_i, w_f: np.abs(w_f)),
    "small_init_small_final": (lambda w_i, w_f: -np.abs(w_i), lambda w_i, w_f: -np.abs(w_f)),
}

#: gradient-based criteria: score(w_i, g_0) with g_0 the gradient at the first iteration
ZHOU_GRADIENT = {
    "snip": lambda w_i, g_0: np.abs(g_0 * w_i),
    "grad": lambda w_i, g_0: np.abs(g_0),
}

#: keep every weight of the given sign relation, no magnitude ranking (spec §3, *_single)
ZHOU_SINGLE = {
    "same_sign_single": lambda w_i, w_f: _same_sign(w_i, w_f),
    "diff_sign_single": lambda w_i, w_f: ~_same_sign(w_i, w_f),
}
