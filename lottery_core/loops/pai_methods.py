"""Pruning at initialization as level methods: ``snip``, ``grasp``, ``synflow``,
``magnitude-init``, ``random`` (docs/pai.md; scores: :mod:`lottery_core.sparsity.pai`).

Level 0 trains the dense network, as for every method. Level k ≥ 1 keeps exactly the number
of weights IMP keeps at level k (:func:`~lottery_core.sparsity.schedule_total`: the same
``--prune-fraction`` rates, ``--allocation`` and ``--levels``), chosen from scores of the
network at the run's starting point θ_0 (after the dense warmup when ``warmup_epochs`` is
set), and trains from θ_0 with that mask and the model's recipe. No level reads an earlier
level's training: level k's mask is a function of θ_0, the seed and k alone (the level loop
still runs, resumes and skips levels in order). The kept weights are spread over the layers
by ``--pai-allocation`` (:func:`~lottery_core.sparsity.count_groups`: ``global`` by default,
as SNIP, GraSP and Synaptic-Flow; ``uniform``, ``balanced``, ``erk``) and selected by the one
exact-count top-k (:func:`~lottery_core.sparsity.keep_counts`).

=================  ======================================================================
method             scores at θ_0 (higher = kept)
=================  ======================================================================
snip               |θ ⊙ ∂L/∂θ| on the scoring batch (Lee et al. 2019)
grasp              θ ⊙ Hg, logits / 200 (Wang et al. 2020; Synaptic-Flow's convention)
synflow            |θ ⊙ ∂R/∂θ|, R = Σ f_|θ|(1), ``--synflow-rounds`` rounds (Tanaka et al. 2020)
magnitude-init     |θ_0|
random             N(0, 1) noise (Synaptic-Flow ``Rand``)
=================  ======================================================================

The scoring batch of ``snip`` / ``grasp``: ``--score-batches`` × ``--score-batch-size``
examples (default one batch of 10 × classes) drawn without replacement from the training
split by ``numpy.random.default_rng([seed, PAI_SEED_TAG])``, the same for every level of a
seed; the network is the one training sees (the trainer's ``apply_fn``: with the CIFAR input
pipeline, normalized inputs, no augmentation), with BatchNorm in ``--score-bn`` mode (default
eval). SynFlow feeds all-ones inputs to the bare model in eval mode and reads no data;
``random`` draws its scores with ``fold_in(PRNGKey(seed), PAI_SEED_TAG)``, the same for every
level. So one-shot scores of a seed are the same at every level and only the counts change.

``random-prune`` (:mod:`.methods`) is the level loop's random pruning: level k keeps a uniformly
random subset of level k−1's survivors with IMP's per-layer (or, ``--allocation global``,
pooled) counts. With ``--allocation global`` on both, ``random`` (default ``--pai-allocation
global``) draws its masks from the same distribution as ``random-prune`` (uniformly random
nested subsets of IMP's pooled counts), by a different random stream; ``random`` adds the
uniform, balanced and ERK allocations of the PaI family (docs/pai.md).
"""

from __future__ import annotations

import jax
import numpy as np

from lottery_core import sparsity
from lottery_core.errors import UsageError
from lottery_core.loops.methods import rewind_to_init
from lottery_core.loops.protocol import LevelContext, Method
from lottery_core.store import flatten

#: seed-sequence tag of the scoring batch and of ``random``'s scores: SNIP's arXiv date
#: (2018-10-04), a constant that only keeps these draws apart from the level loop's others
PAI_SEED_TAG = 20181004
#: Synaptic-Flow's ``--prune-dataset-ratio``: the scoring set has 10 examples per class
EXAMPLES_PER_CLASS = 10


def level_groups(ctx: LevelContext) -> list[tuple[list[str], int]]:
    """``[(paths, kept count), ...]`` of level ``ctx.level``: IMP's total kept count at that
    level spread over the layers by ``pai_allocation``."""
    cfg = ctx.config.resolved()
    flat = flatten(ctx.init_params)
    paths = list(ctx.fractions)
    sizes = {p: int(np.size(flat[p])) for p in paths}
    total = sparsity.schedule_total(sizes, ctx.fractions, cfg.allocation, ctx.level)
    return sparsity.count_groups(cfg.pai_allocation, ctx.init_params, total, paths)


def scoring_batch(dataset, seed: int, batch_size: int | None, batches: int):
    """``(x, y)``: ``batches × batch_size`` training examples (``batch_size`` None: 10 ×
    classes) drawn without replacement with ``default_rng([seed, PAI_SEED_TAG])``."""
    size = EXAMPLES_PER_CLASS * dataset.num_classes if batch_size is None else batch_size
    n, available = size * batches, len(dataset.x_train)
    if n > available:
        raise UsageError(f"the scoring batches need {batches} × {size} = {n} training "
                         f"examples; the training split has {available} (lower "
                         f"--score-batch-size or --score-batches)")
    rng = np.random.default_rng([seed, PAI_SEED_TAG])
    indices = rng.choice(available, n, replace=False)
    return np.asarray(dataset.x_train)[indices], np.asarray(dataset.y_train)[indices]


def pai_key(seed: int):
    """The PRNG key of ``random``'s scores of ``seed``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), PAI_SEED_TAG)


def scored_mask(method: str):
    """``next_mask`` of a one-shot score (``snip``, ``grasp``, ``magnitude``, ``random``)."""

    def next_mask(ctx: LevelContext):
        cfg = ctx.config.resolved()
        inputs = {}
        if method in ("snip", "grasp"):
            x, y = scoring_batch(ctx.runner.dataset, ctx.seed, cfg.score_batch_size,
                                 cfg.score_batches)
            inputs = dict(x=x, y=y, train=cfg.score_bn == "train", batches=cfg.score_batches)
        elif method == "random":
            inputs = dict(key=pai_key(ctx.seed))
        scores = sparsity.score_at_init(method, ctx.init_params, ctx.init_state,
                                        ctx.runner.trainer.apply_fn, **inputs)
        return sparsity.keep_counts(scores, level_groups(ctx), sparsity.full_mask(ctx.init_params))

    next_mask.__doc__ = f"Level mask from {method} scores at θ_0 (exact counts)."
    return next_mask


def synflow_next_mask(ctx: LevelContext):
    """Iterative SynFlow at θ_0 ending at the level's exact counts."""
    cfg = ctx.config.resolved()
    model = ctx.runner.model
    mask = sparsity.synflow_mask_counts(ctx.init_params, ctx.init_state, model.apply,
                                        model.input_shape, level_groups(ctx),
                                        rounds=cfg.synflow_rounds,
                                        schedule=cfg.synflow_schedule)
    return jax.tree_util.tree_map(np.asarray, mask)


#: the fields of the "pai" concern each method reads (the registry refuses the others)
ALLOCATION = ("pai_allocation",)
SCORING_BATCH = ("score_bn", "score_batch_size", "score_batches")

PAI_METHODS = (
    Method("snip", rewind_to_init, next_mask=scored_mask("snip"),
           reads=ALLOCATION + SCORING_BATCH,
           description="SNIP at θ_0 (|θ ⊙ ∂L/∂θ|) to IMP's counts, trained from θ_0"),
    Method("grasp", rewind_to_init, next_mask=scored_mask("grasp"),
           reads=ALLOCATION + SCORING_BATCH,
           description="GraSP at θ_0 (θ ⊙ Hg) to IMP's counts, trained from θ_0"),
    Method("synflow", rewind_to_init, next_mask=synflow_next_mask,
           reads=ALLOCATION + ("synflow_rounds", "synflow_schedule"),
           description="iterative SynFlow at θ_0 to IMP's counts, trained from θ_0"),
    Method("magnitude-init", rewind_to_init, next_mask=scored_mask("magnitude"),
           reads=ALLOCATION,
           description="largest |θ_0| to IMP's counts, trained from θ_0"),
    Method("random", rewind_to_init, next_mask=scored_mask("random"), reads=ALLOCATION,
           description="random mask at init (N(0, 1) scores) to IMP's counts, from θ_0"),
)
