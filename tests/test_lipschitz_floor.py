"""theory.lipschitz_floor: the smallest Lipschitz constant of any below-noise fit, bracketed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import lipschitz_floor as lf


def test_two_points_exact():
    # f = (1 - a, -1 + a) with a = sqrt(m) is optimal: L* = (2 - 2 sqrt(m)) / r
    r, m = 0.7, 0.09
    x = np.array([[0.0, 0.0], [r, 0.0]])
    y = np.array([1.0, -1.0])
    truth = (2 - 2 * math.sqrt(m)) / r
    assert lf.lipschitz_floor_lower(x, y, m) == pytest.approx(truth, rel=1e-9)
    upper, f = lf.lipschitz_floor_upper(x, y, m)
    assert truth - 1e-9 <= upper <= truth * 1.002
    assert np.mean((f - y) ** 2) <= m


def test_three_collinear_points_exact():
    # x = 0, 1, 2 with labels +1, -1, +1: by symmetry f = (1 - a, -1 + 2a, 1 - a) with
    # 6a² = 3m, so L* = 2 - 3 sqrt(m/2); the matching bound uses one pair and is weaker
    m = 0.18
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([1.0, -1.0, 1.0])
    truth = 2 - 3 * math.sqrt(m / 2)
    lower = lf.lipschitz_floor_lower(x, y, m)
    upper, f = lf.lipschitz_floor_upper(x, y, m)
    assert lower <= truth + 1e-9 < upper + 1e-9
    assert lower < truth - 0.1                      # one matched pair cannot see all of it
    assert upper == pytest.approx(truth, rel=3e-3)
    assert lf.pairwise_ratio(x, f) == pytest.approx(upper, rel=1e-12)


def test_random_data_bracket_and_fitted_values():
    rng = np.random.default_rng(0)
    n, d, m = 60, 8, 0.14
    x = rng.normal(size=(n, d)) / math.sqrt(d)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    lower = lf.lipschitz_floor_lower(x, y, m)
    upper, f = lf.lipschitz_floor_upper(x, y, m)
    assert 0 < lower <= upper
    assert upper <= 1.1 * lower                     # the bracket is tight on such data
    assert np.mean((f - y) ** 2) <= m
    # any values that fit to MSE <= m have pairwise ratio >= L* >= lower
    for _ in range(20):
        g = np.clip(y + rng.normal(scale=0.3, size=n), -1, 1)
        if np.mean((g - y) ** 2) <= m:
            assert lf.pairwise_ratio(x, g) >= lower
    # the interpolating values (MSE 0) are the worst case of the search
    assert lf.pairwise_ratio(x, y) >= upper


def test_constant_fit_has_zero_floor_and_bad_input():
    x = np.array([[0.0], [1.0], [3.0]])
    y = np.array([1.0, -1.0, 1.0])
    assert lf.lipschitz_floor_lower(x, y, 1.0) == 0.0
    with pytest.raises(ValueError, match="\\[-1, 1\\]"):
        lf.lipschitz_floor_lower(x, 2 * y, 0.1)
    with pytest.raises(ValueError, match="distinct"):
        lf.lipschitz_floor_lower(np.zeros((2, 1)), y[:2], 0.1)
    with pytest.raises(ValueError, match="shape"):
        lf.lipschitz_floor_lower(x, y[:2], 0.1)
    with pytest.raises(ValueError, match="target_mse"):
        lf.lipschitz_floor_upper(x, y, -0.1)
