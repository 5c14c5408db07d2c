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
density_r = density^(r/rounds) (or the linear 1 − (1 − density)·r/rounds, Synaptic-Flow's
``--compression-schedule``) and uses no data. The level methods of ``lottery run snip|grasp|
synflow|magnitude-init|random`` (:mod:`lottery_core.loops.pai_methods`) use the same scores and
rounds with exact per-group counts (:func:`score_at_init`, :func:`synflow_mask_counts`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.models import prunable_leaves
from lottery_core.store import flatten
from lottery_core.sparsity.allocation import (check_density, check_scope, kept_count,
                                              prunable_paths)
from lottery_core.sparsity.masks import apply_mask, keep_top_leaves, scores_to_mask
from lottery_core.sparsity.scores import (ApplyFn, cross_entropy, grasp_scores,
                                          magnitude_scores, random_scores, snip_scores,
                                          synflow_scores)

METHODS = ("snip", "grasp", "synflow", "magnitude", "random")
#: SynFlow's density schedules over the rounds (Synaptic-Flow ``--compression-schedule``)
SCHEDULES = ("exponential", "linear")


def check_rounds(rounds) -> int:
    if isinstance(rounds, bool) or int(rounds) != rounds or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    return int(rounds)


def round_density(density: float, fraction: float, schedule: str) -> float:
    """Density after the share ``fraction`` = r/rounds of the rounds: ``density**fraction``
    (exponential) or ``1 − (1 − density)·fraction`` (linear), Synaptic-Flow's ``prune_loop``."""
    if schedule == "exponential":
        return density ** fraction
    if schedule == "linear":
        return 1.0 - (1.0 - density) * fraction
    raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")


def round_counts(densities: list[float], sizes: list[int], rounds: int, schedule: str
                 ) -> np.ndarray:
    """``[rounds, groups]`` kept counts: ``kept_count(round_density(d_g, r/rounds), n_g)``,
    the last round exactly ``kept_count(d_g, n_g)``; non-increasing, so the masks nest."""
    rounds = check_rounds(rounds)
    counts = np.asarray([[kept_count(round_density(d, r / rounds, schedule), n)
                          for d, n in zip(densities, sizes)] for r in range(1, rounds + 1)])
    counts[-1] = [kept_count(d, n) for d, n in zip(densities, sizes)]
    return counts


def synflow_mask(params, state, apply_fn: ApplyFn, input_shape, density: float, *,
                 rounds: int = 100, scope: str = "global", schedule: str = "exponential"):
    """Iterative SynFlow: for r = 1..rounds, score θ ⊙ m and keep the top
    floor(density_r · P + 1/2) weights of the current mask (nested masks), density_r from
    :func:`round_density`.

    The rounds run as one jitted ``lax.fori_loop``; each round's kept count is a traced
    integer compared with score ranks, so neither rounds nor densities recompile.
    """
    density = check_density(density)
    check_scope(scope)
    paths = prunable_paths(params)
    if not paths:
        raise ValueError("params have no prunable leaves (leaves named 'kernel')")
    groups = [paths] if scope == "global" else [[p] for p in paths]
    sizes = _group_sizes(params, groups)
    counts = round_counts([density] * len(groups), sizes, rounds, schedule)
    return _synflow(params, state, apply_fn, input_shape, groups, counts)


def synflow_mask_counts(params, state, apply_fn: ApplyFn, input_shape, groups, *,
                        rounds: int = 100, schedule: str = "exponential"):
    """Iterative SynFlow ending at exact counts: ``groups`` is ``[(paths, kept count), ...]``
    (one pooled group for a global mask, or one per layer); group g of n_g weights ending at
    c_g keeps ``kept_count(round_density(c_g / n_g, r/rounds), n_g)`` in round r, exactly c_g
    in the last."""
    paths = [list(g) for g, _ in groups]
    sizes = _group_sizes(params, paths)
    finals = [int(c) for _, c in groups]
    for g, (c, n) in enumerate(zip(finals, sizes)):
        if not 0 <= c <= n:
            raise ValueError(f"cannot keep {c} of the {n} weights of {paths[g]}")
    counts = round_counts([c / n for c, n in zip(finals, sizes)], sizes, rounds, schedule)
    counts[-1] = finals
    return _synflow(params, state, apply_fn, input_shape, paths, counts)


def _group_sizes(params, groups) -> list[int]:
    flat = flatten(params)
    return [sum(int(np.size(flat[p])) for p in g) for g in groups]


def _synflow(params, state, apply_fn, input_shape, groups, counts):
    """Positions of the groups' leaves among the prunable leaves, then the jitted rounds."""
    position = {p: j for j, p in enumerate(prunable_paths(params))}
    unknown = [p for g in groups for p in g if p not in position]
    if unknown:
        raise ValueError(f"not prunable leaves of the params: {unknown}")
    return _synflow_rounds(params, state, jnp.asarray(counts, dtype=jnp.int32),
                           apply_fn=apply_fn, input_shape=tuple(input_shape),
                           groups=tuple(tuple(position[p] for p in g) for g in groups))


@functools.partial(jax.jit, static_argnames=("apply_fn", "input_shape", "groups"))
def _synflow_rounds(params, state, counts, *, apply_fn, input_shape, groups):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    flag_leaves = treedef.flatten_up_to(prunable_leaves(params))
    prunable = [i for i, f in enumerate(flag_leaves) if f]
    sizes = [leaves[i].size for i in prunable]

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
_jit_snip = jax.jit(snip_scores, static_argnums=(2,),
                    static_argnames=("loss_fn", "train", "batches"))
_jit_grasp = jax.jit(grasp_scores, static_argnums=(2,),
                     static_argnames=("loss_fn", "temperature", "train", "batches"))


def score_at_init(method: str, params, state, apply_fn: ApplyFn, *, x=None, y=None, key=None,
                  train: bool = False, batches: int = 1, temperature: float = 200.0,
                  loss_fn=cross_entropy):
    """Scores of the one-shot method ``method`` (``magnitude``, ``random``, ``snip``,
    ``grasp``; higher = kept), jitted. SNIP and GraSP need a pruning batch ``(x, y)``, scored
    with BatchNorm in eval mode unless ``train`` and split into ``batches`` batches;
    ``random`` needs ``key`` (N(0, 1) scores, Synaptic-Flow ``Rand``)."""
    if method == "magnitude":
        return _jit_magnitude(params)
    if method == "random":
        if key is None:
            raise ValueError("method 'random' needs a PRNG key (key=...)")
        return _jit_random(key, params)
    if method in ("snip", "grasp"):
        if x is None or y is None:
            raise ValueError(f"method {method!r} needs a pruning batch (x=..., y=...)")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if method == "snip":
            return _jit_snip(params, state, apply_fn, x, y, loss_fn=loss_fn, train=bool(train),
                             batches=int(batches))
        return _jit_grasp(params, state, apply_fn, x, y, temperature=temperature,
                          loss_fn=loss_fn, train=bool(train), batches=int(batches))
    raise ValueError(f"unknown pruning method {method!r}; allowed: {', '.join(METHODS)}")


def prune_at_init(method: str, params, state, apply_fn: ApplyFn, density: float, *,
                  x=None, y=None, key=None, input_shape=None, scope: str = "global",
                  rounds: int = 100, temperature: float = 200.0, loss_fn=cross_entropy,
                  train: bool = False):
    """Mask of ``method`` in :data:`METHODS` at ``density`` (fraction of prunable weights kept).

    SNIP and GraSP need a pruning batch ``(x, y)`` (Synaptic-Flow: 10 × #classes examples),
    scored with BatchNorm in eval mode unless ``train``; ``random`` needs ``key``; SynFlow
    needs only ``input_shape`` (taken from ``x`` if given) and never reads data values.
    ``loss_fn(outputs, y)`` (default cross-entropy) is the loss SNIP and GraSP differentiate.
    """
    density = check_density(density)
    check_scope(scope)
    if method == "synflow":
        if input_shape is None:
            if x is None:
                raise ValueError("method 'synflow' needs input_shape=... (or x for its shape)")
            input_shape = tuple(jnp.shape(x)[1:])
        return synflow_mask(params, state, apply_fn, input_shape, density, rounds=rounds,
                            scope=scope)
    scores = score_at_init(method, params, state, apply_fn, x=x, y=y, key=key, train=train,
                           temperature=temperature, loss_fn=loss_fn)
    return scores_to_mask(scores, params, density, scope=scope)
