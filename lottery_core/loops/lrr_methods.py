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
  with ``wr`` or ``lrr`` dynamics (the mask-swap experiment);
* ``lrr+fixed-signs``, ``wr+fixed-signs`` (``--fix-sign-and-train`` [C]): after every SGD
  step every prunable kernel is projected to ``|w|·sign(w_init)``, w_init the run's "init"
  (the post-warmup point: our reading, the code takes the signs of the model it loads [R]);
  the warmup itself is unconstrained;
* :func:`sign_reference_method` (IMP with LRR's signs, ``--reset-weights --reset-weight-sign
  --load-expt-sign RUN`` [C]) and ``lrr+init-signs`` (LRR with the post-warmup signs,
  ``--reset-only-weight-sign`` [C]): the sign-transfer experiment.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lottery_core import lrr_recipe, sparsity
from lottery_core.loops.methods import LRR, WR, learning_rate_rewinding, rewind_to_step_k
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
def reference_file(ctx, reference_run: str, level: int, name: str) -> Path:
    """``name`` of ``level`` of ``reference_run`` (a run folder beside ctx's run, same seed);
    a missing file is a one-line error naming it."""
    path = level_directory(Path(ctx.run_dir).parent / reference_run, ctx.seed, level) / name
    if not path.exists():
        raise ValueError(f"the reference run has no {name} for seed {ctx.seed} level {level}: "
                         f"{path} is missing (run {reference_run} first)")
    return path


def mask_reference_method(base_method: Method, reference_run: str) -> Method:
    """``<base>+mask-of-<reference_run>``: the dynamics of ``base_method`` (``wr``, ``lrr``,
    ...) on the masks of ``reference_run`` (a run folder beside this run's, same seed, same
    level). Register it with :func:`lottery_core.loops.registry.register_method`."""
    base = base_method.name
    name = f"{base}+mask-of-{reference_run}"

    def next_mask(ctx):
        return load_tree(reference_file(ctx, reference_run, ctx.level, layout.MASK))

    return Method(name, base_method.start, next_mask=next_mask,
                  needs_rewind_point=base_method.needs_rewind_point,
                  description=f"{base} trained on the masks of {reference_run}")


# ----------------------------------------------------------------------------- signs
def with_signs(params, signs: dict):
    """``params`` with ``|w|·s`` on every leaf named in ``signs`` (``{path: sign array}``);
    other leaves unchanged. numpy or traced arrays alike."""
    flat = flatten(params)
    return unflatten({**flat, **{p: abs(flat[p]) * s for p, s in signs.items()}})


def signs_of(params, paths) -> dict:
    """``{path: sign(w)}`` of the leaves ``paths`` (0 where w = 0)."""
    flat = flatten(params)
    return {p: np.sign(np.asarray(flat[p])) for p in paths}


def fixed_sign_transform(params, state):
    """Trainer ``param_transform``: ``params ⊙ mask``, then every kernel projected onto its
    fixed sign, ``|w|·sign(w_init)`` (signs in ``state.aux``; ``()``, e.g. in the warmup: no
    projection) [C] ``--fix-sign-and-train``."""
    params = sparsity.apply_mask(params, state.mask)
    return params if state.aux == () else with_signs(params, flatten(state.aux))


def init_signs_aux(runner, seed: int, level: int) -> dict:
    """``TrainState.aux`` of a fixed-sign level: the kernels' signs at the run's "init" (the
    post-warmup point with warmup, else θ_0), as a nested tree (checkpoints store it)."""
    return unflatten(signs_of(runner.starting_point(seed)[0], runner.paths))


def fixed_sign_method(base_method: Method) -> Method:
    """``<base>+fixed-signs``: ``base_method``'s levels with every prunable kernel projected
    to ``|w|·sign(w_init)`` after every step (spec lrr.md §2.3 "fixed-sign training")."""
    return dataclasses.replace(
        base_method, name=f"{base_method.name}+fixed-signs", aux=init_signs_aux,
        trainer_kwargs=lambda _config: {"param_transform": fixed_sign_transform},
        description=f"{base_method.name} with the kernels' signs fixed to the run's init")


FIXED_SIGN_METHODS = (fixed_sign_method(LRR), fixed_sign_method(WR))


def lrr_init_signs_start(ctx) -> LevelStart:
    """LRR's start with every kernel's sign reset to its sign at the run's "init" (the
    post-warmup point), magnitudes kept; BN kept, the optimizer state from the "init" [C]
    ``--reset-only-weight-sign`` (it reloads the post-warmup optimizer state)."""
    params = with_signs(ctx.previous_params, signs_of(ctx.init_params, ctx.fractions))
    return LevelStart(params, ctx.previous_state, 0, ctx.total_steps, ctx.init_opt_state)


LRR_INIT_SIGNS = Method("lrr+init-signs", lrr_init_signs_start,
                        description="LRR with every kernel's sign reset to its post-warmup sign "
                                    "after each pruning step")


def sign_reference_method(base_method: Method, reference_run: str) -> Method:
    """``<base>+signs-of-<reference_run>``: ``base_method``'s start of level k (``wr``: the
    rewind point's magnitudes) with the kernels' signs of ``reference_run`` when it entered
    level k (its weights at the end of level k−1, same seed) [C] ``--reset-weights
    --reset-weight-sign --load-expt-sign RUN``. Where the reference weight is 0 (pruned
    there, kept here) the own sign stays [R]; the mask is the method's own. Register it with
    :func:`lottery_core.loops.registry.register_method`."""

    def start(ctx) -> LevelStart:
        begin = base_method.start(ctx)
        reference = flatten(load_tree(reference_file(ctx, reference_run, ctx.level - 1,
                                                     layout.PARAMS)))
        own = signs_of(begin.params, ctx.fractions)
        signs = {p: np.where(reference[p] != 0, np.sign(reference[p]), own[p]).astype(own[p].dtype)
                 for p in ctx.fractions}
        return dataclasses.replace(begin, params=with_signs(begin.params, signs))

    return dataclasses.replace(base_method, name=f"{base_method.name}+signs-of-{reference_run}",
                               start=start, description=f"{base_method.name} with the signs of "
                                                        f"{reference_run} at every level")
