"""Executors of a sweep: each run is its ``lottery run`` command line, executed where the
executor puts it; its output is appended to the run's log file.

* ``local``: one run after another in the sweep's own process (:func:`run_in_process`, so the
  runs share one jax import and their compiled steps), or with ``workers`` > 1 that many child
  processes at a time (``python -m lottery_cli run ...``), each tied to the sweep (killed with
  it, :func:`lottery_core.loops.workers.tie_to_parent`), so a killed sweep leaves no run
  behind holding a folder.
* ``ray``: one Ray task per run (:func:`run_in_process` in a Ray worker, one CPU each). A task
  whose worker dies (killed, out of memory, its node lost) is run again by Ray, up to
  :data:`RAY_RETRIES` times; the new attempt takes over the dead worker's run lock and resumes
  the run from its last checkpoint, as any rerun of ``lottery run`` does. Ray is imported here
  only, and only for ``--executor ray``.

Either executor calls ``on_end(unit, exit status, last line, seconds)`` as each run ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from lottery_cli.faults import EXIT_INTERRUPTED
from lottery_core.errors import Fault, UsageError

#: what installs the optional Ray dependency
RAY_INSTALL = 'pip install "lottery-toolkit[ray]"'
#: how often Ray runs a task again whose worker died (Ray's own default is 3)
RAY_RETRIES = 3
#: seconds to wait for a Ray head node to accept a connection
CONNECT_TIMEOUT = 5.0

OnEnd = Callable[..., None]


def header(argv) -> str:
    return (f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {socket.gethostname()} pid "
            f"{os.getpid()}: lottery {' '.join(argv)}")


def last_line(log: Path) -> str:
    """The run's one-line fault (``lottery run: error: ...``) if it printed one, else the last
    line of its log (a traceback's last line)."""
    try:
        lines = [line.strip() for line in Path(log).read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    faults = [line for line in lines if line.startswith("lottery run: ")]
    return faults[-1] if faults else (lines[-1] if lines else "")


def run_in_process(argv, log: str) -> tuple[int, str, float]:
    """Execute ``lottery <argv>`` in this process (the local executor's one worker, a Ray
    task), its output appended to ``log``; ``(exit status, last line, seconds)``."""
    import contextlib
    import traceback

    from lottery_cli import main as cli

    Path(log).parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log, "a") as handle, contextlib.redirect_stdout(handle), \
            contextlib.redirect_stderr(handle):
        print(header(argv), flush=True)
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:           # argparse's own exit
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:                   # a bug: its traceback in the log
            traceback.print_exc()
            code = 1
    return code, last_line(Path(log)), time.time() - start


# ----------------------------------------------------------------------------- local
def run_local(units, log_of: Callable, on_end: OnEnd, workers: int = 1) -> None:
    """Run ``units`` in order: in this process (``workers`` = 1), else as child processes,
    ``workers`` at a time. Ctrl-C stops the sweep (the runs checkpoint and stop)."""
    if workers == 1:
        for unit in units:
            code, line, seconds = run_in_process(unit.argv, str(log_of(unit)))
            if code == EXIT_INTERRUPTED:
                raise KeyboardInterrupt
            on_end(unit, code, line, seconds)
        return
    from lottery_core.loops.workers import child_environment, tie_to_parent

    env = child_environment()
    queue, running = list(units), {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                unit = queue.pop(0)
                log = log_of(unit)
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "a") as handle:
                    handle.write(header(unit.argv) + "\n")
                    handle.flush()
                    process = subprocess.Popen(
                        [sys.executable, "-m", "lottery_cli", *unit.argv], stdout=handle,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                        preexec_fn=tie_to_parent)
                running[process] = (unit, log, time.time())
            time.sleep(0.05)
            for process in [p for p in running if p.poll() is not None]:
                unit, log, start = running.pop(process)
                on_end(unit, process.returncode, last_line(log), time.time() - start)
    except KeyboardInterrupt:      # Ctrl-C reached the runs too: they checkpoint and stop
        for process in running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        raise


# ----------------------------------------------------------------------------- ray
def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError(f"--executor ray needs Ray, which is not installed: "
                         f"{RAY_INSTALL}") from None
    return ray


def check_ray(address: str | None) -> None:
    """Before anything is written: Ray must be installed, and a ``HOST:PORT`` address (given,
    or ``RAY_ADDRESS``) must accept a connection (Ray itself retries for minutes); ``auto``,
    ``ray://...`` and no address are left to Ray."""
    import_ray()
    address = address or os.environ.get("RAY_ADDRESS")
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address must be HOST:PORT (the Ray head node's GCS address, e.g. "
                         f"127.0.0.1:6379), auto or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise Fault(f"no Ray cluster at {address} ({reason}); start one there (ray start "
                    f"--head --port {port}) or give the address of a running one") from None


def run_ray(units, log_of: Callable, on_end: OnEnd, address: str | None = None) -> None:
    """Run ``units`` as Ray tasks on the cluster at ``address`` (``None``: ``RAY_ADDRESS``,
    else a Ray instance started on this machine); :func:`check_ray` first."""
    import logging

    ray = import_ray()
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address}" if address else "(a local one)"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Fault(f"cannot start or join a Ray cluster {where}: {text}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(run_in_process)
        refs = {task.remote(list(unit.argv), str(log_of(unit))): unit for unit in units}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                unit = refs[ready[0]]
                try:
                    code, line, seconds = ray.get(ready[0])
                except ray.exceptions.RayError as exc:   # the worker died every attempt
                    code, line, seconds = 1, (f"its Ray task failed {RAY_RETRIES + 1} times: "
                                              f"{type(exc).__name__}"), 0.0
                on_end(unit, code, line, seconds)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
    finally:
        ray.shutdown()
