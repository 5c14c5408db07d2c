"""Pruning at initialization: SNIP, GraSP, SynFlow, magnitude at init, random.

Pure functions over a params pytree (nested dicts; prunable leaves are named ``kernel``, see
:func:`lottery_core.models.prunable_leaves`) and an ``apply_fn(params, state, x, train) ->
(logits, state)``. Scores are pytrees shaped like ``params`` (0 on non-prunable leaves); masks
are pytrees of booleans shaped like ``params`` (True = kept; non-prunable leaves all True).

Scoring rules follow the Synaptic-Flow code of Tanaka et al. 2020 (``Pruners/pruners.py``),
as summarised in spec ``nofreeprune.md`` §5.2:

- SNIP (Lee et al. 2019): |θ ⊙ ∂L/∂θ|, normalised by the sum of all scores;
- GraSP (Wang et al. 2020): logits / T (T = 200), g = stop_grad(∇L), Hg = ∇_θ(gᵀ∇_θ L),
  score θ ⊙ Hg normalised by |Σ score| + 1e-10; the lowest scores are pruned;
- SynFlow (Tanaka et al. 2020): R = Σ f_{|θ|}(1) with an all-ones input of batch 1,
  score |θ ⊙ ∂R/∂θ|; iterated over ``rounds`` (default 100) with the exponential schedule
  density_r = density^(r/rounds); uses no data;
- magnitude at init: |θ|; random: N(0, 1) noise.

A mask keeps exactly ``floor(density · P + 1/2)`` weights (globally, or per prunable leaf
for ``scope="layerwise"``); ties are broken deterministically in favour of the earlier
coordinate (leaf order of ``jax.tree_util``, then row-major).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp

from lottery_core.models import prunable_leaves

METHODS = ("snip", "grasp", "synflow", "magnitude", "random")
SCOPES = ("global", "layerwise")

ApplyFn = Callable[[Any, Any, Any, bool], tuple[Any, Any]]


# --------------------------------------------------------------------------- helpers
def cross_entropy(logits, labels):
    """Mean softmax cross-entropy with integer labels (PyTorch's ``F.cross_entropy``)."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None].astype(jnp.int32), axis=-1))


def _where_prunable(params, prunable_fn, other_fn):
    flags = prunable_leaves(params)
    return jax.tree_util.tree_map(lambda leaf, f: prunable_fn(leaf) if f else other_fn(leaf),
                                  params, flags)


def _zero_unprunable(tree, params):
    flags = prunable_leaves(params)
    return jax.tree_util.tree_map(lambda s, f: s if f else jnp.zeros_like(s), tree, flags)


def kept_count(density: float, size: int) -> int:
    """floor(density · size + 1/2): the exact number of weights a mask keeps."""
    return int(math.floor(density * size + 0.5))


def _check_density(density) -> float:
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density (fraction of prunable weights kept) must lie in (0, 1], got {density}")
    return density


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")
    return scope


def _rank_descending(flat_scores):
    """Rank 0 = highest score; ties: earlier index first (stable sort)."""
    order = jnp.argsort(-flat_scores, stable=True)
    return jnp.zeros(flat_scores.shape, jnp.int32).at[order].set(
        jnp.arange(flat_scores.size, dtype=jnp.int32))


# --------------------------------------------------------------------------- masks from scores
def scores_to_mask(scores, params, density: float, *, scope: str = "global", within=None):
    """Keep the top ``floor(density·P + 1/2)`` prunable scores (global) or per leaf (layerwise).

    ``within``: an existing mask; weights it prunes stay pruned and ``density`` still refers
    to the full count P (as in IMP and iterative SynFlow), so it must not exceed the
    density of ``within``. Compiled once per shape, density and scope.
    """
    return _scores_to_mask(scores, params, _check_density(density), scope=_check_scope(scope),
                           within=within)


@functools.partial(jax.jit, static_argnames=("density", "scope"))
def _scores_to_mask(scores, params, density: float, *, scope: str = "global", within=None):
    flags = prunable_leaves(params)
    leaves, treedef = jax.tree_util.tree_flatten(scores)
    flag_leaves = treedef.flatten_up_to(flags)
    within_leaves = (treedef.flatten_up_to(within) if within is not None
                     else [None] * len(leaves))

    def masked_scores(s, w):
        s = jnp.asarray(s).reshape(-1)
        return s if w is None else jnp.where(jnp.asarray(w).reshape(-1), s, -jnp.inf)

    prunable = [i for i, f in enumerate(flag_leaves) if f]
    if not prunable:
        raise ValueError("params have no prunable leaves (leaves named 'kernel')")
    out = [jnp.ones(jnp.shape(leaf), bool) for leaf in leaves]
    if scope == "global":
        flat = jnp.concatenate([masked_scores(leaves[i], within_leaves[i]) for i in prunable])
        keep = _rank_descending(flat) < kept_count(density, flat.size)
        offset = 0
        for i in prunable:
            size = int(jnp.size(leaves[i]))
            out[i] = keep[offset:offset + size].reshape(jnp.shape(leaves[i]))
            offset += size
    else:
        for i in prunable:
            flat = masked_scores(leaves[i], within_leaves[i])
            out[i] = (_rank_descending(flat) < kept_count(density, flat.size)).reshape(
                jnp.shape(leaves[i]))
    return jax.tree_util.tree_unflatten(treedef, out)


def apply_mask(params, mask):
    """θ ⊙ m (pruned weights set to exactly zero)."""
    return jax.tree_util.tree_map(lambda p, m: jnp.where(m, p, jnp.zeros_like(p)), params, mask)


def mask_density(mask, params) -> float:
    """Fraction of prunable weights kept."""
    flags = prunable_leaves(params)
    kept = sum(int(jnp.sum(m)) for m, f in zip(jax.tree_util.tree_leaves(mask),
                                                 jax.tree_util.tree_leaves(flags)) if f)
    total = sum(int(jnp.size(m)) for m, f in zip(jax.tree_util.tree_leaves(mask),
                                                   jax.tree_util.tree_leaves(flags)) if f)
    return kept / total


# --------------------------------------------------------------------------- scores
def magnitude_scores(params):
    """|θ| on prunable leaves."""
    return _where_prunable(params, jnp.abs, jnp.zeros_like)


def random_scores(params, *, key):
    """Independent N(0, 1) scores on prunable leaves (Synaptic-Flow ``Rand``)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    noise = [jax.random.normal(k, jnp.shape(leaf), jnp.result_type(leaf))
             for k, leaf in zip(keys, leaves)]
    return _zero_unprunable(jax.tree_util.tree_unflatten(treedef, noise), params)


def _normalise(scores, params, absolute: bool):
    flags = prunable_leaves(params)
    total = sum(jnp.sum(s) for s, f in zip(jax.tree_util.tree_leaves(scores),
                                           jax.tree_util.tree_leaves(flags)) if f)
    norm = jnp.abs(total) + 1e-10 if not absolute else total
    return jax.tree_util.tree_map(lambda s: s / norm, scores)


def snip_scores(params, state, apply_fn: ApplyFn, x, y, *, loss_fn=cross_entropy):
    """SNIP: |θ ⊙ ∂L/∂θ| = |∂L/∂c| at c = 1 for θ → c ⊙ θ, normalised to sum 1."""
    grads = jax.grad(lambda p: loss_fn(apply_fn(p, state, x, True)[0], y))(params)
    scores = _zero_unprunable(jax.tree_util.tree_map(lambda g, p: jnp.abs(g * p), grads, params),
                              params)
    return _normalise(scores, params, absolute=True)


def grasp_scores(params, state, apply_fn: ApplyFn, x, y, *, temperature: float = 200.0,
                 loss_fn=cross_entropy):
    """GraSP: θ ⊙ Hg with g = stop_grad(∇L) on prunable leaves, logits divided by T,
    normalised by |Σ score| + 1e-10. Hg is a forward-over-reverse Hessian-vector product."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")

    def loss(p):
        return loss_fn(apply_fn(p, state, x, True)[0] / temperature, y)

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


def synflow_mask(params, state, apply_fn: ApplyFn, input_shape, density: float, *,
                 rounds: int = 100, scope: str = "global"):
    """Iterative SynFlow: for r = 1..rounds, score θ ⊙ m and keep the top
    floor(density^(r/rounds) · P + 1/2) weights of the current mask (nested masks).

    The rounds run as one jitted ``lax.fori_loop``; each round's kept count is a traced
    integer compared with score ranks, so neither rounds nor densities recompile.
    """
    density = _check_density(density)
    _check_scope(scope)
    if isinstance(rounds, bool) or int(rounds) != rounds or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    rounds = int(rounds)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    flag_leaves = treedef.flatten_up_to(prunable_leaves(params))
    sizes = [int(jnp.size(leaf)) for leaf, f in zip(leaves, flag_leaves) if f]
    if not sizes:
        raise ValueError("params have no prunable leaves (leaves named 'kernel')")
    groups = [sizes] if scope == "global" else [[size] for size in sizes]
    counts = jnp.asarray([[kept_count(density ** (r / rounds), sum(g)) for g in groups]
                          for r in range(1, rounds + 1)], dtype=jnp.int32)
    return _synflow_rounds(params, state, counts, apply_fn=apply_fn,
                           input_shape=tuple(input_shape), scope=scope)


@functools.partial(jax.jit, static_argnames=("apply_fn", "input_shape", "scope"))
def _synflow_rounds(params, state, counts, *, apply_fn, input_shape, scope):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    flag_leaves = treedef.flatten_up_to(prunable_leaves(params))
    prunable = [i for i, f in enumerate(flag_leaves) if f]
    sizes = [leaves[i].size for i in prunable]
    groups = ([list(range(len(prunable)))] if scope == "global"
              else [[j] for j in range(len(prunable))])

    def to_tree(kept):
        out = [jnp.ones(jnp.shape(leaf), bool) for leaf in leaves]
        for j, i in enumerate(prunable):
            out[i] = kept[j].reshape(jnp.shape(leaves[i]))
        return jax.tree_util.tree_unflatten(treedef, out)

    def one_round(r, kept):
        scores = treedef.flatten_up_to(
            synflow_scores(apply_mask(params, to_tree(kept)), state, apply_fn, input_shape))
        flat = [jnp.where(kept[j], scores[i].reshape(-1), -jnp.inf) for j, i in enumerate(prunable)]
        new = list(kept)
        for gi, group in enumerate(groups):
            keep = _rank_descending(jnp.concatenate([flat[j] for j in group])) < counts[r, gi]
            offset = 0
            for j in group:
                new[j] = keep[offset:offset + sizes[j]]
                offset += sizes[j]
        return tuple(new)

    initial = tuple(jnp.ones(size, bool) for size in sizes)
    return to_tree(jax.lax.fori_loop(0, counts.shape[0], one_round, initial))


# --------------------------------------------------------------------------- dispatcher
_jit_magnitude = jax.jit(magnitude_scores)
_jit_random = jax.jit(random_scores)
_jit_snip = jax.jit(snip_scores, static_argnums=(2,), static_argnames=("loss_fn",))
_jit_grasp = jax.jit(grasp_scores, static_argnums=(2,), static_argnames=("loss_fn", "temperature"))


def prune_at_init(method: str, params, state, apply_fn: ApplyFn, density: float, *,
                  x=None, y=None, key=None, input_shape=None, scope: str = "global",
                  rounds: int = 100, temperature: float = 200.0, loss_fn=cross_entropy):
    """Mask of ``method`` in :data:`METHODS` at ``density`` (fraction of prunable weights kept).

    SNIP and GraSP need a pruning batch ``(x, y)`` (Synaptic-Flow: 10 × #classes examples);
    ``random`` needs ``key``; SynFlow needs only ``input_shape`` (taken from ``x`` if given)
    and never reads data values. ``loss_fn(outputs, y)`` (default cross-entropy) is the loss
    SNIP and GraSP differentiate.
    """
    density = _check_density(density)
    _check_scope(scope)
    if method == "magnitude":
        scores = _jit_magnitude(params)
    elif method == "random":
        if key is None:
            raise ValueError("method 'random' needs a PRNG key (key=...)")
        scores = _jit_random(params, key=key)
    elif method in ("snip", "grasp"):
        if x is None or y is None:
            raise ValueError(f"method {method!r} needs a pruning batch (x=..., y=...)")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        scores = (_jit_snip(params, state, apply_fn, x, y, loss_fn=loss_fn) if method == "snip"
                  else _jit_grasp(params, state, apply_fn, x, y, temperature=temperature,
                                  loss_fn=loss_fn))
    elif method == "synflow":
        if input_shape is None:
            if x is None:
                raise ValueError("method 'synflow' needs input_shape=... (or x for its shape)")
            input_shape = tuple(jnp.shape(x)[1:])
        return synflow_mask(params, state, apply_fn, input_shape, density, rounds=rounds,
                            scope=scope)
    else:
        raise ValueError(f"unknown pruning method {method!r}; allowed: {', '.join(METHODS)}")
    return scores_to_mask(scores, params, density, scope=scope)
