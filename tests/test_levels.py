"""The level loop: what each method resets, exact densities, sign statistics, extension."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core import sparsity
from lottery_core.data import synthetic
from lottery_core.config import ExperimentConfig
from lottery_core.loops.levels import Runner
from lottery_core.loops.methods import rewind_to_init
from lottery_core.loops.protocol import Method
from lottery_core.loops.registry import METHODS, register_method
from lottery_core.errors import CorruptRunError
from lottery_core.store import flatten, integrity, level_directory, load_tree, save_tree
from lottery_core.training import epoch_batches

DATA = synthetic(n_train=200, n_test=60, input_shape=(8, 8, 1), validation_size=40, noise=1.5)
BASE = dict(model="mlp", model_options={"widths": [32]}, dataset="synthetic", iterations=30,
            batch_size=20, eval_every=10, levels=1, seeds=1, optimizer="sgd", momentum=0.9,
            learning_rate=0.05, weight_decay=1e-4)


def make_runner(tmp_path, **overrides):
    config = ExperimentConfig(**{**BASE, **overrides})
    return Runner(config, tmp_path, progress=False, dataset=DATA, log=lambda s: None)


def assert_trees_equal(a, b):
    fa, fb = flatten(a), flatten(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(np.asarray(fa[k]), np.asarray(fb[k]), err_msg=k)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("levels")
    done = {}
    for method, extra in (("imp", {}), ("wr", {"rewind_step": 7}), ("lrr", {}),
                          ("finetune", {}), ("random-prune", {})):
        runner = make_runner(out, method=method, **extra)
        runner.run()
        done[method] = runner
    return done


def test_imp_rewinds_to_theta_0_and_the_loop_trains_from_there(runs):
    runner = runs["imp"]
    mask, start, init_params, prev = runner.prepare(0, 1)
    assert_trees_equal(start.params, load_tree(runner.seed_dir(0) / "init.npz")["params"])
    assert (start.first_step, start.n_steps) == (0, 30)
    # retrain level 1 independently from θ_0 ⊙ m with the same batches: same weights
    trainer = runner.trainer
    state = trainer.init_state(start.params, start.model_state, mask, step=0,
                               rng=jax.random.fold_in(jax.random.PRNGKey(0), 1))
    for a in (0, 10, 20):
        idx = epoch_batches((0, 1), len(DATA.x_train), 20, a, 10)
        state, _ = trainer.run_steps(state, runner.x_train, runner.y_train, jnp.asarray(idx))
    saved = load_tree(level_directory(runner.run_dir, 0, 1) / "params.npz")
    for k, v in flatten(saved).items():
        np.testing.assert_allclose(v, np.asarray(flatten(state.params)[k]), atol=1e-6)
    # pruned weights are exactly zero in the saved level
    saved_mask = load_tree(level_directory(runner.run_dir, 0, 1) / "mask.npz")
    assert np.all(saved["dense_0"]["kernel"][~saved_mask["dense_0"]["kernel"]] == 0)


def test_wr_rewinds_to_theta_k_saved_at_step_k(runs):
    runner = runs["wr"]
    rewind = load_tree(runner.seed_dir(0) / "rewind.npz")
    mask, start, init_params, _ = runner.prepare(0, 1)
    assert_trees_equal(start.params, rewind["params"])
    assert (start.first_step, start.n_steps) == (7, 23)
    # θ_k really is the dense network after k = 7 steps of level 0
    trainer = runner.trainer
    state = trainer.init_state(init_params, {}, sparsity.full_mask(init_params),
                               rng=jax.random.fold_in(jax.random.PRNGKey(0), 0))
    idx = epoch_batches((0, 0), len(DATA.x_train), 20, 0, 7)
    state, _ = trainer.run_steps(state, runner.x_train, runner.y_train, jnp.asarray(idx))
    assert_trees_equal(rewind["params"], jax.tree_util.tree_map(np.asarray, state.params))
    assert not np.array_equal(rewind["params"]["dense_0"]["kernel"],
                              init_params["dense_0"]["kernel"])
    metrics = json.loads((level_directory(runner.run_dir, 0, 1) / "metrics.json").read_text())
    assert metrics["first_step"] == 7 and metrics["steps"] == 23


def test_lrr_keeps_previous_weights_and_restarts_schedule(runs):
    runner = runs["lrr"]
    _, start, _, _ = runner.prepare(0, 1)
    previous = load_tree(level_directory(runner.run_dir, 0, 0) / "params.npz")
    assert_trees_equal(start.params, previous)
    assert (start.first_step, start.n_steps) == (0, 30)


def test_finetune_keeps_weights_at_the_final_learning_rate(runs):
    runner = runs["finetune"]
    _, start, _, _ = runner.prepare(0, 1)
    assert_trees_equal(start.params,
                       load_tree(level_directory(runner.run_dir, 0, 0) / "params.npz"))
    assert start.first_step == 30
    metrics = json.loads((level_directory(runner.run_dir, 0, 1) / "metrics.json").read_text())
    assert metrics["learning_rate_first"] == pytest.approx(float(runner.trainer.schedule(29)))


def test_random_prune_has_imp_counts_but_other_masks(runs):
    imp_mask = load_tree(level_directory(runs["imp"].run_dir, 0, 1) / "mask.npz")
    rnd_mask = load_tree(level_directory(runs["random-prune"].run_dir, 0, 1) / "mask.npz")
    for path in ("dense_0/kernel", "dense_1/kernel"):
        a, b = flatten(imp_mask)[path], flatten(rnd_mask)[path]
        assert a.sum() == b.sum() and (a != b).any()
    _, start, _, _ = runs["random-prune"].prepare(0, 1)
    assert_trees_equal(start.params, load_tree(runs["random-prune"].seed_dir(0) /
                                               "init.npz")["params"])


def test_metrics_record_density_and_sign_flips(runs):
    runner = runs["lrr"]
    d1 = level_directory(runner.run_dir, 0, 1)
    metrics = json.loads((d1 / "metrics.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "density", "sign_flips_vs_init",
                "sign_flips_vs_previous_level", "seconds"):
        assert key in metrics
    params, mask = load_tree(d1 / "params.npz"), load_tree(d1 / "mask.npz")
    init = load_tree(runner.seed_dir(0) / "init.npz")["params"]
    prev = load_tree(level_directory(runner.run_dir, 0, 0) / "params.npz")
    flips_init = flips_prev = alive = 0
    for path in ("dense_0/kernel", "dense_1/kernel"):
        m = flatten(mask)[path]
        w, w0, wp = flatten(params)[path], flatten(init)[path], flatten(prev)[path]
        flips_init += np.sum((np.sign(w) != np.sign(w0)) & m)
        flips_prev += np.sum((np.sign(w) != np.sign(wp)) & m)
        alive += m.sum()
    assert metrics["sign_flips_vs_init"]["overall"] == pytest.approx(flips_init / alive)
    assert metrics["sign_flips_vs_previous_level"]["overall"] == pytest.approx(
        flips_prev / alive)
    assert metrics["density_layers"]["dense_0/kernel"] == (2048 - 410) / 2048
    level0 = json.loads((level_directory(runner.run_dir, 0, 0) / "metrics.json").read_text())
    assert level0["sign_flips_vs_previous_level"] is None and level0["density"] == 1.0


def test_more_levels_extend_a_run_without_recomputing(tmp_path):
    runner = make_runner(tmp_path, method="imp", levels=1, prune_fraction=0.2,
                         prune_fraction_output=0.1)
    runner.run()
    first = level_directory(runner.run_dir, 0, 1) / "metrics.json"
    stamp, text = first.stat().st_mtime_ns, first.read_text()
    longer = make_runner(tmp_path, method="imp", levels=3, prune_fraction=0.2,
                         prune_fraction_output=0.1)
    assert longer.run_dir == runner.run_dir            # levels are not part of the hash
    longer.run()
    assert first.stat().st_mtime_ns == stamp and first.read_text() == text
    m3 = json.loads((level_directory(runner.run_dir, 0, 3) / "metrics.json").read_text())
    # exact per-layer counts after 3 levels: 2048 -> 1638 -> 1310 -> 1048; 320 -> 288 -> 259 -> 233
    assert m3["density_layers"]["dense_0/kernel"] == 1048 / 2048
    assert m3["density_layers"]["dense_1/kernel"] == 233 / 320
    assert not (level_directory(runner.run_dir, 0, 3) / "checkpoint.npz").exists()


def test_vmap_and_sequential_seed_modes_agree(tmp_path):
    seq = make_runner(tmp_path / "a", method="imp", seeds=2)
    seq.seed_parallel = "sequential"
    seq.run()
    vm = make_runner(tmp_path / "b", method="imp", seeds=2)
    vm.seed_parallel = "vmap"
    vm.run()
    for seed in (0, 1):
        a = json.loads((level_directory(seq.run_dir, seed, 1) / "metrics.json").read_text())
        b = json.loads((level_directory(vm.run_dir, seed, 1) / "metrics.json").read_text())
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1 / 60 + 1e-9)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)


def test_worker_processes_reproduce_sequential_and_resume(tmp_path, monkeypatch):
    """``processes``: 3 seeds on single-threaded workers (2 here, so one worker trains two
    seeds' levels) give the sequential run's numbers; a run whose first levels are on disk
    only trains the rest."""
    import lottery_core.loops.workers as workers_module

    monkeypatch.setattr(workers_module, "usable_core_ids", lambda: [0, 0])
    seq = make_runner(tmp_path / "a", method="lrr", seeds=3, levels=3)
    seq.seed_parallel = "sequential"
    seq.run()
    short = make_runner(tmp_path / "b", method="lrr", seeds=3, levels=1)
    short.seed_parallel = "sequential"
    short.run()
    stamp = (level_directory(short.run_dir, 2, 1) / "metrics.json").stat().st_mtime_ns
    par = make_runner(tmp_path / "b", method="lrr", seeds=3, levels=3)
    par.seed_parallel = "processes"
    par.run()
    assert (level_directory(par.run_dir, 2, 1) / "metrics.json").stat().st_mtime_ns == stamp
    for seed in (0, 1, 2):
        for level in range(4):
            a = json.loads((level_directory(seq.run_dir, seed, level) / "metrics.json")
                           .read_text())
            b = json.loads((level_directory(par.run_dir, seed, level) / "metrics.json")
                           .read_text())
            assert a["kept_weights"] == b["kept_weights"]
            assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1 / 60 + 1e-9)
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)


def test_a_failing_worker_process_is_reported(tmp_path, monkeypatch):
    import lottery_core.loops.workers as workers_module

    monkeypatch.setattr(workers_module, "usable_core_ids", lambda: [0, 0])
    make_runner(tmp_path, method="imp", seeds=2, levels=0).run()
    folder = level_directory(tmp_path / make_runner(tmp_path, method="imp", seeds=2)
                             .run_dir.name, 1, 0)
    (folder / "params.npz").write_bytes(b"not an npz file")
    runner = make_runner(tmp_path, method="imp", seeds=2, levels=2)
    runner.seed_parallel = "processes"
    # a damaged file is found before any worker starts (tests/test_integrity.py) ...
    with pytest.raises(CorruptRunError, match="seed_1/level_0/params.npz: .*--redo-level 0"):
        runner.run()
    assert not (level_directory(runner.run_dir, 0, 1)).exists()
    # ... so make the worker itself fail: readable, sealed, but not this model's parameters
    save_tree(folder / "params.npz", {"unrelated": np.zeros(3)})
    integrity.seal(folder)
    with pytest.raises(RuntimeError, match="seed worker .* failed on seed 1 level 1"):
        runner.run()
    # the healthy seed's finished levels are kept
    assert (level_directory(runner.run_dir, 0, 1) / "metrics.json").exists()


def test_auto_seed_parallelism_on_cpu(monkeypatch):
    import lottery_core.loops.workers as workers_module

    monkeypatch.setattr(workers_module, "usable_core_ids", lambda: [0, 1])
    assert workers_module.auto_seed_parallel(3, 50_000, 12) == "processes"
    assert workers_module.auto_seed_parallel(1, 50_000, 12) == "sequential"
    assert workers_module.auto_seed_parallel(3, 100, 2) == "sequential"
    monkeypatch.setattr(workers_module, "usable_core_ids", lambda: [0])
    assert workers_module.auto_seed_parallel(3, 50_000, 12) == "sequential"


def test_a_plugged_in_method_runs_through_the_same_loop(tmp_path):
    """Another issue adds a method: magnitude-increase criterion, weights back to θ_0."""

    def magnitude_increase(ctx):
        scores = jax.tree_util.tree_map(lambda f, i: np.abs(f) - np.abs(i),
                                        ctx.previous_params, ctx.init_params)
        return sparsity.prune(scores, ctx.previous_mask, ctx.fractions)

    register_method(Method("test-magnitude-increase", rewind_to_init,
                           next_mask=magnitude_increase))
    try:
        runner = make_runner(tmp_path, method="test-magnitude-increase")
        runner.run()
        mask = load_tree(level_directory(runner.run_dir, 0, 1) / "mask.npz")
        prev = load_tree(level_directory(runner.run_dir, 0, 0) / "params.npz")
        init = load_tree(runner.seed_dir(0) / "init.npz")["params"]
        score = np.abs(prev["dense_0"]["kernel"]) - np.abs(init["dense_0"]["kernel"])
        kept = mask["dense_0"]["kernel"]
        assert kept.sum() == 2048 - 410 and score[kept].min() >= score[~kept].max()
    finally:
        METHODS.pop("test-magnitude-increase")


def test_a_second_run_of_the_same_setup_does_not_recompile(tmp_path):
    """optax-style compile check: the Trainer is built from a frozen TrainerSpec and cached, so
    another run of the same training setup (other method without hooks, more levels and seeds,
    other pruning rates, another folder) reuses its compiled functions: no new trace."""
    first = make_runner(tmp_path / "a", seeds=1, levels=1, weight_decay=3e-4)
    first.run()
    traces = first.trainer.trace_count
    assert traces == 1                     # one run_steps trace for 2 levels, 4 eval chunks
    second = make_runner(tmp_path / "b", method="lrr", seeds=2, levels=2, weight_decay=3e-4,
                         prune_fraction=0.3)
    second.seed_parallel = "sequential"
    assert second.trainer is first.trainer
    second.run()
    assert second.trainer.trace_count == traces
    assert second.trainer.run_steps._cache_size() == 1
    # a different training setup is a different spec, hence its own Trainer
    assert make_runner(tmp_path / "c", weight_decay=3e-4, learning_rate=0.02).trainer \
        is not first.trainer
