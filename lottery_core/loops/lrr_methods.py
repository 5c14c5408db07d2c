"""The LRR paper's level-loop methods (spec lrr.md §2.2-2.3; authors' code ``main.py`` [C]).

With the CIFAR recipe (``warmup_epochs`` > 0, ``optimizer_state="carry"``) the engine's
``wr`` (``--rewind-step 0``) rewinds weights, BN affine parameters, BN running statistics and
the optimizer state to the post-warmup checkpoint, and ``lrr`` keeps all of them and only
restarts the learning-rate schedule. This module adds:

* ``lrr-bn-rewind`` (``--reset-only-bn`` [C]): LRR, but after each pruning step every BatchNorm
  parameter (γ, β), every running statistic and the optimizer state are reset to the
  post-warmup checkpoint; conv/linear kernels keep their trained values;
* ``lrr+random-<kind>``, ``wr+random-<kind>`` for kind = balanced, erk, uniform, global
  (``--pruner random-<kind>`` with or without ``--reset-weights`` [C]): iterative random
  pruning to the same global density schedule as magnitude pruning, with per-layer counts
  "balanced" (equal number of kept weights per layer, capped at the layer size), ERK,
  "uniform" (one density in every layer) or "global" (the survivors of all layers pooled, so
  per-layer counts are random); level k keeps a uniformly random subset of level k−1's
  survivors (nested masks: our reading of "iterative random pruning" [R]);
* :func:`mask_reference_method` (``--pruner mask-ref --target-expt-name RUN`` [C]): a
  method whose level-k mask is the mask of level k of another run of the same seed, trained
  with ``wr`` or ``lrr`` dynamics (the mask-swap experiment).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lottery_core import lrr_recipe, sparsity
from lottery_core.loops.methods import learning_rate_rewinding, rewind_to_step_k
from lottery_core.loops.protocol import LevelStart, Method
from lottery_core.store import flatten, layout, level_directory, load_tree


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
RANDOM_KINDS = ("balanced", "erk", "uniform", "global")


def random_counts(kind: str, key, params, mask, paths: list[str], total: int) -> dict[str, int]:
    """Per-layer kept counts of a random mask of ``kind`` with ``total`` weights, nested in
    ``mask`` (never above a layer's survivors): ``balanced`` / ``erk`` / ``uniform`` targets
    (equal counts, ERK, one density; :mod:`lottery_core.sparsity.allocation`) fitted to the
    survivors, or ``global``: the per-layer counts of ``total`` survivors drawn uniformly from
    all layers pooled (with the scores :func:`random_mask_with_counts` draws from ``key``, so
    that mask *is* the pooled draw) [C] ``--pruner random-<kind>``."""
    flat_params, flat_mask = flatten(params), flatten(mask)
    alive = {p: int(np.asarray(flat_mask[p], bool).sum()) for p in paths}
    if kind == "global":
        scores = flatten(sparsity.random_scores(key, params))
        kept = sparsity.topk_pooled([np.asarray(scores[p], np.float64) for p in paths], total,
                                    alive=[np.asarray(flat_mask[p], bool) for p in paths],
                                    count_of="keep", ties="index", nan="raise")
        return {p: int(k.sum()) for p, k in zip(paths, kept)}
    sizes = {p: int(np.size(flat_params[p])) for p in paths}
    if kind == "balanced":
        targets = sparsity.balanced_counts(sizes, total)
    elif kind == "erk":
        targets = sparsity.erk_counts(params, total, paths)
    elif kind == "uniform":
        targets = sparsity.uniform_counts(sizes, total)
    else:
        raise ValueError(f"unknown random mask kind {kind!r}; allowed: {', '.join(RANDOM_KINDS)}")
    return sparsity.fit_counts(targets, alive, total)


def random_next_mask(kind: str):
    def next_mask(ctx):
        cfg = ctx.config.resolved()
        paths = list(ctx.fractions)
        total = sparsity.next_total(ctx.previous_mask, ctx.fractions, cfg.allocation)
        counts = random_counts(kind, ctx.key, ctx.previous_params, ctx.previous_mask, paths,
                               total)
        return sparsity.random_mask_with_counts(ctx.key, ctx.previous_params, counts,
                                                within=ctx.previous_mask)

    next_mask.__doc__ = f"Random {kind} mask with the magnitude schedule's total count."
    return next_mask


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
