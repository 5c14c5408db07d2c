"""Seed parallelism: how the seeds of a run share the machine.

``sequential`` trains one seed after another; ``vmap`` trains them together (the Trainer's
``run_steps_seeds``); ``processes`` runs single-threaded XLA:CPU worker processes, one pinned
to each core, fed (seed, level) tasks by :func:`train_in_processes`. A worker runs the level
runner's own code on the same run directory (``entry``, e.g. ``levels.seed_worker_main``), so
files, resume behaviour and numbers are those of ``sequential``. Measured in
``bench/imp_mnist.py`` (bench/RESULTS.md, "engine").
"""

from __future__ import annotations

import json
from pathlib import Path

import jax


SEED_PARALLEL_MODES = ("auto", "vmap", "sequential", "processes")

#: XLA flags of a ``processes`` worker: one compute thread, so that the workers share the
#: cores instead of each spreading its small matmuls over all of them
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

#: below this many seed-steps per run, ``auto`` stays sequential on CPU: starting a worker
#: (import jax, load data, compile) costs seconds, which only pays for longer runs
PROCESSES_MIN_SEED_STEPS = 100_000


def auto_seed_parallel(seeds: int, steps_per_level: int, levels: int) -> str:
    """``auto``: vmap on accelerators; on CPU, worker processes for multi-seed runs of at
    least ``PROCESSES_MIN_SEED_STEPS`` seed-steps on a multi-core machine, else one seed
    after another (always in a multi-process run, whose processes train together). Chosen by
    ``bench/imp_mnist.py`` (bench/RESULTS.md, "engine")."""
    if jax.default_backend() != "cpu":
        return "vmap"
    if (seeds > 1 and jax.process_count() == 1 and len(usable_core_ids()) > 1
            and seeds * steps_per_level * (levels + 1) >= PROCESSES_MIN_SEED_STEPS):
        return "processes"
    return "sequential"


def usable_core_ids() -> list[int]:
    import os

    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def pin_and_tie_to_parent(core: int) -> None:
    """In a worker, before jax starts its threads: run on ``core`` only and, on Linux, be
    killed when the parent dies (so that a killed run leaves no orphan training on)."""
    import os

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    tie_to_parent()


def tie_to_parent() -> None:
    """In a child process (``preexec_fn``), on Linux: be killed when the parent dies, so that
    a killed parent leaves no orphan working on (and holding a run's lock)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG = 1


def child_environment(xla_flags: str = "") -> dict[str, str]:
    """``os.environ`` for a child Python process that must import this copy of the package
    (its root first on ``PYTHONPATH``), with ``xla_flags`` added to ``XLA_FLAGS``."""
    import os

    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    if xla_flags:
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()
    return env


def write_worker_job(folder: Path, config: dict, out, data_dir, dataset,
                     devices: int | None = None, command: list | None = None) -> Path:
    """The job file of the ``processes`` workers, in ``folder`` (the caller's private
    ``mkdtemp`` directory, mode 0700). The data travels by path when it came from disk;
    a given ``dataset`` is written as ``.npz`` plus JSON (``data.save_dataset_npz``, no
    pickle) to a ``mkstemp`` file (mode 0600, unpredictable name). ``command``: the parent's
    command line, recorded in the workers' results (their own is ``python -c ...``)."""
    import os
    import tempfile

    from lottery_core.data import save_dataset_npz
    from lottery_core.store.provenance import command as current_command

    dataset_file = None
    if dataset is not None:
        fd, dataset_file = tempfile.mkstemp(prefix="dataset-", suffix=".npz", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            save_dataset_npz(dataset, handle)
    fd, job = tempfile.mkstemp(prefix="job-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as handle:
        json.dump({"config": config, "out": str(out),
                   "data_dir": None if data_dir is None else str(data_dir),
                   "dataset_file": dataset_file, "devices": devices,
                   "command": current_command() if command is None else list(command)},
                  handle)
    return Path(job)


def train_in_processes(runner, seeds: list[int], entry: str) -> None:
    """Train ``seeds`` of ``runner`` in worker processes: one single-threaded XLA:CPU process
    pinned to each core (at most one per seed), fed (seed, level) tasks as they become ready,
    so that three seeds on two cores keep both busy. A worker runs ``entry``
    (``module:function(job_file, worker_id, core)``): a sequential runner on the same run
    directory, every level starting from the artifacts on disk, so the files, resume
    behaviour and numbers are those of ``sequential``."""
    import queue
    import subprocess
    import sys
    import tempfile
    import threading

    cores = usable_core_ids()
    n_workers = min(len(seeds), len(cores))
    module, function = entry.split(":")
    next_level = {s: min(k for k in range(runner.cfg.levels + 1)
                         if not runner.level_done(s, k)) for s in seeds}
    env = child_environment(SINGLE_THREAD_XLA_FLAGS)
    replies: queue.Queue = queue.Queue()

    def listen(worker_id, process):
        for line in process.stdout:
            replies.put((worker_id, line.split()))
        replies.put((worker_id, ["EXIT"]))

    with tempfile.TemporaryDirectory(prefix="lottery-seeds-") as tmp:   # mode 0700
        job = write_worker_job(Path(tmp), runner.config.to_dict(), runner.out, runner.data_dir,
                               runner._given_dataset, runner.devices, runner.command)
        workers = []
        for i in range(n_workers):
            process = subprocess.Popen(
                [sys.executable, "-c", f"import sys; from {module} import {function}; "
                 f"{function}(sys.argv[1], *map(int, sys.argv[2:]))",
                 str(job), str(i), str(cores[i])], env=env, text=True, bufsize=1,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            threading.Thread(target=listen, args=(i, process), daemon=True).start()
            workers.append(process)
        runner.log(f"  {n_workers} worker processes (single-threaded XLA, pinned to cores "
                 f"{cores[:n_workers]}) for seeds {seeds}")
        idle, busy = list(range(n_workers)), {}
        try:
            while any(k <= runner.cfg.levels for k in next_level.values()) or busy:
                # the seed with the most levels left first: the chains end together
                ready = sorted((s for s in seeds if next_level[s] <= runner.cfg.levels
                                and s not in busy.values()), key=lambda s: next_level[s])
                while idle and ready:
                    worker_id, seed = idle.pop(0), ready.pop(0)
                    busy[worker_id] = seed
                    workers[worker_id].stdin.write(f"{seed} {next_level[seed]}\n")
                    workers[worker_id].stdin.flush()
                worker_id, reply = replies.get()
                if reply[:1] != ["DONE"]:
                    seed = busy.get(worker_id)
                    where = ("while starting" if seed is None
                             else f"on seed {seed} level {next_level[seed]}")
                    raise RuntimeError(
                        f"seed worker {worker_id} failed {where} (its error is printed "
                        f"above); finished levels are kept, rerun to resume")
                seed = busy.pop(worker_id)
                next_level[seed] += 1
                idle.append(worker_id)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.stdin.close()
            for process in workers:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
