"""Confidence bounds for claims stated as a rate over many random instances.

A claim about a random problem instance (a test bed drawn from a seed) is decided on the
fraction of instances on which it holds, with a confidence bound, not on one draw.
"""

from __future__ import annotations

import math

#: two-sided 95% normal quantile: the Wilson interval below is the 95% interval
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate (Wilson 1927): successes out of trials.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at 0 or
    ``trials`` successes: all k of k give the lower bound k / (k + z²).
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)
