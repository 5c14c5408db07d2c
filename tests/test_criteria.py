"""Zhou et al. mask criteria and mask-1 / mask-0 actions (spec zhou.md §3-§5, claim 3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lottery_core import sparsity
from lottery_core.sparsity import criteria, mask_actions


def _layer(seed=0, shape=(60, 50)):
    rng = np.random.default_rng(seed)
    w_i = rng.normal(size=shape)
    w_f = w_i + rng.normal(scale=0.7, size=shape)
    return w_i, w_f


@pytest.mark.parametrize("name", [c for c in criteria.CRITERIA if c not in sparsity.ZHOU_SINGLE])
@pytest.mark.parametrize("rate", [0.2, 0.1, 0.15])
def test_every_criterion_prunes_floor_of_rate_times_remaining(name, rate):
    w_i, w_f = _layer()
    rng = np.random.default_rng(1)
    mask = np.ones_like(w_i, dtype=bool)
    grad = np.random.default_rng(2).normal(size=w_i.shape)
    for _ in range(4):  # iterative rounds
        before = int(mask.sum())
        new = criteria.layer_mask(name, w_i, w_f, mask, rate, rng, gradient=grad)
        removed = before - int(new.sum())
        target = int(np.floor(before * rate))
        if name in sparsity.ZHOU_ALIGNED:
            assert abs(removed - target) <= max(1, 1e-4 * before)  # within 0.01% (or one tie)
        else:
            assert removed == target
        assert not np.any(new & ~mask), "a pruned weight was revived"
        mask = new


def test_large_final_keeps_the_largest_final_magnitudes():
    w_i, w_f = _layer(3)
    mask = criteria.layer_mask("large_final", w_i, w_f, np.ones_like(w_i, bool), 0.2,
                               np.random.default_rng(0))
    assert np.abs(w_f[mask]).min() >= np.abs(w_f[~mask]).max()


def test_magnitude_increase_and_movement_scores():
    w_i = np.array([1.0, -2.0, 0.5, -0.1])
    w_f = np.array([3.0, -1.0, -0.5, 0.4])
    np.testing.assert_allclose(sparsity.ZHOU_SCORES["magnitude_increase"](w_i, w_f), [2, -1, 0, 0.3])
    np.testing.assert_allclose(sparsity.ZHOU_SCORES["movement"](w_i, w_f), [2, 1, 1, 0.5])
    np.testing.assert_allclose(sparsity.ZHOU_SCORES["large_final_same_sign"](w_i, w_f), [3, 1, 0, 0])
    np.testing.assert_allclose(sparsity.ZHOU_SCORES["large_final_diff_sign"](w_i, w_f), [0, 0, 0.5, 0.4])


def test_large_init_large_final_keeps_the_intersection_of_top_sets():
    w_i, w_f = _layer(4, shape=(50, 40))
    mask = criteria.layer_mask("large_init_large_final", w_i, w_f, np.ones_like(w_i, bool),
                               0.3, np.random.default_rng(0))
    # the mask is the product of the two top sets at one common (aligned) rank cut-off r
    rank_i = np.argsort(np.argsort(np.abs(w_i).reshape(-1)))
    rank_f = np.argsort(np.argsort(np.abs(w_f).reshape(-1)))
    matches = [r for r in range(w_i.size)
               if np.array_equal(mask.reshape(-1), (rank_i >= r) & (rank_f >= r))]
    assert len(matches) == 1
    target = int(np.floor(w_i.size * 0.3))
    assert abs(int((~mask).sum()) - target) <= 1


def test_random_criterion_is_uniform_chi_square():
    w_i, w_f = _layer(5, shape=(20, 10))
    counts = np.zeros(w_i.size)
    rng = np.random.default_rng(7)
    trials = 3000
    for _ in range(trials):
        mask = criteria.layer_mask("random", w_i, w_f, np.ones_like(w_i, bool), 0.5, rng)
        counts += mask.reshape(-1)
    expected = trials * 0.5
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # binomial(trials, 0.5) per cell: variance trials/4, so chi2/2 ~ chi2(df) approximately
    p_value = stats.chi2.sf(chi2 / (1 - 0.5), df=w_i.size - 1)
    assert p_value > 0.01, f"positions are not uniform: p = {p_value:.3g}"


def test_single_sign_criteria_keep_every_weight_of_that_relation():
    w_i, w_f = _layer(6)
    mask = criteria.layer_mask("same_sign_single", w_i, w_f, np.ones_like(w_i, bool), 0.2,
                               np.random.default_rng(0))
    np.testing.assert_array_equal(mask, np.sign(w_i) == np.sign(w_f))


def test_ties_are_broken_by_the_seed():
    w_i = np.ones((10, 10))
    w_f = np.ones((10, 10))
    first = criteria.layer_mask("large_final", w_i, w_f, np.ones((10, 10), bool), 0.5,
                                np.random.default_rng(0))
    again = criteria.layer_mask("large_final", w_i, w_f, np.ones((10, 10), bool), 0.5,
                                np.random.default_rng(0))
    other = criteria.layer_mask("large_final", w_i, w_f, np.ones((10, 10), bool), 0.5,
                                np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_network_mask_uses_per_layer_rates():
    shapes = {"dense_0/kernel": (784, 300), "dense_1/kernel": (300, 100), "dense_2/kernel": (100, 10)}
    rng = np.random.default_rng(0)
    w_i = {k: rng.normal(size=s) for k, s in shapes.items()}
    w_f = {k: v + rng.normal(size=v.shape) for k, v in w_i.items()}
    masks = {k: np.ones(s, bool) for k, s in shapes.items()}
    rates = {"dense_0/kernel": 0.2, "dense_1/kernel": 0.2, "dense_2/kernel": 0.1}
    for _ in range(3):
        masks = criteria.network_mask("large_final", w_i, w_f, masks, rates, seed=0)
    # exact floor arithmetic per round
    for name, shape in shapes.items():
        remaining = int(np.prod(shape))
        for _ in range(3):
            remaining -= int(np.floor(remaining * rates[name]))
        assert int(masks[name].sum()) == remaining
    with pytest.raises(ValueError, match="unknown layers"):
        criteria.network_mask("large_final", w_i, w_f, masks, {"nope": 0.2}, seed=0)


def test_bad_inputs_are_named():
    w_i, w_f = _layer()
    with pytest.raises(ValueError, match="unknown mask criterion 'biggest'"):
        criteria.layer_mask("biggest", w_i, w_f, np.ones_like(w_i, bool), 0.2,
                            np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sparsity.prune_count(10, 1.0, rounding="floor")
    with pytest.raises(ValueError, match="gradient"):
        criteria.layer_mask("snip", w_i, w_f, np.ones_like(w_i, bool), 0.2, np.random.default_rng(0))


# ---- mask-1 actions ----------------------------------------------------------------------

@pytest.fixture
def layer_and_mask():
    w_i, w_f = _layer(8, shape=(40, 30))
    mask = criteria.layer_mask("large_final", w_i, w_f, np.ones_like(w_i, bool), 0.6,
                               np.random.default_rng(0))
    return w_i, mask


@pytest.mark.parametrize("action", mask_actions.MASK1_ACTIONS)
def test_mask1_actions_zero_pruned_and_keep_their_promises(action, layer_and_mask):
    w_i, mask = layer_and_mask
    out = mask_actions.mask1_action(action, w_i, mask, np.random.default_rng(0))
    assert np.all(out[~mask] == 0)
    kept = out[mask]
    alpha = np.std(w_i)
    if action == "rewind":
        np.testing.assert_array_equal(kept, w_i[mask])
    if action.startswith("signed"):
        np.testing.assert_array_equal(np.sign(kept), np.sign(w_i[mask]))
    if action in ("constant", "signed_constant"):
        np.testing.assert_allclose(np.abs(kept), alpha)
    if action == "reshuffle":
        np.testing.assert_allclose(np.sort(kept), np.sort(w_i[mask]))
    if action == "signed_reshuffle":
        np.testing.assert_allclose(np.sort(np.abs(kept)), np.sort(np.abs(w_i[mask])))
    if action in ("reinit", "signed_reinit"):
        pool = np.sort(np.abs(w_i).reshape(-1))
        assert np.all(np.isin(np.abs(kept), pool))


def test_constant_keeps_the_sign_proportion(layer_and_mask):
    w_i, _ = layer_and_mask
    full = np.ones_like(w_i, bool)
    out = mask_actions.mask1_action("constant", w_i, full, np.random.default_rng(0))
    assert np.sum(out > 0) == np.sum(w_i > 0)
    assert not np.array_equal(np.sign(out), np.sign(w_i))


def test_rescaling_identity(layer_and_mask):
    w_i, mask = layer_and_mask
    plain = mask_actions.mask1_action("rewind", w_i, mask, np.random.default_rng(0))
    scaled = mask_actions.mask1_action("rewind", w_i, mask, np.random.default_rng(0), rescale=True)
    np.testing.assert_allclose(scaled, plain * mask.size / mask.sum())


# ---- mask-0 actions ----------------------------------------------------------------------

def test_mask0_variants():
    w_i = np.array([1.0, -2.0, 0.5, -0.1, 3.0, 0.2])
    w_f = np.array([0.5, -3.0, 0.1, -0.4, 1.0, 0.9])
    mask = np.array([True, True, False, False, False, True])
    rng = np.random.default_rng(0)
    frozen, restart = mask_actions.mask0_action("zero", w_i, w_f, mask, rng)
    np.testing.assert_array_equal(frozen, 0)
    assert not restart.any()
    frozen, _ = mask_actions.mask0_action("freeze_init", w_i, w_f, mask, rng)
    np.testing.assert_array_equal(frozen, [0, 0, 0.5, -0.1, 3.0, 0])
    # Variant 1: pruned entries 2 (|.5|>|.1|: zero), 3 (|.1|<|.4|: w_i), 4 (|3|>|1|: zero)
    frozen, restart = mask_actions.mask0_action("freeze_init_zero_mask", w_i, w_f, mask, rng)
    np.testing.assert_array_equal(frozen, [0, 0, 0, -0.1, 0, 0])
    assert not restart.any()
    # Variant 2: kept entry 0 moved toward zero (|1|>|.5|) restarts from 0
    frozen, restart = mask_actions.mask0_action("freeze_init_zero_all", w_i, w_f, mask, rng)
    np.testing.assert_array_equal(frozen, [0, 0, 0, -0.1, 0, 0])
    np.testing.assert_array_equal(restart, [True, False, False, False, False, False])
    frozen, _ = mask_actions.mask0_action("freeze_init_zero_rev", w_i, w_f, mask, rng)
    np.testing.assert_array_equal(frozen, [0, 0, 0.5, 0, 3.0, 0])
    frozen, _ = mask_actions.mask0_action("freeze_init_zero_reshuffle", w_i, w_f, mask, rng)
    assert np.count_nonzero(frozen[~mask] == 0) == 2  # as many zeros as Variant 1
    trainable = np.where(mask, w_i, 0.0)
    kernel = mask_actions.effective_kernel(trainable, mask, frozen)
    np.testing.assert_array_equal(kernel[~mask], frozen[~mask])
    np.testing.assert_array_equal(kernel[mask], w_i[mask])
    with pytest.raises(ValueError, match="unknown mask-0 action 'melt'"):
        mask_actions.mask0_action("melt", w_i, w_f, mask, rng)


def test_mask1_values_are_dense_and_reshuffle_leaves_pruned_positions():
    w_i, w_f = _layer(9, shape=(10, 10))
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    values = mask_actions.mask1_values("reshuffle", w_i, mask, np.random.default_rng(0))
    np.testing.assert_array_equal(values[~mask], w_i[~mask])
    reinit = mask_actions.mask1_values("reinit", w_i, mask, np.random.default_rng(0))
    np.testing.assert_allclose(np.sort(reinit.reshape(-1)), np.sort(w_i.reshape(-1)))


# ---- spec claim 2: the overall remaining fraction after k rounds (zhou.md §2.3 table) ----

ZHOU_TABLE = {  # k: (FC, Conv2, Conv4, Conv6), % of prunable weights remaining [computed, spec]
    2: (64.1, 64.2, 65.8, 68.2), 4: (41.1, 41.2, 43.6, 46.7), 8: (16.9, 17.0, 19.6, 22.1),
    12: (6.95, 7.08, 9.18, 10.6), 16: (2.87, 2.97, 4.51, 5.17), 20: (1.19, 1.26, 2.34, 2.54),
    24: (0.50, 0.54, 1.28, 1.27)}


@pytest.mark.parametrize("column,model", list(enumerate(["lenet300", "conv2", "conv4", "conv6"])))
def test_schedule_table_with_official_floor_counts(column, model):
    """Per-layer rounds with floor(#remaining · rate) reproduce every entry of the spec's table
    within the claim's ±0.01 pp (plus the 0.05 pp rounding of entries printed with one decimal)."""
    import jax

    from lottery_core import sparsity
    from lottery_core.config import ExperimentConfig
    from lottery_core.store import flatten
    from lottery_core.models import get_model

    cfg = ExperimentConfig(model=model, dataset="synthetic").resolved()
    spec = get_model(model, input_shape=(28, 28, 1) if model == "lenet300" else (32, 32, 3))
    params, _ = jax.eval_shape(spec.init, jax.random.PRNGKey(0))
    fractions = sparsity.layer_fractions(params, 10, cfg.prune_fraction, cfg.prune_fraction_conv,
                                         cfg.prune_fraction_output)
    sizes = {p: int(np.prod(flatten(params)[p].shape)) for p in fractions}
    total = sum(sizes.values())
    remaining = dict(sizes)
    for k in range(1, 25):
        for path, rate in fractions.items():
            remaining[path] -= sparsity.prune_count(remaining[path], rate, rounding="floor")
        if k in ZHOU_TABLE:
            expected = ZHOU_TABLE[k][column]
            one_decimal = round(expected, 1) == expected and expected >= 10
            tolerance = 0.01 + (0.05 if one_decimal else 0.005)
            assert 100 * sum(remaining.values()) / total == pytest.approx(expected, abs=tolerance)
