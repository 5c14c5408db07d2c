"""lottery_core.store: atomic writes, the one array format (and the legacy files it still
reads), the run hash (pinned), the layout and opening run folders."""

from __future__ import annotations

import io
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lottery_core
from lottery_core.config import ExperimentConfig
from lottery_core.errors import CorruptRunError
from lottery_core.config.oneshot import OneShotSettings, run_identity
from lottery_core.store import (EXTRA_KEY, atomic_write_bytes, atomic_write_json,
                                canonical_json, flatten, identity_hash, layout, leaf_keys,
                                level_directory, load_extra, load_tree, load_tree_like,
                                open_run_directory, read_json, save_tree, seed_directory)
from lottery_core.training import TrainState


def train_state(seed: int = 0) -> TrainState:
    """A TrainState with an Adam state inside an optax chain (tuples and NamedTuples)."""
    rng = np.random.default_rng(seed)
    params = {"dense_0": {"kernel": jnp.asarray(rng.standard_normal((3, 2)), jnp.float32),
                          "bias": jnp.zeros(2, jnp.float32)},
              "bn": {"scale": jnp.ones(2, jnp.float32)}}
    optimizer = optax.chain(optax.add_decayed_weights(1e-4), optax.adam(1e-3))
    opt_state = optimizer.init(params)
    _, opt_state = optimizer.update(jax.tree_util.tree_map(jnp.ones_like, params), opt_state,
                                    params)
    mask = jax.tree_util.tree_map(lambda x: jnp.ones(x.shape, bool), params)
    return TrainState(params, {"bn": {"mean": jnp.full(2, 0.5)}}, opt_state, mask,
                      jnp.int32(7), jax.random.PRNGKey(seed), ())


def assert_same(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ----------------------------------------------------------------------------- io
def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_json(path, {"v": 1})
    save_tree(tmp_path / "p.npz", {"w": np.arange(3)})

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(path, {"v": 2})
    with pytest.raises(OSError, match="disk full"):
        save_tree(tmp_path / "p.npz", {"w": np.arange(5)})
    assert read_json(path) == {"v": 1}
    np.testing.assert_array_equal(load_tree(tmp_path / "p.npz")["w"], np.arange(3))
    # no temporary file is left behind
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["metrics.json", "p.npz", "sub"]


def test_atomic_write_bytes_replaces_whole_file(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"a" * 100)
    atomic_write_bytes(path, b"b")
    assert path.read_bytes() == b"b"


# ----------------------------------------------------------------------------- arrays
def test_dict_tree_keys_are_flatten_keys_in_flatten_order(tmp_path):
    tree = {"dense_1": {"kernel": np.ones((2, 2)), "bias": np.zeros(2)},
            "conv": {"kernel": np.arange(8.0).reshape(2, 2, 2)}, "blocks": [{"a": np.ones(1)}]}
    keys, _, _ = leaf_keys(tree)
    assert keys == list(flatten(tree)) == ["blocks/0/a", "conv/kernel", "dense_1/bias",
                                           "dense_1/kernel"]
    save_tree(tmp_path / "t.npz", tree)
    with np.load(tmp_path / "t.npz") as data:
        assert data.files == keys            # the file order of the pre-store save_tree
    back = load_tree(tmp_path / "t.npz")
    assert flatten(back).keys() == flatten(tree).keys()
    for k, v in flatten(tree).items():
        np.testing.assert_array_equal(flatten(back)[k], v)
    with pytest.raises(ValueError, match="contains '/'"):
        save_tree(tmp_path / "bad.npz", {"a/b": np.ones(1)})


def test_non_dict_tree_round_trip_with_extra(tmp_path):
    state = train_state()
    record = {"history": [{"step": 5, "val_loss": float("nan")}], "seconds": 1.5}
    save_tree(tmp_path / "c.npz", state, extra=record)
    with np.load(tmp_path / "c.npz") as data:
        names = set(data.files)
    # documented names: NamedTuple fields, tuple positions, dict keys
    assert {"params/dense_0/kernel", "mask/bn/scale", "step", "rng", "model_state/bn/mean",
            "opt_state/1/0/mu/dense_0/kernel", "opt_state/1/0/count", EXTRA_KEY} <= names
    template = train_state(seed=1)
    loaded = load_tree_like(tmp_path / "c.npz", template)
    assert_same(loaded, state)
    extra = load_extra(tmp_path / "c.npz")
    assert extra["seconds"] == 1.5 and np.isnan(extra["history"][0]["val_loss"])
    # without a template: nested dicts of the key paths, the extra value left out
    plain = load_tree(tmp_path / "c.npz")
    assert set(plain) == {"params", "model_state", "opt_state", "mask", "step", "rng"}
    save_tree(tmp_path / "d.npz", {"w": np.ones(2)})
    assert load_extra(tmp_path / "d.npz") is None


def test_template_mismatch_is_an_error(tmp_path):
    save_tree(tmp_path / "c.npz", train_state())
    other = train_state()._replace(aux={"frozen": jnp.zeros(3)})
    with pytest.raises(ValueError, match="does not match the template"):
        load_tree_like(tmp_path / "c.npz", other)
    small = train_state()._replace(step=jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match="shape"):
        load_tree_like(tmp_path / "c.npz", small)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CorruptRunError, match="bad.npz: not a readable array file"):
        load_tree_like(tmp_path / "bad.npz", train_state())


# ----------------------------------------------------------------------------- legacy files
def legacy_checkpoint_bytes(state, extra) -> bytes:
    """Exactly what ``levels.save_state`` wrote before lottery_core.store existed."""
    leaves = jax.tree_util.tree_leaves(state)
    arrays = {f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays["extra_json"] = np.frombuffer(json.dumps(extra).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def legacy_leaves_bytes(tree) -> bytes:
    """Exactly what ``lrr_recipe.save_leaves`` wrote (optimizer states)."""
    leaves = jax.tree_util.tree_leaves(tree)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)})
    return buffer.getvalue()


def test_legacy_checkpoint_and_optimizer_files_still_load(tmp_path):
    state = train_state()
    record = {"history": [{"step": 10, "train_loss": 0.25}], "seconds": 3.0}
    (tmp_path / "checkpoint.npz").write_bytes(legacy_checkpoint_bytes(state, record))
    loaded = load_tree_like(tmp_path / "checkpoint.npz", train_state(seed=3))
    assert_same(loaded, state)
    assert load_extra(tmp_path / "checkpoint.npz") == record
    (tmp_path / "opt_state.npz").write_bytes(legacy_leaves_bytes(state.opt_state))
    assert_same(load_tree_like(tmp_path / "opt_state.npz", train_state(seed=3).opt_state),
                state.opt_state)
    assert load_extra(tmp_path / "opt_state.npz") is None
    # a legacy file of another structure is refused, not misread
    with pytest.raises(ValueError, match="does not match the template"):
        load_tree_like(tmp_path / "opt_state.npz", state)


# ----------------------------------------------------------------------------- identity
def test_canonical_json_and_hash():
    assert canonical_json({"b": [1, 2.5], "a": "x"}) == '{"a":"x","b":[1,2.5]}'
    with pytest.raises(ValueError):
        canonical_json({"lr": float("nan")})
    assert len(identity_hash({})) == 12


def test_pinned_run_hashes():
    # Every run folder is named by these: changing one orphans existing runs.
    # level runs (also pinned in test_experiment.py)
    assert identity_hash(ExperimentConfig().identity()) == "d89d83e7582f"
    # one-shot runs (pre-store oneshot_config.run_hash)
    assert identity_hash(run_identity(ExperimentConfig(method="pilot", epochs=4),
                                      OneShotSettings())) == "dc3788590b5b"
    oneshot = ExperimentConfig(method="oneshot", model="mlp", model_options={"widths": (100,)},
                               epochs=4, learning_rate=0.1, optimizer="sgd")
    assert identity_hash(run_identity(oneshot, OneShotSettings(scope="layerwise",
                                                               sparsities=(0.5,)))) == \
        "69a281aa1df0"
    # named experiments (pre-store experiments._common.experiment_directory)
    learned = {"model": "lenet300", "dataset": "mnist", "signed_constant": False,
               "rescale": False, "mode": "bernoulli", "sigmoid_bias": 0.0,
               "learning_rate": 100.0, "momentum": 0.9, "batch_size": 250, "eval_samples": 10,
               "train_subset": None}
    assert identity_hash(learned, namespace="zhou-learned-mask") == "9b9c147b24a2"
    criteria = {"base": {"method": "imp", "levels": 3},
                "combinations": [{"criterion": "large_final"}]}
    assert identity_hash(criteria, namespace="zhou-criteria") == "e9045161fd7a"


# ----------------------------------------------------------------------------- layout
def test_layout_paths(tmp_path):
    run = layout.run_directory(tmp_path, "lrr", "d89d83e7582f")
    assert run == tmp_path / "lrr-d89d83e7582f"
    assert seed_directory(run, 2) == run / "seed_2"
    assert level_directory(run, 2, 11) == run / "seed_2" / "level_11"
    assert layout.seed_of(run / "seed_12") == 12
    names = (layout.CONFIG, layout.INIT, layout.REWIND, layout.REWIND_OPT, layout.WARMUP,
             layout.WARMUP_OPT, layout.WARMUP_RECORD, layout.MASK, layout.PARAMS,
             layout.MODEL_STATE, layout.OPT_STATE, layout.ROUND_INIT, layout.CHECKPOINT,
             layout.METRICS, layout.REPARAM, layout.TRAINING, layout.SUMMARY,
             layout.EXPERIMENT, layout.RESULTS, layout.MANIFEST, layout.LOCK)
    assert names == ("config.json", "init.npz", "rewind.npz", "rewind_opt.npz", "warmup.npz",
                     "warmup_opt.npz", "warmup.json", "mask.npz", "params.npz",
                     "model_state.npz", "opt_state.npz", "round_init.npz", "checkpoint.npz",
                     "metrics.json", "reparam.npz", "training.json", "summary.json",
                     "experiment.json", "results.json", "manifest.json", "run.lock")
    assert layout.sparsity_mask("0.9000") == "mask_0.9000.npz"
    assert layout.seed_record(1) == "seed_1.json"
    assert layout.seed_checkpoint(1) == "seed_1.checkpoint.npz"
    (level_directory(run, 0, 3)).mkdir(parents=True)
    (level_directory(run, 0, 3) / layout.METRICS).write_text("{}")
    (run / layout.CONFIG).write_text("{}")
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.glob(layout.RUN_CONFIGS)] == \
        ["lrr-d89d83e7582f/config.json"]
    assert [p.relative_to(run).as_posix() for p in run.glob(layout.LEVEL_METRICS)] == \
        ["seed_0/level_3/metrics.json"]


# ----------------------------------------------------------------------------- run folders
def test_open_run_directory_writes_or_checks_the_card(tmp_path):
    identity = {"model_options": {"widths": (100,)}, "iterations": 10}
    run = open_run_directory(tmp_path, "imp", identity, {"resolved": {"x": 1}})
    assert run.name == f"imp-{identity_hash(identity)}"
    card = read_json(run / layout.CONFIG)
    provenance = card.pop("provenance")          # outside the identity: the hash ignores it
    assert provenance["toolkit"]["version"] == lottery_core.__version__
    assert card == {"method": "imp", "hash": identity_hash(identity), "resolved": {"x": 1},
                    "identity": {"model_options": {"widths": [100]}, "iterations": 10}}
    assert open_run_directory(tmp_path, "imp", identity) == run    # tuples read back as lists
    card["identity"]["iterations"] = 11
    atomic_write_json(run / layout.CONFIG, card)
    with pytest.raises(ValueError, match="describes a different experiment"):
        open_run_directory(tmp_path, "imp", identity)
    # named experiments: experiment.json, hash namespaced by the name
    exp = open_run_directory(tmp_path, "zhou-criteria", {"a": 1}, experiment=True)
    assert exp.name == f"zhou-criteria-{identity_hash({'a': 1}, namespace='zhou-criteria')}"
    card = read_json(exp / layout.EXPERIMENT)
    assert set(card.pop("provenance")) >= {"toolkit", "command", "libraries", "devices"}
    assert card == {
        "experiment": "zhou-criteria", "hash": exp.name.rsplit("-", 1)[1], "identity": {"a": 1}}
    assert not (exp / layout.CONFIG).exists()


# ----------------------------------------------------------------------------- old run folders
def test_a_run_folder_of_the_pre_store_code_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    """A level interrupted under the old code (legacy ``checkpoint.npz``, ``opt_state.npz``
    and ``rewind_opt.npz``) resumes and ends exactly where an uninterrupted run ends."""
    import lottery_core.loops.levels as levels_module
    from lottery_core.data import synthetic
    from lottery_core.loops.levels import Runner

    data = synthetic(n_train=200, n_test=60, input_shape=(8, 8, 1), validation_size=40,
                     noise=1.5)
    config = ExperimentConfig(method="wr", rewind_step=10, model="mlp",
                              model_options={"widths": [16]}, dataset="synthetic",
                              iterations=30, batch_size=20, eval_every=10, levels=1, seeds=1,
                              optimizer="sgd", momentum=0.9, learning_rate=0.05,
                              optimizer_state="carry")

    def runner(out):
        return Runner(config, out, progress=False, dataset=data, log=lambda s: None)

    straight = runner(tmp_path / "straight")
    straight.run()
    real, calls = levels_module.epoch_batches, {"n": 0}

    def dies_in_the_second_chunk_of_level_1(*args):
        calls["n"] += 1
        if calls["n"] == 5:       # level 0: chunks 1-3; level 1 (steps [10, 30)): 4-5
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(levels_module, "epoch_batches", dies_in_the_second_chunk_of_level_1)
    old = runner(tmp_path / "old")
    with pytest.raises(KeyboardInterrupt):
        old.run()
    monkeypatch.setattr(levels_module, "epoch_batches", real)
    # rewrite the state files as the pre-store code wrote them
    level0, level1 = level_directory(old.run_dir, 0, 0), level_directory(old.run_dir, 0, 1)
    params0 = load_tree(level0 / layout.PARAMS)
    mask0 = jax.tree_util.tree_map(lambda x: np.ones(x.shape, bool), params0)
    template = old.trainer.init_state(params0, {}, mask0, step=0, rng=jax.random.PRNGKey(0))
    checkpoint = level1 / layout.CHECKPOINT
    state, record = load_tree_like(checkpoint, template), load_extra(checkpoint)
    assert int(state.step) == 20
    checkpoint.write_bytes(legacy_checkpoint_bytes(state, record))
    for path in (level0 / layout.OPT_STATE, seed_directory(old.run_dir, 0) / layout.REWIND_OPT):
        opt = load_tree_like(path, old.trainer.optimizer.init(params0))
        path.write_bytes(legacy_leaves_bytes(opt))
    for manifest in old.run_dir.rglob(layout.MANIFEST):     # the old code wrote none
        manifest.unlink()
    with np.load(checkpoint) as data_file:
        assert "leaf_00000" in data_file.files and "extra_json" in data_file.files
    runner(tmp_path / "old").run()
    for name in (layout.PARAMS, layout.MASK, layout.OPT_STATE):
        a = flatten(load_tree(level_directory(straight.run_dir, 0, 1) / name))
        b = flatten(load_tree(level1 / name))
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")
    a = read_json(level_directory(straight.run_dir, 0, 1) / layout.METRICS)
    b = read_json(level1 / layout.METRICS)
    assert a["history"] == b["history"] and a["test_accuracy"] == b["test_accuracy"]
    assert not checkpoint.exists()
