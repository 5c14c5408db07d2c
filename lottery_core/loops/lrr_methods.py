"""The LRR paper's level-loop methods (spec lrr.md §2.2-2.3; authors' code ``main.py`` [C]).

With the CIFAR recipe (``warmup_epochs`` > 0, ``optimizer_state="carry"``) the engine's
``wr`` (``--rewind-step 0``) rewinds weights, BN affine parameters, BN running statistics and
the optimizer state to the post-warmup checkpoint, and ``lrr`` keeps all of them and only
restarts the learning-rate schedule. This module adds:

* ``lrr-bn-rewind`` (``--reset-only-bn`` [C]): LRR, but after each pruning step every BatchNorm
  parameter (γ, β), every running statistic and the optimizer state are reset to the
  post-warmup checkpoint; conv/linear kernels keep their trained values;
* ``lrr+random-balanced``, ``wr+random-balanced``, ``lrr+random-erk``, ``wr+random-erk``
  (``--pruner random-balanced`` / ``random-erk`` with or without ``--reset-weights`` [C]):
  iterative random pruning to the same global density schedule as magnitude pruning, with
  per-layer counts "balanced" (equal number of kept weights per layer, capped at the layer
  size) or ERK; level k keeps a uniformly random subset of level k−1's survivors in each
  layer (nested masks: our reading of "iterative random pruning" [R]);
* :func:`mask_reference_method` (``--pruner mask-ref --target-expt-name RUN`` [C]): a
  method whose level-k mask is the mask of level k of another run of the same seed, trained
  with ``wr`` or ``lrr`` dynamics (the mask-swap experiment).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lottery_core import lrr_recipe
from lottery_core import masks as masks_lib
from lottery_core.loops.methods import learning_rate_rewinding, rewind_to_step_k
from lottery_core.loops.protocol import LevelStart, Method
from lottery_core.store import flatten, layout, level_directory, load_tree, unflatten


# ----------------------------------------------------------------------------- BN rewinding
def lrr_bn_rewind_start(ctx) -> LevelStart:
    """Previous level's kernels; BN γ, β, running statistics and the optimizer state from the
    post-warmup checkpoint (the run's "init"); the schedule restarts at 0."""
    params = lrr_recipe.rewind_batchnorm(ctx.previous_params, ctx.init_params, ctx.init_state)
    return LevelStart(params, ctx.init_state, 0, ctx.total_steps, ctx.init_opt_state)


LRR_BN_REWIND = Method("lrr-bn-rewind", lrr_bn_rewind_start,
                       description="LRR with BatchNorm (params, statistics) and optimizer state "
                                   "reset to the post-warmup checkpoint each level")


# ----------------------------------------------------------------------------- random masks
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
    densities = masks_lib.erk_densities(params, density, paths)
    targets = {p: masks_lib.round_half_up(densities[p] * sizes[p]) for p in paths}
    return fit_counts(targets, sizes, total)


def next_total(mask, fractions: dict[str, float], allocation: str) -> int:
    """Kept weights after one more level of the magnitude schedule (same exact counts)."""
    flat = flatten(mask)
    kept = {p: int(np.asarray(flat[p], bool).sum()) for p in fractions}
    if allocation == "global":
        total = sum(kept.values())
        return total - masks_lib.prune_count(total, set(fractions.values()).pop())
    return sum(k - masks_lib.prune_count(k, fractions[p]) for p, k in kept.items())


def random_nested_mask(key, params, mask, counts: dict[str, int]):
    """Keep ``counts[l]`` uniformly random survivors of ``mask`` in each layer ``l``."""
    scores = flatten(masks_lib.random_scores(key, params))
    new = dict(flatten(mask))
    for path, count in counts.items():
        new[path] = masks_lib._keep_top(scores[path], np.asarray(new[path], bool), count)
    return unflatten(new)


def random_next_mask(kind: str):
    def next_mask(ctx):
        cfg = ctx.config.resolved()
        paths = list(ctx.fractions)
        total = next_total(ctx.previous_mask, ctx.fractions, cfg.allocation)
        flat_params, flat_mask = flatten(ctx.previous_params), flatten(ctx.previous_mask)
        sizes = {p: int(np.size(flat_params[p])) for p in paths}
        if kind == "balanced":
            targets = balanced_counts(sizes, total)
        else:
            targets = erk_counts(ctx.previous_params, total, paths)
        alive = {p: int(np.asarray(flat_mask[p], bool).sum()) for p in paths}
        counts = fit_counts(targets, alive, total)      # nested: never above the survivors
        return random_nested_mask(ctx.key, ctx.previous_params, ctx.previous_mask, counts)

    next_mask.__doc__ = f"Random {kind} mask with the magnitude schedule's total count."
    return next_mask


RANDOM_KINDS = ("balanced", "erk")
RANDOM_MASK_METHODS = tuple(
    method for kind in RANDOM_KINDS for method in (
        Method(f"lrr+random-{kind}", learning_rate_rewinding, next_mask=random_next_mask(kind),
               description=f"LRR on iterative random {kind} masks"),
        Method(f"wr+random-{kind}", rewind_to_step_k, next_mask=random_next_mask(kind),
               needs_rewind_point=True, description=f"WR on iterative random {kind} masks")))


# ----------------------------------------------------------------------------- mask swap
def reference_mask_path(run_dir: Path, reference_run: str, seed: int, level: int) -> Path:
    return level_directory(Path(run_dir).parent / reference_run, seed, level) / layout.MASK


def mask_reference_method(base_method: Method, reference_run: str) -> Method:
    """``<base>+mask-of-<reference_run>``: the dynamics of ``base_method`` (``wr``, ``lrr``,
    ...) on the masks of ``reference_run`` (a run folder beside this run's, same seed, same
    level). Register it with :func:`lottery_core.loops.registry.register_method`."""
    base = base_method.name
    name = f"{base}+mask-of-{reference_run}"

    def next_mask(ctx):
        path = reference_mask_path(ctx.run_dir, reference_run, ctx.seed, ctx.level)
        if not path.exists():
            raise ValueError(f"the reference run has no mask for seed {ctx.seed} level "
                             f"{ctx.level}: {path} is missing (run {reference_run} first)")
        return load_tree(path)

    return Method(name, base_method.start, next_mask=next_mask,
                  needs_rewind_point=base_method.needs_rewind_point,
                  description=f"{base} trained on the masks of {reference_run}")
