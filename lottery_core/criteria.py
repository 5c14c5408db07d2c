"""Mask criteria of Zhou et al. (2019), "Deconstructing Lottery Tickets", §2 and Table 1.

A criterion scores every weight from its value at the start of a round (``w_i``) and at
its end (``w_f``); within each layer the highest scores are kept (spec zhou.md §3 [P]
formulas, [C] implementation in the official ``get_weight_init.py``). Selection follows the
official code exactly: a layer prunes ``floor(#unmasked · rate)`` weights, the lowest scores
first, ties broken by a seeded random key (``np.lexsort((rand, score))``); weights pruned in an
earlier round are never revived.

Everything here works on numpy arrays (one layer) or on dict pytrees of them (a network).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Array = np.ndarray


def _same_sign(w_i: Array, w_f: Array) -> Array:
    return np.sign(w_i) == np.sign(w_f)


#: name -> score(w_i, w_f); higher is kept. Spec zhou.md §3 table [P], sign variants [C].
SCORES: dict[str, Callable[[Array, Array], Array]] = {
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
ALIGNED = {
    "large_init_large_final": (lambda w_i, w_f: np.abs(w_i), lambda w_i, w_f: np.abs(w_f)),
    "small_init_small_final": (lambda w_i, w_f: -np.abs(w_i), lambda w_i, w_f: -np.abs(w_f)),
}

#: gradient-based criteria: score(w_i, g_0) with g_0 the gradient at the first iteration
GRADIENT = {
    "snip": lambda w_i, g_0: np.abs(g_0 * w_i),
    "grad": lambda w_i, g_0: np.abs(g_0),
}

#: keep every weight of the given sign relation, no magnitude ranking (spec §3, *_single)
SINGLE = {
    "same_sign_single": lambda w_i, w_f: _same_sign(w_i, w_f),
    "diff_sign_single": lambda w_i, w_f: ~_same_sign(w_i, w_f),
}

CRITERIA = tuple(SCORES) + tuple(ALIGNED) + tuple(GRADIENT) + tuple(SINGLE)
#: criteria usable inside the level loop (snip/grad need g_0 and live in zhou-supermask)
LEVEL_CRITERIA = tuple(c for c in CRITERIA if c not in GRADIENT)


def _check_criterion(name: str) -> None:
    if name not in CRITERIA:
        raise ValueError(f"unknown mask criterion {name!r}; available: {', '.join(CRITERIA)}")


def prune_count(num_unmasked: int, rate: float) -> int:
    """Weights a round removes from a layer: ``floor(#unmasked · rate)`` (official code)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"pruning rate must lie in [0, 1), got {rate}")
    return int(np.floor(num_unmasked * rate + 1e-9))


def _prune_lowest(score: Array, mask: Array, count: int, rng: np.random.Generator) -> Array:
    """Remove the ``count`` lowest-scoring unmasked entries; ties broken by ``rng``."""
    flat_mask = mask.reshape(-1).copy()
    alive = np.flatnonzero(flat_mask)
    tie_break = rng.random(alive.size)
    values = score.reshape(-1)[alive]
    if 0 < count < alive.size:
        # = lexsort((tie_break, values))[:count] in O(n): everything below the count-th
        # smallest value, then the lowest tie-break keys among the entries equal to it
        threshold = np.partition(values, count - 1)[count - 1]
        if not np.isnan(threshold):
            below = np.flatnonzero(values < threshold)
            equal = np.flatnonzero(values == threshold)
            chosen = equal[np.argsort(tie_break[equal], kind="stable")[:count - below.size]]
            flat_mask[alive[below]] = False
            flat_mask[alive[chosen]] = False
            return flat_mask.reshape(mask.shape)
    order = np.lexsort((tie_break, values))
    flat_mask[alive[order[:count]]] = False
    return flat_mask.reshape(mask.shape)


def _aligned_prune(score_a: Array, score_b: Array, mask: Array, count: int) -> Array:
    """Prune the union of the bottom-r sets of two scores, with r chosen so that the union's
    size is as close to ``count`` as possible (the official percentile-alignment search,
    done on integer ranks; the union grows monotonically with r)."""
    alive = np.flatnonzero(mask.reshape(-1))
    rank_a = np.empty(alive.size, dtype=np.int64)
    rank_b = np.empty(alive.size, dtype=np.int64)
    rank_a[np.argsort(score_a.reshape(-1)[alive], kind="stable")] = np.arange(alive.size)
    rank_b[np.argsort(score_b.reshape(-1)[alive], kind="stable")] = np.arange(alive.size)

    def union_size(r: int) -> int:
        return int(np.count_nonzero((rank_a < r) | (rank_b < r)))

    low, high = 0, count  # union_size(count) >= count; find the smallest r reaching count
    while low < high:
        mid = (low + high) // 2
        if union_size(mid) >= count:
            high = mid
        else:
            low = mid + 1
    r = low
    if r > 0 and abs(union_size(r - 1) - count) < abs(union_size(r) - count):
        r -= 1
    pruned = (rank_a < r) | (rank_b < r)
    flat_mask = mask.reshape(-1).copy()
    flat_mask[alive[pruned]] = False
    return flat_mask.reshape(mask.shape)


def layer_mask(criterion: str, w_i: Array, w_f: Array, mask: Array, rate: float,
               rng: np.random.Generator, gradient: Array | None = None) -> Array:
    """The next mask of one layer: prune fraction ``rate`` of its unmasked weights.

    ``mask`` is the layer's current boolean mask; pruned entries stay pruned.
    ``gradient`` (g_0, the gradient at iteration 1) is needed by ``snip`` and ``grad``.
    """
    _check_criterion(criterion)
    w_i, w_f, mask = np.asarray(w_i), np.asarray(w_f), np.asarray(mask, dtype=bool)
    if w_i.shape != w_f.shape or w_i.shape != mask.shape:
        raise ValueError(f"shapes differ: w_i {w_i.shape}, w_f {w_f.shape}, mask {mask.shape}")
    count = prune_count(int(mask.sum()), rate)
    if criterion in SINGLE:
        return mask & SINGLE[criterion](w_i, w_f)
    if criterion in ALIGNED:
        first, second = ALIGNED[criterion]
        return _aligned_prune(first(w_i, w_f), second(w_i, w_f), mask, count)
    if criterion in GRADIENT:
        if gradient is None:
            raise ValueError(f"criterion {criterion!r} needs the gradient at iteration 1")
        score = GRADIENT[criterion](w_i, np.asarray(gradient))
    else:
        score = SCORES[criterion](w_i, w_f)
    return _prune_lowest(np.asarray(score, dtype=np.float64), mask, count, rng)


def network_mask(criterion: str, init_params: dict, final_params: dict, masks: dict,
                 rates: dict, *, seed: int, gradients: dict | None = None) -> dict:
    """Apply :func:`layer_mask` to every layer named in ``rates``.

    ``init_params``, ``final_params``, ``masks`` (and ``gradients``) are flat dicts
    ``layer name -> array`` (e.g. the kernels); ``rates`` maps each layer to its per-round
    pruning rate (Zhou et al. FC: 0.2 hidden, 0.1 output). Layers not in ``rates`` keep
    their mask. Tie-breaking draws from ``numpy.random.default_rng(seed)`` layer by layer
    in sorted name order, so the result is reproducible.
    """
    rng = np.random.default_rng(seed)
    unknown = sorted(set(rates) - set(masks))
    if unknown:
        raise ValueError(f"rates name unknown layers {unknown}; layers: {sorted(masks)}")
    new_masks = dict(masks)
    for name in sorted(rates):
        grad = None if gradients is None else gradients.get(name)
        new_masks[name] = layer_mask(criterion, init_params[name], final_params[name],
                                     masks[name], rates[name], rng, gradient=grad)
    return new_masks
