"""The smallest Lipschitz constant of *any* function that fits a data set below the noise level.

For points x_1..x_n in R^d, targets y_i in [-1, 1] and a target mean squared error m,

    L*(x, y, m) = min_f  max_{i<j} |f_i - f_j| / ||x_i - x_j||   s.t.  (1/n) Σ_i (f_i - y_i)² <= m,

over value vectors f in R^n. By the McShane-Whitney extension f(x) = min_i (f_i + L ||x - x_i||),
values with pairwise ratios <= L extend to an L-Lipschitz function on all of R^d, so L* is the
exact smallest Lipschitz constant of any f: R^d -> R with training MSE <= m [R]. Clipping to
[-1, 1] lowers neither the fit nor raises the Lipschitz constant, so every network whose clipped
outputs fit to MSE <= m has Lip >= L*: it is the floor that the law of robustness (Bubeck &
Sellke 2021, Thm 3 [BS]) says is reachable, up to constants and logs, only once p >~ nd.

Two rigorous numbers bracket L* (spec ``nofreeprune.md`` §7 R4 diagnostic, derived here [R]):

- :func:`lipschitz_floor_lower`: for disjoint pairs (i, j) and any feasible f of ratio L,
  (f_i - y_i)² + (f_j - y_j)² >= (|y_i - y_j| - L d_ij)_+² / 2; summed over a greedy matching of
  close pairs with different labels this must stay <= n m, which gives a lower bound on L*.
- :func:`lipschitz_floor_upper`: an explicit f found by bisection on L with an ADMM solution of
  the convex program min Σ (f_i - y_i)² s.t. |f_i - f_j| <= L d_ij; its *measured* ratio over all
  pairs (with MSE <= m checked) is an upper bound on L*.
"""

from __future__ import annotations

import numpy as np


def _check(x, y, target_mse):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] < 2:
        raise ValueError(f"need x of shape (n, d) with n >= 2 and y of shape (n,), got {x.shape} "
                         f"and {y.shape}")
    if np.any(np.abs(y) > 1):
        raise ValueError("targets y must lie in [-1, 1]")
    target_mse = float(target_mse)
    if not 0 <= target_mse:
        raise ValueError(f"target_mse must be >= 0, got {target_mse!r}")
    i, j = np.triu_indices(x.shape[0], 1)
    dist = np.linalg.norm(x[i] - x[j], axis=1)
    if np.any(dist == 0):
        raise ValueError("points must be distinct (a zero distance makes L* infinite or undefined)")
    return x, y, target_mse, i, j, dist


def _pairwise_ratio(f, i, j, dist):
    return float(np.max(np.abs(f[i] - f[j]) / dist))


def lipschitz_floor_lower(x, y, target_mse) -> float:
    """A rigorous lower bound on L*(x, y, m) from a greedy matching of close pairs with
    different targets (the pair bound in the module docstring), solved exactly by bisection."""
    x, y, m, i, j, dist = _check(x, y, target_mse)
    n = x.shape[0]
    if m >= np.mean((y - y.mean()) ** 2):
        return 0.0                                   # a constant function already fits
    gap = np.abs(y[i] - y[j])
    order = np.argsort(dist / np.maximum(gap, 1e-300))
    used = np.zeros(n, bool)
    pairs = []
    for e in order:
        if gap[e] == 0 or used[i[e]] or used[j[e]]:
            continue
        used[i[e]] = used[j[e]] = True
        pairs.append(e)
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.size == 0:
        return 0.0
    g, d = gap[pairs], dist[pairs]

    def excess(L):                                  # Σ_M (|Δ| - L d)_+² / 2 - n m, decreasing in L
        return float(np.sum(np.maximum(g - L * d, 0.0) ** 2) / 2.0 - n * m)

    if excess(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, float(np.max(g / d))               # excess(hi) = -n m <= 0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return lo


def _min_mse_at(L, y, i, j, dist, *, rho=1.0, iterations=3000):
    """ADMM for min (1/n) Σ (f - y)² s.t. |f_i - f_j| <= L d_ij over the pairs that can bind
    (L d_ij < max|y_i - y_j|; values stay in [-1, 1]). Returns f (clipped to [-1, 1])."""
    n = y.size
    active = L * dist < 2.0
    ai, aj, bound = i[active], j[active], L * dist[active]
    if ai.size == 0:
        return y.copy()
    lap = np.zeros((n, n))
    np.add.at(lap, (ai, ai), 1.0)
    np.add.at(lap, (aj, aj), 1.0)
    np.add.at(lap, (ai, aj), -1.0)
    np.add.at(lap, (aj, ai), -1.0)
    solve = np.linalg.inv(np.eye(n) + rho * lap)
    z = np.clip(y[ai] - y[aj], -bound, bound)
    u = np.zeros_like(z)
    f = y.copy()
    for _ in range(iterations):
        w = z - u
        rhs = y + rho * (np.bincount(ai, w, n) - np.bincount(aj, w, n))
        f = solve @ rhs
        diff = f[ai] - f[aj]
        z = np.clip(diff + u, -bound, bound)
        u += diff - z
    return np.clip(f, -1.0, 1.0)


def lipschitz_floor_upper(x, y, target_mse, *, steps: int = 25, iterations: int = 3000):
    """A rigorous upper bound on L*(x, y, m): bisection on L, an ADMM fit at each L, and the
    measured all-pairs ratio of the best fit found whose MSE is <= m. Returns (L, f)."""
    x, y, m, i, j, dist = _check(x, y, target_mse)
    lo = lipschitz_floor_lower(x, y, m)
    hi = float(np.max(np.abs(y[i] - y[j]) / dist))   # f = y itself (MSE 0)
    best = (hi, y.copy())
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        f = _min_mse_at(mid, y, i, j, dist, iterations=iterations)
        if np.mean((f - y) ** 2) <= m:
            ratio = _pairwise_ratio(f, i, j, dist)
            if ratio < best[0]:
                best = (ratio, f)
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-3 * hi:
            break
    return best


def pairwise_ratio(x, f) -> float:
    """max_{i<j} |f_i - f_j| / ||x_i - x_j||: a rigorous lower bound on the Lipschitz constant
    of any function taking the values f at the points x."""
    x = np.asarray(x, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    i, j = np.triu_indices(x.shape[0], 1)
    return _pairwise_ratio(f, i, j, np.linalg.norm(x[i] - x[j], axis=1))

