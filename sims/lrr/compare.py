"""Paired comparisons of two accuracy curves of the LRR experiments, and the claims' rules.

A curve is an experiment's ``curves[key]`` (``lottery_core.experiments._lrr_common.
accuracy_curve``): per level and seed the final test accuracy (%). Two runs of the same seed
share the warmup and the data order, so the gap is taken seed by seed. Only pruned levels
(k ≥ 1) are compared: level 0 is the same dense training for every method.
"""

from __future__ import annotations

import math

import numpy as np

#: a gap counts as significant beyond this many standard errors (one-sided, about 95% for a
#: normal gap; with 3 seeds a t test would need 2.9: the rule is a screen, stated as such)
Z = 2.0


def per_seed(curve: dict, key: str = "test_accuracy") -> np.ndarray:
    """``[seeds, pruned levels]`` of a curve's per-seed values (levels 1..L, seeds sorted)."""
    table = curve[key]["per_seed"]
    levels = sorted(int(k) for k in table if int(k) >= 1)
    seeds = sorted(table[str(levels[0])], key=int)
    return np.array([[table[str(k)][s] for k in levels] for s in seeds], np.float64)


def _se(values: np.ndarray, axis: int = 0) -> np.ndarray:
    n = values.shape[axis]
    if n < 2:
        return np.full(np.delete(values.shape, axis), math.nan)
    return values.std(axis=axis, ddof=1) / math.sqrt(n)


def gaps(a: np.ndarray, b: np.ndarray, remaining: list[float]) -> dict:
    """Summary of the paired gaps ``a − b`` (``[seeds, levels]``, pp): per level mean and
    standard error, per seed the mean over levels, and their mean ``G`` and standard error."""
    d = a - b
    per_seed_mean = d.mean(axis=1)
    return {"remaining": list(remaining[1:]), "per_level_mean": d.mean(axis=0).tolist(),
            "per_level_se": _se(d).tolist(), "per_seed_mean_over_levels": per_seed_mean.tolist(),
            "mean": float(per_seed_mean.mean()), "se": float(_se(per_seed_mean[:, None])[0]),
            "seeds": int(d.shape[0])}


def at_every_level(g: dict) -> tuple[bool, str]:
    """"a ≥ b at every pruned level": no level where a is below b by more than Z standard
    errors, and the mean gap over levels ≥ 0."""
    worst = min(m + Z * s for m, s in zip(g["per_level_mean"], g["per_level_se"]))
    passed = worst >= 0 and g["mean"] >= 0
    k = int(np.argmin(g["per_level_mean"]))
    rule = (f"min over pruned levels of (gap + {Z:g}·SE) = {worst:.3g} >= 0 (smallest gap "
            f"{g['per_level_mean'][k]:+.3g} pp at {g['remaining'][k]:.3g}% remaining) and mean "
            f"gap {g['mean']:+.3g} pp >= 0 (paired by seed, {g['seeds']} seeds)")
    return bool(passed), rule


def beats(g: dict) -> tuple[bool, str]:
    """"a beats b": the mean over pruned levels of the paired gap exceeds Z standard errors
    (of the per-seed means)."""
    passed = g["mean"] - Z * g["se"] > 0
    rule = (f"mean gap over pruned levels {g['mean']:+.3g} pp − {Z:g}·SE ({g['se']:.3g}) = "
            f"{g['mean'] - Z * g['se']:+.3g} > 0 (paired by seed, {g['seeds']} seeds)")
    return bool(passed), rule


def early_levels(levels: int) -> list[int]:
    """The "early iterations" of the sign-flip claim: the first third of the pruned levels
    (at least one) [R]."""
    return list(range(1, max(1, math.ceil(levels / 3)) + 1))
