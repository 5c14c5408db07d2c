"""End-to-end, CI-sized: the three Zhou et al. experiments on a subset of the real MNIST."""

from __future__ import annotations

import json

import pytest

import lottery_cli.main as cli


def _results(out):
    [path] = list(out.glob("*/results.json"))
    return json.loads(path.read_text()), path.parent


@pytest.fixture
def mnist_args(shared_data):
    return ["--dataset", "mnist", "--data-dir", str(shared_data / "mnist"),
            "--train-subset", "600"]


def test_zhou_criteria_end_to_end(tmp_path, mnist_args):
    code = cli.main(["experiment", "zhou-criteria", *mnist_args, "--criteria",
                     "large_final,small_final", "--mask0", "zero,freeze_init", "--levels", "2",
                     "--seeds", "2", "--iterations", "40", "--eval-every", "20",
                     "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    results, directory = _results(tmp_path)
    assert set(results["curves"]) == {"large_final", "small_final", "large_final, mask0=freeze_init",
                                      "small_final, mask0=freeze_init"}
    curve = results["curves"]["large_final"]
    assert curve["levels"] == [0, 1, 2]
    # FC rates 20% hidden / 10% output, floor counts: 100 -> 80.04 -> 64.07 % of 266,200
    assert curve["remaining"][0] == pytest.approx(100.0)
    assert curve["remaining"][2] == pytest.approx(64.07, abs=0.02)
    assert len(curve["per_seed"]["2"]) == 2 and all(0 <= v <= 100 for v in curve["mean"])
    assert (directory / "accuracy_vs_remaining.png").stat().st_size > 0
    # a second call finds everything finished and recomputes nothing
    assert cli.main(["experiment", "zhou-criteria", *mnist_args, "--criteria",
                     "large_final,small_final", "--mask0", "zero,freeze_init", "--levels", "2",
                     "--seeds", "2", "--iterations", "40", "--eval-every", "20",
                     "--out", str(tmp_path), "--no-progress"]) == 0


def test_zhou_supermask_end_to_end(tmp_path, mnist_args):
    code = cli.main(["experiment", "zhou-supermask", *mnist_args, "--criteria",
                     "large_final,large_final_same_sign,random,snip", "--powers", "0,4,8",
                     "--seeds", "1", "--iterations", "200", "--out", str(tmp_path),
                     "--no-progress"])
    assert code == 0
    results, directory = _results(tmp_path)
    assert results["powers"] == [0, 4, 8]
    assert results["remaining"][1] == pytest.approx(41.1, abs=0.1)   # FC k = 4 (spec §2.3)
    for treatment in ("init", "signed_constant"):
        curves = results["curves"][treatment]
        assert set(curves) == {"large_final", "large_final_same_sign", "random", "snip"}
        # k = 0 keeps everything: every criterion gives the same untrained network
        assert len({round(c["mean"][0], 6) for c in curves.values()}) == 1
        assert (directory / f"supermask_{treatment}.png").stat().st_size > 0


def test_zhou_learned_mask_end_to_end(tmp_path, mnist_args):
    code = cli.main(["experiment", "zhou-learned-mask", *mnist_args, "--epochs", "2",
                     "--seeds", "1", "--batch-size", "50", "--signed-constant", "--rescale",
                     "--eval-samples", "3", "--out", str(tmp_path)])
    assert code == 0
    results, directory = _results(tmp_path)
    history = results["seeds"]["0"]
    assert history["epoch"] == 2 and len(history["test_accuracy_samples"]) == 3
    assert 0.0 < history["kept_fraction"] < 1.0
    assert results["test_accuracy"]["mean"] > 11.35 + 10   # well above chance after 2 epochs
    assert (directory / "learned_mask.png").stat().st_size > 0


def test_learned_mask_runs_extend_and_shorten(tmp_path, mnist_args):
    """--epochs is not part of the identity: a finished run continues from its checkpoint to
    the same numbers as a run trained straight through, and a shorter call reads the history."""
    def learned(out, epochs):
        assert cli.main(["experiment", "zhou-learned-mask", *mnist_args, "--epochs", str(epochs),
                         "--seeds", "1", "--batch-size", "100", "--eval-samples", "2",
                         "--out", str(out)]) == 0
        results, directory = _results(out)
        return results, json.loads((directory / "seed_0.json").read_text())["history"]

    _, first_two = learned(tmp_path / "a", 2)
    extended, history = learned(tmp_path / "a", 3)
    straight, straight_history = learned(tmp_path / "b", 3)
    assert history[:2] == first_two                     # the first two epochs are not redone
    assert [h["test_accuracy_samples"] for h in history] == \
        [h["test_accuracy_samples"] for h in straight_history]
    assert extended["seeds"]["0"]["epoch"] == 3 and extended["settings"]["epochs"] == 3
    shortened, after = learned(tmp_path / "a", 1)
    assert after == history                             # nothing trained, nothing dropped
    assert shortened["seeds"]["0"] == history[0] and shortened["settings"]["epochs"] == 1
    # a checkpoint ahead of its history (history edited away) is refused, naming both files
    [directory] = [d for d in (tmp_path / "a").iterdir() if d.is_dir()]
    (directory / "seed_0.json").write_text(json.dumps({"seed": 0, "history": history[:1]}))
    assert cli.main(["experiment", "zhou-learned-mask", *mnist_args, "--epochs", "4",
                     "--seeds", "1", "--batch-size", "100", "--eval-samples", "2",
                     "--out", str(tmp_path / "a")]) == 2


def test_learned_mask_eval_every_and_only_seed(tmp_path, mnist_args, capsys):
    def learned(*extra):
        return cli.main(["experiment", "zhou-learned-mask", *mnist_args, "--seeds", "2",
                         "--batch-size", "100", "--eval-samples", "2", "--out", str(tmp_path),
                         *extra])

    assert learned("--epochs", "3", "--eval-every", "2", "--only-seed", "1") == 0
    [directory] = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert not (directory / "results.json").exists() and not (directory / "seed_0.json").exists()
    history = json.loads((directory / "seed_1.json").read_text())["history"]
    assert [("test_accuracy_mean" in h) for h in history] == [False, True, True]
    # the summary call trains seed 0 only; epoch 3 was tested for both seeds
    assert learned("--epochs", "3", "--eval-every", "2") == 0
    results, _ = _results(tmp_path)
    assert set(results["seeds"]) == {"0", "1"} and results["seeds"]["1"] == history[2]
    assert json.loads((directory / "seed_1.json").read_text())["history"] == history
    # epoch 1 was never tested and its state is gone: a clear error, not a silent number
    capsys.readouterr()
    assert learned("--epochs", "1") == 2
    assert "epoch 1 of seed 0 was not evaluated" in capsys.readouterr().err
    # extending without a test at the new last epoch's multiple still tests the last epoch
    assert learned("--epochs", "4", "--eval-every", "3") == 0
    results, _ = _results(tmp_path)
    assert results["seeds"]["0"]["epoch"] == 4 and "test_accuracy_mean" in results["seeds"]["0"]
    assert learned("--only-seed", "2", "--epochs", "4") == 2


def test_unknown_criterion_is_a_usage_error(tmp_path, capsys, mnist_args):
    assert cli.main(["experiment", "zhou-criteria", *mnist_args, "--criteria", "biggest",
                     "--out", str(tmp_path)]) == 2
    assert "biggest" in capsys.readouterr().err


def test_conv_supermasks_end_to_end(tmp_path):
    """Conv2 (on CPU: the Trainer's batch loop, not a compiled loop over convolutions):
    heuristic supermasks evaluated on a test subset, and a learned mask for one epoch."""
    common = ["--model", "conv2", "--dataset", "synthetic", "--train-subset", "120",
              "--test-subset", "100", "--seeds", "1"]
    code = cli.main(["experiment", "zhou-supermask", *common, "--criteria",
                     "large_final,large_final_same_sign", "--powers", "0,4", "--iterations",
                     "4", "--eval-every", "4", "--out", str(tmp_path / "heuristic"),
                     "--no-progress"])
    assert code == 0
    results, _ = _results(tmp_path / "heuristic")
    assert results["test_examples"] == 100
    # Conv2 rates 10% conv / 20% fc / 10% output, k = 4: the fc layers dominate (0.8^4 = 41%)
    assert 40.9 < results["remaining"][1] < 41.6
    for treatment in ("init", "signed_constant"):
        assert all(0 <= v <= 100 for c in results["curves"][treatment].values()
                   for v in c["mean"])
    code = cli.main(["experiment", "zhou-learned-mask", *common, "--out",
                     str(tmp_path / "learned"), "--epochs", "1", "--batch-size", "60",
                     "--eval-samples", "2", "--signed-constant", "--rescale"])
    assert code == 0
    results, _ = _results(tmp_path / "learned")
    assert len(results["seeds"]["0"]["test_accuracy_samples"]) == 2
    assert 0.0 < results["seeds"]["0"]["kept_fraction"] < 1.0


def test_evaluation_subset_is_a_fixed_random_draw():
    import numpy as np

    from lottery_core.experiments._common import evaluation_subset

    x = np.arange(1000.0)[:, None]
    y = np.repeat(np.arange(10), 100)            # grouped by class, like the CIFAR test batch
    xs, ys = evaluation_subset(x, y, 200)
    assert len(ys) == 200 and len(set(ys.tolist())) == 10
    assert np.all(np.diff(xs[:, 0]) > 0)       # file order kept, no repeats
    np.testing.assert_array_equal(xs, evaluation_subset(x, y, 200)[0])
    assert evaluation_subset(x, y, None)[0] is x and evaluation_subset(x, y, 5000)[0] is x
    with pytest.raises(ValueError, match="got 0"):
        evaluation_subset(x, y, 0)


def test_first_seed_picks_the_seeds(tmp_path, mnist_args):
    """--first-seed S trains seeds S .. S + seeds - 1 (the seed of a `lottery verify` claim);
    0, the default, leaves the experiment's folder as it was."""
    assert cli.main(["experiment", "zhou-criteria", *mnist_args, "--criteria", "large_final",
                     "--levels", "0", "--seeds", "1", "--first-seed", "2", "--iterations", "10",
                     "--eval-every", "10", "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    results, _ = _results(tmp_path / "c")
    assert list(results["curves"]["large_final"]["per_seed"]["0"]) == ["2"]
    learned = ["experiment", "zhou-learned-mask", *mnist_args, "--epochs", "1", "--seeds", "1",
               "--batch-size", "100", "--eval-samples", "1", "--out", str(tmp_path / "m")]
    assert cli.main([*learned, "--first-seed", "3"]) == 0
    results, directory = _results(tmp_path / "m")
    assert set(results["seeds"]) == {"3"} and not (directory / "seed_0.json").exists()
    assert cli.main([*learned, "--first-seed", "3", "--only-seed", "0"]) == 2
    assert cli.main([*learned, "--first-seed", "-1"]) == 2
