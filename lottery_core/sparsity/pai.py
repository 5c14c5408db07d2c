"""Pruning at initialization: SNIP, GraSP, SynFlow, magnitude at init, random.

Pure functions over a params pytree (nested dicts; prunable leaves are named ``kernel``, see
:func:`lottery_core.models.prunable_leaves`) and an ``apply_fn(params, state, x, train) ->
(logits, state)``. The scores are those of :mod:`.scores` (Synaptic-Flow code of Tanaka et al.
2020, spec ``nofreeprune.md`` §5.2; random: N(0, 1) noise); masks are pytrees of booleans
shaped like ``params`` (True = kept; non-prunable leaves all True).

A mask keeps exactly ``floor(density · P + 1/2)`` weights (globally, or per prunable leaf
for ``scope="layerwise"``); ties are broken deterministically in favour of the earlier
coordinate (leaf order of ``jax.tree_util``, then row-major): :func:`.masks.scores_to_mask`.
SynFlow iterates over ``rounds`` (default 100) with the exponential schedule
density_r = density^(r/rounds) and uses no data.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from lottery_core.models import prunable_leaves
from lottery_core.sparsity.allocation import check_density, check_scope, kept_count
from lottery_core.sparsity.masks import apply_mask, keep_top_leaves, scores_to_mask
from lottery_core.sparsity.scores import (ApplyFn, cross_entropy, grasp_scores,
                                          magnitude_scores, random_scores, snip_scores,
                                          synflow_scores)

METHODS = ("snip", "grasp", "synflow", "magnitude", "random")


def synflow_mask(params, state, apply_fn: ApplyFn, input_shape, density: float, *,
                 rounds: int = 100, scope: str = "global"):
    """Iterative SynFlow: for r = 1..rounds, score θ ⊙ m and keep the top
    floor(density^(r/rounds) · P + 1/2) weights of the current mask (nested masks).

    The rounds run as one jitted ``lax.fori_loop``; each round's kept count is a traced
    integer compared with score ranks, so neither rounds nor densities recompile.
    """
    density = check_density(density)
    check_scope(scope)
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
        new = list(kept)
        for gi, group in enumerate(groups):
            selected = keep_top_leaves([scores[prunable[j]].reshape(-1) for j in group],
                                       counts[r, gi], [kept[j] for j in group])
            for j, k in zip(group, selected):
                new[j] = k
        return tuple(new)

    initial = tuple(jnp.ones(size, bool) for size in sizes)
    return to_tree(jax.lax.fori_loop(0, counts.shape[0], one_round, initial))


# --------------------------------------------------------------------------- dispatcher
_jit_magnitude = jax.jit(magnitude_scores)
_jit_random = jax.jit(functools.partial(random_scores, distribution="normal"))
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
    density = check_density(density)
    check_scope(scope)
    if method == "magnitude":
        scores = _jit_magnitude(params)
    elif method == "random":
        if key is None:
            raise ValueError("method 'random' needs a PRNG key (key=...)")
        scores = _jit_random(key, params)
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
