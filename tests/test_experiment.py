"""Experiment identity: pinned hashes, what enters the hash, refusing to mix experiments."""

from __future__ import annotations

import json

import pytest

from lottery_core.config import ExperimentConfig
from lottery_core.errors import CorruptRunError
from lottery_core.store import (flatten, identity_hash, load_tree, open_run_directory, save_tree,
                                unflatten)

import numpy as np


def config_hash(config: ExperimentConfig) -> str:
    return identity_hash(config.identity())


def test_pinned_hashes():
    # Changing these breaks every existing run directory: bump only deliberately.
    assert config_hash(ExperimentConfig()) == "d89d83e7582f"
    assert config_hash(ExperimentConfig(method="wr", model="conv4", dataset="cifar10",
                                        rewind_step=500, iterations=1000)) == "5481b6f8f81c"


def test_hash_ignores_how_much_and_method_but_not_hyperparameters(tmp_path):
    base = ExperimentConfig()
    assert config_hash(ExperimentConfig(method="lrr", levels=3, seeds=5, first_seed=2)) == \
        config_hash(base)
    # stating a model default explicitly is the same experiment
    assert config_hash(ExperimentConfig(learning_rate=1.2e-3, batch_size=60)) == \
        config_hash(base)
    assert config_hash(ExperimentConfig(learning_rate=1e-3)) != config_hash(base)
    assert config_hash(ExperimentConfig(iterations=1000)) != config_hash(base)
    lrr = ExperimentConfig(method="lrr")
    assert open_run_directory(tmp_path, lrr.method, lrr.identity()).name == \
        f"lrr-{config_hash(base)}"


def test_model_defaults_lenet_follow_frankle_carbin():
    c = ExperimentConfig().resolved()
    assert (c.optimizer, c.learning_rate, c.batch_size, c.iterations) == ("adam", 1.2e-3, 60,
                                                                         50000)
    assert (c.prune_fraction, c.prune_fraction_output) == (0.2, 0.1)
    conv6 = ExperimentConfig(model="conv6").resolved()
    assert (conv6.prune_fraction_conv, conv6.learning_rate, conv6.iterations) == (0.15, 3e-4,
                                                                                 30000)


@pytest.mark.parametrize("changes,message", [
    ({"model": "resnet9000"}, "unknown model 'resnet9000'"),
    ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
    ({"prune_fraction": 1.0}, r"prune_fraction .* must be in \[0, 1\), got 1.0"),
    ({"prune_fraction_output": -0.1}, "prune_fraction_output"),
    ({"iterations": 100, "epochs": 2}, "either iterations or epochs"),
    ({"rewind_step": 50000}, "rewind_step must be below"),
    ({"seeds": 0}, "seeds must be an integer >= 1"),
    ({"allocation": "per-neuron"}, "allocation"),
])
def test_validate_names_the_bad_field(changes, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig(**changes).validate()


def test_the_registry_names_an_unknown_method_before_any_field():
    from lottery_core.loops.registry import check_config

    with pytest.raises(ValueError, match="unknown method 'magic'; available: imp, wr, lrr"):
        check_config(ExperimentConfig(method="magic", model="resnet9000"))


def test_config_json_round_trip_and_refusal(tmp_path):
    config = ExperimentConfig(method="imp", iterations=100, milestones=(0.5,))
    run_dir = open_run_directory(tmp_path, config.method, config.identity())
    record = json.loads((run_dir / "config.json").read_text())
    assert record["hash"] == config_hash(config) and record["identity"]["iterations"] == 100
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    assert open_run_directory(tmp_path, config.method, config.identity()) == run_dir  # reopen
    record["identity"]["iterations"] = 999
    (run_dir / "config.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="refusing to overwrite"):
        open_run_directory(tmp_path, config.method, config.identity())
    with pytest.raises(ValueError, match="unknown config keys"):
        ExperimentConfig.from_dict({"lr": 0.1})


def test_npz_keys_are_slash_joined_paths(tmp_path):
    tree = {"dense_0": {"kernel": np.arange(6.0).reshape(2, 3), "bias": np.zeros(3)},
            "bn_0": {"mean": np.ones(2)}}
    save_tree(tmp_path / "p.npz", tree)
    with np.load(tmp_path / "p.npz") as data:
        assert sorted(data.files) == ["bn_0/mean", "dense_0/bias", "dense_0/kernel"]
    back = load_tree(tmp_path / "p.npz")
    np.testing.assert_array_equal(back["dense_0"]["kernel"], tree["dense_0"]["kernel"])
    assert unflatten(flatten(tree)).keys() == tree.keys()
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CorruptRunError, match="bad.npz: not a readable array file"):
        load_tree(tmp_path / "bad.npz")
