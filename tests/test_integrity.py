"""Runs that never lie and never lose work (issue 13, items 1, 3, 6, 7).

* integrity: every finished level, seed folder, one-shot seed and experiment result is sealed
  by a manifest; a rerun checks it before skipping, and a damaged file (emptied
  ``metrics.json``, truncated or deleted ``params.npz``, zeroed bytes in ``mask.npz``, a
  damaged last level when extending) stops ``lottery run`` with one line naming the file, the
  problem and ``--redo-level K``; ``--redo-level K`` recomputes level K on and keeps the
  earlier levels; ``lottery plot`` names the file it could not read; folders written before
  manifests are read back completely and sealed;
* one writer per run: a second process (a real one) stops at once naming the folder and the
  holder's pid, waits with ``--wait``, and takes over a lock left by a SIGKILLed process;
* provenance in every card, metrics and results file, ``lottery --version``;
* result files get the user's umask.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lottery_cli.main as cli
import lottery_core
from lottery_core.errors import CorruptRunError, RunBusyError
from lottery_core.store import (atomic_write_json, flatten, integrity, layout, level_directory,
                                load_tree, lock, provenance, read_json, save_tree,
                                seed_directory, write_results)

REPO = Path(__file__).resolve().parents[1]
#: a tiny MNIST run: LeNet-like MLP, 20 steps per level, 2 seeds, levels 0-2
TINY = ["--model", "mlp", "--model-options", '{"widths": [16]}', "--dataset", "mnist",
        "--train-subset", "200", "--validation-size", "100", "--iterations", "20",
        "--eval-every", "10", "--batch-size", "20", "--seeds", "2",
        "--seed-parallel", "sequential", "--no-progress", "--no-plot"]
LEVELS = 2


def run_args(mnist: Path, out: Path, *extra: str, levels: int = LEVELS) -> list[str]:
    return ["run", "imp", *TINY, "--data-dir", str(mnist), "--levels", str(levels),
            "--out", str(out), *extra]


def lottery(*args, **kwargs) -> subprocess.Popen:
    """The real console script in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-m", "lottery_cli", *map(str, args)], cwd=REPO,
                            env=env, text=True, **kwargs)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root`` (the lock file aside)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != layout.LOCK}


def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items()
            if k not in ("seconds", "wall_seconds_this_process", "provenance")}


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    return lines[0]


@pytest.fixture(scope="module")
def mnist(shared_data) -> Path:
    return shared_data / "mnist"


@pytest.fixture(scope="module")
def finished(mnist, tmp_path_factory) -> Path:
    """OUT of a finished tiny run (copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("finished") / "runs"
    assert cli.main(run_args(mnist, out)) == 0
    return out


@pytest.fixture
def out(finished, tmp_path) -> Path:
    copy = tmp_path / "runs"
    shutil.copytree(finished, copy)
    return copy


def run_dir_of(out: Path) -> Path:
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


# ----------------------------------------------------------------------------- sealed runs
def test_a_finished_run_is_sealed_and_a_rerun_changes_nothing(out, mnist, capsys):
    run_dir = run_dir_of(out)
    for seed in range(2):
        assert (seed_directory(run_dir, seed) / layout.MANIFEST).exists()
        assert integrity.verify(seed_directory(run_dir, seed))
        for level in range(LEVELS + 1):
            folder = level_directory(run_dir, seed, level)
            manifest = read_json(folder / layout.MANIFEST)["files"]
            assert sorted(manifest) == sorted(p.name for p in folder.iterdir()
                                              if p.name != layout.MANIFEST)
            assert {"mask.npz", "params.npz", "metrics.json"} <= set(manifest)
            assert manifest["params.npz"]["bytes"] == (folder / "params.npz").stat().st_size
    before = snapshot(out)
    capsys.readouterr()
    assert cli.main(run_args(mnist, out)) == 0
    assert snapshot(out) == before
    assert "level" not in capsys.readouterr().out.split("\n", 1)[1]     # nothing trained


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _zero_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


#: case: (seed, level, file, damage, the problem the message states: a regular expression)
CORRUPTIONS = {
    "emptied-metrics": (0, 2, layout.METRICS, _empty,
                        r"empty, manifest\.json lists \d+ bytes \(truncated or overwritten\)"),
    "truncated-params": (1, 1, layout.PARAMS, _truncate,
                         r"25987 bytes, manifest\.json lists 51974 bytes \(truncated or "
                         r"overwritten\)"),
    "deleted-params": (0, 1, layout.PARAMS, Path.unlink,
                       r"missing \(listed in manifest\.json\)"),
    "zeroed-mask-bytes": (1, 2, layout.MASK, _zero_bytes,
                          r"contents differ from the SHA-256 in manifest\.json \(changed or "
                          r"damaged since it was written\)"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_damaged_level_stops_the_rerun_and_redo_level_recomputes_it(case, out, mnist,
                                                                      capsys):
    seed, level, name, damage, problem = CORRUPTIONS[case]
    run_dir = run_dir_of(out)
    original = {(s, k): (comparable(read_json(level_directory(run_dir, s, k) / "metrics.json")),
                         flatten(load_tree(level_directory(run_dir, s, k) / "params.npz")))
                for s in range(2) for k in range(LEVELS + 1)}
    path = level_directory(run_dir, seed, level) / name
    damage(path)
    damaged = snapshot(out)
    capsys.readouterr()
    assert cli.main(run_args(mnist, out)) == 1
    message = one_line(capsys.readouterr().err)
    assert re.fullmatch(f"lottery run: error: {re.escape(str(path))}: {problem}; rerun with "
                        f"--redo-level {level}", message), message
    assert snapshot(out) == damaged                       # nothing written, nothing lost
    # --redo-level K: levels K.. of every seed again, levels < K untouched
    assert cli.main(run_args(mnist, out, "--redo-level", str(level))) == 0
    after = snapshot(out)
    for rel, (data, mtime) in damaged.items():
        match = re.search(r"seed_(\d+)/level_(\d+)/", rel)
        if match is None or int(match.group(2)) < level:
            assert after.get(rel) == (data, mtime), f"{rel} was rewritten"
    for (s, k), (metrics, params) in original.items():
        folder = level_directory(run_dir, s, k)
        assert integrity.verify(folder)
        if k >= level:       # recomputed, to the same numbers
            assert (folder / "metrics.json").stat().st_mtime_ns != damaged[
                str((folder / "metrics.json").relative_to(out))][1]
            assert comparable(read_json(folder / "metrics.json")) == metrics
            again = flatten(load_tree(folder / "params.npz"))
            for key in params:
                np.testing.assert_array_equal(again[key], params[key])
    # and the next rerun skips everything
    assert cli.main(run_args(mnist, out)) == 0
    assert snapshot(out) == after


def test_plot_names_the_file_it_cannot_read(out, capsys):
    run_dir = run_dir_of(out)
    path = level_directory(run_dir, 1, 1) / layout.METRICS
    (path.parent / layout.MANIFEST).unlink()         # as written before manifests existed
    path.write_text('{"method": "imp", "seed": \x01}')
    capsys.readouterr()
    assert cli.main(["plot", str(out)]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"lottery plot: error: {path}: not valid JSON (line 1 column 27); rerun with "
        f"--redo-level 1")


def test_extending_a_run_whose_last_level_is_damaged_stops_and_keeps_the_earlier_levels(
        out, mnist, capsys):
    run_dir = run_dir_of(out)
    path = level_directory(run_dir, 0, LEVELS) / layout.METRICS
    path.write_text(path.read_text()[:-40])
    kept = {k: v for k, v in snapshot(out).items() if f"level_{LEVELS}" not in k}
    capsys.readouterr()
    assert cli.main(run_args(mnist, out, levels=LEVELS + 1)) == 1
    assert f"{path}: " in one_line(capsys.readouterr().err)
    assert not level_directory(run_dir, 0, LEVELS + 1).exists()     # nothing built on it
    assert cli.main(run_args(mnist, out, "--redo-level", str(LEVELS), levels=LEVELS + 1)) == 0
    now = snapshot(out)
    assert {k: now[k] for k in kept} == kept
    for seed in range(2):
        assert integrity.verify(level_directory(run_dir, seed, LEVELS + 1))


def test_redo_level_out_of_range_is_a_usage_error(out, mnist, capsys):
    assert cli.main(run_args(mnist, out, "--redo-level", str(LEVELS + 1))) == 2
    assert "--redo-level must be in [0, 2]" in one_line(capsys.readouterr().err)


def test_folders_without_manifests_are_read_back_and_sealed(out, mnist, capsys):
    """Levels written before manifests existed (tests/test_legacy_runs.py resumes real ones)
    are accepted when every file reads back completely; the manifests written then are those
    of the original run."""
    manifests = {p: p.read_bytes() for p in out.rglob(layout.MANIFEST)}
    assert len(manifests) == 2 * (LEVELS + 2)
    for path in manifests:
        path.unlink()
    results = {k: v for k, v in snapshot(out).items()}
    capsys.readouterr()
    assert cli.main(run_args(mnist, out)) == 0
    assert "finished folders had no manifest" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.rglob(layout.MANIFEST)} == manifests
    now = snapshot(out)
    assert {k: now[k] for k in results} == results
    # an unreadable file without a manifest is refused all the same
    for path in manifests:
        path.unlink()
    mask = level_directory(run_dir_of(out), 1, 0) / layout.MASK
    _zero_bytes(mask)
    assert cli.main(run_args(mnist, out)) == 1
    message = one_line(capsys.readouterr().err)
    assert f"{mask}: not a readable array file" in message and "--redo-level 0" in message


def test_the_console_script_prints_one_line_and_exits_1(out, mnist):
    run_dir = run_dir_of(out)
    path = level_directory(run_dir, 0, 2) / layout.METRICS
    size = path.stat().st_size
    _empty(path)
    for argv, command in ((run_args(mnist, out), "run"), (["plot", out], "plot")):
        process = lottery(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = process.communicate(timeout=600)
        assert process.returncode == 1, err
        assert one_line(err) == (f"lottery {command}: error: {path}: empty, manifest.json "
                                 f"lists {size} bytes (truncated or overwritten); rerun with "
                                 f"--redo-level 2")


# ----------------------------------------------------------------------------- one-shot runs
ONESHOT = ["--model", "mlp", "--model-options", '{"widths": [8]}', "--dataset", "synthetic",
           "--train-subset", "100", "--epochs", "1", "--batch-size", "20", "--seeds", "1",
           "--no-progress", "--no-plot"]


def test_one_shot_seeds_are_sealed_checked_and_resealed_when_extended(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli.main(["run", "oneshot", *ONESHOT, "--sparsities", "0.5", "--out", str(out)]) == 0
    [seed_dir] = list(out.glob("oneshot-*/seed_0"))
    assert integrity.verify(seed_dir)
    metrics = read_json(seed_dir / layout.METRICS)
    assert metrics["provenance"]["toolkit"]["version"] == lottery_core.__version__
    assert read_json(seed_dir / layout.TRAINING)["provenance"]["command"][:3] == [
        "lottery", "run", "oneshot"]
    # gaining a sparsity: unsealed, written, sealed again
    assert cli.main(["run", "oneshot", *ONESHOT, "--sparsities", "0.5,0.8", "--out",
                     str(out)]) == 0
    assert "mask_0.8000.npz" in read_json(seed_dir / layout.MANIFEST)["files"]
    assert integrity.verify(seed_dir)
    mask = seed_dir / "mask_0.5000.npz"
    _zero_bytes(mask)
    capsys.readouterr()
    assert cli.main(["run", "oneshot", *ONESHOT, "--sparsities", "0.5,0.8", "--out",
                     str(out)]) == 1
    message = one_line(capsys.readouterr().err)
    assert message.startswith(f"lottery run: error: {mask}: contents differ")
    assert message.endswith(f"remove the folder {seed_dir} and rerun (that seed is computed "
                            f"again)")
    assert cli.main(["run", "oneshot", *ONESHOT, "--sparsities", "0.5", "--redo-level", "0",
                     "--out", str(out)]) == 2


# ----------------------------------------------------------------------------- experiments
SUPERMASK = ["experiment", "zhou-supermask", "--dataset", "synthetic", "--train-subset", "100",
             "--criteria", "large_final,random", "--powers", "0,4", "--seeds", "1",
             "--iterations", "20", "--eval-every", "10", "--no-progress"]


def test_experiment_results_are_sealed_and_its_folder_locked(tmp_path, capsys):
    out = tmp_path / "runs"
    assert cli.main([*SUPERMASK, "--out", str(out)]) == 0
    [directory] = [p for p in out.iterdir() if p.is_dir()]
    results = read_json(directory / layout.RESULTS)
    assert results["provenance"]["toolkit"]["version"] == lottery_core.__version__
    assert read_json(directory / layout.MANIFEST)["files"].keys() == {layout.RESULTS}
    # another process holds the experiment: stop at once, naming it
    holder = hold_in_another_process(directory)
    try:
        capsys.readouterr()
        assert cli.main([*SUPERMASK, "--out", str(out)]) == 1
        assert one_line(capsys.readouterr().err).startswith(
            f"lottery experiment: error: {directory} is in use by process {holder.pid} on ")
    finally:
        release(holder)
    # a damaged level of its run: the remedy names the folders to remove (no --redo-level)
    [metrics] = list(directory.glob("runs/imp-*/seed_0/level_0/metrics.json"))
    _empty(metrics)
    assert cli.main([*SUPERMASK, "--out", str(out)]) == 1
    assert one_line(capsys.readouterr().err).endswith(
        f"remove level_0 and every later level of each seed in {metrics.parents[2]}, "
        f"then rerun")
    # a damaged results file is named by its reader
    (directory / layout.RESULTS).write_text("{}")
    with pytest.raises(CorruptRunError, match=r"results.json: 2 bytes, manifest.json lists "
                                              r"\d+ bytes .*rerun the experiment"):
        read_json(directory / layout.RESULTS)


def test_write_results_unseals_before_writing(tmp_path):
    write_results(tmp_path, {"a": 1})
    assert integrity.verify(tmp_path)
    write_results(tmp_path, {"a": 2})
    assert read_json(tmp_path / layout.RESULTS)["a"] == 2 and integrity.verify(tmp_path)


# ----------------------------------------------------------------------------- one writer
HOLDER = """
import sys
from lottery_core.store import lock
key = lock.acquire(sys.argv[1], name=sys.argv[2])
print("held", flush=True)
sys.stdin.readline()
lock.release(key)
"""


LEARNED = ["experiment", "zhou-learned-mask", "--dataset", "synthetic", "--train-subset", "100",
           "--seeds", "2", "--batch-size", "50", "--eval-samples", "1"]


def test_only_seed_processes_of_one_experiment_run_side_by_side(tmp_path, capsys):
    """``--only-seed S`` locks seed S's files only (``seed_<s>.lock``), so the seeds of one
    experiment train in separate processes at once (docs/zhou.md); the same seed twice, or the
    whole run beside a seed's process, stops at once naming the holder."""
    out = tmp_path / "runs"
    assert cli.main([*LEARNED, "--epochs", "1", "--only-seed", "0", "--out", str(out)]) == 0
    [directory] = [p for p in out.iterdir() if p.is_dir()]
    holder = hold_in_another_process(directory, layout.seed_lock(1))   # seed 1 is training
    try:
        capsys.readouterr()
        assert cli.main([*LEARNED, "--epochs", "2", "--only-seed", "0", "--out", str(out)]) == 0
        assert len(read_json(directory / layout.seed_record(0))["history"]) == 2
        busy = (f"lottery experiment: error: {layout.seed_lock(1)} of {directory} is in use by "
                f"process {holder.pid} on ")
        for extra in (["--only-seed", "1"], []):          # the same seed, the whole run
            assert cli.main([*LEARNED, "--epochs", "2", *extra, "--out", str(out)]) == 1
            assert one_line(capsys.readouterr().err).startswith(busy)
        assert not (directory / layout.seed_record(1)).exists()
        assert not (directory / layout.RESULTS).exists()
    finally:
        release(holder)
    # the whole run (all seeds' locks and the folder's) goes on once seed 1's process is gone
    assert cli.main([*LEARNED, "--epochs", "2", "--out", str(out)]) == 0
    assert set(read_json(directory / layout.RESULTS)["seeds"]) == {"0", "1"}


def hold_in_another_process(run_dir: Path, name: str = layout.LOCK) -> subprocess.Popen:
    """A real process holding ``run_dir``'s lock (the lock file ``name``) until
    :func:`release` (or a kill)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), name], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def release(holder: subprocess.Popen) -> None:
    if holder.poll() is None:
        holder.stdin.write("\n")
        holder.stdin.flush()
    holder.wait(timeout=60)


def test_a_second_process_stops_at_once_naming_the_holder(out, mnist):
    run_dir = run_dir_of(out)
    holder = hold_in_another_process(run_dir)
    try:
        before = snapshot(out)
        second = lottery(*run_args(mnist, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = second.communicate(timeout=600)
        assert second.returncode == 1
        assert one_line(err).startswith(f"lottery run: error: {run_dir} is in use by process "
                                        f"{holder.pid} on ")
        assert one_line(err).endswith("wait for it to finish, or rerun with --wait")
        assert snapshot(out) == before
    finally:
        release(holder)


def test_with_wait_the_second_process_runs_after_the_first_releases(out, mnist, tmp_path):
    run_dir = run_dir_of(out)
    shutil.rmtree(level_directory(run_dir, 1, 2))        # work left for the second process
    holder = hold_in_another_process(run_dir)
    log = tmp_path / "second.log"
    try:
        with open(log, "w") as handle:
            second = lottery(*run_args(mnist, out, "--wait"), stdout=handle,
                             stderr=subprocess.STDOUT)
            deadline = time.time() + 600
            while "waiting for it (--wait)" not in log.read_text():
                assert second.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.2)
            time.sleep(1.0)
            assert second.poll() is None                  # still waiting
            assert not (level_directory(run_dir, 1, 2) / layout.METRICS).exists()
        release(holder)
        assert second.wait(timeout=600) == 0, log.read_text()
    finally:
        release(holder)
    assert f"in use by process {holder.pid}" in log.read_text()
    assert integrity.verify(level_directory(run_dir, 1, 2))
    assert "taking over" not in log.read_text()          # released, not abandoned


def test_a_lock_left_by_a_killed_process_is_taken_over(out, mnist):
    run_dir = run_dir_of(out)
    holder = hold_in_another_process(run_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    assert str(holder.pid) in (run_dir / layout.LOCK).read_text()     # left behind
    second = lottery(*run_args(mnist, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert f"taking over the lock left by process {holder.pid}" in output
    assert (run_dir / layout.LOCK).read_text() == ""                  # released at the end


def test_the_lock_is_reentrant_within_a_process_and_scoped(tmp_path):
    with lock.hold(tmp_path):
        with lock.hold(tmp_path):                     # nested: no deadlock
            assert json.loads((tmp_path / layout.LOCK).read_text())["pid"] == os.getpid()
        assert (tmp_path / layout.LOCK).read_text()
    assert (tmp_path / layout.LOCK).read_text() == ""
    with lock.scope():
        lock.acquire_in_scope(tmp_path / "a")
        assert (tmp_path / "a" / layout.LOCK).read_text()
    assert (tmp_path / "a" / layout.LOCK).read_text() == ""
    holder = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(RunBusyError, match=f"in use by process {holder.pid}"):
            lock.acquire(tmp_path)
    finally:
        release(holder)


# ----------------------------------------------------------------------------- provenance
def test_provenance_is_recorded_outside_the_identity(finished):
    from lottery_core.store import identity_hash

    run_dir = run_dir_of(finished)
    card = read_json(run_dir / layout.CONFIG)
    assert run_dir.name == f"imp-{identity_hash(card['identity'])}"
    for record in (card["provenance"],
                   read_json(level_directory(run_dir, 1, 2) / layout.METRICS)["provenance"]):
        assert record["toolkit"]["version"] == lottery_core.__version__
        assert record["command"][:3] == ["lottery", "run", "imp"]
        assert record["libraries"]["jax"] and record["libraries"]["numpy"] == np.__version__
        assert record["backend"] == "cpu" and record["devices"] == ["cpu"]
        assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    commit, dirty = provenance.git_state()
    if (REPO / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", commit) and isinstance(dirty, bool)
    assert card["provenance"]["toolkit"]["commit"] == commit


def test_no_commit_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGE_ROOT", tmp_path)
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state() == (None, None)
        assert provenance.version_line() == f"lottery {lottery_core.__version__}"
    finally:
        provenance.git_state.cache_clear()


def test_version_option_and_the_single_version_source():
    process = lottery("--version", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    line = one_line(output)
    assert re.fullmatch(rf"lottery {re.escape(lottery_core.__version__)}"
                        r"( \(commit [0-9a-f]{7}(, modified)?\))?", line), line
    commit, _ = provenance.git_state()
    assert (commit is None) == ("commit" not in line)
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "lottery_core.__version__"}


# ----------------------------------------------------------------------------- permissions
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_get_the_users_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "metrics.json", {"a": 1})
        save_tree(tmp_path / "params.npz", {"w": np.zeros(3)})
        integrity.seal(tmp_path)
        with lock.hold(tmp_path):
            pass
    finally:
        os.umask(previous)
    for name in ("metrics.json", "params.npz", layout.MANIFEST, layout.LOCK):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp left


def test_a_runs_files_follow_the_umask_of_the_process(finished):
    umask = os.umask(0)
    os.umask(umask)
    files = [p for p in finished.rglob("*") if p.is_file()]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~umask}
