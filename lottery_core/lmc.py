"""Linear mode connectivity: the loss and error along θ(α) = (1 − α)·θ_a + α·θ_b and its
barrier (Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis";
the LRR authors' ``linear_mode.py`` [C], spec lrr.md §2.3).

Both endpoints are stored masked (pruned weights exactly 0), so θ(α) is the interpolation of
``m_a ⊙ θ_a`` and ``m_b ⊙ θ_b``. BatchNorm running statistics do not interpolate meaningfully;
by default they are re-estimated for every θ(α) on training batches
(:func:`lottery_core.lrr_recipe.recompute_bn_statistics`), or linearly interpolated on request.

Barrier of a curve e(α) over a grid containing 0 and 1:

    B = max_α [ e(α) − ((1 − α)·e(0) + α·e(1)) ]

(the height above the straight line between the endpoints; 0 = linearly connected).
"""

from __future__ import annotations

import jax
import numpy as np

BN_CHOICES = ("recompute", "interpolate")


def interpolate(a, b, alpha: float):
    """``(1 − α)·a + α·b`` leaf by leaf (numpy float32 leaves)."""
    return jax.tree_util.tree_map(
        lambda x, y: ((1.0 - alpha) * np.asarray(x, np.float64)
                      + alpha * np.asarray(y, np.float64)).astype(np.asarray(x).dtype), a, b)


def barrier(alphas, values) -> float:
    """``max_α [v(α) − ((1 − α) v(0) + α v(1))]`` (alphas must contain 0 and 1)."""
    alphas, values = np.asarray(alphas, np.float64), np.asarray(values, np.float64)
    if not (np.isclose(alphas.min(), 0.0) and np.isclose(alphas.max(), 1.0)):
        raise ValueError(f"the α grid must contain 0 and 1, got {alphas.tolist()}")
    v0, v1 = values[np.argmin(alphas)], values[np.argmax(alphas)]
    return float(np.max(values - ((1 - alphas) * v0 + alphas * v1)))


def path_curve(evaluate, apply_fn, a, b, alphas, *, bn: str = "recompute", bn_batches=()):
    """``{"alpha", "loss", "error"}`` along the path between ``a = (params, model_state)`` and
    ``b``; ``evaluate(params, state) -> (loss, accuracy)``."""
    from lottery_core.store import flatten
    from lottery_core.lrr_recipe import recompute_bn_statistics

    if bn not in BN_CHOICES:
        raise ValueError(f"bn must be one of {', '.join(BN_CHOICES)}, got {bn!r}")
    has_bn = bool(flatten(a[1]))
    losses, errors = [], []
    for alpha in alphas:
        params = interpolate(a[0], b[0], float(alpha))
        state = interpolate(a[1], b[1], float(alpha)) if has_bn else a[1]
        if has_bn and bn == "recompute":
            state = recompute_bn_statistics(apply_fn, params, state, bn_batches)
        loss, accuracy = evaluate(params, state)
        losses.append(float(loss))
        errors.append(1.0 - float(accuracy))
    return {"alpha": [float(x) for x in alphas], "loss": losses, "error": errors,
            "error_barrier": barrier(alphas, errors), "loss_barrier": barrier(alphas, losses)}
