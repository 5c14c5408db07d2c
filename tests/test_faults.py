"""One line, not a traceback, for every predictable fault (lottery_cli/faults.py).

Exit status 1 for a fault (corrupt data file, disk full, read-only folder), 2 for bad usage
(checked before any folder is created), 130 for Ctrl-C with where the run stopped and what a
rerun resumes; ``LOTTERY_DEBUG=1`` shows the traceback instead. The real CLI runs in a
subprocess on tiny MNIST runs (an MLP of 16 units on 200 training images); disk-full and
read-only folders are injected in-process (``errno.ENOSPC`` / ``errno.EROFS`` from the
system calls), which also works where the tests run as root.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lottery_cli.main as cli

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model", "mlp", "--model-options", '{"widths": [16]}', "--train-subset", "200",
        "--validation-size", "100", "--batch-size", "20", "--seeds", "1", "--no-progress"]
#: two short levels, a checkpoint every 10 steps
SHORT = [*TINY, "--iterations", "20", "--eval-every", "10", "--levels", "1"]


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """The in-process cases expect one line: never the traceback of ``LOTTERY_DEBUG``."""
    monkeypatch.delenv("LOTTERY_DEBUG", raising=False)


@pytest.fixture(scope="module")
def mnist(shared_data) -> str:
    return str(shared_data / "mnist")


def default_sigint() -> None:
    """Run in the child before exec: act on SIGINT even when these tests run in a background
    job, whose shell starts them with SIGINT ignored (inherited across exec, and Python then
    installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def lottery(*args, env=None) -> subprocess.Popen:
    base = {k: v for k, v in os.environ.items() if k != "LOTTERY_DEBUG"}
    env = {**base, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "lottery_cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def finish(proc, timeout=300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def one_line(err: str) -> str:
    """The only stderr line (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def wait_for(proc, folder: Path, pattern: str, timeout=300) -> None:
    """Poll until a file matching ``pattern`` exists under ``folder`` (the run is mid-way)."""
    deadline = time.time() + timeout
    while not list(folder.glob(pattern)):
        assert proc.poll() is None, f"the run ended before {pattern}: {proc.communicate()}"
        assert time.time() < deadline, f"no {pattern} after {timeout} s"
        time.sleep(0.02)


# ----------------------------------------------------------------------------- bad usage
def test_a_model_that_does_not_fit_the_data_is_a_usage_error_before_any_folder(tmp_path):
    code, _, err = finish(lottery("run", "lrr", "--model", "resnet20", "--dataset", "mnist",
                                  "--out", str(tmp_path / "out")))
    assert code == 2
    assert one_line(err) == (
        "lottery run: error: model resnet20 does not fit dataset mnist: its recipe's input "
        "pipeline 'cifar' needs CIFAR's 32x32 RGB images; use dataset cifar10 or cifar100, a "
        "model for mnist (conv2, conv4, conv6, lenet300, mlp), or input_pipeline none")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,line", [
    (["--model", "mlp", "--model-options", '{"width": [100]}'],
     "model mlp has no option 'width' (did you mean 'widths'?); its options: widths (default "
     "[300, 100])"),
    (["--model", "mlp", "--model-options", '{"widths": 100}'],
     "model option widths of mlp must be a list of integers (default [300, 100]), got 100"),
    (["--model", "resnet20", "--dataset", "cifar10", "--model-options", '{"depth": 8}'],
     "model resnet20 has no option 'depth'; its options: width_multiplier (default 1), "
     "shortcut (default \"projection\"), compute_dtype (default \"float32\")"),
    (["--model", "lenet300", "--model-options", '{"num_classes": 3}'],
     "model lenet300 has no option 'num_classes'; the data set sets num_classes; it takes "
     "none"),
    (["--model", "mlp", "--input-pipeline", "cifar"],
     "input_pipeline 'cifar' needs CIFAR's 32x32 RGB images, not dataset mnist; use dataset "
     "cifar10 or cifar100, or input_pipeline none"),
])
def test_bad_model_options_are_usage_errors_before_any_folder(args, line, tmp_path, capsys):
    assert cli.main(["run", "lrr", *args, "--out", str(tmp_path / "out")]) == 2
    assert one_line(capsys.readouterr().err) == f"lottery run: error: {line}"
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_a_usage_error(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    code, _, err = finish(lottery("run", "imp", *SHORT, "--out", str(target)))
    assert code == 2
    assert one_line(err) == f"lottery run: error: --out {target} is a file, not a folder; " \
                            f"choose a folder"
    code, _, err = finish(lottery("run", "imp", *SHORT, "--out", str(target / "sub")))
    assert code == 2 and f"lies under the file {target}" in one_line(err)


def test_lottery_debug_shows_the_traceback(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    code, _, err = finish(lottery("run", "imp", *SHORT, "--out", str(target),
                                  env={"LOTTERY_DEBUG": "1"}))
    assert code == 1                     # an uncaught exception
    assert "Traceback (most recent call last)" in err
    assert "UsageError: --out" in err and "is a file, not a folder" in err


# ----------------------------------------------------------------------------- faults
def test_corrupt_gzip_names_the_file(mnist, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in os.listdir(mnist):
        (data / name).write_bytes(Path(mnist, name).read_bytes())
    labels = data / "train-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[200:240] = bytes(b ^ 0xFF for b in raw[200:240])     # inside the deflate stream
    labels.write_bytes(bytes(raw))
    code, _, err = finish(lottery("run", "imp", *SHORT, "--data-dir", str(data), "--out",
                                  str(tmp_path / "out")))
    line = one_line(err)
    assert code == 1
    assert line.startswith(f"lottery run: error: corrupt data file {labels}: ")
    assert "replace it with a fresh copy" in line
    assert not (tmp_path / "out").exists()


def _fail_writes_under(monkeypatch, folder_part: str, code: int) -> None:
    """Make every write the atomic writer starts in a folder whose path contains
    ``folder_part`` fail at ``fsync`` with ``code`` (as a full disk does)."""
    from lottery_core.store import io

    real_create, real_fsync = io._create_sibling, os.fsync
    doomed = set()

    def create_sibling(path):
        fd, name = real_create(path)
        if folder_part in str(Path(path).parent):
            doomed.add(fd)
        return fd, name

    def fsync(fd):
        if fd in doomed:
            raise OSError(code, os.strerror(code))
        return real_fsync(fd)

    monkeypatch.setattr(io, "_create_sibling", create_sibling)
    monkeypatch.setattr(os, "fsync", fsync)


def test_disk_full_names_the_file_keeps_finished_levels_and_resumes(mnist, tmp_path, capsys,
                                                                    monkeypatch):
    out = tmp_path / "out"
    args = ["run", "imp", *SHORT, "--no-plot", "--data-dir", mnist, "--out", str(out)]
    with monkeypatch.context() as patch:
        _fail_writes_under(patch, "level_1", errno.ENOSPC)
        assert cli.main(args) == 1
    line = one_line(capsys.readouterr().err)
    match = re.fullmatch(r"lottery run: error: disk full: cannot write (\S+); free some space, "
                         r"then rerun the same command to resume \(results written so far are "
                         r"kept\)", line)
    assert match and "/seed_0/level_1/" in match.group(1)
    level0 = next(out.glob("*/seed_0/level_0/metrics.json"))
    assert not list(out.rglob("*.tmp"))                  # no torn or temporary file is left
    stamp = level0.stat().st_mtime_ns
    assert cli.main(args) == 0                           # space is back: the rerun resumes
    assert level0.stat().st_mtime_ns == stamp
    assert "level 0:" not in capsys.readouterr().out     # level 0 was not trained again
    assert next(out.glob("*/seed_0/level_1/metrics.json")).exists()


def _read_only(monkeypatch, folder: Path) -> None:
    """Every attempt to create or write a file or folder under ``folder`` fails with EROFS,
    as on a read-only mount (chmod does not stop root, who may run these tests)."""
    folder = str(folder)
    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def refuse(path):
        if str(os.path.abspath(path)).startswith(folder):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and set(str(mode)) & set("wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & writing:
            refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if os.path.isdir(os.path.dirname(os.path.abspath(path))):   # else: ENOENT first
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)


def test_read_only_folder(mnist, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    args = ["run", "imp", *SHORT, "--data-dir", mnist, "--out", str(out)]
    assert cli.main(args) == 0
    capsys.readouterr()
    with monkeypatch.context() as patch:
        _read_only(patch, tmp_path)
        # a finished run in a read-only folder is done; only the figure cannot be redrawn
        assert cli.main(args) == 0
        captured = capsys.readouterr()
        assert f"done: {next(out.glob('imp-*'))}" in captured.out
        assert one_line(captured.err) == (
            f"lottery run: warning: plot not redrawn: read-only file system: cannot write "
            f"{out / 'accuracy_vs_density.png'}; choose a writable --out")
        # a new run there cannot start
        assert cli.main([*args[:-1], str(tmp_path / "new")]) == 1
        assert one_line(capsys.readouterr().err) == (
            f"lottery run: error: read-only file system: cannot write {tmp_path / 'new'}; "
            f"choose a writable --out")


# ----------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_mid_level_says_where_and_the_rerun_resumes_there(mnist, tmp_path):
    out = tmp_path / "out"
    args = ["run", "imp", *TINY, "--iterations", "300", "--eval-every", "30", "--levels", "1",
            "--no-plot", "--data-dir", mnist, "--out", str(out)]
    proc = lottery(*args)
    wait_for(proc, out, "*/seed_0/level_1/checkpoint.npz")
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130
    match = re.fullmatch(r"lottery run: interrupted at level 1, step (\d+) of 300 \(seed 0\); "
                         r"rerun the same command to resume from the checkpoint at step (\d+): "
                         r"finished levels are kept", one_line(err))
    assert match and match.group(1) == match.group(2) and 0 < int(match.group(1)) < 300
    checkpoint = next(out.glob("*/seed_0/level_1/checkpoint.npz"))
    with np.load(checkpoint) as saved:                    # the message's step is on disk
        assert int(saved["step"]) == int(match.group(1))
    level0 = next(out.glob("*/seed_0/level_0/metrics.json"))
    stamp = level0.stat().st_mtime_ns
    code, stdout, err = finish(lottery(*args))
    assert code == 0, err
    assert "level 0:" not in stdout and "seed 0 level 1:" in stdout
    assert level0.stat().st_mtime_ns == stamp               # level 0 is not redone
    history = json.loads(next(out.glob("*/seed_0/level_1/metrics.json")).read_text())["history"]
    assert [h["step"] for h in history] == list(range(30, 301, 30))


def test_ctrl_c_in_a_one_shot_run(mnist, tmp_path):
    out = tmp_path / "out"
    proc = lottery("run", "pilot", *TINY, "--epochs", "200", "--sparsities", "0.5", "--no-plot",
                   "--data-dir", mnist, "--out", str(out))
    wait_for(proc, out, "*/seed_0/checkpoint.npz")
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130
    match = re.fullmatch(r"lottery run: interrupted at seed 0, epoch (\d+) of 200; rerun the "
                         r"same command to resume from the checkpoint after epoch (\d+): "
                         r"finished seeds are kept", one_line(err))
    assert match and match.group(1) == match.group(2)
    with np.load(next(out.glob("*/seed_0/checkpoint.npz"))) as saved:
        record = json.loads(bytes(saved["__extra__"]).decode())
    assert len(record["history"]) == int(match.group(1))  # the checkpoint is after that epoch


def test_ctrl_c_in_an_experiment_is_one_line(tmp_path, capsys, monkeypatch):
    from lottery_core.experiments import zhou_criteria

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(zhou_criteria, "run", interrupted)
    assert cli.main(["experiment", "zhou-criteria", "--out", str(tmp_path)]) == 130
    assert one_line(capsys.readouterr().err) == (
        "lottery experiment: interrupted; rerun the same command to resume (results written so "
        "far are kept)")


# ----------------------------------------------------------------------------- warmup
def test_the_dense_warmup_announces_itself_with_progress_off(tmp_path, capsys):
    assert cli.main([
        "run", "lrr", "--model", "mlp", "--model-options", '{"widths": [16]}', "--dataset",
        "synthetic", "--train-subset", "64", "--validation-size", "16", "--epochs", "1",
        "--batch-size", "16", "--warmup-epochs", "2", "--eval-every", "3", "--levels", "0",
        "--seeds", "1", "--no-progress", "--no-plot", "--out", str(tmp_path)]) == 0
    # 8 steps in chunks of 3, 3, 2 (one compiled scan each): timed by the second call
    assert re.fullmatch(r"seed 0 dense warmup: 2 epochs \(8 steps\), est\. \d+ (s|min)",
                        one_line(capsys.readouterr().err))


def test_a_phase_estimates_from_its_second_call_and_a_python_loop_runs_single_steps(
        monkeypatch):
    import io

    from lottery_core.loops import phases

    assert phases.call_pieces(-4, -1, python_loop=True) == [(-4, -3), (-3, -2), (-2, -1)]
    assert phases.call_pieces(-4, -1, python_loop=False) == [(-4, -1)]
    clock = iter([0.0, 50.0, 51.0, 60.0])   # start; call 1 (compiles) 50 s; call 2 one step
    monkeypatch.setattr(phases.time, "time", lambda: next(clock))
    stream = io.StringIO()
    phase = phases.Phase("dense warmup: 10 epochs (1951 steps)", 1951, 1951, False, stream)
    phase.advance(1)
    assert stream.getvalue() == ""
    phase.advance(1)                        # 50 s + 1950 steps of 1 s: 2000 s = 33 min
    assert stream.getvalue() == "dense warmup: 10 epochs (1951 steps), est. 33 min\n"
    stream = io.StringIO()
    phases.Phase("dense warmup: 1 epoch (2 steps)", 2, 1, False, stream)
    assert stream.getvalue() == ("dense warmup: 1 epoch (2 steps), one compiled call, no "
                                 "estimate\n")
