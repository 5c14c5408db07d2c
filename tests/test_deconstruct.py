"""Zhou et al.'s generalized lottery ticket inside the level loop (spec zhou.md §1, §4, §5)."""

from __future__ import annotations

import numpy as np
import pytest

from lottery_core import sparsity
from lottery_core.data import synthetic
from lottery_core.config import ExperimentConfig
from lottery_core.loops.levels import Runner
from lottery_core.store import flatten, level_directory, load_tree

DATA = synthetic(n_train=200, n_test=60, input_shape=(8, 8, 1), validation_size=40, noise=1.5)
BASE = dict(model="mlp", model_options={"widths": [32]}, dataset="synthetic", iterations=30,
            batch_size=20, eval_every=15, levels=2, seeds=1, optimizer="adam",
            learning_rate=3e-3, prune_fraction=0.2, prune_fraction_output=0.1)


def run(tmp_path, **overrides):
    runner = Runner(ExperimentConfig(**{**BASE, **overrides}), tmp_path, progress=False,
                    dataset=DATA, log=lambda s: None)
    runner.run()
    return runner


def level_files(runner, level):
    d = level_directory(runner.run_dir, 0, level)
    return flatten(load_tree(d / "params.npz")), flatten(load_tree(d / "mask.npz"))


def test_frozen_pruned_weights_stay_at_their_initial_values(tmp_path):
    runner = run(tmp_path, mask0="freeze_init")
    theta0 = flatten(load_tree(runner.seed_dir(0) / "init.npz")["params"])
    for level in (1, 2):
        params, mask = level_files(runner, level)
        for path in ("dense_0/kernel", "dense_1/kernel"):
            pruned = ~mask[path]
            assert pruned.sum() > 0
            # through training the frozen, non-zero pruned weights never moved
            np.testing.assert_array_equal(params[path][pruned], theta0[path][pruned])
            assert np.count_nonzero(params[path][pruned]) == pruned.sum()


def test_variant1_freezes_at_zero_or_init_by_direction(tmp_path):
    runner = run(tmp_path, mask0="freeze_init_zero_mask", levels=1)
    theta0 = flatten(load_tree(runner.seed_dir(0) / "init.npz")["params"])
    dense, _ = level_files(runner, 0)
    params, mask = level_files(runner, 1)
    path = "dense_0/kernel"
    pruned = ~mask[path]
    toward_zero = np.abs(theta0[path]) > np.abs(dense[path])
    np.testing.assert_array_equal(params[path][pruned & toward_zero], 0.0)
    np.testing.assert_array_equal(params[path][pruned & ~toward_zero],
                                  theta0[path][pruned & ~toward_zero])


def test_criterion_counts_follow_the_official_floor_rule(tmp_path):
    runner = run(tmp_path, criterion="magnitude_increase")
    for path, rate in (("dense_0/kernel", 0.2), ("dense_1/kernel", 0.1)):
        remaining = int(np.prod(level_files(runner, 0)[1][path].shape))
        for level in (1, 2):
            remaining -= sparsity.prune_count(remaining, rate, rounding="floor")
            assert int(level_files(runner, level)[1][path].sum()) == remaining


def test_signed_constant_starts_from_alpha_times_init_sign(tmp_path):
    runner = run(tmp_path, mask1="signed_constant", levels=1)
    theta0 = flatten(load_tree(runner.seed_dir(0) / "init.npz")["params"])
    mask, start = runner.prepare(0, 1)[:2]
    start_kernel = flatten(start.params)["dense_0/kernel"]
    kept = flatten(mask)["dense_0/kernel"]
    np.testing.assert_allclose(np.abs(start_kernel[kept]), np.std(theta0["dense_0/kernel"]),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.sign(start_kernel[kept]),
                                  np.sign(theta0["dense_0/kernel"][kept]))
    assert np.all(start_kernel[~kept] == 0)
    round_init = flatten(load_tree(level_directory(runner.run_dir, 0, 1) / "round_init.npz"))
    assert round_init["dense_0/kernel"].shape == theta0["dense_0/kernel"].shape


def test_resumed_plan_is_identical(tmp_path):
    first = run(tmp_path / "a", mask1="reinit", levels=1)
    second = run(tmp_path / "b", mask1="reinit", levels=1)
    a, _ = level_files(first, 1)
    b, _ = level_files(second, 1)
    np.testing.assert_array_equal(a["dense_0/kernel"], b["dense_0/kernel"])


def test_bad_combinations_are_refused():
    with pytest.raises(ValueError, match="unknown criterion 'tiny'"):
        ExperimentConfig(**{**BASE, "criterion": "tiny"}).validate()
    with pytest.raises(ValueError, match="mask-1 / mask-0 actions apply to method imp"):
        ExperimentConfig(**{**BASE, "method": "lrr", "mask0": "freeze_init"}).validate()
    with pytest.raises(ValueError, match="unknown mask-0 action"):
        ExperimentConfig(**{**BASE, "mask0": "thaw"}).validate()
