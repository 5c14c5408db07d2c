"""The LRR paper's recipe pieces: schedules, sign perturbation, random mask counts, checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lottery_core import lrr_recipe, sparsity
from lottery_core.config import ExperimentConfig
from lottery_core.store import load_tree_like, save_tree
from lottery_core.training import Trainer, make_optimizer, make_schedule


def test_cosine_ends_at_the_final_learning_rate():
    schedule = make_schedule("cosine", 0.1, 100, final_learning_rate=0.01)
    # lr(t) = lr_min + ½(1 + cos(π t/T))(lr − lr_min)   (spec lrr.md §2.2 [C])
    for t in (0, 25, 50, 99, 100):
        expected = 0.01 + 0.5 * (1 + np.cos(np.pi * t / 100)) * 0.09
        assert float(schedule(t)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="final learning rate"):
        make_schedule("cosine", 0.1, 100, final_learning_rate=0.2)


def test_warmup_is_a_per_epoch_ramp_at_negative_positions():
    config = ExperimentConfig(model="resnet20", dataset="cifar10", epochs=2).resolved()
    assert config.warmup_epochs == 10 and config.final_learning_rate == 0.01
    schedule = lrr_recipe.level_schedule(config, total_steps=40, steps_per_epoch=20)
    for epoch in range(10):
        for offset in (0, 19):
            step = -200 + 20 * epoch + offset
            assert float(schedule(step)) == pytest.approx(0.1 * (epoch + 1) / 10, rel=1e-6)
    assert float(schedule(0)) == pytest.approx(0.1, rel=1e-6)
    assert float(schedule(40)) == pytest.approx(0.01, rel=1e-5)


def test_cifar_defaults_are_the_papers_recipe_and_old_hashes_stay():
    c = ExperimentConfig(model="resnet18", dataset="cifar10").resolved()
    assert (c.optimizer, c.learning_rate, c.momentum, c.weight_decay, c.batch_size) == \
        ("sgd", 0.1, 0.9, 1e-4, 256)
    assert (c.schedule, c.epochs, c.iterations, c.allocation, c.prune_fraction) == \
        ("cosine", 150, None, "global", 0.2)
    assert (c.optimizer_state, c.input_pipeline) == ("carry", "cifar")
    # --iterations overrides the model's epochs instead of clashing with them
    c = ExperimentConfig(model="vgg16", dataset="cifar10", iterations=50).resolved()
    assert (c.iterations, c.epochs) == (50, None)
    ExperimentConfig(model="vgg16", dataset="cifar10", iterations=50).validate()
    assert "warmup_epochs" not in ExperimentConfig().identity()


@pytest.mark.parametrize("model", ["resnet20", "resnet18"])
def test_cifar100_recipe_is_the_default_of_lottery_run_and_the_experiments(model):
    """CIFAR-100 (spec lrr.md §2.2 [C] cifar100 yaml): weight decay 1e-3, 160 epochs per
    level, the rest as on CIFAR-10; an option given on the command line still wins."""
    import lottery_cli.main as cli
    from lottery_cli.commands.run import build_config
    from lottery_core.experiments import _lrr_common

    parser = cli.build_parser()
    c100 = build_config(parser.parse_args(["run", "lrr", "--model", model, "--dataset",
                                           "cifar100"])).resolved()
    c10 = build_config(parser.parse_args(["run", "lrr", "--model", model, "--dataset",
                                          "cifar10"])).resolved()
    assert (c100.weight_decay, c100.epochs, c100.iterations) == (1e-3, 160, None)
    assert (c10.weight_decay, c10.epochs) == (1e-4, 150)
    different = {k for k, v in c100.to_dict().items() if c10.to_dict()[k] != v}
    assert different == {"dataset", "weight_decay", "epochs"}
    given = build_config(parser.parse_args(["run", "lrr", "--model", model, "--dataset",
                                            "cifar100", "--weight-decay", "5e-4"])).resolved()
    assert (given.weight_decay, given.epochs) == (5e-4, 160)
    # the LRR experiments: the data set's 160 epochs, not their CIFAR-10 default of 150
    experiment = parser.parse_args(["experiment", "lrr-vs-imp", "--model", model,
                                    "--dataset", "cifar100"])
    config = _lrr_common.make_config(experiment, "lrr").resolved()
    assert (config.weight_decay, config.epochs) == (1e-3, 160)
    experiment = parser.parse_args(["experiment", "lrr-vs-imp", "--model", model])
    assert _lrr_common.make_config(experiment, "lrr").resolved().epochs == 150


@pytest.mark.parametrize("fields, message", [
    (dict(final_learning_rate=0.5), "final_learning_rate"),
    (dict(warmup_epochs=-1), "warmup_epochs"),
    (dict(optimizer_state="keep"), "optimizer_state"),
    (dict(input_pipeline="imagenet"), "input_pipeline"),
    (dict(sign_perturbation=1.5), "sign_perturbation"),
    (dict(sign_perturbation_every=3), "needs sign_perturbation"),
    (dict(prune_fraction_output=0.1), "global allocation"),
])
def test_bad_recipe_fields_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        ExperimentConfig(model="resnet20", dataset="cifar10", **fields).validate()


def test_perturb_signs_flips_the_stated_fraction_of_survivors_only():
    rng = np.random.default_rng(0)
    n, p = 200_000, 0.3
    params = {"a": {"kernel": jnp.asarray(rng.standard_normal(n), jnp.float32),
                    "bias": jnp.ones(10)},
              "b": {"kernel": jnp.asarray(rng.standard_normal(n), jnp.float32)}}
    keep = rng.random(n) < 0.5
    mask = {"a": {"kernel": jnp.asarray(keep), "bias": jnp.ones(10, bool)},
            "b": {"kernel": jnp.ones(n, bool)}}
    masked = {"a": {"kernel": params["a"]["kernel"] * keep, "bias": params["a"]["bias"]},
              "b": params["b"]}
    out = lrr_recipe.perturb_signs(jax.random.PRNGKey(3), masked, mask, p,
                                   ["a/kernel", "b/kernel"])
    flipped = {k: np.asarray(out[k]["kernel"]) == -np.asarray(masked[k]["kernel"])
               for k in ("a", "b")}
    np.testing.assert_array_equal(np.abs(out["a"]["kernel"]), np.abs(masked["a"]["kernel"]))
    assert np.all(np.asarray(out["a"]["kernel"])[~keep] == 0)          # pruned stay 0
    np.testing.assert_array_equal(out["a"]["bias"], params["a"]["bias"])  # not prunable
    for k, alive in (("a", keep), ("b", np.ones(n, bool))):
        m = alive.sum()
        fraction = flipped[k][alive].mean()
        assert abs(fraction - p) < 4 * np.sqrt(p * (1 - p) / m), (k, fraction)
    # independent per layer: the two layers' flip patterns are uncorrelated
    corr = np.corrcoef(flipped["a"][keep], flipped["b"][keep])[0, 1]
    assert abs(corr) < 4 / np.sqrt(keep.sum())


def test_perturbation_epochs_and_the_trainer_hook():
    starts = [s for s in range(0, 60)
              if bool(lrr_recipe.perturbation_epoch_start(jnp.asarray(s), 5, 3))]
    assert starts == [10, 25, 40, 55]              # epochs e >= 1 with e mod 3 = 2
    # p = 1 flips every surviving sign at the start of epoch 1 (k = 1), nothing before
    params = {"dense": {"kernel": jnp.asarray([[1.0, -2.0], [3.0, 0.5]]),
                        "bias": jnp.zeros(2)}}
    mask = {"dense": {"kernel": jnp.asarray([[True, True], [False, True]]),
                      "bias": jnp.ones(2, bool)}}

    def apply(p, s, x, train):
        return x @ p["dense"]["kernel"] + p["dense"]["bias"], s

    trainer = Trainer(apply, make_optimizer("sgd"), schedule=make_schedule("constant", 1e-12, 4),
                      param_transform=lrr_recipe.sign_perturbation_transform(1.0, 1, 2,
                                                                             ["dense/kernel"]))
    state = trainer.init_state(params, {}, mask, step=1)   # init is not a step: no flip
    np.testing.assert_allclose(state.params["dense"]["kernel"], [[1, -2], [0, 0.5]])
    state = trainer.init_state(params, {}, mask)
    x, y = jnp.ones((4, 2)), jnp.zeros(4, jnp.int32)
    state, _ = trainer.run_steps(state, x, y, jnp.zeros((1, 2), jnp.int32))
    np.testing.assert_allclose(state.params["dense"]["kernel"], [[1, -2], [0, 0.5]], atol=1e-6)
    state, _ = trainer.run_steps(state, x, y, jnp.zeros((1, 2), jnp.int32))
    np.testing.assert_allclose(state.params["dense"]["kernel"], [[-1, 2], [0, -0.5]], atol=1e-6)


def test_balanced_and_erk_counts_are_exact():
    sizes = {"a": 100, "b": 30, "c": 1000}
    counts = sparsity.balanced_counts(sizes, 400)
    assert counts == {"a": 100, "b": 30, "c": 270}          # capped layers stay full
    counts = sparsity.balanced_counts(sizes, 200)
    assert sum(counts.values()) == 200 and counts["b"] == 30 and abs(counts["a"] - counts["c"]) <= 1
    params = {"conv": {"kernel": np.zeros((3, 3, 16, 32))}, "fc": {"kernel": np.zeros((32, 10))}}
    erk = sparsity.erk_counts(params, 1000, ["conv/kernel", "fc/kernel"])
    assert sum(erk.values()) == 1000 and erk["fc/kernel"] <= 320
    fit = sparsity.fit_counts({"a": 50, "b": 50}, {"a": 10, "b": 100}, 60)
    assert fit == {"a": 10, "b": 50}
    with pytest.raises(ValueError, match="cannot keep"):
        sparsity.balanced_counts(sizes, 2000)


def test_random_nested_mask_keeps_survivors_only():
    rng = np.random.default_rng(1)
    params = {"l": {"kernel": rng.standard_normal((20, 30))}}
    alive = rng.random((20, 30)) < 0.6
    new = sparsity.random_mask_with_counts(jax.random.PRNGKey(0), params, {"l/kernel": 100},
                                           within={"l": {"kernel": alive}})
    kept = np.asarray(new["l"]["kernel"])
    assert kept.sum() == 100 and not np.any(kept & ~alive)


def test_optimizer_state_round_trip(tmp_path):
    optimizer = make_optimizer("sgd", momentum=0.9, weight_decay=1e-4)
    params = {"w": jnp.arange(6.0).reshape(2, 3)}
    state = optimizer.init(params)
    _, state = optimizer.update({"w": jnp.ones((2, 3))}, state, params)
    save_tree(tmp_path / "opt.npz", state)
    loaded = load_tree_like(tmp_path / "opt.npz", optimizer.init(params))
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(loaded)):
        np.testing.assert_array_equal(a, b)
