"""Mask criteria of Zhou et al. (2019), "Deconstructing Lottery Tickets", §2 and Table 1.

A criterion scores every weight from its value at the start of a round (``w_i``) and at
its end (``w_f``); within each layer the highest scores are kept (spec zhou.md §3 [P]
formulas, [C] implementation in the official ``get_weight_init.py``; the score functions are
:data:`.scores.ZHOU_SCORES` and its siblings). Selection follows the official code exactly: a
layer prunes ``floor(#unmasked · rate)`` weights (:func:`.allocation.prune_count`,
``rounding="floor"``), the lowest scores first, ties broken by a seeded random key
(``np.lexsort((rand, score))``: :func:`.topk.topk_mask` with ``ties=rng``); weights pruned in an
earlier round are never revived.

Everything here works on numpy arrays (one layer) or on dict pytrees of them (a network).
"""

from __future__ import annotations

import numpy as np

from lottery_core.sparsity.allocation import prune_count
from lottery_core.sparsity.scores import ZHOU_ALIGNED, ZHOU_GRADIENT, ZHOU_SCORES, ZHOU_SINGLE
from lottery_core.sparsity.topk import ranks, topk_mask

Array = np.ndarray

CRITERIA = tuple(ZHOU_SCORES) + tuple(ZHOU_ALIGNED) + tuple(ZHOU_GRADIENT) + tuple(ZHOU_SINGLE)
#: criteria usable inside the level loop (snip/grad need g_0 and live in zhou-supermask)
LEVEL_CRITERIA = tuple(c for c in CRITERIA if c not in ZHOU_GRADIENT)


def _check_criterion(name: str) -> None:
    if name not in CRITERIA:
        raise ValueError(f"unknown mask criterion {name!r}; available: {', '.join(CRITERIA)}")


def _aligned_prune(score_a: Array, score_b: Array, mask: Array, count: int) -> Array:
    """Prune the union of the bottom-r sets of two scores, with r chosen so that the union's
    size is as close to ``count`` as possible (the official percentile-alignment search,
    done on integer ranks, ties to the lower index; the union grows monotonically with r)."""
    rank_a = ranks(score_a, alive=mask, count_of="prune")
    rank_b = ranks(score_b, alive=mask, count_of="prune")

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
    return mask & ~((rank_a < r) | (rank_b < r))


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
    count = prune_count(int(mask.sum()), rate, rounding="floor")
    if criterion in ZHOU_SINGLE:
        return mask & ZHOU_SINGLE[criterion](w_i, w_f)
    if criterion in ZHOU_ALIGNED:
        first, second = ZHOU_ALIGNED[criterion]
        return _aligned_prune(first(w_i, w_f), second(w_i, w_f), mask, count)
    if criterion in ZHOU_GRADIENT:
        if gradient is None:
            raise ValueError(f"criterion {criterion!r} needs the gradient at iteration 1")
        score = ZHOU_GRADIENT[criterion](w_i, np.asarray(gradient))
    else:
        score = ZHOU_SCORES[criterion](w_i, w_f)
    return topk_mask(np.asarray(score, dtype=np.float64), count, alive=mask, count_of="prune",
                     ties=rng)


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
