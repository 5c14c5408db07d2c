"""The built-in level methods (lrr.md; Frankle & Carbin 2019; Frankle et al. 2020; Renda et al.
2020): how each level starts, and for ``random-prune`` how its mask is drawn.

=============  ============================  ============================================
method         weights at the start          schedule window (steps of the schedule)
=============  ============================  ============================================
imp            θ_0                           [0, T)
wr             θ_k (step k of level 0)       [k, T)
lrr            previous level's trained      [0, T)  (restarted)
finetune       previous level's trained      [T, 2T) (held at the final rate, schedule(T-1))
random-prune   θ_0, random mask              [0, T)  (same per-layer counts as imp)
=============  ============================  ============================================
"""

from __future__ import annotations

from lottery_core import sparsity
from lottery_core.loops.protocol import LevelContext, LevelStart, Method


def random_next_mask(ctx: LevelContext):
    """Prune uniformly at random among survivors, with the same exact counts as magnitude."""
    scores = sparsity.random_scores(ctx.key, ctx.previous_params)
    return sparsity.prune(scores, ctx.previous_mask, ctx.fractions,
                           ctx.config.resolved().allocation)


def rewind_to_init(ctx):
    return LevelStart(ctx.init_params, ctx.init_state, 0, ctx.total_steps, ctx.init_opt_state)


def rewind_to_step_k(ctx):
    k = ctx.config.rewind_step
    return LevelStart(ctx.rewind_params, ctx.rewind_state, k, ctx.total_steps - k,
                      ctx.rewind_opt_state)


def learning_rate_rewinding(ctx):
    return LevelStart(ctx.previous_params, ctx.previous_state, 0, ctx.total_steps,
                      ctx.previous_opt_state)


def fine_tuning(ctx):
    return LevelStart(ctx.previous_params, ctx.previous_state, ctx.total_steps, ctx.total_steps,
                      ctx.previous_opt_state)


IMP = Method("imp", rewind_to_init, description="IMP: rewind to θ_0")
WR = Method("wr", rewind_to_step_k, needs_rewind_point=True,
            description="weight rewinding to θ_k and schedule step k")
LRR = Method("lrr", learning_rate_rewinding,
             description="learning-rate rewinding: keep weights, restart schedule")
FINETUNE = Method("finetune", fine_tuning,
                  description="fine-tuning: keep weights, final learning rate")
RANDOM_PRUNE = Method("random-prune", rewind_to_init, next_mask=random_next_mask,
                      description="random masks with IMP's per-layer counts, from θ_0")
