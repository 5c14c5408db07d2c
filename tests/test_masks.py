"""Masks: exact counts per level, deterministic ties, global/random/ERK allocation."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lottery_core import sparsity
from lottery_core.models import get_model
from lottery_core.store import flatten


@pytest.fixture(scope="module")
def lenet_params():
    params, _ = get_model("lenet300").init(jax.random.PRNGKey(0))
    return jax.tree_util.tree_map(np.asarray, params)


def expected_kept(n: int, fraction: float, levels: int) -> int:
    for _ in range(levels):
        n -= int(np.floor(fraction * n + 0.5))
    return n


def test_exact_counts_and_densities_after_twelve_levels(lenet_params):
    fractions = sparsity.layer_fractions(lenet_params, 10, dense=0.2, output=0.1)
    assert fractions == {"dense_0/kernel": 0.2, "dense_1/kernel": 0.2, "dense_2/kernel": 0.1}
    mask = sparsity.full_mask(lenet_params)
    rng = np.random.default_rng(0)
    for level in range(1, 13):
        # fresh random scores every level, as after retraining
        scores = jax.tree_util.tree_map(lambda p: rng.standard_normal(np.shape(p)), lenet_params)
        mask = sparsity.prune(scores, mask, fractions)
        report = sparsity.density_report(mask)
        for path, fraction in fractions.items():
            n = np.size(flatten(lenet_params)[path])
            assert report["layers"][path]["kept"] == expected_kept(n, fraction, level)
            # each level rounds by at most half a weight
            assert abs(report["layers"][path]["density"] - (1 - fraction) ** level) \
                <= 0.5 * level / n + 1e-12
    # 0.8^12 = 6.87% for the hidden layers, 0.9^12 = 28.2% for the output layer
    assert report["layers"]["dense_0/kernel"]["kept"] == expected_kept(235200, 0.2, 12)
    assert abs(report["overall"] - 0.06952) < 1e-4   # zhou.md §2.3 table: 6.95% at k = 12
    # biases are never pruned
    assert all(np.all(m) for p, m in flatten(mask).items() if p.endswith("bias"))


def test_uniform_pruning_density_is_point_eight_to_the_L(lenet_params):
    fractions = sparsity.layer_fractions(lenet_params, 10, dense=0.2)
    mask = sparsity.full_mask(lenet_params)
    for _ in range(8):
        mask = sparsity.prune_by_magnitude(lenet_params, mask, fractions)
    assert abs(sparsity.density_report(mask)["overall"] - 0.8 ** 8) < 1e-4


def test_ties_are_broken_by_position_and_counts_stay_exact():
    scores = {"w": {"kernel": np.ones((4, 5))}}
    mask = sparsity.full_mask(scores)
    new = sparsity.prune(scores, mask, {"w/kernel": 0.3})
    kept = new["w"]["kernel"].ravel()
    # 20 equal scores, round(0.3 * 20) = 6 removed: the last 6 positions (ties keep low index)
    assert kept.sum() == 14
    assert kept[:14].all() and not kept[14:].any()
    # a threshold rule "prune score <= 6th smallest" would remove all 20 here
    assert sparsity.prune_count(20, 0.3) == 6
    assert sparsity.prune_count(5, 0.5) == 3       # round half up, not banker's rounding


def test_pruned_weights_stay_pruned_and_lowest_scores_go():
    scores = {"a": {"kernel": np.array([5.0, -1.0, 3.0, 0.5, 4.0, 2.0])}}
    mask = {"a": {"kernel": np.array([True, True, True, False, True, True])}}
    new = sparsity.prune(sparsity.magnitude_scores(scores), mask, {"a/kernel": 0.4})
    # 5 alive, remove 2: |-1| = 1 and 2; the dead entry stays dead
    np.testing.assert_array_equal(new["a"]["kernel"], [True, False, True, False, True, False])


def test_global_allocation_pools_layers():
    scores = {"a": {"kernel": np.array([1.0, 2.0, 3.0])},
              "b": {"kernel": np.array([10.0, 20.0, 0.5, 30.0])}}
    mask = sparsity.full_mask(scores)
    new = sparsity.prune(scores, mask, {"a/kernel": 0.5, "b/kernel": 0.5}, "global")
    # 7 weights, remove round(3.5) = 4 lowest overall: 0.5, 1, 2, 3
    np.testing.assert_array_equal(new["a"]["kernel"], [False, False, False])
    np.testing.assert_array_equal(new["b"]["kernel"], [True, True, False, True])
    with pytest.raises(ValueError, match="one fraction"):
        sparsity.prune(scores, mask, {"a/kernel": 0.5, "b/kernel": 0.2}, "global")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), fraction=st.floats(0, 0.99), seed=st.integers(0, 10_000))
def test_property_exact_count_and_order(n, fraction, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 5, n).astype(float)     # many ties
    tree = {"l": {"kernel": values}}
    new = sparsity.prune(tree, sparsity.full_mask(tree), {"l/kernel": fraction})
    kept = new["l"]["kernel"]
    assert kept.sum() == n - int(np.floor(fraction * n + 0.5))
    if kept.any() and (~kept).any():
        assert values[kept].min() >= values[~kept].max()


def test_random_masks_layerwise_global_and_erk(lenet_params):
    key = jax.random.PRNGKey(3)
    dens = {"dense_0/kernel": 0.1, "dense_1/kernel": 0.5, "dense_2/kernel": 0.9}
    m = sparsity.random_mask_layerwise(key, lenet_params, dens)
    report = sparsity.density_report(m)
    assert report["layers"]["dense_0/kernel"]["kept"] == 23520
    assert report["layers"]["dense_1/kernel"]["kept"] == 15000
    assert report["layers"]["dense_2/kernel"]["kept"] == 900
    again = sparsity.random_mask_layerwise(key, lenet_params, dens)
    np.testing.assert_array_equal(m["dense_0"]["kernel"], again["dense_0"]["kernel"])
    other = sparsity.random_mask_layerwise(jax.random.PRNGKey(4), lenet_params, dens)
    assert (m["dense_0"]["kernel"] != other["dense_0"]["kernel"]).any()

    g = sparsity.random_mask_global(key, lenet_params, 0.2)
    assert sparsity.density_report(g)["kept"] == int(np.floor(0.2 * 266200 + 0.5))

    erk = sparsity.erk_densities(lenet_params, 0.1)
    total = sum(erk[p] * np.size(flatten(lenet_params)[p]) for p in erk)
    assert abs(total - 0.1 * 266200) < 1e-6 * 266200
    assert erk["dense_2/kernel"] == 1.0                # the small output layer saturates
    # ERK density of a layer ∝ (fan_in + fan_out) / (fan_in * fan_out) when not saturated
    ratio = erk["dense_0/kernel"] / erk["dense_1/kernel"]
    assert abs(ratio - (1084 / 235200) / (400 / 30000)) < 1e-12
    e = sparsity.random_mask_erk(key, lenet_params, 0.1)
    assert abs(sparsity.density_report(e)["overall"] - 0.1) < 1e-4


def test_bad_fraction_and_nan_scores_raise():
    tree = {"l": {"kernel": np.array([1.0, np.nan])}}
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sparsity.prune(tree, sparsity.full_mask(tree), {"l/kernel": 1.0})
    with pytest.raises(ValueError, match="NaN"):
        sparsity.prune(tree, sparsity.full_mask(tree), {"l/kernel": 0.5})
    with pytest.raises(ValueError, match="unknown layers"):
        sparsity.prune(tree, sparsity.full_mask(tree), {"x/kernel": 0.5})


def test_scores_to_mask_compiles_once_per_shape_not_per_density():
    """The kept counts enter the compiled selection as traced integers: three densities, both
    scopes' exact counts, one program per (shape, scope)."""
    from lottery_core.sparsity import masks

    key = jax.random.PRNGKey(3)
    params = {"a": {"kernel": jax.random.normal(key, (7, 13)), "bias": np.zeros(13)},
              "b": {"kernel": jax.random.normal(key, (13, 5))}}
    size = masks._scores_to_mask._cache_size()
    for density in (0.5, 0.25, 0.1):
        for scope in ("global", "layerwise"):
            kept = flatten(sparsity.scores_to_mask(params, params, density, scope=scope))
            if scope == "global":
                assert int(kept["a/kernel"].sum() + kept["b/kernel"].sum()) == \
                    int(np.floor(density * 156 + 0.5))
            else:
                assert int(kept["a/kernel"].sum()) == int(np.floor(density * 91 + 0.5))
                assert int(kept["b/kernel"].sum()) == int(np.floor(density * 65 + 0.5))
            assert bool(kept["a/bias"].all())
    assert masks._scores_to_mask._cache_size() == size + 2
