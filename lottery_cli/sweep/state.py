"""Where each run of a sweep stands: done, running, failed or pending.

The run folders are the record of what is done (a finished run's last level, or every
one-shot mask, :meth:`Unit.finished`) and of what runs (a live holder of the folder's lock
whose command line is the unit's, :func:`lottery_core.store.lock.live_holder`; read without
taking the lock). The sweep's state file (``OUT/sweep-<name>/state.json``, written atomically
by the one sweep process holding the sweep folder's lock) adds what the folders cannot say:
the one-line error of a run that failed, its log and attempts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lottery_core.store import atomic_write_json, layout, lock

from lottery_cli.sweep.spec import Sweep, Unit

STATUSES = ("done", "running", "failed", "pending")
STATE_FORMAT = 1


def sweep_dir(sweep: Sweep) -> Path:
    return layout.sweep_directory(sweep.out, sweep.name)


def log_path(sweep: Sweep, unit: Unit) -> Path:
    return layout.sweep_log(sweep_dir(sweep), unit.run_dir.name, unit.seed)


def read_state(sweep: Sweep) -> dict[str, dict]:
    """``{unit key: entry}`` of the state file (none yet: empty). An unreadable file is
    treated as empty: it only adds error lines; the run folders say what is done."""
    try:
        return json.loads((sweep_dir(sweep) / layout.SWEEP_STATE).read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_state(sweep: Sweep, runs: dict[str, dict]) -> None:
    atomic_write_json(sweep_dir(sweep) / layout.SWEEP_STATE,
                      {"format": STATE_FORMAT, "spec": str(sweep.spec), "runs": runs})


def record(unit: Unit, code: int, line: str, seconds: float, log: Path,
           previous: dict | None) -> dict:
    """The state entry of a unit that just ended with exit status ``code`` (``line``: its
    last line of output): done when the run folder says so, else failed."""
    done = code == 0 and unit.finished()
    error = None
    if not done:
        error = line or f"exit status {code}"
        if code == 0:
            error = f"ended without its results ({error})"
    return {"status": "done" if done else "failed", "error": error, "exit": code,
            "seconds": round(seconds, 3), "log": str(log),
            "attempts": (previous or {}).get("attempts", 0) + 1,
            "ended": time.strftime("%Y-%m-%d %H:%M:%S"), "method": unit.method,
            "seed": unit.seed, "grid": {k: v for k, v in unit.point}}


def status(unit: Unit, entry: dict | None) -> tuple[str, str]:
    """``(status, detail)`` of a unit, read from its run folder, its lock and its state
    ``entry`` (takes no lock)."""
    if unit.finished():
        return "done", ""
    holder = lock.live_holder(unit.run_dir)
    if holder is not None and holder.get("command") == " ".join(["lottery", *unit.argv]):
        return "running", f"process {holder.get('pid')} on {holder.get('host')} since " \
                          f"{holder.get('started')}"
    done = unit.levels_done() if unit.levels is not None else 0
    progress = f"{done} of {unit.levels + 1} levels done" if done else ""
    waiting = f"run folder in use by {lock.describe(holder)}" if holder is not None else ""
    if entry is not None and entry.get("status") == "failed":
        return "failed", "; ".join(p for p in (entry.get("error") or "", progress) if p)
    return "pending", "; ".join(p for p in (progress, waiting) if p)


def table(sweep: Sweep, runs: dict[str, dict]) -> tuple[str, dict[str, int]]:
    """The ``--status`` table (one row per run) and the count of each status."""
    rows, counts = [], dict.fromkeys(STATUSES, 0)
    for unit in sweep.units:
        state, detail = status(unit, runs.get(unit.key))
        counts[state] += 1
        grid = " ".join(f"{k}={v}" for k, v in unit.point) or "-"
        rows.append((state, unit.method, str(unit.seed), grid, unit.key, detail))
    head = ("status", "method", "seed", "grid", "run", "")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + (f"  {r[5]}" if r[5]
                                                                      else "")
             for r in (head, *rows)]
    return "\n".join(line.rstrip() for line in lines), counts


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES)
