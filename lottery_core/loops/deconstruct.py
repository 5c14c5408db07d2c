"""Zhou et al.'s generalized lottery-ticket loop as a level-loop method (spec zhou.md §1).

``lottery run imp --criterion C --mask1 A --mask0 Z`` replaces three steps of IMP:

1. the mask criterion (:mod:`lottery_core.sparsity.criteria`, per-layer, ``floor`` counts,
   seeded ties);
2. the mask-1 action: the next round's initial values (:func:`mask_actions.mask1_values`),
   chained round to round as in the official code (round k starts from round k−1's values);
3. the mask-0 action: pruned weights frozen at 0 or at their initial values
   (:func:`mask_actions.mask0_action`); the trainer keeps them there with
   ``kernel = trainable ⊙ m + frozen ⊙ (1 − m)`` after every update (frozen values ride in
   ``TrainState.aux``).

Each level writes ``round_init.npz`` (the round's dense initial values, w_i of the next
round's criterion) beside its other files.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from lottery_core.loops.protocol import LevelStart, Method
from lottery_core.sparsity import criteria, mask_actions
from lottery_core.store import flatten, layout, level_directory, load_tree, save_tree, unflatten

#: tag of the seed sequence of Zhou et al.'s per-level draws (mask ties, mask-1/mask-0 actions):
#: the paper's arXiv date (2019-05-06), a constant that only keeps these draws apart from others
ZHOU_SEED_TAG = 20190506


def is_deconstructed(config) -> bool:
    """Whether ``config`` asks for anything but the original lottery-ticket steps."""
    return (config.criterion is not None or config.mask1 != "rewind"
            or config.mask0 != "zero" or config.mask1_rescale)


def frozen_param_transform(params, state):
    """After each update: ``params ⊙ m + frozen ⊙ (1 − m)`` (frozen in ``state.aux``)."""
    return jax.tree_util.tree_map(lambda p, m, f: p * m + f * (1 - m),
                                  params, state.mask, state.aux)


@dataclasses.dataclass(frozen=True)
class LevelPlan:
    mask: dict
    start_params: dict
    frozen: dict


def _round_init(ctx, level: int) -> dict:
    """Dense initial values of round ``level`` (θ_0 for level 0)."""
    if level == 0:
        return flatten(ctx.init_params)
    return flatten(load_tree(level_directory(ctx.run_dir, ctx.seed, level) / layout.ROUND_INIT))


def plan_level(ctx) -> LevelPlan:
    """Mask, start values and frozen values of level ``ctx.level`` ≥ 1 (deterministic in
    the seed and level, so a resumed level recomputes the same plan)."""
    cfg = ctx.config.resolved()
    seed_sequence = np.random.SeedSequence([ctx.seed, ctx.level, ZHOU_SEED_TAG])
    mask_seed, action_seed = seed_sequence.generate_state(2)
    w_i = _round_init(ctx, ctx.level - 1)
    w_f = flatten(ctx.previous_params)
    old_mask = flatten(ctx.previous_mask)
    mask = criteria.network_mask(cfg.criterion or "large_final", w_i, w_f, old_mask,
                                 ctx.fractions, seed=int(mask_seed))
    rng = np.random.default_rng(int(action_seed))
    init = flatten(ctx.init_params)
    round_init, start, frozen = {}, {}, {}
    for path, theta0 in init.items():
        if path not in ctx.fractions:          # biases etc.: rewound to θ_0, never frozen
            round_init[path] = np.asarray(theta0)
            start[path] = np.asarray(theta0)
            frozen[path] = np.zeros_like(theta0)
            continue
        m = np.asarray(mask[path], bool)
        values = mask_actions.mask1_values(cfg.mask1, w_i[path], m, rng)
        kept = np.where(m, values, 0.0)
        if cfg.mask1_rescale:
            kept = kept * mask_actions.rescaling_factor(m)
        frozen_values, restart = mask_actions.mask0_action(cfg.mask0, w_i[path], w_f[path], m, rng)
        kept = np.where(restart, 0.0, kept)
        dtype = np.asarray(theta0).dtype
        round_init[path] = values.astype(dtype)
        frozen[path] = frozen_values.astype(dtype)
        start[path] = mask_actions.effective_kernel(kept, m, frozen_values).astype(dtype)
    save_tree(level_directory(ctx.run_dir, ctx.seed, ctx.level) / layout.ROUND_INIT,
              unflatten(round_init))
    return LevelPlan(unflatten(mask), unflatten(start), unflatten(frozen))


def deconstructed_method(base, config):
    """The ``base`` method (imp) with Zhou et al.'s criterion and mask-1 / mask-0 actions."""
    plans: dict[tuple, LevelPlan] = {}

    def plan(ctx) -> LevelPlan:
        key = (str(ctx.run_dir), ctx.seed, ctx.level)
        if key not in plans:
            plans[key] = plan_level(ctx)
        return plans[key]

    def next_mask(ctx):
        return plan(ctx).mask

    def start(ctx):
        if base.name != "imp":           # criterion only: the base method decides the start
            return base.start(ctx)
        return LevelStart(plan(ctx).start_params, ctx.init_state, 0, ctx.total_steps)

    def aux(runner, seed, level):
        if level == 0:
            params, _ = runner.initial(seed)
            return jax.tree_util.tree_map(np.zeros_like, params)
        return plans[(str(runner.run_dir), seed, level)].frozen

    def trainer_kwargs(_config):
        return {"param_transform": frozen_param_transform}

    cfg = config.resolved()
    name = (f"{base.name}[criterion={cfg.criterion or 'large_final'},mask1={cfg.mask1}"
            f"{'+rescale' if cfg.mask1_rescale else ''},mask0={cfg.mask0}]")
    return Method(name, start, next_mask=next_mask, needs_rewind_point=base.needs_rewind_point,
                  trainer_kwargs=trainer_kwargs, aux=aux,
                  description="Zhou et al. 2019 generalized lottery ticket")
