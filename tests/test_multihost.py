"""Multi-process runs (``jax.distributed``, docs/multihost.md): two real local processes on
127.0.0.1 (gloo collectives on CPU) train one run through the same Trainer.

* the two-process run equals the one-process run: params within 1e-5 (as tests/test_sharding.py
  for 1 vs 2 devices of one process), masks equal, recorded losses and accuracies within 1e-4
  relative;
* process 1 writes nothing: it runs under a Python audit hook that logs every file opened for
  writing, renamed, removed, created or locked under ``--out`` (and, as a check that the hook
  sees the run, every file it reads there);
* both processes SIGKILLed mid-level and restarted with the same commands finish the run, equal
  to the uninterrupted two-process run;
* bad input: an unreachable coordinator is one line and exit 1 within seconds; bad flag
  combinations one line and exit 2; the environment fallbacks (JAX's, SLURM's).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lottery_cli.main as cli
from lottery_core.errors import UsageError
from lottery_core.store import flatten, load_tree
from lottery_core.training import hosts

REPO = Path(__file__).resolve().parents[1]
#: one seed, levels 0 and 1 of 30 steps, a checkpoint every 10 (the kill lands between them)
TINY = ["--model", "mlp", "--model-options", '{"widths": [16]}', "--dataset", "mnist",
        "--train-subset", "200", "--validation-size", "100", "--iterations", "30",
        "--eval-every", "10", "--batch-size", "20", "--seeds", "1", "--levels", "1",
        "--no-progress", "--no-plot"]
LEVELS = (0, 1)
#: process 1 under an audit hook: every event touching OUT is logged to LOG ("write ..." for a
#: change, "read ..." for a read); the log's descriptor is opened before the hook is installed
FOLLOWER = r"""
import os, runpy, sys
out, log = os.path.abspath(sys.argv[1]), os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate",
           "os.chmod", "os.link", "os.symlink", "shutil.copyfile", "shutil.move"}
def path_of(value):
    try:
        return os.path.abspath(os.fsdecode(value))
    except TypeError:
        return None
def hook(event, args):
    if event == "fcntl.flock":
        os.write(log, b"write flock\n")
    if event != "open" and event not in CHANGES:
        return
    path = path_of(args[0]) if args else None
    if path is None or not (path == out or path.startswith(out + os.sep)):
        return
    if event == "open":
        mode, flags = args[1], args[2]
        writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITING)
        os.write(log, f"{'write' if writing else 'read'} open {path}\n".encode())
    else:
        os.write(log, f"write {event} {path}\n".encode())
sys.addaudithook(hook)
sys.argv = ["lottery", *sys.argv[3:]]
runpy.run_module("lottery_cli", run_name="__main__", alter_sys=True)
"""


def env() -> dict:
    """The processes' environment, without the suite's JAX compilation cache (conftest.py):
    its file lock (``fcntl.flock``) in process 1 would read as process 1 locking the run."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE",
                                                                        "JAX_PERSISTENT_CACHE"))}
    return {**plain, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_pair(mnist: Path, out: Path, audit: Path) -> list[subprocess.Popen]:
    """Process 0 (plain) and process 1 (audited) of one run, on a fresh local port."""
    args = ["run", "imp", *TINY, "--data-dir", str(mnist), "--out", str(out),
            "--coordinator", f"127.0.0.1:{free_port()}", "--num-processes", "2"]
    first = subprocess.Popen([sys.executable, "-m", "lottery_cli", *args, "--process-id", "0"],
                             cwd=REPO, env=env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen([sys.executable, "-c", FOLLOWER, str(out), str(audit), *args,
                               "--process-id", "1"], cwd=REPO, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return [first, second]


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, out, err))
    return results


def writes(audit: Path) -> list[str]:
    return [line for line in audit.read_text().splitlines() if line.startswith("write")]


def reads(audit: Path) -> list[str]:
    return [line for line in audit.read_text().splitlines() if line.startswith("read")]


def level_files(out: Path, level: int) -> tuple[dict, dict, dict]:
    folder = next(out.glob(f"imp-*/seed_0/level_{level}"))
    return (flatten(load_tree(folder / "params.npz")), flatten(load_tree(folder / "mask.npz")),
            json.loads((folder / "metrics.json").read_text()))


def run_files(out: Path) -> set[str]:
    """Relative paths of the files of a run folder (the lock aside: its holder differs)."""
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
            and p.name != "run.lock"}


@pytest.fixture(scope="module")
def mnist(shared_data) -> Path:
    return shared_data / "mnist"


@pytest.fixture(scope="module")
def single(mnist, tmp_path_factory) -> Path:
    """The reference: one process, one device."""
    out = tmp_path_factory.mktemp("single")
    assert cli.main(["run", "imp", *TINY, "--data-dir", str(mnist), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def pair(mnist, tmp_path_factory) -> tuple[Path, Path, list]:
    """The same run in two processes: ``(out, process 1's audit log, results)``."""
    root = tmp_path_factory.mktemp("pair")
    out, audit = root / "out", root / "audit.log"
    return out, audit, finish(start_pair(mnist, out, audit))


def test_two_processes_train_the_one_process_run(single, pair):
    out, _, results = pair
    for code, stdout, stderr in results:
        assert code == 0, stderr
        assert "2 devices" in stdout and "done:" in stdout
    for level in LEVELS:
        params1, mask1, metrics1 = level_files(single, level)
        params2, mask2, metrics2 = level_files(out, level)
        assert params1.keys() == params2.keys()
        assert max(float(np.max(np.abs(params1[k] - params2[k]))) for k in params1) < 1e-5
        assert all(np.array_equal(mask1[k], mask2[k]) for k in mask1)
        assert metrics1["density"] == metrics2["density"]
        assert len(metrics1["history"]) == len(metrics2["history"]) == 3
        for h1, h2 in zip(metrics1["history"], metrics2["history"]):
            assert h1.keys() == h2.keys() and h1["step"] == h2["step"]
            for key in h1.keys() - {"step"}:
                assert abs(h1[key] - h2[key]) <= 1e-4 * max(abs(h1[key]), 1e-6), key
        assert (metrics1["provenance"]["device_count"],
                metrics2["provenance"]["device_count"]) == (1, 2)


def test_only_process_0_writes_the_run_folder(single, pair):
    out, audit, results = pair
    assert results[1][0] == 0
    assert writes(audit) == []
    # the hook saw process 1 read the folder: the previous level, written by process 0
    assert any("level_0" in line and line.endswith(".npz") for line in reads(audit))
    # and process 0 wrote the same files as a one-process run
    assert run_files(out) == run_files(single)


def test_killed_processes_resume_to_the_uninterrupted_run(mnist, pair, tmp_path):
    reference = pair[0]
    out, audit = tmp_path / "out", tmp_path / "audit.log"
    procs = start_pair(mnist, out, audit)
    deadline = time.time() + 300
    while not list(out.glob("imp-*/seed_0/level_1/checkpoint.npz")):
        assert all(p.poll() is None for p in procs), finish(procs)
        assert time.time() < deadline, "no level 1 checkpoint after 300 s"
        time.sleep(0.02)
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    assert [proc.wait(timeout=60) for proc in procs] == [-signal.SIGKILL] * 2
    assert not list(out.glob("imp-*/seed_0/level_1/metrics.json"))
    stamp = next(out.glob("imp-*/seed_0/level_0/metrics.json")).stat().st_mtime_ns

    results = finish(start_pair(mnist, out, audit))
    assert [code for code, _, _ in results] == [0, 0], results[0][2] + results[1][2]
    assert "from the checkpoint" not in results[0][1]
    assert next(out.glob("imp-*/seed_0/level_0/metrics.json")).stat().st_mtime_ns == stamp
    assert writes(audit) == []                       # in the killed run and the resumed one
    for level in LEVELS:
        params_a, mask_a, metrics_a = level_files(reference, level)
        params_b, mask_b, metrics_b = level_files(out, level)
        assert all(np.array_equal(params_a[k], params_b[k]) for k in params_a)
        assert all(np.array_equal(mask_a[k], mask_b[k]) for k in mask_a)
        assert metrics_a["history"] == metrics_b["history"]
    assert run_files(out) == run_files(reference)


def test_a_fault_in_process_0_ends_both_processes_with_one_line_each(mnist, pair):
    """Process 0 stops (the folder is in use); process 1, waiting for it, is not left in a
    barrier or in jax's shutdown: both end within seconds, each with its own line."""
    from lottery_core.store import lock

    out, audit = pair[0], pair[1].with_name("audit-busy.log")
    run_dir = next(out.glob("imp-*"))
    t0 = time.time()
    with lock.hold(run_dir):
        results = finish(start_pair(mnist, out, audit))
    assert [code for code, _, _ in results] == [1, 1]
    lines = [[line for line in err.splitlines() if line.startswith("lottery run:")]
             for _, _, err in results]
    assert lines[0] == [f"lottery run: error: {run_dir} is in use by process {os.getpid()} on "
                        f"{socket.gethostname()} since " + lines[0][0].split(" since ")[1]]
    assert len(lines[1]) == 1 and lines[1][0].startswith(
        "lottery run: error: process 1 of 2 stopped: another process of the run ended (its "
        "output says why): ")
    assert "Traceback" not in results[0][2] + results[1][2]
    assert time.time() - t0 < 120                    # not jax's 300 s shutdown timeout
    assert writes(audit) == []


# ----------------------------------------------------------------------------- bad input
def test_an_unreachable_coordinator_is_one_line_and_exit_1(mnist, tmp_path):
    port = free_port()                               # nothing listens there
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "lottery_cli", "run", "imp", *TINY, "--data-dir", str(mnist),
         "--out", str(tmp_path / "out"), "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", "1", "--coordinator-timeout", "2"],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"lottery run: error: cannot reach the coordinator 127.0.0.1:{port} within 2 s "
        f"(connection refused); start process 0 there (it runs the coordinator), or check "
        f"--coordinator and the network"]
    assert time.time() - t0 < 60                     # 2 s of waiting plus start-up
    assert not (tmp_path / "out").exists()


def test_a_coordinator_port_in_use_is_one_line_for_process_0(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(Exception) as info:
            hosts.check_coordinator(hosts.Cluster(f"127.0.0.1:{port}", 2, 0, 1.0))
    assert type(info.value).__name__ == "ClusterError"
    assert str(info.value) == (f"cannot start the coordinator 127.0.0.1:{port}: port {port} "
                               f"is in use; choose another")


@pytest.mark.parametrize("flags, line", [
    (["--coordinator", "127.0.0.1:5000", "--num-processes", "2", "--process-id", "2"],
     "the process id must be below the process count 2, got 2"),
    (["--num-processes", "2", "--process-id", "1"],
     "--num-processes and --process-id need --coordinator HOST:PORT (or "
     "JAX_COORDINATOR_ADDRESS)"),
    (["--coordinator", "127.0.0.1", "--num-processes", "2", "--process-id", "0"],
     "the coordinator must be HOST:PORT with a port in 1..65535, got '127.0.0.1'"),
    (["--coordinator", "127.0.0.1:5000", "--process-id", "0"],
     "a multi-process run (--coordinator 127.0.0.1:5000) needs --num-processes (or "
     "JAX_NUM_PROCESSES or SLURM_NTASKS)"),
    (["--coordinator-timeout", "5"],
     "--coordinator-timeout is for a multi-process run (--coordinator HOST:PORT)"),
])
def test_bad_flag_combinations_are_one_line_and_exit_2(flags, line, tmp_path, capsys,
                                                       monkeypatch):
    for name in hosts.COORDINATOR_ENV + hosts.COUNT_ENV + hosts.ID_ENV:
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["run", "imp", *flags, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"lottery run: error: {line}"]
    assert not (tmp_path / "out").exists()


def test_a_one_shot_method_is_not_multi_process(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    assert cli.main(["run", "pilot", "--coordinator", "127.0.0.1:5000", "--num-processes", "2",
                     "--process-id", "1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "lottery run: error: a multi-process run is for level methods; pilot runs in one "
        "process")


def test_seeds_are_not_split_into_worker_processes_of_a_multi_process_run(monkeypatch):
    """The seed workers would each need a place in the run: ``auto`` never picks them there,
    and asking for them is refused before anything is loaded."""
    import jax

    from lottery_core.config import ExperimentConfig
    from lottery_core.loops import workers
    from lottery_core.loops.levels import Runner

    monkeypatch.setattr(workers, "usable_core_ids", lambda: [0, 1])
    assert workers.auto_seed_parallel(3, 50_000, 12) == "processes"
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    assert workers.auto_seed_parallel(3, 50_000, 12) == "sequential"
    with pytest.raises(ValueError, match="--seed-parallel processes cannot be combined with a "
                                         "multi-process run; use sequential or vmap"):
        Runner(ExperimentConfig(method="imp", dataset="synthetic", model="mlp"), Path("unused"),
               seed_parallel="processes")


def test_settings_come_from_options_then_jax_then_slurm_variables():
    slurm = {"SLURM_NTASKS": "4", "SLURM_PROCID": "3"}
    assert hosts.resolve(environ=slurm) is None          # no coordinator: one process
    assert hosts.resolve("h:1", environ=slurm) == hosts.Cluster("h:1", 4, 3)
    jax_env = {**slurm, "JAX_COORDINATOR_ADDRESS": "c:2", "JAX_NUM_PROCESSES": "2",
               "JAX_PROCESS_ID": "1"}
    assert hosts.resolve(environ=jax_env) == hosts.Cluster("c:2", 2, 1)
    assert hosts.resolve("h:1", 8, 5, 3.0, environ=jax_env) == hosts.Cluster("h:1", 8, 5, 3.0)
    with pytest.raises(UsageError, match="SLURM_PROCID must be an integer, got 'x'"):
        hosts.resolve("h:1", environ={"SLURM_NTASKS": "2", "SLURM_PROCID": "x"})
    with pytest.raises(UsageError, match="--num-processes must be at least 1, got 0"):
        hosts.resolve("h:1", 0, 0, environ={})
