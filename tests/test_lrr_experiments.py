"""The LRR paper's CIFAR experiments, CI-sized: every ``lottery experiment`` end to end on a
real CIFAR-10 subset, WR's rewind to the post-warmup state, LRR on ResNet-20 (acceptance)."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.config import ExperimentConfig
from lottery_core.data import load_dataset, synthetic
from lottery_core.loops.levels import Runner
from lottery_core.lmc import path_curve
from lottery_core.lrr_recipe import recompute_bn_statistics
from lottery_core.store import flatten, level_directory, load_tree, load_tree_like


def assert_trees_equal(a, b):
    fa, fb = flatten(a), flatten(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(np.asarray(fa[k]), np.asarray(fb[k]), err_msg=k)


# ----------------------------------------------------------------------------- experiments
#: a one-hidden-layer MLP keeps six experiments within the test budget; the recipe options
#: (warmup, cosine to lr_min, global pruning, carried optimizer state, CIFAR pipeline) are
#: the ones the CIFAR models get by default
TINY = ["--model", "mlp", "--model-options", '{"widths": [32]}', "--train-subset", "128",
        "--validation-size", "64", "--test-subset", "64", "--epochs", "1", "--warmup-epochs",
        "1", "--levels", "2", "--seeds", "1", "--batch-size", "32", "--optimizer", "sgd",
        "--schedule", "cosine", "--learning-rate", "0.01", "--final-learning-rate", "0.001",
        "--momentum", "0.9", "--weight-decay", "1e-4", "--allocation", "global",
        "--prune-fraction-output", "0.2", "--input-pipeline", "cifar", "--optimizer-state",
        "carry", "--no-progress"]
EXPERIMENTS = {"lrr-vs-imp": [], "lrr-signs": [], "mask-swap": [], "random-masks": [],
               "sign-perturbation": ["--every", "1"], "lmc": ["--alphas", "0,0.5,1"]}


@pytest.fixture(scope="module")
def experiment_results(cifar10_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lrr_experiments")
    results = {}
    for name, extra in EXPERIMENTS.items():
        code = cli.main(["experiment", name, *TINY, "--data-dir", str(cifar10_dir),
                         "--out", str(out), *extra])
        assert code == 0, name
        [path] = list(out.glob(f"{name}-*/results.json"))
        results[name] = (json.loads(path.read_text()), path.parent)
    return out, results


def _check_curve(curve, levels=(0, 1, 2)):
    assert curve["levels"] == list(levels)
    # global pruning, 20% per level of the 98,624 MLP kernels: exact counts 100 / 80 / 64 %
    assert curve["remaining"] == pytest.approx([100.0, 80.0, 64.0], abs=0.01)
    for key in ("test_accuracy", "best_test_accuracy"):
        assert len(curve[key]["mean"]) == 3 and len(curve[key]["std"]) == 3
        assert all(0 <= v <= 100 for v in curve[key]["mean"])
        assert set(curve[key]["per_seed"]) == {"0", "1", "2"}
    assert all(b >= f for b, f in zip(curve["best_test_accuracy"]["mean"],
                                      curve["test_accuracy"]["mean"]))


def test_lrr_vs_imp(experiment_results):
    results, directory = experiment_results[1]["lrr-vs-imp"]
    assert set(results["curves"]) == {"wr", "lrr", "lrr-bn-rewind"}
    for curve in results["curves"].values():
        _check_curve(curve)
    assert results["config"]["warmup_epochs"] == 1 and results["seeds"] == [0]
    # level 0 is the same dense training from the same post-warmup point for all three
    level0 = {c["test_accuracy"]["mean"][0] for c in results["curves"].values()}
    assert len(level0) == 1
    assert (directory / "accuracy_vs_remaining.png").stat().st_size > 0


def test_lrr_signs(experiment_results):
    results, directory = experiment_results[1]["lrr-signs"]
    for method in ("wr", "lrr"):
        c = results["methods"][method]
        assert c["levels"] == [0, 1, 2]
        assert c["vs_previous_level"]["mean"][0] is None          # undefined at level 0
        assert all(0 <= v <= 1 for v in c["vs_rewind_point"]["mean"])
        assert all(0 <= v <= 1 for v in c["vs_previous_level"]["mean"][1:])
        assert set(c["layers_vs_rewind_point"]["2"]) == {"dense_0/kernel", "dense_1/kernel"}
    # both start level 0 from the same rewind point with the same batches: same flips
    assert results["methods"]["wr"]["vs_rewind_point"]["mean"][0] == \
        results["methods"]["lrr"]["vs_rewind_point"]["mean"][0]
    assert (directory / "sign_flips.png").stat().st_size > 0


def test_mask_swap(experiment_results):
    results, directory = experiment_results[1]["mask-swap"]
    assert set(results["curves"]) == {"wr", "lrr", "wr_on_lrr_masks", "lrr_on_wr_masks"}
    for curve in results["curves"].values():
        _check_curve(curve)
    assert results["masks_match_reference"] == {"wr_on_lrr_masks": True,
                                                "lrr_on_wr_masks": True}
    assert (directory / "accuracy_vs_remaining.png").stat().st_size > 0


def test_random_masks(experiment_results):
    results, _ = experiment_results[1]["random-masks"]
    methods = {"lrr+random-balanced", "wr+random-balanced", "lrr+random-erk", "wr+random-erk"}
    assert set(results["curves"]) == methods
    for curve in results["curves"].values():
        _check_curve(curve)
    # balanced: equal kept counts capped at the layer size: the 320-weight output layer
    # stays dense, the hidden layer takes the rest
    layers = results["layer_density"]["lrr+random-balanced"]["2"]
    assert layers["dense_1/kernel"] == 1.0
    assert layers["dense_0/kernel"] == pytest.approx((0.64 * 98624 - 320) / 98304, abs=1e-4)


def test_sign_perturbation(experiment_results):
    results, _ = experiment_results[1]["sign-perturbation"]
    assert (results["p"], results["every"]) == (0.3, 1)
    assert set(results["curves"]) == {"lrr", "lrr+perturbed", "wr", "wr+perturbed"}
    for method in ("lrr", "wr"):
        drop = results["drop"][method]
        clean = results["curves"][method]["test_accuracy"]["mean"]
        perturbed = results["curves"][f"{method}+perturbed"]["test_accuracy"]["mean"]
        assert drop["mean"] == pytest.approx([a - b for a, b in zip(clean, perturbed)])


def test_lmc(experiment_results):
    results, directory = experiment_results[1]["lmc"]
    assert results["alphas"] == [0.0, 0.5, 1.0]
    assert set(results["pairs"]) == {"consecutive/wr", "consecutive/lrr", "wr-vs-lrr"}
    for pair in results["pairs"].values():
        assert pair["levels"] == [1, 2]
        curve = pair["curves"]["1"]["per_seed"]["0"]
        assert len(curve["error"]) == 3
        # barrier = max over α of the error above the chord (α = 0, 1 contribute 0)
        chord = [(1 - a) * curve["error"][0] + a * curve["error"][2] for a in (0, 0.5, 1)]
        assert curve["error_barrier"] == pytest.approx(max(e - c for e, c in
                                                           zip(curve["error"], chord)))
    assert (directory / "barrier_vs_remaining.png").stat().st_size > 0


def test_experiments_share_runs_and_reject_bad_options(experiment_results, cifar10_dir, capsys):
    out, results = experiment_results
    # wr and lrr are trained once (by lrr-vs-imp) and reused by the later experiments
    runs = {m: results["lrr-vs-imp"][0]["curves"][m]["run"] for m in ("wr", "lrr")}
    assert {m: results["lrr-signs"][0]["methods"][m]["run"] for m in runs} == runs
    assert {m: results["mask-swap"][0]["curves"][m]["run"] for m in runs} == runs
    assert {m: results["sign-perturbation"][0]["curves"][m]["run"] for m in runs} == runs
    assert results["sign-perturbation"][0]["curves"]["lrr+perturbed"]["run"] != runs["lrr"]
    assert sum(1 for p in (out / "runs-test64").iterdir() if p.name == runs["wr"]) == 1
    assert cli.main(["experiment", "random-masks", *TINY, "--data-dir", str(cifar10_dir),
                     "--out", str(out), "--kinds", "uniform,bogus"]) == 2
    assert "bogus" in capsys.readouterr().err


# ----------------------------------------------------------------------------- BN networks
def tiny_bn_config(method, **extra):
    return ExperimentConfig(method=method, model="resnet_cifar", model_options={"depth": 8},
                            dataset="synthetic", epochs=1, warmup_epochs=1, batch_size=16,
                            levels=1, seeds=1, validation_size=16, **extra)


@pytest.fixture(scope="module")
def bn_runs(tmp_path_factory):
    data = synthetic(n_train=32, n_test=16, input_shape=(32, 32, 3), validation_size=16)
    out = tmp_path_factory.mktemp("bn_runs")
    runners = {}
    for method in ("wr", "lrr", "lrr-bn-rewind"):
        runner = Runner(tiny_bn_config(method), out, progress=False, dataset=data,
                        log=lambda s: None)
        runner.run()
        runners[method] = runner
    return runners


def test_wr_rewinds_weights_bn_and_optimizer_to_the_post_warmup_state(bn_runs):
    runner = bn_runs["wr"]
    seed_dir = runner.seed_dir(0)
    warm = load_tree(seed_dir / "warmup.npz")
    init = load_tree(seed_dir / "init.npz")
    # the warmup trained: the post-warmup point is not θ_0
    assert not np.array_equal(flatten(warm["params"])["conv1/kernel"],
                              flatten(init["params"])["conv1/kernel"])
    # the rewind point saved by WR is the post-warmup state, BN statistics included
    assert_trees_equal(load_tree(seed_dir / "rewind.npz"), warm)
    mask, start, init_params, _ = runner.prepare(0, 1)
    assert_trees_equal(start.params, warm["params"])
    assert_trees_equal(start.model_state, warm["model_state"])
    assert (start.first_step, start.n_steps) == (0, runner.total_steps)
    warm_opt = load_tree_like(seed_dir / "warmup_opt.npz", runner.trainer.optimizer.init(
        warm["params"]))
    momentum = [x for x in jax.tree_util.tree_leaves(start.opt_state) if np.ndim(x) == 4]
    assert momentum and any(np.abs(m).sum() > 0 for m in momentum)    # not a fresh state
    for a, b in zip(jax.tree_util.tree_leaves(start.opt_state),
                    jax.tree_util.tree_leaves(warm_opt)):
        np.testing.assert_array_equal(a, b)
    # sign flips are measured against the rewind point
    assert_trees_equal(init_params, warm["params"])
    # global pruning of every conv kernel (classifier included) at 20%; BN never pruned
    flat = flatten(mask)
    assert all(np.all(v) for p, v in flat.items() if not p.endswith("kernel"))
    kept = sum(int(np.sum(v)) for p, v in flat.items() if p.endswith("kernel"))
    total = sum(np.size(v) for p, v in flat.items() if p.endswith("kernel"))
    assert kept == total - int(np.floor(0.2 * total + 0.5))


def test_lrr_carries_and_lrr_bn_rewind_resets_bn_and_optimizer(bn_runs):
    lrr, bn = bn_runs["lrr"], bn_runs["lrr-bn-rewind"]
    prev_params, prev_state, _ = lrr.load_level(0, 0)
    _, start, _, _ = lrr.prepare(0, 1)
    assert_trees_equal(start.params, prev_params)
    assert_trees_equal(start.model_state, prev_state)
    prev_opt = load_tree_like(level_directory(lrr.run_dir, 0, 0) / "opt_state.npz",
                           lrr.trainer.optimizer.init(prev_params))
    for a, b in zip(jax.tree_util.tree_leaves(start.opt_state),
                    jax.tree_util.tree_leaves(prev_opt)):
        np.testing.assert_array_equal(a, b)
    warm = load_tree(bn.seed_dir(0) / "warmup.npz")
    bn_prev, _, _ = bn.load_level(0, 0)
    _, start, _, _ = bn.prepare(0, 1)
    flat, flat_prev, flat_warm = (flatten(t) for t in (start.params, bn_prev, warm["params"]))
    for path, value in flat.items():
        source = flat_prev if path.endswith("kernel") else flat_warm    # BN γ, β rewound
        np.testing.assert_array_equal(value, source[path], err_msg=path)
    assert_trees_equal(start.model_state, warm["model_state"])
    assert any(not np.array_equal(flat_prev[p], flat_warm[p]) for p in flat
               if p.endswith("scale"))                                 # BN had trained


def test_bn_statistics_recomputed_and_lmc_endpoints(bn_runs):
    runner = bn_runs["lrr"]
    params, state, _ = runner.load_level(0, 1)
    apply_fn = runner.trainer.apply_fn
    x = runner.x_train[:32]
    stats = recompute_bn_statistics(apply_fn, params, state, [x])
    train_logits, _ = apply_fn(params, state, x, True)
    eval_logits, _ = apply_fn(params, stats, x, False)
    # with the statistics of this very batch, eval mode reproduces train mode (up to the
    # unbiased-variance factor n/(n-1) of the running variance, n >= 32·16)
    np.testing.assert_allclose(eval_logits, train_logits, rtol=0.02, atol=0.02)
    a = runner.load_level(0, 0)[:2]
    curve = path_curve(lambda p, s: runner.trainer.evaluate(p, s, *runner.eval_sets["test"]),
                       apply_fn, a, (params, state), [0.0, 0.5, 1.0], bn_batches=[x])
    assert len(curve["error"]) == 3 and curve["error_barrier"] >= min(
        0.0, curve["error"][1] - 0.5 * (curve["error"][0] + curve["error"][2])) - 1e-12


# ----------------------------------------------------------------------------- acceptance
def test_resnet20_lrr_on_a_real_cifar10_subset_lowers_the_loss(cifar10_dir, tmp_path):
    """Issue acceptance: ResNet-20 on 512 real CIFAR-10 images, LRR, 2 levels of 2 epochs."""
    data = load_dataset("cifar10", cifar10_dir, validation_size=128, train_subset=512)
    data = dataclasses.replace(data, x_test=data.x_test[::40], y_test=data.y_test[::40])
    config = ExperimentConfig(method="lrr", model="resnet20", dataset="cifar10", epochs=2,
                              warmup_epochs=0, batch_size=128, levels=1, seeds=1, eval_every=4,
                              validation_size=128, train_subset=512)
    runner = Runner(config, tmp_path, progress=False, dataset=data, log=lambda s: None)
    runner.run()
    history = [h for k in (0, 1) for h in json.loads(
        (level_directory(runner.run_dir, 0, k) / "metrics.json").read_text())["history"]]
    losses = [h["train_loss"] for h in history]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.1, losses
    metrics = json.loads((level_directory(runner.run_dir, 0, 1) / "metrics.json").read_text())
    assert metrics["density"] == pytest.approx(0.8, abs=1e-5)
    assert metrics["learning_rate_first"] == pytest.approx(0.1)
    assert metrics["learning_rate_last"] > 0.01
