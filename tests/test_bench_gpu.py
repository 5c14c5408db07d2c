"""``lottery bench gpu`` at CI size on CPU: the acceptance run (``--budget-s 60`` writes its
report, every phase ran or says why not), a rerun into the same folder that keeps what
finished and completes the rest, budget 0, bad input, the budget machinery and the LRR
planner on their own, and bench/gpu_session.sh's CPU smoke path."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.bench import budget
from lottery_core.bench.lrr import Plan, plan_levels

REPO = Path(__file__).resolve().parents[1]
PHASES = ["environment", "epoch_time", "sims", "tickets", "lrr"]
FIGURES = {"epoch_time": "epoch_time.png", "tickets": "tickets.png",
           "lrr": "lrr_accuracy_vs_density.png"}


@pytest.fixture(scope="module")
def tiny_cifar(shared_data, tmp_path_factory) -> Path:
    """CIFAR-10 in the official layout with 60 real training and 20 real test images per
    class, decoded from the shared npz by make_cifar10.py's own functions."""
    spec = importlib.util.spec_from_file_location("make_cifar10",
                                                  shared_data / "make_cifar10.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    src = np.load(shared_data / "cifar10_jpeg.npz")

    def take(split, per_class):
        labels = src[f"{split}_labels"]            # grouped by class, classes in order
        starts = np.searchsorted(labels, np.arange(10))
        x = np.concatenate([make.decode(src[f"{split}_jpeg"],
                                        src[f"{split}_offsets"][s:s + per_class + 1])
                            for s in starts])
        y = np.repeat(np.arange(10), per_class)
        order = np.random.default_rng(0).permutation(len(y))
        return x[order], y[order]

    root = tmp_path_factory.mktemp("tiny_cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    x, y = take("train", 60)
    for b in range(5):
        part = slice(120 * b, 120 * (b + 1))
        make.write_batch(folder / f"data_batch_{b + 1}", f"batch {b + 1}", x[part], y[part],
                         np.arange(120))
    x, y = take("test", 20)
    make.write_batch(folder / "test_batch", "test", x, y, np.arange(200))
    return root


def bench(out: Path, data: Path, budget_s: float) -> tuple[int, dict]:
    code = cli.main(["bench", "gpu", "--budget-s", str(budget_s), "--out", str(out),
                     "--data-dir", str(data)])
    report = json.loads((out / "report.json").read_text())
    return code, report


@pytest.fixture(scope="module")
def first_run(tiny_cifar, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "gpu"
    clock = time.monotonic()
    code, report = bench(out, tiny_cifar, 60)
    return out, code, report, time.monotonic() - clock


# ----------------------------------------------------------------------------- end to end
def test_budget_60_writes_the_report_and_accounts_for_every_phase(first_run):
    out, code, report, wall = first_run
    assert code == 0
    assert report["mode"] == "tiny" and report["budget_s"] == 60
    assert report["order"] == PHASES
    assert report["phases"]["environment"]["status"] == "ran"
    assert report["phases"]["environment"]["result"]["backend"] == "cpu"
    for name in PHASES:
        record = report["phases"][name]
        assert record["status"] in ("ran", "partial", "skipped"), (name, record)
        if record["status"] != "ran":
            assert record["reason"], name       # every phase that did not run says why
        for item in record["skipped_items"]:
            assert item["estimate_s"] > item["left_s"]
        # each phase's own file holds the same record (written as the phase ended)
        saved = json.loads((out / "phases" / f"{name}.json").read_text())
        assert saved["status"] == record["status"] and saved["result"] == record["result"]
        if record["status"] != "skipped" and name in FIGURES and record["figure"]:
            assert (out / record["figure"]).stat().st_size > 0
    markdown = (out / "report.md").read_text()
    for name in PHASES:
        assert f"| {name} | {report['phases'][name]['status']} |" in markdown
    # the budget is kept up to the overrun of one started item (compiles run to the end)
    assert report["elapsed_s"] < 60 + 60


@pytest.fixture(scope="module")
def second_run(first_run, tiny_cifar):
    out, _, before, _ = first_run
    code, report = bench(out, tiny_cifar, 600)
    return out, code, before, report


def test_rerun_keeps_finished_phases_and_completes_the_rest(second_run):
    out, code, before, report = second_run
    assert code == 0
    for name in PHASES:
        assert report["phases"][name]["status"] == "ran", report["phases"][name]["reason"]
        if before["phases"][name]["status"] == "ran":     # kept, not measured again
            for key in ("result", "seconds", "started_s"):
                assert report["phases"][name][key] == before["phases"][name][key]
    for name, figure in FIGURES.items():
        assert report["phases"][name]["figure"] == figure
        assert (out / figure).stat().st_size > 0


def test_epoch_time_rows(second_run):
    rows = second_run[3]["phases"]["epoch_time"]["result"]["rows"]
    assert [(r["batch"], r["dtype"]) for r in rows] == [(32, "float32"), (32, "bfloat16")]
    for r in rows:
        assert r["steps"] == 4 and r["images"] == 128            # 128 images, batch 32
        assert r["epoch_s"] > 0 and r["images_per_s"] == pytest.approx(128 / r["epoch_s"])
        assert r["first_call_s"] > 0 and r["compile_s"] >= 0
        assert r["augment_on_device"] and r["step_loop"] == "python"    # conv net on CPU
        assert r["losses_finite"] and r["eval_images"] == 64
        assert 0 <= r["test_accuracy_after_2_epochs"] <= 1


def test_sims_on_the_device_against_float64_cpu(second_run):
    rows = second_run[3]["phases"]["sims"]["result"]["rows"]
    assert [(r["simulation"], r["precision"], r["reference"]) for r in rows] == [
        ("one_neuron", "float64", True), ("one_neuron", "float64", False),
        ("one_neuron", "float32", False), ("mirror", "float64", True),
        ("mirror", "float64", False), ("mirror", "float32", False)]
    for r in rows:
        assert r["dtype"] == r["precision"]
        if r["reference"]:
            continue
        errors = r["relative_error"].values()
        if r["precision"] == "float64":       # the default device is the CPU here
            assert max(errors) == 0.0
        else:
            assert 0 < max(errors) < 1e-3
    one_neuron_f32 = rows[2]["agreement"]
    assert one_neuron_f32["mask_identification"] == 1.0 and one_neuron_f32["sign_of_a"] == 1.0


def test_tickets(second_run):
    result = second_run[3]["phases"]["tickets"]["result"]
    rows = result["rows"]
    assert [r["tickets"] for r in rows] == [1, 2]
    one, two = rows
    # K = 1 is the epoch_time row at the tickets' batch in float32 (not necessarily its first
    # row: under load the first run can skip a row that the resumed run then measures)
    [base] = [r for r in second_run[3]["phases"]["epoch_time"]["result"]["rows"]
              if r["batch"] == result["batch"] and r["dtype"] == "float32"]
    assert one["epoch_s"] == base["epoch_s"]
    assert two["speedup_vs_sequential"] == pytest.approx(2 * one["epoch_s"] / two["epoch_s"])
    assert two["ticket_images_per_s"] == pytest.approx(2 * 128 / two["epoch_s"])
    assert two["losses_finite"]


def test_lrr_vs_wr_and_its_sign_flips(second_run):
    out, _, _, report = second_run
    r = report["phases"]["lrr"]["result"]
    plan = r["plan"]
    assert (plan["warmup_epochs"], plan["epochs"]) == (1, 1) and 1 <= plan["levels"] <= 2
    assert r["levels_done"] == plan["levels"] + 1
    remaining = [100.0, 80.0, 64.0][:plan["levels"] + 1]
    for method in ("wr", "lrr"):
        assert r["accuracy"][method]["remaining"] == pytest.approx(remaining, abs=0.01)
        assert r["sign_flips"][method]["vs_previous_level"]["mean"][0] is None
    # level 0 is the same dense training from the same post-warmup point for both
    assert (r["accuracy"]["wr"]["test_accuracy"]["mean"][0]
            == r["accuracy"]["lrr"]["test_accuracy"]["mean"][0])
    assert set(r["observations"]) == {"lrr_ge_wr", "gap_trend", "gap_size", "sign_flips"}
    markdown = (out / "report.md").read_text()
    assert "LRR >= IMP (WR) in test accuracy at every sparsity level" in markdown
    # the recorded command is the experiment that owns these runs: lrr-signs finds them
    # finished and reports the same sign flips without training anything
    argv = shlex.split(r["command"])[3:]
    assert cli.main(["experiment", "lrr-signs", *argv]) == 0
    [results] = (out / "lrr").glob("lrr-signs-*/results.json")
    signs = json.loads(results.read_text())["methods"]
    for method in ("wr", "lrr"):
        assert signs[method]["vs_rewind_point"] == r["sign_flips"][method]["vs_rewind_point"]


def test_budget_zero_skips_every_budgeted_phase(tiny_cifar, tmp_path):
    code, report = bench(tmp_path / "zero", tiny_cifar, 0)
    assert code == 0
    assert report["phases"]["environment"]["status"] == "ran"
    for name in PHASES[1:]:
        assert report["phases"][name]["status"] == "skipped"
        assert report["phases"][name]["reason"].startswith("budget exhausted")
    assert "| lrr | skipped |" in (tmp_path / "zero" / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--budget-s", "-1"], "--budget-s must be a finite number >= 0, got -1"),
    (["--budget-s", "nan"], "--budget-s must be a finite number >= 0, got nan"),
])
def test_bad_budget_is_one_line(tmp_path, capsys, argv, message):
    assert cli.main(["bench", "gpu", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"lottery bench: error: {message}"


def test_missing_data_is_one_line(tmp_path, capsys):
    code = cli.main(["bench", "gpu", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cifar-10-batches-py lacks data_batch_1" in err[0]


# ----------------------------------------------------------------------------- the pieces
def test_plan_levels():
    fit = dict(epoch_s=1.0, eval_s=0.0, compile_s=0.0, max_warmup=10, max_levels=10,
               max_epochs=150)
    # 27 epochs per method: 1 warmup, about sqrt(26) = 5 epochs per level, 5 levels
    assert plan_levels(54, **fit) == Plan(1, 4, 5, 2 * (1 + 25))
    # the recipe itself when the time allows: 10 warmup epochs, 10 levels of 150 epochs
    assert plan_levels(2 * 1660, **fit) == Plan(10, 10, 150, 2 * 1660)
    small = plan_levels(5, **fit)
    assert isinstance(small, str) and "needs >= 3" in small
    # caps (the tiny run's) and compilation come off the time
    tiny = dict(fit, max_warmup=1, max_levels=2, max_epochs=1)
    assert plan_levels(1000, **tiny) == Plan(1, 2, 1, 2 * (1 + 3))
    assert isinstance(plan_levels(20, **dict(fit, compile_s=15)), str)
    # with evaluations: (6 - 1) s / (2 x 1.5 s) = 1 epoch per method is too little
    assert isinstance(plan_levels(6, **dict(fit, eval_s=0.5, compile_s=1.0)), str)
    for available in (10, 33, 100, 500, 5000):
        plan = plan_levels(available, **dict(fit, eval_s=0.5, compile_s=1.0))
        assert isinstance(plan, Plan) and plan.estimate_s <= available


def _phase(name, weight, action):
    return budget.Phase(name, name, action, weight)


def test_run_phases_deadlines_failures_and_resume(tmp_path):
    seen = {}

    def record_share(ctx):
        seen[ctx.name] = ctx.left()
        ctx.result["value"] = ctx.name

    def items(ctx):
        assert ctx.fits("small", 0.0)
        assert not ctx.fits("huge", 1e9)
        ctx.result["earlier"] = sorted(ctx.earlier)

    def skip(ctx):
        raise budget.Skip("not today")

    def fail(ctx):
        ctx.result["before"] = 1
        raise RuntimeError("broken")

    phases = [_phase("free", 0.0, record_share), _phase("a", 1.0, record_share),
              _phase("b", 3.0, items), _phase("c", 1.0, skip), _phase("d", 1.0, fail)]
    clock = budget.Clock(100.0)
    records = budget.run_phases(phases, clock=clock, out=tmp_path, identity={"k": 1},
                                shared=None, log=lambda m: None, reserve_s=10.0)
    status = {r["phase"]: r["status"] for r in records}
    assert status == {"free": "ran", "a": "ran", "b": "partial", "c": "skipped", "d": "failed"}
    # weight shares of the time left after the reserve: a gets 1/6 of ~90 s
    assert seen["a"] == pytest.approx(90 / 6, abs=0.5)
    assert records[2]["result"]["earlier"] == ["a", "free"]
    assert records[2]["skipped_items"] == [{"item": "huge", "estimate_s": 1e9,
                                            "left_s": pytest.approx(records[2]["budget_s"],
                                                                    abs=0.5)}]
    assert records[3]["reason"] == "not today"
    assert records[4]["reason"] == "RuntimeError: broken" and "broken" in records[4]["traceback"]
    assert records[4]["result"] == {"before": 1}
    for r in records:
        assert json.loads((tmp_path / "phases" / f"{r['phase']}.json").read_text())["status"] \
            == r["status"]
    # rerun, no time left: the phases that ran are kept, failed 'd' keeps its partial result
    # with a note, the rest are skipped
    again = budget.run_phases(phases, clock=budget.Clock(0.0), out=tmp_path,
                              identity={"k": 1}, shared=None, log=lambda m: None)
    status = {r["phase"]: r["status"] for r in again}
    assert status == {"free": "ran", "a": "ran", "b": "partial", "c": "skipped", "d": "failed"}
    assert again[1] == records[1]
    assert again[4]["note"].startswith("kept from an earlier attempt; this attempt: budget")
    # a phase killed while running ('interrupted') stays so when its retry is skipped
    killed = json.loads((tmp_path / "phases" / "c.json").read_text())
    killed.update(status="interrupted", result={})
    (tmp_path / "phases" / "c.json").write_text(json.dumps(killed))
    again = budget.run_phases(phases, clock=budget.Clock(0.0), out=tmp_path,
                              identity={"k": 1}, shared=None, log=lambda m: None)
    assert again[3]["status"] == "interrupted" and again[3]["note"].startswith("kept from")
    # another identity (device, mode): nothing is kept
    other = budget.run_phases(phases, clock=budget.Clock(0.0), out=tmp_path,
                              identity={"k": 2}, shared=None, log=lambda m: None)
    assert [r["status"] for r in other] == ["ran", "skipped", "skipped", "skipped", "skipped"]


def test_a_partial_phase_is_given_what_its_earlier_attempt_measured(tmp_path):
    """A partial (or interrupted) phase is run again with ``ctx.previous`` = its earlier
    result, so it can keep what it measured (epoch_time keeps its rows: the tickets phase may
    already have copied one); a phase that ran is kept as it is and sees nothing."""
    given = []

    def rows(ctx):
        given.append(ctx.previous)
        ctx.result["rows"] = list((ctx.previous or {}).get("rows", []))
        for item, estimate_s in (("first", 5.0), ("second", 50.0)):
            if item not in ctx.result["rows"] and ctx.fits(item, estimate_s):
                ctx.result["rows"].append(item)

    phases = [_phase("rows", 1.0, rows)]
    first = budget.run_phases(phases, clock=budget.Clock(15.0), out=tmp_path, identity={},
                              shared=None, log=lambda m: None)
    assert first[0]["status"] == "partial" and first[0]["result"]["rows"] == ["first"]
    second = budget.run_phases(phases, clock=budget.Clock(100.0), out=tmp_path, identity={},
                               shared=None, log=lambda m: None)
    assert given == [None, {"rows": ["first"]}]
    assert second[0]["status"] == "ran" and second[0]["result"]["rows"] == ["first", "second"]
    budget.run_phases(phases, clock=budget.Clock(100.0), out=tmp_path, identity={},
                      shared=None, log=lambda m: None)
    assert len(given) == 2                      # ran: kept, not run again


def test_gpu_session_script_on_cpu(tiny_cifar, tmp_path):
    """The device script's CPU smoke path: refuses without an accelerator; with
    REQUIRE_ACCELERATOR=0 and a 1-second limit the bench is stopped and the report is
    rewritten from the phases that finished (budget 0) and copied to $OUT."""
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path / "out"),
               WORK=str(tmp_path / "work"), DATA=str(tiny_cifar), JAX_PLATFORMS="cpu")
    script = str(REPO / "bench" / "gpu_session.sh")
    refused = subprocess.run(["bash", script, "30"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 3 and "no accelerator visible to jax" in refused.stdout
    smoke = subprocess.run(["bash", script, "30"], capture_output=True, text=True, timeout=300,
                           env=dict(env, REQUIRE_ACCELERATOR="0", BENCH_SIZE="--tiny",
                                    SESSION_LIMIT="1"))
    assert smoke.returncode == 124, smoke.stdout + smoke.stderr
    assert "writing the report from the finished phases" in smoke.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["budget_s"] == 0 and report["phases"]["environment"]["status"] == "ran"
    assert (tmp_path / "out" / "gpu_bench.log").read_text().count("gpu_session:") >= 3
    bad = subprocess.run(["bash", script, "4.5"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "BUDGET_S must be whole seconds" in bad.stdout


def test_full_settings_build_the_recipe_configs(tmp_path):
    """The full run's configs (not trainable here): ResNet-20 with the LRR recipe, the batch and
    compute dtype of each row, and the options the LRR phase records."""
    from lottery_core.bench.settings import FULL, SETTINGS, experiment_args
    from lottery_core.experiments import _lrr_common as common

    settings = SETTINGS[FULL]
    assert settings.recipe_batch == 256 and settings.batches == (256, 128)
    for batch in settings.batches:
        for dtype in settings.dtypes:
            args = experiment_args(settings, "DATA", tmp_path, batch=batch, dtype=dtype,
                                   epochs=4, warmup_epochs=1, levels=3, eval_every=175)
            config = common.make_config(args, "wr").resolved()
            assert (config.model, config.batch_size, config.epochs, config.levels) == (
                "resnet20", batch, 4, 3)
            assert (config.learning_rate, config.final_learning_rate, config.momentum,
                    config.optimizer_state, config.input_pipeline) == (0.1, 0.01, 0.9, "carry",
                                                                       "cifar")
            assert config.model_options == (None if dtype == "float32"
                                            else {"compute_dtype": "bfloat16"})
            assert "--test-subset" not in args.argv and "--train-subset" not in args.argv
