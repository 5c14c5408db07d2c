"""``lottery sweep SPEC.toml``: the spec checked before anything runs, the local executor
(in-process and child processes), idempotent reruns, a killed sweep resumed, ``--status``, and
the Ray executor on a real local Ray cluster with one worker killed mid-run.

Every run is a tiny MNIST level run (an MLP of 16 hidden units, 200 training images, 20 steps
per level, levels 0 and 1): 2 methods x 2 seeds = 4 runs. The in-process local sweep is the
reference the other executors must reproduce bit for bit (masks, weights, accuracies).
"""

from __future__ import annotations

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
from lottery_cli.sweep import spec as sweep_spec
from lottery_cli.sweep import state as sweep_state
from lottery_core.store import flatten, layout, load_tree, lock

REPO = Path(__file__).resolve().parents[1]
SETTINGS = """
[settings]
model = "mlp"
model_options = { widths = [16] }
dataset = "mnist"
train_subset = 200
validation_size = 100
iterations = 20
eval_every = 10
batch_size = 20
levels = 1
"""


def write_spec(folder: Path, data_dir: Path, *, name: str = "spec", out: str = "runs",
               methods=("imp", "lrr"), seeds="[0, 1]", extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[sweep]\nout = "{out}"\nmethods = {json.dumps(list(methods))}\n'
                    f'seeds = {seeds}\ndata_dir = "{data_dir}"\n{SETTINGS}{extra}')
    return path


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "LOTTERY_DEBUG"}
    return {**base, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p), "JAX_PLATFORMS": "cpu"}


def lottery(*args, **kwargs) -> subprocess.Popen:
    """The real console script in a fresh process."""
    return subprocess.Popen([sys.executable, "-m", "lottery_cli", *map(str, args)], cwd=REPO,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def files_and_mtimes(folders) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for folder in folders
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def results(out: Path) -> dict[str, object]:
    """Every array of every level folder and each level's accuracies, by relative path."""
    found = {}
    for path in sorted(out.glob("*-*/seed_*/level_*/*.npz")):
        for key, array in flatten(load_tree(path)).items():
            found[f"{path.relative_to(out)}:{key}"] = np.asarray(array)
    for path in sorted(out.glob("*-*/seed_*/level_*/metrics.json")):
        record = json.loads(path.read_text())
        found[str(path.relative_to(out))] = (record["test_accuracy"], record["test_loss"],
                                             record["density"])
    return found


def assert_same_results(out: Path, reference: Path) -> None:
    mine, theirs = results(out), results(reference)
    assert mine.keys() == theirs.keys() and len(mine) > 0
    for key, value in theirs.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(mine[key], value), key
        else:
            assert mine[key] == value, key


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("LOTTERY_DEBUG", raising=False)


@pytest.fixture(scope="module")
def mnist(shared_data) -> Path:
    return shared_data / "mnist"


@pytest.fixture(scope="module")
def reference(mnist, tmp_path_factory) -> Path:
    """The 4 runs by the local executor in this process (one after another), with the
    sweep's printed lines."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_spec(folder, mnist)
    assert cli.main(["sweep", str(path), "--no-plot"]) == 0
    return path


# ----------------------------------------------------------------------------- the spec
BAD_SPECS = [
    # (what is changed, the words the one line must contain)
    ("settings_key", ["unknown key 'learning_rat' in [settings]", "did you mean learning_rate",
                      "allowed:"]),
    ("method", ["unknown method 'imq' in [sweep] methods", "available: imp, wr"]),
    ("value_type", ["[settings] iterations must be an integer", "'twenty'"]),
    ("sweep_key", ["unknown key 'executor' in [sweep]", "allowed: out, methods, seeds"]),
    ("table", ["unknown key 'options' in the spec", "allowed: sweep, settings, grid"]),
    ("seeds", ["[sweep] seeds must be a non-empty list of integers >= 0"]),
    ("grid_value", ["[grid] learning_rate value must be a number", "'fast'"]),
    ("same_run", ["are the same run", "levels"]),
    ("run_check", ["imp", "prune_fraction (sparsity removed per level) must be in [0, 1)"]),
    ("oneshot_option", ["oneshot", "--levels is not used by oneshot"]),
    ("data_dir", ["the data folder", "no-such-folder ([sweep] data_dir, else $LOTTERY_DATA) "
                  "is not a folder"]),
]


def bad_spec(kind: str, folder: Path, data: Path) -> Path:
    if kind == "settings_key":
        return write_spec(folder, data, extra="learning_rat = 0.1\n")
    if kind == "method":
        return write_spec(folder, data, methods=("imp", "imq"))
    if kind == "value_type":
        path = write_spec(folder, data)
        path.write_text(path.read_text().replace("iterations = 20", 'iterations = "twenty"'))
        return path
    if kind == "sweep_key":
        path = write_spec(folder, data)
        path.write_text(path.read_text().replace("[sweep]\n", '[sweep]\nexecutor = "ray"\n'))
        return path
    if kind == "table":
        return write_spec(folder, data, extra="[options]\nx = 1\n")
    if kind == "seeds":
        return write_spec(folder, data, seeds="[0, -1]")
    if kind == "grid_value":
        return write_spec(folder, data, extra='[grid]\nlearning_rate = [0.1, "fast"]\n')
    if kind == "same_run":
        path = write_spec(folder, data, extra="[grid]\nlevels = [1, 2]\n")
        path.write_text(path.read_text().replace("levels = 1\n", ""))
        return path
    if kind == "run_check":
        return write_spec(folder, data, extra="prune_fraction = 1.5\n")
    if kind == "oneshot_option":
        return write_spec(folder, data, methods=("oneshot",))
    if kind == "data_dir":
        return write_spec(folder, folder / "no-such-folder")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind,words", BAD_SPECS, ids=[k for k, _ in BAD_SPECS])
def test_bad_spec_is_one_line_exit_2_before_anything_runs(kind, words, tmp_path, mnist,
                                                          capsys):
    path = bad_spec(kind, tmp_path, mnist)
    assert cli.main(["sweep", str(path)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"lottery sweep: error: {path}: ")
    for word in words:
        assert word in line, line
    assert not (tmp_path / "runs").exists()           # nothing was written


def test_bad_input_through_the_real_console_script(tmp_path, mnist):
    """Exit status and one line from a fresh process: an unknown key, and a Ray address where
    no cluster listens (answered at once, not after Ray's minutes of retries)."""
    bad = lottery("sweep", bad_spec("settings_key", tmp_path, mnist))
    good = write_spec(tmp_path, mnist, name="good")
    start = time.time()
    no_cluster = lottery("sweep", good, "--executor", "ray", "--address", "127.0.0.1:1")
    out, err = bad.communicate(timeout=300)
    assert bad.returncode == 2, (out, err)
    assert "unknown key 'learning_rat' in [settings]" in one_line(err)
    out, err = no_cluster.communicate(timeout=300)
    assert no_cluster.returncode == 1, (out, err)
    line = one_line(err)
    assert line.startswith("lottery sweep: error: no Ray cluster at 127.0.0.1:1 "), line
    assert time.time() - start < 120
    assert not (tmp_path / "runs").exists()


def test_option_errors(tmp_path, mnist, capsys, monkeypatch):
    path = write_spec(tmp_path, mnist)
    assert cli.main(["sweep", str(path), "--address", "127.0.0.1:6379"]) == 2
    assert one_line(capsys.readouterr().err) == ("lottery sweep: error: --address is for "
                                                 "--executor ray")
    assert cli.main(["sweep", str(path), "--executor", "ray", "--workers", "2"]) == 2
    assert "--workers is for --executor local" in one_line(capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "ray", None)          # Ray not installed
    assert cli.main(["sweep", str(path), "--executor", "ray"]) == 2
    assert one_line(capsys.readouterr().err) == (
        'lottery sweep: error: --executor ray needs Ray, which is not installed: '
        'pip install "lottery-toolkit[ray]"')
    assert not (tmp_path / "runs").exists()


def test_expansion_uses_the_runs_own_identity(tmp_path, mnist):
    """Each (method, seed, grid point) is one lottery run command line of one seed, in the
    folder the store's run identity names; seeds as a table; grid points multiply."""
    path = write_spec(tmp_path, mnist, seeds="{ first = 3, count = 2 }",
                      extra="[grid]\nlearning_rate = [0.1, 0.05]\n")
    sweep = sweep_spec.load(path)
    assert len(sweep.units) == 2 * 2 * 2
    assert [u.seed for u in sweep.units] == [3] * 4 + [4] * 4      # seed-major
    from lottery_cli.commands.run import build_config, run_folder

    unit = sweep.units[0]
    args = sweep_spec.run_parser().parse_args(list(unit.argv[1:]))
    assert args.first_seed == 3 and args.seeds == 1 and args.wait and args.no_plot
    config = build_config(args)
    assert config.learning_rate == dict(unit.point)["learning_rate"]
    assert unit.run_dir == run_folder(tmp_path / "runs", config) == \
        tmp_path / "runs" / f"{unit.method}-{unit.run_dir.name.split('-')[1]}"
    assert len({u.run_dir for u in sweep.units}) == 4           # 2 methods x 2 rates
    assert len({u.key for u in sweep.units}) == 8


# ----------------------------------------------------------------------------- local
def test_local_sweep_runs_everything_then_nothing(reference, capsys):
    out = reference.parent / "runs"
    sweep = sweep_spec.load(reference)
    assert all(u.finished() for u in sweep.units)
    runs = json.loads((out / "sweep-spec" / "state.json").read_text())["runs"]
    assert sorted(runs) == sorted(u.key for u in sweep.units)
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in runs.values())
    for unit in sweep.units:            # the run wrote the folder the sweep expected
        log = sweep_state.log_path(sweep, unit).read_text()
        assert f"done: {unit.run_dir}\n" in log
    before = files_and_mtimes(u.run_dir for u in sweep.units)
    capsys.readouterr()
    assert cli.main(["sweep", str(reference)]) == 0
    printed = capsys.readouterr().out
    assert "4 runs in" in printed and "4 done, 0 to run" in printed
    assert "all 4 runs are done; nothing to run" in printed
    assert files_and_mtimes(u.run_dir for u in sweep.units) == before
    assert not (out / layout.ACCURACY_VS_DENSITY).exists()     # nothing ran: nothing drawn
    assert cli.main(["sweep", str(reference), "--status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("4 done, 0 running, 0 failed, 0 pending")
    assert sum(line.startswith("done ") for line in lines) == 4


def test_killed_sweep_reruns_only_what_is_missing(reference, tmp_path, mnist, capsys):
    """Two child-process workers; the sweep is SIGKILLed once a run is finished and another
    is mid-way (its worker dies with the sweep); --status shows it, and the rerun completes
    the missing runs only, with the reference's numbers."""
    path = write_spec(tmp_path, mnist)
    sweep = sweep_spec.load(path)
    proc = lottery("sweep", path, "--workers", "2", "--no-plot")
    deadline = time.time() + 400
    while True:
        done = [u for u in sweep.units if u.finished()]
        running = [u for u in sweep.units if u not in done
                   and sweep_state.status(u, None)[0] == "running"]
        if done and running:
            assert cli.main(["sweep", str(path), "--status"]) == 0       # takes no lock
            shown = capsys.readouterr().out
            # the run seen running may end before --status reads it (a loaded machine): look again
            if "\nrunning  " in shown:
                break
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    assert re.search(r": \d+ done, [1-9]\d* running, ", shown.splitlines()[0]), shown
    assert cli.main(["sweep", str(path)]) == 1                   # one sweep of a spec at a time
    line = one_line(capsys.readouterr().err)
    assert f"sweep-spec is in use by process {proc.pid} " in line and "--wait" in line, line
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    deadline = time.time() + 60      # the workers die with the sweep (PR_SET_PDEATHSIG)
    while any(lock.live_holder(u.run_dir) for u in sweep.units):
        assert time.time() < deadline, "a worker outlived the killed sweep"
        time.sleep(0.05)
    finished = [u for u in sweep.units if u.finished()]
    assert 0 < len(finished) < 4
    kept = files_and_mtimes(layout.seed_directory(u.run_dir, u.seed) for u in finished)
    assert cli.main(["sweep", str(path), "--status"]) == 0
    status = capsys.readouterr().out
    assert f"{len(finished)} done, 0 running, 0 failed, {4 - len(finished)} pending" in status
    assert cli.main(["sweep", str(path)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(finished)} done, {4 - len(finished)} to run" in printed
    assert (tmp_path / "runs" / layout.ACCURACY_VS_DENSITY).is_file()   # drawn once, at the end
    assert printed.count("] done ") == 4 - len(finished)
    assert files_and_mtimes(layout.seed_directory(u.run_dir, u.seed) for u in finished) == kept
    assert all(u.finished() for u in sweep.units)
    assert_same_results(tmp_path / "runs", reference.parent / "runs")


def test_failed_run_is_recorded_and_the_others_go_on(tmp_path, mnist, capsys):
    """A run that fails (here: no data where its data_dir points) is one line in the state
    file and in --status; the sweep goes on with the others and exits 1 with one line."""
    empty = tmp_path / "empty"
    empty.mkdir()
    path = write_spec(tmp_path, empty, methods=("imp",), seeds="[0, 1]")
    assert cli.main(["sweep", str(path)]) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith("lottery sweep: error: 2 of 2 runs failed (first: imp seed 0: "
                           "lottery run: error: "), line
    assert "--status lists them" in line and "rerun the same command to retry them" in line
    assert captured.out.count("] failed imp seed") == 2       # both were tried
    runs = json.loads((tmp_path / "runs" / "sweep-spec" / "state.json").read_text())["runs"]
    assert [r["status"] for r in runs.values()] == ["failed", "failed"]
    assert all(r["exit"] == 2 and str(empty) in r["error"] for r in runs.values())
    assert cli.main(["sweep", str(path), "--status"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("failed ")]
    assert len(rows) == 2 and all("lottery run: error: " in r for r in rows)


# ----------------------------------------------------------------------------- ray
@pytest.fixture
def ray_cluster(monkeypatch):
    """A real local Ray cluster of 2 CPUs started by this test; its workers import this
    checkout (PYTHONPATH) and run jax on the CPU."""
    import ray        # CI installs the test extra, which includes ray: never skipped

    for key, value in env().items():
        if key in ("PYTHONPATH", "JAX_PLATFORMS"):
            monkeypatch.setenv(key, value)
    context = ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield context.address_info["gcs_address"]
    ray.shutdown()


def test_ray_sweep_survives_a_killed_worker(ray_cluster, reference, tmp_path, mnist):
    """The 4 runs as Ray tasks; the worker process holding one run's lock mid-run is
    SIGKILLed; Ray runs that task again, which takes over the lock and resumes; every run
    finishes with the local executor's numbers."""
    path = write_spec(tmp_path, mnist)
    sweep = sweep_spec.load(path)
    start = time.time()
    proc = lottery("sweep", path, "--executor", "ray", "--address", ray_cluster, "--no-plot")
    victim = None
    while victim is None:
        for unit in sweep.units:
            holder = lock.live_holder(unit.run_dir)
            if holder is not None and not unit.finished() and holder["pid"] != proc.pid:
                victim = (unit, holder["pid"])
                break
        assert proc.poll() is None, proc.communicate()
        assert time.time() - start < 300
        time.sleep(0.01)
    os.kill(victim[1], signal.SIGKILL)
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, (out, err)
    assert "done: all 4 runs" in out and out.count("] done ") == 4
    assert all(u.finished() for u in sweep.units)
    # the next run of that folder took the lock over: the task run again, or (after the
    # kill freed a CPU) the other seed of the same folder
    logs = "".join(sweep_state.log_path(sweep, u).read_text() for u in sweep.units
                   if u.run_dir == victim[0].run_dir)
    assert f"taking over the lock left by process {victim[1]} " in logs, logs
    assert_same_results(tmp_path / "runs", reference.parent / "runs")
    print(f"ray sweep with a killed worker: {time.time() - start:.1f} s")


def test_ctrl_c_stops_the_sweep_with_one_line(tmp_path, mnist):
    """SIGINT while a run trains in the sweep's process: the run checkpoints and stops, the
    sweep exits 130 with one line saying how to resume; --status shows the run pending."""
    path = write_spec(tmp_path, mnist, methods=("imp",), seeds="[0]")
    (unit,) = sweep_spec.load(path).units
    proc = lottery("sweep", path, "--no-plot",
                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while lock.live_holder(unit.run_dir) is None:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out, err)
    assert one_line(err) == ("lottery sweep: interrupted after 0 of 1 runs; rerun the same "
                             "command to resume (finished runs are kept, the others resume "
                             "from their checkpoints)")
    assert not unit.finished() and lock.live_holder(unit.run_dir) is None
    log = sweep_state.log_path(sweep_spec.load(path), unit).read_text()
    assert "lottery run: interrupted " in log           # the run's own account, in its log
    status = lottery("sweep", path, "--status")
    out, err = status.communicate(timeout=300)
    assert status.returncode == 0 and "0 done, 0 running, 0 failed, 1 pending" in out, err


def test_oneshot_sweep(tmp_path, mnist, capsys):
    """A one-shot method: a seed is finished when its metrics.json has every sparsity; the
    folder's summary.json covers the sweep's seeds (each run wrote its own seed's); a second
    sweep runs nothing, and one asking for a new sparsity runs both seeds again (pruning
    only: the trained network is kept)."""
    def spec(sparsities):
        path = tmp_path / "oneshot.toml"
        path.write_text(f'[sweep]\nout = "runs"\nmethods = ["oneshot"]\nseeds = [0, 1]\n'
                        f'data_dir = "{mnist}"\n[settings]\nmodel = "mlp"\n'
                        f'model_options = {{ widths = [16] }}\ntrain_subset = 200\n'
                        f'validation_size = 100\nepochs = 1\nbatch_size = 20\n'
                        f'sparsities = {sparsities}\n')
        return path

    path = spec("[0.5, 0.9]")
    assert cli.main(["sweep", str(path), "--no-plot"]) == 0
    units = sweep_spec.load(path).units
    assert [u.sparsity_keys for u in units] == [("0.5000", "0.9000")] * 2 and units[0].levels is None
    assert all(u.finished() for u in units)
    summary = json.loads((units[0].run_dir / layout.SUMMARY).read_text())
    assert summary["seeds"] == [0, 1] and sorted(summary["sparsities"]) == ["0.5000", "0.9000"]
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--no-plot"]) == 0
    assert "all 2 runs are done" in capsys.readouterr().out
    more = sweep_spec.load(spec("[0.5, 0.9, 0.95]"))
    assert [u.run_dir for u in more.units] == [u.run_dir for u in units]   # same identity
    assert not any(u.finished() for u in more.units)
    training = files_and_mtimes([units[0].run_dir / "seed_0" / layout.PARAMS])
    assert cli.main(["sweep", str(path)]) == 0
    assert all(u.finished() for u in more.units)
    assert files_and_mtimes([units[0].run_dir / "seed_0" / layout.PARAMS]) == training
    assert (tmp_path / "runs" / layout.ONESHOT_FIGURE).is_file()
