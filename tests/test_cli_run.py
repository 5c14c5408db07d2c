"""`lottery run` / `lottery plot`: help, bad input, and resuming after SIGKILL mid-level."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lottery_cli.main as cli
from lottery_cli.commands.run import option_names

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model", "mlp", "--model-options", '{"widths": [64]}', "--dataset", "synthetic",
        "--iterations", "200", "--eval-every", "10", "--batch-size", "20", "--levels", "1",
        "--seeds", "1", "--no-progress", "--no-plot"]


def lottery(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-m", "lottery_cli", *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def comparable(metrics: dict) -> dict:
    """Metrics without timings and provenance (the command line names another --out)."""
    return {k: v for k, v in metrics.items()
            if k not in ("seconds", "wall_seconds_this_process", "provenance")}


def test_killed_run_resumes_to_the_same_metrics(tmp_path, capsys):
    reference = lottery("run", "imp", *TINY, "--out", str(tmp_path / "a"))
    out, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err
    run_b = tmp_path / "b"
    victim = lottery("run", "imp", *TINY, "--out", str(run_b))
    deadline = time.time() + 300
    killed_mid_level = False
    while time.time() < deadline and victim.poll() is None:
        checkpoints = list(run_b.glob("*/seed_0/level_1/checkpoint.npz"))
        if checkpoints:
            victim.send_signal(signal.SIGKILL)
            killed_mid_level = True
            break
        time.sleep(0.02)
    victim.wait(timeout=60)
    assert killed_mid_level and victim.returncode == -signal.SIGKILL
    level0 = next(run_b.glob("*/seed_0/level_0/metrics.json"))
    assert not list(run_b.glob("*/seed_0/level_1/metrics.json"))
    stamp = level0.stat().st_mtime_ns
    again = lottery("run", "imp", *TINY, "--out", str(run_b))
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert level0.stat().st_mtime_ns == stamp                  # a finished level is kept
    for level in range(2):
        a = json.loads(next((tmp_path / "a").glob(f"*/seed_0/level_{level}/metrics.json"))
                       .read_text())
        b = json.loads(next(run_b.glob(f"*/seed_0/level_{level}/metrics.json")).read_text())
        assert comparable(a) == comparable(b)
        assert len(b["history"]) == 20
    # a third call finds everything finished, recomputes nothing, and the plot works
    assert cli.main(["plot", str(run_b), "--table"]) == 0
    assert (run_b / "accuracy_vs_density.png").stat().st_size > 1000
    table = capsys.readouterr().out
    assert table.count("| imp-") == 2 and "| 1 | 80." in table


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    from lottery_core.config import ExperimentConfig
    from lottery_core.config.fields import flag_of

    fields = {f.name: f for f in __import__("dataclasses").fields(ExperimentConfig)}
    for name in option_names():      # every config field but the method, with its help
        assert flag_of(fields[name]) in text
        assert " ".join(fields[name].metadata["lottery"].help.split()) in text
    for option in ("--config", "--out", "--data-dir", "--seed-parallel", "--milestones"):
        assert option in text
    assert text.count("(default:") >= len(option_names()) + 4
    assert "(default: 12)" in text and "(default: model default)" in text


@pytest.mark.parametrize("args,message", [
    (["run", "magic"], "unknown method 'magic'"),
    (["run", "imp", "--model", "resnet9000"], "unknown model 'resnet9000'"),
    (["run", "imp", "--prune-fraction", "1.0"], "prune_fraction"),
    (["run", "imp", "--prune-fraction", "1.5"], "must be in [0, 1)"),
    (["run", "imp", "--data-dir", "/nonexistent/data"], "/nonexistent/data does not exist"),
    (["run", "imp", "--iterations", "10", "--epochs", "2"], "either iterations or epochs"),
    (["plot", "/nonexistent/runs"], "/nonexistent/runs does not exist"),
])
def test_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path):
    code = cli.main(args + (["--out", str(tmp_path)] if args[0] == "run" else []))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_missing_data_dir_from_subprocess(tmp_path):
    env_less = {k: v for k, v in os.environ.items() if k != "LOTTERY_DATA"}
    proc = subprocess.run([sys.executable, "-m", "lottery_cli", "run", "imp", "--out",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          env={**env_less, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "lottery run: error: no data folder: pass --data-dir DIR or set LOTTERY_DATA"]


def test_config_file_and_command_line_override(tmp_path):
    from lottery_cli.commands.run import build_config

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"learning_rate": 0.01, "iterations": 7, "levels": 2}))
    parser = cli.build_parser()
    args = parser.parse_args(["run", "lrr", "--config", str(path), "--iterations", "9"])
    config = build_config(args)
    assert (config.method, config.learning_rate, config.iterations, config.levels) == (
        "lrr", 0.01, 9, 2)
    args = parser.parse_args(["run", "imp", "--epochs", "3"])
    assert build_config(args).resolved().iterations is None
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert cli.main(["run", "imp", "--config", str(bad)]) == 2
