"""Masks: boolean pytrees shaped like the params (True = weight kept).

Non-prunable leaves (biases, BatchNorm) carry all-True masks. Pruning goes
scores -> per-layer counts -> exact-count top-k (the JaxPruner recipe, DESIGN.md):

* a level that removes the fraction ``f`` of the ``n`` remaining weights of a layer removes
  exactly ``round_half_up(f * n)`` of them [R] (OpenLTH's ``>`` threshold can remove one weight
  too many on ties; here ties are broken deterministically by position instead);
* among equal scores the weight with the lower flat index (leaves in ``flatten`` order,
  row-major inside a leaf) is kept.

All pruning is done on the host in numpy (float64 scores), once per level.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import numpy as np

from lottery_core.models import prunable_leaves
from lottery_core.store import flatten, unflatten

Mask = dict


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def prune_count(remaining: int, fraction: float) -> int:
    """Number of weights a level removes: ``round_half_up(fraction * remaining)``."""
    check_fraction(fraction)
    return round_half_up(fraction * remaining)


def check_fraction(fraction: float, name: str = "pruning fraction") -> None:
    if not (0.0 <= float(fraction) < 1.0) or math.isnan(float(fraction)):
        raise ValueError(f"{name} must be in [0, 1), got {fraction}")


def full_mask(params: Any) -> Mask:
    """All-True mask shaped like ``params``."""
    return jax.tree_util.tree_map(lambda p: np.ones(np.shape(p), dtype=bool), params)


def prunable_paths(params: Any) -> list[str]:
    """'/'-joined paths of the prunable leaves (kernels), in flatten order."""
    flags = flatten(prunable_leaves(params))
    return [path for path, flag in flags.items() if flag]


def output_layer_path(params: Any, num_classes: int) -> str | None:
    """Path of the output kernel: the last 2-D prunable kernel whose last axis is
    ``num_classes`` (``None`` if there is none)."""
    candidates = [p for p in prunable_paths(params)
                  if np.ndim(flatten(params)[p]) == 2 and np.shape(flatten(params)[p])[-1]
                  == num_classes]
    return candidates[-1] if candidates else None


def layer_fractions(params: Any, num_classes: int, dense: float, conv: float | None = None,
                    output: float | None = None) -> dict[str, float]:
    """Per-layer pruning fractions in the Frankle & Carbin style: ``conv`` for 4-D kernels,
    ``output`` for the output kernel, ``dense`` for every other prunable leaf
    (zhou.md §2.3 [C]: FC 20%/10%; Conv-2/4 10%/20%/10%; Conv-6 15%/20%/10%)."""
    flat = flatten(params)
    out_path = output_layer_path(params, num_classes)
    fractions = {}
    for path in prunable_paths(params):
        if output is not None and path == out_path:
            fraction = output
        elif conv is not None and np.ndim(flat[path]) == 4:
            fraction = conv
        else:
            fraction = dense
        check_fraction(fraction, f"pruning fraction of {path}")
        fractions[path] = float(fraction)
    return fractions


def magnitude_scores(params: Any) -> Any:
    """|w|, the score of magnitude pruning (Han et al. 2015; Frankle & Carbin 2019)."""
    return jax.tree_util.tree_map(lambda p: np.abs(np.asarray(p, dtype=np.float64)), params)


def _keep_top(scores: np.ndarray, alive: np.ndarray, keep: int) -> np.ndarray:
    """Boolean array: the ``keep`` highest scores among ``alive`` entries, ties to lower index."""
    flat_scores = np.asarray(scores, dtype=np.float64).ravel()
    flat_alive = np.asarray(alive, dtype=bool).ravel()
    if np.isnan(flat_scores[flat_alive]).any():
        raise ValueError("scores contain NaN for unpruned weights")
    if not 0 <= keep <= int(flat_alive.sum()):
        raise ValueError(f"cannot keep {keep} of {int(flat_alive.sum())} surviving weights")
    candidates = np.flatnonzero(flat_alive)
    # lexsort: last key is primary -> descending score, then ascending index
    order = np.lexsort((candidates, -flat_scores[candidates]))
    result = np.zeros(flat_alive.shape, dtype=bool)
    result[candidates[order[:keep]]] = True
    return result.reshape(np.shape(alive))


def prune_layerwise(scores: Any, mask: Mask, fractions: Mapping[str, float]) -> Mask:
    """Remove exactly ``round_half_up(f_l * n_l)`` surviving weights with the lowest score in
    every layer ``l`` named in ``fractions`` (the others keep their mask)."""
    flat_scores, flat_mask = flatten(scores), flatten(mask)
    unknown = set(fractions) - set(flat_mask)
    if unknown:
        raise ValueError(f"fractions name unknown layers {sorted(unknown)}")
    new = dict(flat_mask)
    for path, fraction in fractions.items():
        alive = np.asarray(flat_mask[path], dtype=bool)
        remaining = int(alive.sum())
        new[path] = _keep_top(flat_scores[path], alive, remaining - prune_count(remaining,
                                                                                fraction))
    return unflatten(new)


def prune_global(scores: Any, mask: Mask, fraction: float, paths: list[str]) -> Mask:
    """Remove exactly ``round_half_up(f * n)`` of the ``n`` surviving weights of the layers
    ``paths`` pooled together: the lowest scores across layers (global magnitude pruning)."""
    flat_scores, flat_mask = flatten(scores), flatten(mask)
    alive = np.concatenate([np.asarray(flat_mask[p], bool).ravel() for p in paths])
    pooled = np.concatenate([np.asarray(flat_scores[p], np.float64).ravel() for p in paths])
    remaining = int(alive.sum())
    kept = _keep_top(pooled, alive, remaining - prune_count(remaining, fraction))
    new, start = dict(flat_mask), 0
    for p in paths:
        size = np.size(flat_mask[p])
        new[p] = kept[start:start + size].reshape(np.shape(flat_mask[p]))
        start += size
    return unflatten(new)


def prune(scores: Any, mask: Mask, fractions: Mapping[str, float], allocation: str = "layerwise"
          ) -> Mask:
    """One pruning level. ``allocation='layerwise'`` uses each layer's own fraction;
    ``'global'`` pools the layers and uses their common fraction (they must agree)."""
    if allocation == "layerwise":
        return prune_layerwise(scores, mask, fractions)
    if allocation == "global":
        values = set(fractions.values())
        if len(values) != 1:
            raise ValueError(f"global allocation needs one fraction for all layers, got {values}")
        return prune_global(scores, mask, values.pop(), list(fractions))
    raise ValueError(f"unknown allocation {allocation!r}; allowed: layerwise, global")


def prune_by_magnitude(params: Any, mask: Mask, fractions: Mapping[str, float],
                       allocation: str = "layerwise") -> Mask:
    """Magnitude pruning of one level: drop the smallest |w| (Frankle & Carbin 2019, §2)."""
    return prune(magnitude_scores(params), mask, fractions, allocation)


def random_scores(key, params: Any) -> Any:
    """i.i.d. uniform scores: pruning by them gives a uniformly random mask with the same
    exact counts as any other score (used by random pruning)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [np.asarray(jax.random.uniform(k, np.shape(l)), np.float64)
                  for k, l in zip(keys, leaves)])


def random_mask_with_counts(key, params: Any, kept: Mapping[str, int]) -> Mask:
    """Uniformly random mask keeping exactly ``kept[path]`` weights of each listed layer."""
    flat_scores = flatten(random_scores(key, params))
    new = flatten(full_mask(params))
    for path, count in kept.items():
        new[path] = _keep_top(flat_scores[path], new[path], int(count))
    return unflatten(new)


def random_mask_layerwise(key, params: Any, densities: Mapping[str, float]) -> Mask:
    """Random mask with density ``densities[path]`` in each layer (exact counts)."""
    flat = flatten(params)
    return random_mask_with_counts(
        key, params, {p: round_half_up(d * np.size(flat[p])) for p, d in densities.items()})


def random_mask_global(key, params: Any, density: float, paths: list[str] | None = None) -> Mask:
    """Random mask keeping ``round_half_up(density * n)`` of the pooled weights of ``paths``
    (default: all prunable); per-layer densities then vary around ``density``."""
    paths = prunable_paths(params) if paths is None else paths
    fraction = 1.0 - float(density)
    scores = random_scores(key, params)
    return prune_global(scores, full_mask(params), fraction, paths) if fraction < 1.0 else \
        unflatten({**flatten(full_mask(params)),
                   **{p: np.zeros(np.shape(flatten(params)[p]), bool) for p in paths}})


def erk_densities(params: Any, density: float, paths: list[str] | None = None,
                  power: float = 1.0) -> dict[str, float]:
    """Erdős–Rényi-Kernel densities (Evci et al. 2020, RigL §3): layer ``l`` gets density
    ``min(1, eps * sum(shape_l) / prod(shape_l))`` with ``eps`` chosen so the total count of
    kept weights is ``density * n``; saturated (dense) layers are removed and ``eps`` refit."""
    paths = prunable_paths(params) if paths is None else paths
    shapes = {p: np.shape(flatten(params)[p]) for p in paths}
    sizes = {p: math.prod(s) for p, s in shapes.items()}
    raw = {p: (sum(s) / sizes[p]) ** power for p, s in shapes.items()}
    total = density * sum(sizes.values())
    dense: set[str] = set()
    while True:
        budget = total - sum(sizes[p] for p in dense)
        free = [p for p in paths if p not in dense]
        eps = budget / sum(raw[p] * sizes[p] for p in free)
        over = [p for p in free if eps * raw[p] > 1.0]
        if not over:
            break
        dense.update(over)
    return {p: 1.0 if p in dense else eps * raw[p] for p in paths}


def random_mask_erk(key, params: Any, density: float) -> Mask:
    """Random mask with ERK per-layer densities (exact per-layer counts)."""
    return random_mask_layerwise(key, params, erk_densities(params, density))


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


def apply_mask(params: Any, mask: Mask) -> Any:
    """``params ⊙ mask`` (pruned weights set to exactly 0)."""
    return jax.tree_util.tree_map(
        lambda p, m: jax.numpy.where(m, p, jax.numpy.zeros_like(p)), params, mask)
