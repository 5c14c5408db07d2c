"""The LRR paper's ablations (spec lrr.md §2.3), CI-sized on a real CIFAR-10 subset: random
masks with uniform / global allocation, fixed-sign training, sign transfer. Each runs end to end
through ``lottery experiment`` and its defining property is checked on the stored arrays."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core import sparsity
from lottery_core.loops.levels import LEVEL_KEY_TAG
from lottery_core.loops.lrr_methods import random_counts
from lottery_core.store import flatten, layout, level_directory, load_tree
# a one-hidden-layer MLP with the CIFAR recipe's options, 2 levels, on 128 real images
from test_lrr_experiments import TINY

LEVELS = (0, 1, 2)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lrr_ablations")


def run_experiment(out, cifar10_dir, name, *extra):
    assert cli.main(["experiment", name, *TINY, "--data-dir", str(cifar10_dir), "--out",
                     str(out), *extra]) == 0
    [path] = list(out.glob(f"{name}-*/results.json"))
    results = json.loads(path.read_text())
    assert (path.parent / "accuracy_vs_remaining.png").stat().st_size > 0
    return results


def run_dir(out, curve):
    return out / "runs-test64" / curve["run"]


def level(run, k):
    d = level_directory(run, 0, k)
    return flatten(load_tree(d / layout.PARAMS)), flatten(load_tree(d / layout.MASK))


def test_random_masks_uniform_and_global(out, cifar10_dir):
    results = run_experiment(out, cifar10_dir, "random-masks", "--kinds", "uniform,global")
    assert set(results["curves"]) == {"lrr+random-uniform", "wr+random-uniform",
                                      "lrr+random-global", "wr+random-global"}
    for method, curve in results["curves"].items():
        assert curve["remaining"] == pytest.approx([100.0, 80.0, 64.0], abs=0.01)
        run = run_dir(out, curve)
        kind = method.split("random-")[1]
        paths = sparsity.prunable_paths(load_tree(run / "seed_0" / layout.INIT)["params"])
        for k in (1, 2):
            before = level_directory(run, 0, k - 1)
            mask = flatten(load_tree(before / layout.MASK))
            _, new = level(run, k)
            total = sum(int(mask[p].sum()) for p in paths)
            total -= sparsity.prune_count(total, 0.2)       # the magnitude schedule's count
            key = jax.random.fold_in(jax.random.PRNGKey(0), LEVEL_KEY_TAG + k)
            expected = random_counts(kind, key, load_tree(before / layout.PARAMS),
                                     load_tree(before / layout.MASK), paths, total)
            assert {p: int(new[p].sum()) for p in paths} == expected
            assert all(not np.any(new[p] & ~mask[p]) for p in paths)       # nested
            if kind == "global":    # one pooled draw: one score threshold across all layers
                scores = flatten(sparsity.random_scores(key, load_tree(before / layout.PARAMS)))
                kept = np.concatenate([np.asarray(scores[p])[new[p]] for p in paths])
                dropped = np.concatenate([np.asarray(scores[p])[mask[p] & ~new[p]]
                                          for p in paths])
                assert kept.min() >= dropped.max()      # (float32 ties: index order)
        if kind == "uniform":       # one density in every layer (±1 weight of rounding)
            _, mask = level(run, 2)
            for p in paths:
                assert abs(int(mask[p].sum()) - 0.64 * mask[p].size) <= 1, p


def test_fixed_signs(out, cifar10_dir):
    results = run_experiment(out, cifar10_dir, "fixed-signs")
    assert set(results["curves"]) == {"lrr", "lrr+fixed-signs", "wr", "wr+fixed-signs"}
    for method, curve in results["curves"].items():
        assert curve["remaining"] == pytest.approx([100.0, 80.0, 64.0], abs=0.01)
        run = run_dir(out, curve)
        init = flatten(load_tree(run / "seed_0" / layout.WARMUP)["params"])
        changed = 0
        for k in LEVELS:
            params, mask = level(run, k)
            for p in sparsity.prunable_paths(load_tree(run / "seed_0" / layout.WARMUP)["params"]):
                live = mask[p] & (params[p] != 0)
                same = np.sign(params[p][live]) == np.sign(init[p][live])
                changed += int((~same).sum())
                assert live.sum() > 0.5 * mask[p].sum(), p      # trained, not zeroed
        flips = results["sign_flips_vs_init"][method]["mean"]
        if method.endswith("+fixed-signs"):
            # sign(w) == sign(w_init) for every unpruned nonzero weight at the end of every level
            assert changed == 0, method
            assert flips == [0.0, 0.0, 0.0]
        else:
            assert changed > 0 and flips[0] > 0, method      # without the projection: flips


def test_sign_transfer(out, cifar10_dir):
    from lottery_core.config import ExperimentConfig
    from lottery_core.loops.levels import Runner
    from lottery_core.store import read_json

    results = run_experiment(out, cifar10_dir, "sign-transfer")
    curves = results["curves"]
    assert set(curves) == {"wr", "lrr", "wr_with_lrr_signs", "lrr_with_init_signs"}
    runs = {key: run_dir(out, c) for key, c in curves.items()}
    assert curves["wr_with_lrr_signs"]["run"].startswith(f"wr+signs-of-{curves['lrr']['run']}-")
    warm = flatten(load_tree(runs["wr"] / "seed_0" / layout.WARMUP)["params"])

    def runner(key):
        record = read_json(runs[key] / "config.json")
        config = ExperimentConfig.from_dict({**record["identity"], "method": record["method"]})
        return Runner(config, runs[key].parent, progress=False,
                      data_dir=str(cifar10_dir), log=lambda s: None)

    # IMP (WR) with LRR's signs: magnitudes of the rewind point, LRR's signs when it entered
    # the level, on every unpruned weight of every level
    transfer = runner("wr_with_lrr_signs")
    rewind = flatten(load_tree(transfer.seed_dir(0) / layout.REWIND)["params"])
    checked = 0
    for k in (1, 2):
        mask, start, _, _ = transfer.prepare(0, k)
        mask, start = flatten(mask), flatten(start.params)
        lrr, _ = level(runs["lrr"], k - 1)
        for p in transfer.paths:
            m = np.asarray(mask[p], bool) & (lrr[p] != 0)
            np.testing.assert_array_equal(np.abs(start[p][m]), np.abs(rewind[p][m]))
            np.testing.assert_array_equal(np.sign(start[p][m]), np.sign(lrr[p][m]))
            checked += int(m.sum())
    assert checked > 0
    # LRR with init signs: LRR's magnitudes, every kernel back to its post-warmup sign
    reverse = runner("lrr_with_init_signs")
    for k in (1, 2):
        _, start, _, _ = reverse.prepare(0, k)
        previous, _ = level(runs["lrr_with_init_signs"], k - 1)
        start = flatten(start.params)
        for p in reverse.paths:
            np.testing.assert_array_equal(np.abs(start[p]), np.abs(previous[p]))
            nonzero = previous[p] != 0
            np.testing.assert_array_equal(np.sign(start[p][nonzero]), np.sign(warm[p][nonzero]))
    # the transferred signs differ from WR's own somewhere (else the test proves nothing)
    wr_start = flatten(runner("wr").prepare(0, 1)[1].params)
    tr_start = flatten(transfer.prepare(0, 1)[1].params)
    assert any(np.any(np.sign(wr_start[p]) != np.sign(tr_start[p])) for p in transfer.paths)


def test_training_on_all_50000_images(tmp_path, cifar10_dir, capsys):
    """``--validation-size 0`` (docs/cifar.md): the whole training set trains, no validation
    metrics (None) and no early-stopping record; test metrics as always."""
    from lottery_core.data import load_dataset
    from lottery_core.store import read_json

    assert len(load_dataset("cifar10", cifar10_dir, validation_size=0).y_train) == 50000
    assert cli.main(["run", "lrr", "--model", "mlp", "--model-options", '{"widths": [16]}',
                     "--dataset", "cifar10", "--data-dir", str(cifar10_dir), "--validation-size",
                     "0", "--iterations", "2", "--batch-size", "32", "--levels", "1", "--seeds",
                     "1", "--out", str(tmp_path), "--no-progress"]) == 0
    [metrics] = list(tmp_path.glob("lrr-*/seed_0/level_1/metrics.json"))
    metrics = read_json(metrics)
    assert metrics["val_accuracy"] is None and metrics["val_loss"] is None
    assert metrics["early_stop"] is None and 0 <= metrics["test_accuracy"] <= 1
    assert all("val_loss" not in h and "test_loss" in h for h in metrics["history"])
    # metrics that need a validation set say so in one line
    assert cli.main(["plot", str(tmp_path), "--metric", "early_stop"]) == 2
    assert "no validation set" in capsys.readouterr().err
