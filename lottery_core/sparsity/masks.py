"""Masks: boolean pytrees shaped like the params (True = weight kept).

Non-prunable leaves (biases, BatchNorm) carry all-True masks. Every mask here is
scores (:mod:`.scores`) -> per-layer counts (:mod:`.allocation`) -> exact-count top-k
(:mod:`.topk`), the JaxPruner recipe (DESIGN.md):

* a level that removes the fraction ``f`` of the ``n`` remaining weights of a layer removes
  exactly ``round_half_up(f * n)`` of them [R]; among equal scores the weight with the lower
  flat index (leaves in ``flatten`` order, row-major inside a leaf) is kept. Level pruning runs
  on the host in numpy (float64 scores), once per level;
* a pruning-at-initialization mask of density ``d`` keeps ``round_half_up(d * P)`` weights
  (:func:`scores_to_mask`, jitted).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.store import flatten, unflatten
from lottery_core.models import prunable_leaves
from lottery_core.sparsity.allocation import (check_density, check_scope, erk_densities,
                                              kept_count, level_groups, prunable_paths,
                                              prune_count)
from lottery_core.sparsity.scores import magnitude_scores, random_scores
from lottery_core.sparsity.topk import topk_pooled

Mask = dict


def full_mask(params: Any) -> Mask:
    """All-True mask shaped like ``params``."""
    return jax.tree_util.tree_map(lambda p: np.ones(np.shape(p), dtype=bool), params)


def apply_mask(params: Any, mask: Mask) -> Any:
    """``params ⊙ mask`` (pruned weights set to exactly 0)."""
    return jax.tree_util.tree_map(lambda p, m: jnp.where(m, p, jnp.zeros_like(p)), params, mask)


def density_report(mask: Mask, paths: list[str] | None = None) -> dict:
    """``{"overall": d, "layers": {path: {"kept", "total", "density"}}}`` over the prunable
    paths (default: every leaf whose mask has a False or whose name is ``kernel``)."""
    flat = flatten(mask)
    if paths is None:
        paths = [p for p, m in flat.items()
                 if p.endswith("kernel") or not np.all(np.asarray(m))]
    layers, kept_total, size_total = {}, 0, 0
    for p in paths:
        m = np.asarray(flat[p], bool)
        kept, total = int(m.sum()), int(m.size)
        layers[p] = {"kept": kept, "total": total, "density": kept / total if total else 1.0}
        kept_total += kept
        size_total += total
    return {"overall": kept_total / size_total if size_total else 1.0, "kept": kept_total,
            "total": size_total, "layers": layers}


# ----------------------------------------------------------------------------- one level
def _prune_pooled(flat_scores: dict, flat_mask: dict, paths: list[str], fraction: float) -> dict:
    """Remove ``round_half_up(f·n)`` of the ``n`` survivors of ``paths`` pooled: the lowest
    scores, ties to the higher index."""
    alive = [np.asarray(flat_mask[p], bool) for p in paths]
    remaining = sum(int(a.sum()) for a in alive)
    keep = remaining - prune_count(remaining, fraction)
    kept = topk_pooled([np.asarray(flat_scores[p], np.float64) for p in paths], keep,
                       alive=alive, count_of="keep", ties="index", nan="raise")
    return dict(zip(paths, kept))


def prune(scores: Any, mask: Mask, fractions: Mapping[str, float], allocation: str = "layerwise"
          ) -> Mask:
    """One pruning level: remove exactly ``round_half_up(f_l * n_l)`` surviving weights with
    the lowest score from every layer ``l`` named in ``fractions`` (``allocation='layerwise'``),
    or ``round_half_up(f * n)`` from the layers pooled, with their common fraction ``f``
    (``'global'``: global magnitude pruning). Other leaves keep their mask."""
    flat_scores, flat_mask = flatten(scores), flatten(mask)
    unknown = set(fractions) - set(flat_mask)
    if unknown:
        raise ValueError(f"fractions name unknown layers {sorted(unknown)}")
    new = dict(flat_mask)
    for paths, fraction in level_groups(fractions, allocation):
        new.update(_prune_pooled(flat_scores, flat_mask, paths, fraction))
    return unflatten(new)


def prune_by_magnitude(params: Any, mask: Mask, fractions: Mapping[str, float],
                       allocation: str = "layerwise") -> Mask:
    """Magnitude pruning of one level: drop the smallest |w| (Frankle & Carbin 2019, §2)."""
    return prune(magnitude_scores(params), mask, fractions, allocation)


# ----------------------------------------------------------------------------- exact counts
def keep_counts(scores: Any, groups: Sequence[tuple[Sequence[str], int]], within: Mask) -> Mask:
    """Keep exactly ``count`` of the highest scores among the survivors of ``within`` in each
    group ``(paths, count)`` of layers pooled (one path: that layer alone); ties to the lower
    index, NaN scores an error. Host numpy in float64; leaves in no group keep ``within``."""
    flat_scores, new = flatten(scores), flatten(within)
    for paths, count in groups:
        kept = topk_pooled([np.asarray(flat_scores[p], np.float64) for p in paths], int(count),
                           alive=[np.asarray(new[p], bool) for p in paths], count_of="keep",
                           ties="index", nan="raise")
        new.update(zip(paths, kept))
    return unflatten(new)


# ----------------------------------------------------------------------------- random masks
def random_mask_with_counts(key, params: Any, kept: Mapping[str, int], within: Mask | None = None
                            ) -> Mask:
    """Keep exactly ``kept[path]`` uniformly random survivors of ``within`` (default: all
    weights) in each listed layer; the other leaves keep their ``within`` mask."""
    return keep_counts(random_scores(key, params), [([p], c) for p, c in kept.items()],
                       full_mask(params) if within is None else within)


def random_mask_layerwise(key, params: Any, densities: Mapping[str, float]) -> Mask:
    """Random mask with density ``densities[path]`` in each layer (exact counts)."""
    flat = flatten(params)
    return random_mask_with_counts(
        key, params, {p: kept_count(d, np.size(flat[p])) for p, d in densities.items()})


def random_mask_global(key, params: Any, density: float, paths: list[str] | None = None) -> Mask:
    """Random mask keeping ``round_half_up(density * n)`` of the pooled weights of ``paths``
    (default: all prunable); per-layer densities then vary around ``density``."""
    paths = prunable_paths(params) if paths is None else paths
    fraction = 1.0 - float(density)
    scores = random_scores(key, params)
    return prune(scores, full_mask(params), {p: fraction for p in paths}, "global") \
        if fraction < 1.0 else \
        unflatten({**flatten(full_mask(params)),
                   **{p: np.zeros(np.shape(flatten(params)[p]), bool) for p in paths}})


def random_mask_erk(key, params: Any, density: float) -> Mask:
    """Random mask with ERK per-layer densities (exact per-layer counts)."""
    return random_mask_layerwise(key, params, erk_densities(params, density))


# ----------------------------------------------------------------------------- density masks
def keep_top_leaves(score_leaves: list, count, within_leaves: list | None = None) -> list:
    """Keep the ``count`` highest scores of the leaves pooled (index ties; JAX, jit-able,
    ``count`` may be traced). Weights pruned by ``within`` score −inf, so they stay pruned
    while ``count`` does not exceed the survivors."""
    if within_leaves is not None:
        score_leaves = [s if w is None else jnp.where(jnp.asarray(w), jnp.asarray(s), -jnp.inf)
                        for s, w in zip(score_leaves, within_leaves)]
    return topk_pooled([jnp.asarray(s) for s in score_leaves], count, count_of="keep",
                       ties="index")


def scores_to_mask(scores, params, density: float, *, scope: str = "global", within=None):
    """Keep the top ``floor(density·P + 1/2)`` prunable scores (global) or per leaf (layerwise).

    ``within``: an existing mask; weights it prunes stay pruned and ``density`` still refers
    to the full count P (as in IMP and iterative SynFlow), so it must not exceed the
    density of ``within``. The kept counts are computed here and enter the compiled selection
    as traced integers (as in :func:`~lottery_core.sparsity.pai.synflow_mask`), so it compiles
    once per shape and scope, not once per density.
    """
    density, scope = check_density(density), check_scope(scope)
    leaves = jax.tree_util.tree_leaves(scores)
    counts = jnp.asarray([kept_count(density, sum(int(np.size(leaves[i])) for i in group))
                          for group in _mask_groups(scores, params, scope)], jnp.int32)
    return _scores_to_mask(scores, params, counts, scope=scope, within=within)


def _mask_groups(scores, params, scope: str) -> list[list[int]]:
    """Flat leaf indices of ``scores`` selected together: all prunable leaves pooled
    (``global``) or each prunable leaf alone (``layerwise``)."""
    leaves, treedef = jax.tree_util.tree_flatten(scores)
    flag_leaves = treedef.flatten_up_to(prunable_leaves(params))
    prunable = [i for i, f in enumerate(flag_leaves) if f]
    if not prunable:
        raise ValueError("params have no prunable leaves (leaves named 'kernel')")
    return [prunable] if scope == "global" else [[i] for i in prunable]


@functools.partial(jax.jit, static_argnames=("scope",))
def _scores_to_mask(scores, params, counts, *, scope: str = "global", within=None):
    """``counts[g]``: the kept count of group g of :func:`_mask_groups` (traced)."""
    leaves, treedef = jax.tree_util.tree_flatten(scores)
    within_leaves = (treedef.flatten_up_to(within) if within is not None
                     else [None] * len(leaves))
    out = [jnp.ones(jnp.shape(leaf), bool) for leaf in leaves]
    for g, group in enumerate(_mask_groups(scores, params, scope)):
        kept = keep_top_leaves([leaves[i] for i in group], counts[g],
                               [within_leaves[i] for i in group])
        for i, k in zip(group, kept):
            out[i] = k
    return jax.tree_util.tree_unflatten(treedef, out)

