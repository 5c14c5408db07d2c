"""Sparsity: scores -> per-layer allocation -> one exact-count top-k -> masks.

* :mod:`.scores`: magnitude, random, SNIP / GraSP / SynFlow, Zhou et al.'s criteria scores;
* :mod:`.allocation`: the layers, per-layer fractions and counts (rounding policies), ERK,
  balanced, uniform and fitted counts;
* :mod:`.topk`: the one exact-count selection (tie and count policies explicit);
* :mod:`.masks`: boolean mask pytrees: a pruning level, random masks, density masks, reports;
* methods built on them: :mod:`.criteria` (Zhou et al. mask criteria), :mod:`.mask_actions`
  (Zhou et al. mask-1 / mask-0 actions), :mod:`.supermask` (learned supermasks), :mod:`.pai`
  (pruning at initialization), :mod:`.reparam` (m ⊙ w continuous sparsification, PILoT).
"""

from lottery_core.sparsity.topk import COUNT_OF, ranks, topk_mask, topk_pooled
from lottery_core.sparsity.allocation import (
    PAI_ALLOCATIONS, ROUNDINGS, SCOPES, balanced_counts, check_density, check_fraction,
    check_scope, count_groups, erk_counts, erk_densities, fit_counts, kept_count,
    layer_fractions, level_groups, next_total, output_layer_path, prunable_paths, prune_count,
    round_count, round_half_up, schedule_total, uniform_counts)
from lottery_core.sparsity.scores import (
    DISTRIBUTIONS, ZHOU_ALIGNED, ZHOU_GRADIENT, ZHOU_SCORES, ZHOU_SINGLE, cross_entropy,
    grasp_scores, magnitude_scores, random_scores, snip_scores, synflow_scores)
from lottery_core.sparsity.masks import (
    Mask, apply_mask, density_report, full_mask, keep_counts, keep_top_leaves, prune,
    prune_by_magnitude, random_mask_erk, random_mask_global, random_mask_layerwise,
    random_mask_with_counts, scores_to_mask)
from lottery_core.sparsity.criteria import CRITERIA, LEVEL_CRITERIA, layer_mask, network_mask
from lottery_core.sparsity.mask_actions import (
    MASK0_ACTIONS, MASK1_ACTIONS, effective_kernel, layer_std, mask0_action, mask1_action,
    mask1_values, rescaling_factor)
from lottery_core.sparsity.supermask import (
    MASK_MODES, bernoulli_ste, dwr_multiplier, expected_density, init_logits, masked_params,
    round_ste, signed_constant_params)
from lottery_core.sparsity.pai import (prune_at_init, score_at_init, synflow_mask,
                                       synflow_mask_counts)
from lottery_core.sparsity.reparam import (
    INITS, PilotAlphaSchedule, PilotScheduleState, Reparam, collapse, implicit_scale,
    kernel_leaves, l1_norm, magnitude_prune, pilot_alpha_schedule, pilot_alpha_update,
    prune_reparameterized, reparameterize, weight_decay_penalty)
