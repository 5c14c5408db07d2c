"""`lottery run pilot` / `lottery run oneshot`: end to end on synthetic data, exact sparsity of
the one-shot pruned networks, Algorithm 1's α trace, resume (nothing recomputed; an
interrupted seed ends with the metrics of an uninterrupted one) and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.loops import oneshot as oneshot_lib
from lottery_core.sparsity import round_half_up
from lottery_core.store import flatten, load_tree

TINY = ["--model", "mlp", "--model-options", '{"widths": [32]}', "--dataset", "synthetic",
        "--epochs", "4", "--batch-size", "20", "--optimizer", "sgd", "--learning-rate", "0.02",
        "--momentum", "0.9", "--seeds", "2", "--no-progress", "--no-plot"]
PILOT = ["--alpha-init", "1e-3", "--delta", "2", "--target-l1", "1.0"]


def run(*args) -> int:
    return cli.main(["run", *args])


def only(out: Path, method: str) -> Path:
    (run_dir,) = [p for p in out.glob(f"{method}-*") if p.is_dir()]
    return run_dir


def mtimes(run_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(run_dir)): p.stat().st_mtime_ns
            for p in run_dir.glob("seed_*/*") if p.is_file()}


def trainer_of(run_dir: Path):
    """The (cached) Trainer a one-shot run trained with, found from its config.json."""
    import jax

    from lottery_core.loops.setup import TrainerSpec
    from lottery_core.store import canonical_json

    resolved = json.loads((run_dir / "config.json").read_text())["resolved"]
    metrics = json.loads((run_dir / "seed_0" / "metrics.json").read_text())
    steps = metrics["steps"]
    return oneshot_lib.oneshot_trainer(TrainerSpec(
        canonical_json(resolved), (28, 28, 1), 10, steps, steps // metrics["epochs"],
        len(jax.local_devices())))


def comparable(metrics: dict) -> dict:
    """Metrics without timings and provenance (its command line names another --out)."""
    out = {k: v for k, v in metrics.items() if not k.endswith("seconds") and k != "provenance"}
    return json.loads(json.dumps(out))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("oneshot")
    assert run("pilot", *TINY, *PILOT, "--sparsities", "0.5,0.9", "--out", str(out)) == 0
    assert run("oneshot", *TINY, "--sparsities", "0.5,0.9", "--out", str(out)) == 0
    return out


def test_layout_exact_sparsity_and_pruned_accuracy(runs):
    from lottery_core.data import load_dataset
    from lottery_core.models import get_model
    from lottery_core.training import Trainer

    data = load_dataset("synthetic")
    model = get_model("mlp", input_shape=data.input_shape, num_classes=data.num_classes,
                      widths=[32])
    evaluator = Trainer(model.apply, None)
    for method in ("pilot", "oneshot"):
        run_dir = only(runs, method)
        config = json.loads((run_dir / "config.json").read_text())
        assert config["method"] == method and run_dir.name == f"{method}-{config['hash']}"
        assert ("alpha_init" in config["settings"]) == (method == "pilot")
        assert (run_dir / "seed_0" / "reparam.npz").exists() == (method == "pilot")
        for seed in (0, 1):
            d = run_dir / f"seed_{seed}"
            metrics = json.loads((d / "metrics.json").read_text())
            params = load_tree(d / "params.npz")
            assert metrics["seed"] == seed and metrics["epochs"] == 4 and metrics["steps"] == 120
            for key, sparsity in (("0.5000", 0.5), ("0.9000", 0.9)):
                entry = metrics["sparsities"][key]
                mask = flatten(load_tree(d / f"mask_{key}.npz"))
                kernels = [p for p in mask if p.endswith("kernel")]
                total = sum(mask[p].size for p in kernels)            # 784·32 + 32·10
                kept = sum(int(mask[p].sum()) for p in kernels)
                assert total == 784 * 32 + 32 * 10 == entry["prunable_weights"]
                assert kept == total - round_half_up(sparsity * total) == entry["kept_weights"]
                assert all(mask[p].all() for p in mask if p.endswith("bias"))
                flat = flatten(params)
                pooled = np.concatenate([np.abs(flat[p]).ravel() for p in kernels])
                keep = np.concatenate([mask[p].ravel() for p in kernels])
                assert pooled[keep].min() >= pooled[~keep].max()       # global magnitude
                # the recorded accuracy is the pruned network's, not the dense one's
                pruned = {k: {n: v * mask[f"{k}/{n}"] for n, v in layer.items()}
                          for k, layer in params.items()}
                loss, acc = evaluator.evaluate(pruned, {}, data.x_test, data.y_test)
                assert float(acc) == pytest.approx(entry["test_accuracy"], abs=1e-6)
                assert float(loss) == pytest.approx(entry["test_loss"], rel=1e-5)
                assert abs(entry["test_loss"] - metrics["test_loss"]) > 1e-4   # not dense
            if method == "pilot":
                r = load_tree(d / "reparam.npz")
                for p, m in flatten(r["m"]).items():       # x = m ⊙ w was saved
                    np.testing.assert_allclose(m * flatten(r["w"])[p], flatten(params)[p],
                                               rtol=1e-6, atol=1e-7)
                    assert (m > 0).all()                   # m stays positive here
        summary = json.loads((run_dir / "summary.json").read_text())
        values = summary["sparsities"]["0.9000"]["test_accuracy"]
        assert values["mean"] == pytest.approx(np.mean(list(values["per_seed"].values())))
        assert summary["seeds"] == [0, 1]
    # both methods start from the same θ_0 (the engine's model.init(PRNGKey(seed)))
    a = load_tree(only(runs, "pilot") / "seed_1" / "init.npz")
    b = load_tree(only(runs, "oneshot") / "seed_1" / "init.npz")
    np.testing.assert_array_equal(a["params"]["dense_0"]["kernel"],
                                  b["params"]["dense_0"]["kernel"])


def test_alpha_follows_algorithm_1(runs):
    for seed in (0, 1):
        training = json.loads((only(runs, "pilot") / f"seed_{seed}" / "training.json")
                              .read_text())
        history = training["history"]
        assert history[0]["alpha"] == pytest.approx(1e-3)
        previous, alpha = 0.0, 1e-3
        for k, h in enumerate(history, start=1):
            assert h["alpha"] == pytest.approx(alpha, rel=1e-12)
            grow = h["train_accuracy"] >= previous and h["kernel_l1"] >= 1.0 and k <= 4 / 2
            alpha = alpha * 2 if grow else alpha / 2
            previous = h["train_accuracy"]
        assert training["alpha_final"] == pytest.approx(alpha, rel=1e-12)
        assert 0 < training["implicit_scale"]["median"] < 0.5      # a_t shrank from β/2
    # α took 3+ values over 2 seeds; it is traced, so one compilation per trainable structure
    # (m ⊙ w for pilot, plain x for oneshot), in the one Trainer both runs share
    trainer = trainer_of(only(runs, "pilot"))
    assert trainer is trainer_of(only(runs, "oneshot"))
    assert trainer.run_steps._cache_size() == 2 and trainer.trace_count == 2
    baseline = json.loads((only(runs, "oneshot") / "seed_0" / "training.json").read_text())
    assert all(h["alpha"] == 0.0 for h in baseline["history"])
    assert baseline["implicit_scale"] is None


def test_second_call_recomputes_nothing_and_new_sparsity_only_prunes(runs, capsys):
    run_dir = only(runs, "pilot")
    before = mtimes(run_dir)
    assert run("pilot", *TINY, *PILOT, "--sparsities", "0.5,0.9", "--out", str(runs)) == 0
    assert mtimes(run_dir) == before
    assert run("pilot", *TINY, *PILOT, "--sparsities", "0.8", "--out", str(runs)) == 0
    after = mtimes(run_dir)
    assert only(runs, "pilot") == run_dir                  # sparsities are not hashed
    for name in ("training.json", "params.npz", "mask_0.9000.npz"):
        assert after[f"seed_0/{name}"] == before[f"seed_0/{name}"]
    metrics = json.loads((run_dir / "seed_0" / "metrics.json").read_text())
    assert list(metrics["sparsities"]) == ["0.5000", "0.8000", "0.9000"]
    assert "| 80% |" in capsys.readouterr().out


def test_interrupted_seed_resumes_to_the_same_metrics(runs, tmp_path, monkeypatch, capsys):
    reference = json.loads((only(runs, "pilot") / "seed_0" / "metrics.json").read_text())
    calls = {"n": 0}
    real = oneshot_lib.kernel_l1

    def dies_in_epoch_3(params):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(params)

    monkeypatch.setattr(oneshot_lib, "kernel_l1", dies_in_epoch_3)
    args = [*TINY, *PILOT, "--sparsities", "0.5,0.9", "--out", str(tmp_path)]
    args[args.index("--seeds") + 1] = "1"
    assert run("pilot", *args) == 130            # Ctrl-C: one line, where it stopped
    assert capsys.readouterr().err.splitlines() == [
        "lottery run: interrupted at seed 0, epoch 2 of 4; rerun the same command to resume "
        "from the checkpoint after epoch 2: finished seeds are kept"]
    seed_dir = only(tmp_path, "pilot") / "seed_0"
    assert (seed_dir / "checkpoint.npz").exists() and not (seed_dir / "training.json").exists()
    monkeypatch.setattr(oneshot_lib, "kernel_l1", real)
    assert run("pilot", *args) == 0
    assert not (seed_dir / "checkpoint.npz").exists()
    resumed = json.loads((seed_dir / "metrics.json").read_text())
    reference["sparsities"] = {k: reference["sparsities"][k] for k in ("0.5000", "0.9000")}
    assert comparable(resumed) == comparable(reference)


@pytest.mark.parametrize("extra, message", [
    (["pilot", "--sparsities", "0.9,1.2"], "each sparsity must be a number in (0, 1)"),
    (["pilot", "--scope", "per-neuron"], "scope must be one of global, layerwise"),
    (["pilot", "--delta", "1"], "delta must be a finite number > 1"),
    (["pilot", "--init", "zeros"], "init must be one of pilot, spred, ones"),
    (["pilot", "--weight-decay", "1e-4"], "pilot takes no optimizer weight decay"),
    (["pilot", "--levels", "3"], "--levels is not used by pilot"),
    (["pilot", "--allocation", "layerwise"], "allocation is not used by the one-shot methods"),
    (["oneshot", "--warmup-epochs", "2"], "warmup_epochs is not used by the one-shot methods"),
    (["oneshot", "--alpha-init", "1e-4"], "--alpha-init applies to pilot only"),
    (["imp", "--sparsities", "0.9"], "--sparsities applies to pilot, oneshot, spred, l1, cs, powerprop, str only"),
])
def test_bad_input(extra, message, tmp_path, capsys):
    method, *options = extra
    assert run(method, *TINY, *options, "--out", str(tmp_path)) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_epochs_are_required(tmp_path, capsys):
    args = [a for a in TINY if a not in ("--epochs", "4")]
    assert run("pilot", *args, "--out", str(tmp_path)) == 2
    assert "give --epochs N" in capsys.readouterr().err


def test_refuses_a_folder_of_another_experiment(runs, tmp_path, capsys):
    import shutil

    target = tmp_path / only(runs, "pilot").name
    shutil.copytree(only(runs, "pilot"), target)
    record = json.loads((target / "config.json").read_text())
    record["identity"]["oneshot"]["beta"] = 2.0
    (target / "config.json").write_text(json.dumps(record))
    assert run("pilot", *TINY, *PILOT, "--out", str(tmp_path)) == 2
    assert "describes a different experiment" in capsys.readouterr().err
