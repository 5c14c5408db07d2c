"""theory.mi_estimators: the I(m; D) estimators of spec §6 against exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theory import mi_estimators as mi


def test_binary_entropy_values():
    np.testing.assert_allclose(mi.binary_entropy([0.0, 0.5, 1.0, 0.25]),
                               [0.0, math.log(2), 0.0, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))],
                               atol=1e-15)
    with pytest.raises(ValueError):
        mi.binary_entropy(1.5)


def test_data_independent_masks_give_exact_zero():
    mask = np.random.default_rng(0).random(30) < 0.3
    same = np.tile(mask, (8, 1))
    assert mi.is_data_independent(same)
    assert mi.plugin_information_upper(same) == 0.0
    different = same.copy(); different[3, 0] ^= True
    assert not mi.is_data_independent(different)
    assert mi.plugin_information_upper(different) > 0


def test_plugin_with_miller_madow_on_independent_coordinates():
    # coordinates independent Bernoulli(q_j): the target sum_j h(q_j) is known exactly
    rng = np.random.default_rng(2)
    q = rng.uniform(0.05, 0.95, size=400)
    K = 60
    masks = rng.random((K, q.size)) < q
    truth = float(np.sum(mi.binary_entropy(q)))
    plain = mi.plugin_information_upper(masks, miller_madow=False)
    corrected = mi.plugin_information_upper(masks)
    assert plain < truth                              # biased low
    assert abs(corrected - truth) < abs(plain - truth)
    assert corrected == pytest.approx(truth, rel=0.02)


def test_conditional_entropy_form_matches_exact_per_coordinate_mi():
    # m_j = D xor noise_j, D uniform on {0,1}, noise ~ Bern(r_j): I(m_j; D) = log2 - h(r_j)
    rng = np.random.default_rng(3)
    r = np.array([0.0, 0.1, 0.3, 0.5])
    K, R = 2, 20000
    data = np.arange(K)[:, None, None]
    masks = (data ^ (rng.random((K, R, r.size)) < r)).astype(bool)
    expected = float(np.sum(math.log(2) - mi.binary_entropy(r)))
    assert mi.conditional_entropy_information(masks) == pytest.approx(expected, abs=5e-3)


def test_fano_lower_bound_and_decoder():
    assert mi.fano_lower_bound(0.0, 8) == pytest.approx(math.log(8) - math.log(2))
    assert mi.fano_lower_bound(1.0, 8) == 0.0
    with pytest.raises(ValueError, match="num_datasets"):
        mi.fano_lower_bound(0.1, 1)
    rng = np.random.default_rng(4)
    K, P = 4, 50
    prototypes = rng.random((K, P)) < 0.5
    def draw(n):
        labels = rng.integers(0, K, size=n)
        flips = rng.random((n, P)) < 0.1
        return prototypes[labels] ^ flips, labels
    tr, trl = draw(200)
    te, tel = draw(200)
    err = mi.nearest_centroid_decoding_error(tr, trl, te, tel)
    assert err < 0.05
    # Fano's bound must lie below the exact I(m; D) of this channel (<= H(D) = log K)
    assert mi.fano_lower_bound(err, K) <= math.log(K)


def test_exact_joint_and_mutual_information():
    dists = [{(1, 0): 1.0}, {(0, 1): 1.0}, {(1, 0): 0.5, (0, 1): 0.5}]
    joint, keys = mi.mask_data_joint(dists, [0.25, 0.25, 0.5])
    assert keys == [(1, 0), (0, 1)]
    np.testing.assert_allclose(joint, [[0.25, 0.0, 0.25], [0.0, 0.25, 0.25]])
    # I = H(m) - H(m|D) = log 2 - 0.5 log 2
    assert mi.mutual_information(joint) == pytest.approx(0.5 * math.log(2), abs=1e-14)
    with pytest.raises(ValueError, match="sum to 1"):
        mi.mask_data_joint([{(1,): 0.5}], [1.0])


def test_plugin_ceiling_bounds_every_fixed_size_mask_set():
    rng = np.random.default_rng(5)
    P, s = 120, 12
    h = float(mi.binary_entropy(s / P))
    for K in (5, 50, 400):
        # uniformly random s-subsets: the most variable pipeline there is
        masks = np.zeros((K, P), bool)
        for a in range(K):
            masks[a, rng.choice(P, s, replace=False)] = True
        ceiling = mi.plugin_ceiling(P, s, K)
        assert ceiling == pytest.approx(P * h + P / (2 * K), rel=1e-12)
        assert mi.plugin_information_upper(masks) <= ceiling
        assert mi.plugin_information_upper(masks, miller_madow=False) <= mi.plugin_ceiling(
            P, s, K, miller_madow=False)
    # with many data sets the random-subset pipeline reaches the plug-in ceiling
    assert mi.plugin_information_upper(masks, miller_madow=False) == pytest.approx(P * h, rel=0.01)
    assert mi.plugin_ceiling(P, 0, 3) == 0.0 and mi.plugin_ceiling(P, P, 3) == 0.0
    with pytest.raises(ValueError, match="s must be <= P"):
        mi.plugin_ceiling(4, 5, 2)
    with pytest.raises(ValueError, match="K must be"):
        mi.plugin_ceiling(4, 2, 0)
