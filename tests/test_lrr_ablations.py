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

#: a one-hidden-layer MLP with the CIFAR recipe's options (as tests/test_lrr_experiments.py)
TINY = ["--model", "mlp", "--model-options", '{"widths": [32]}', "--train-subset", "128",
        "--validation-size", "64", "--test-subset", "64", "--epochs", "1", "--warmup-epochs",
        "1", "--levels", "2", "--seeds", "1", "--batch-size", "32", "--optimizer", "sgd",
        "--schedule", "cosine", "--learning-rate", "0.01", "--final-learning-rate", "0.001",
        "--momentum", "0.9", "--weight-decay", "1e-4", "--allocation", "global",
        "--prune-fraction-output", "0.2", "--input-pipeline", "cifar", "--optimizer-state",
        "carry", "--no-progress"]
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
        for k in (1, 2):
            params, mask = level(run, k - 1)
            _, new = level(run, k)
            paths = list(sparsity.prunable_paths(load_tree(run / "seed_0" / layout.INIT)
                                                 ["params"]))
            total = sum(int(mask[p].sum()) for p in paths)
            total -= sparsity.prune_count(total, 0.2)
            key = jax.random.fold_in(jax.random.PRNGKey(0), LEVEL_KEY_TAG + k)
            expected = random_counts(kind, key, load_tree(level_directory(run, 0, k - 1) /
                                                          layout.PARAMS),
                                     load_tree(level_directory(run, 0, k - 1) / layout.MASK),
                                     paths, total)
            assert {p: int(new[p].sum()) for p in paths} == expected
            assert all(not np.any(new[p] & ~mask[p]) for p in paths)       # nested
        if kind == "uniform":       # one density in every layer (±1 weight of rounding)
            _, mask = level(run, 2)
            for p in paths:
                assert abs(int(mask[p].sum()) - 0.64 * mask[p].size) <= 1, p
