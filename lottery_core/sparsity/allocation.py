"""Per-layer allocation: which layers are pruned and how many weights each keeps.

Layers are the prunable leaves (named ``kernel``), addressed by their '/'-joined paths in
``flatten`` order. Counts are integers rounded by an explicit policy (``rounding``):

* ``"half_up"``: ``floor(x + 1/2)``. A level removing the fraction f of the n surviving weights
  of a layer removes ``round_half_up(f·n)`` of them [R]; pruning-at-initialization masks keep
  ``round_half_up(d·P)``; random and ERK masks keep ``round_half_up(d·n)`` per layer.
* ``"floor"``: ``floor(x + 1e-9)``: Zhou et al.'s official code removes ``floor(#unmasked ·
  rate)`` per layer and round (spec zhou.md §3 [C]; the 1e-9 absorbs float error).

Allocation across layers: ``"layerwise"`` (every layer its own count) or ``"global"`` (the
layers pooled, one count); ERK densities (Evci et al. 2020) and the balanced / ERK / fitted
counts of the LRR paper's random masks (spec lrr.md §2.3 [C]); uniform counts (one density
in every layer); the level loop's total count after k levels (:func:`schedule_total`) and its
spread over the layers for pruning at initialization (:func:`count_groups`: global, uniform,
balanced, ERK).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from lottery_core.store import flatten
from lottery_core.models import prunable_leaves

ROUNDINGS = ("half_up", "floor")
SCOPES = ("global", "layerwise")


# ----------------------------------------------------------------------------- counts
def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def round_count(x: float, rounding: str = "half_up") -> int:
    """``x`` rounded to a count: ``floor(x + 1/2)`` (``"half_up"``) or ``floor(x + 1e-9)``
    (``"floor"``)."""
    if rounding == "half_up":
        return round_half_up(x)
    if rounding == "floor":
        return int(np.floor(x + 1e-9))
    raise ValueError(f"unknown rounding {rounding!r}; allowed: {', '.join(ROUNDINGS)}")


def check_fraction(fraction: float, name: str = "pruning fraction") -> None:
    if not (0.0 <= float(fraction) < 1.0) or math.isnan(float(fraction)):
        raise ValueError(f"{name} must be in [0, 1), got {fraction}")


def check_density(density) -> float:
    """``density`` (fraction of prunable weights kept) as a float in (0, 1]."""
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density (fraction of prunable weights kept) must lie in (0, 1], "
                         f"got {density}")
    return density


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")
    return scope


def prune_count(remaining: int, fraction: float, rounding: str = "half_up") -> int:
    """Weights one level removes from ``remaining``: ``round(fraction · remaining)`` under
    ``rounding`` (``"half_up"``: the engine [R]; ``"floor"``: Zhou et al.'s code [C])."""
    check_fraction(fraction)
    return round_count(fraction * remaining, rounding)


def kept_count(density: float, size: int) -> int:
    """``floor(density · size + 1/2)``: the weights a mask of density ``density`` keeps."""
    return round_half_up(density * size)


# ----------------------------------------------------------------------------- layers
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


def level_groups(fractions: Mapping[str, float], allocation: str
                 ) -> list[tuple[list[str], float]]:
    """What one level prunes: ``(paths, fraction)`` per group. ``"layerwise"``: every layer
    alone with its own fraction; ``"global"``: all layers pooled with their common fraction
    (they must agree)."""
    if allocation == "layerwise":
        return [([path], fraction) for path, fraction in fractions.items()]
    if allocation == "global":
        values = set(fractions.values())
        if len(values) != 1:
            raise ValueError(f"global allocation needs one fraction for all layers, got {values}")
        return [(list(fractions), values.pop())]
    raise ValueError(f"unknown allocation {allocation!r}; allowed: layerwise, global")


def schedule_total(kept: Mapping[str, int], fractions: Mapping[str, float], allocation: str,
                   levels: int = 1) -> int:
    """Kept weights after ``levels`` more levels of the level loop's schedule from ``kept``
    weights per layer: each group of :func:`level_groups` loses ``round_half_up(f·n)`` of its
    ``n`` survivors per level, IMP's exact counts (per layer, or pooled for ``"global"``)."""
    total = 0
    for paths, fraction in level_groups(fractions, allocation):
        remaining = sum(int(kept[p]) for p in paths)
        for _ in range(levels):
            remaining -= prune_count(remaining, fraction)
        total += remaining
    return total


def next_total(mask, fractions: dict[str, float], allocation: str) -> int:
    """Kept weights after one more level of the magnitude schedule (same exact counts)."""
    flat = flatten(mask)
    return schedule_total({p: int(np.asarray(flat[p], bool).sum()) for p in fractions},
                          fractions, allocation)


# ----------------------------------------------------------------------------- ERK, random
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


def fit_counts(targets: dict[str, int], caps: dict[str, int], total: int) -> dict[str, int]:
    """Integer counts ``c_l ≤ caps[l]`` summing exactly to ``total``, as close to ``targets``
    as clipping allows: clip, then add the shortfall to layers with room (most room first)
    or remove the excess from the largest counts (ties: path order)."""
    if not 0 <= total <= sum(caps.values()):
        raise ValueError(f"cannot keep {total} weights in layers of total size "
                         f"{sum(caps.values())}")
    counts = {p: int(min(max(targets[p], 0), caps[p])) for p in caps}
    diff = total - sum(counts.values())
    order = sorted(caps, key=lambda p: (-(caps[p] - counts[p]) if diff > 0 else -counts[p],
                                        list(caps).index(p)))
    while diff != 0:
        for p in order:
            if diff > 0 and counts[p] < caps[p]:
                counts[p] += 1
                diff -= 1
            elif diff < 0 and counts[p] > 0:
                counts[p] -= 1
                diff += 1
            if diff == 0:
                break
    return counts


def balanced_counts(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Equal kept count per layer, capped at the layer size (water filling): the largest c
    with Σ_l min(c, n_l) ≤ total, the remainder one weight each to the uncapped layers in
    path order [C] ``--pruner random-balanced``."""
    if not 0 <= total <= sum(sizes.values()):
        raise ValueError(f"cannot keep {total} of {sum(sizes.values())} weights")
    low, high = 0, max(sizes.values())
    while low < high:                      # largest c with sum(min(c, n)) <= total
        mid = (low + high + 1) // 2
        if sum(min(mid, n) for n in sizes.values()) <= total:
            low = mid
        else:
            high = mid - 1
    counts = {p: min(low, n) for p, n in sizes.items()}
    rest = total - sum(counts.values())
    for p in sizes:
        if rest == 0:
            break
        if counts[p] < sizes[p]:
            counts[p] += 1
            rest -= 1
    return counts


def erk_counts(params, total: int, paths: list[str]) -> dict[str, int]:
    """ERK per-layer counts (Evci et al. 2020) for ``total`` kept weights (exact total)."""
    flat = flatten(params)
    sizes = {p: int(np.size(flat[p])) for p in paths}
    density = total / sum(sizes.values())
    densities = erk_densities(params, density, paths)
    targets = {p: kept_count(densities[p], sizes[p]) for p in paths}
    return fit_counts(targets, sizes, total)


def uniform_counts(sizes: dict[str, int], total: int) -> dict[str, int]:
    """The same density ``total / Σ n_l`` in every layer: ``round_half_up(d·n_l)`` each, the
    rounding remainder (under one weight per layer) fitted by :func:`fit_counts` so the total
    is exactly ``total`` [C] ``--pruner random-uniform``."""
    density = total / sum(sizes.values())
    return fit_counts({p: kept_count(density, n) for p, n in sizes.items()}, sizes, total)


#: how pruning at initialization spreads its kept weights over the layers
PAI_ALLOCATIONS = ("global", "uniform", "balanced", "erk")


def count_groups(allocation: str, params, total: int, paths: list[str]
                 ) -> list[tuple[list[str], int]]:
    """``[(paths, kept count), ...]``: ``total`` kept weights of the layers ``paths`` under
    ``allocation`` in :data:`PAI_ALLOCATIONS`: ``"global"`` one pooled group (the top scores
    of the whole network, Synaptic-Flow's ``--mask-scope global``); per layer ``"uniform"``
    (:func:`uniform_counts`), ``"balanced"`` (:func:`balanced_counts`) or ``"erk"``
    (:func:`erk_counts`), the random-mask allocations of spec lrr.md §2.3 [C]."""
    if allocation == "global":
        return [(list(paths), int(total))]
    flat = flatten(params)
    sizes = {p: int(np.size(flat[p])) for p in paths}
    if allocation == "uniform":
        counts = uniform_counts(sizes, total)
    elif allocation == "balanced":
        counts = balanced_counts(sizes, total)
    elif allocation == "erk":
        counts = erk_counts(params, total, paths)
    else:
        raise ValueError(f"unknown allocation {allocation!r}; allowed: "
                         f"{', '.join(PAI_ALLOCATIONS)}")
    return [([p], int(c)) for p, c in counts.items()]
