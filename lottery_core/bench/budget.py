"""Budget-driven phases: deadlines from the time left, one JSON file per phase, resume.

A run has a total budget in seconds, counted from the start of the command. Phase i of
weight w_i gets the deadline ``now + left * w_i / sum(w_j for j >= i)``, where ``left`` is
what remains of the budget less the time kept for the report, so time that a phase does not
use goes to the phases after it. A phase of weight 0 (the environment) always runs. Inside a
phase each item (a row of a table, a level of a run) starts only when its estimated cost fits
the time left (:meth:`PhaseContext.fits`); otherwise it is recorded as skipped, with its
estimate and the time that was left. Nothing stops a running item: an estimate that was too
low makes the phase overrun, and the phases after it get less.

Each phase's record is written atomically to ``OUT/phases/<name>.json``: while it runs
(status ``interrupted``, rewritten after each item, what remains after a kill) and when it
ends (``ran``, ``partial``, ``skipped`` or ``failed``). A rerun into the same folder with the
same identity (mode, device, settings) keeps every phase that ``ran`` and retries the others
(the LRR phase resumes its run folders); an earlier record with results, or of a phase that
was killed, is kept (with a note) when the retry is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from lottery_core.store import atomic_write_json, read_json

PHASES_DIR = "phases"
RAN, PARTIAL, SKIPPED, FAILED, INTERRUPTED = "ran", "partial", "skipped", "failed", "interrupted"
STATUSES = (RAN, PARTIAL, SKIPPED, FAILED, INTERRUPTED)


class Skip(Exception):
    """Raised by a phase that cannot run (the reason is its message)."""


@dataclasses.dataclass
class Clock:
    """The run's budget: ``budget_s`` seconds from ``start`` (``time.monotonic``)."""

    budget_s: float
    start: float = dataclasses.field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()


@dataclasses.dataclass
class PhaseContext:
    """What a running phase sees: its deadline, its record (``result`` is filled by the
    phase), the records of the phases before it, the run's shared state, the log, and the
    result of an earlier partial or interrupted attempt of this phase (``previous``), whose
    measured items a phase may keep instead of measuring them again."""

    name: str
    deadline: float | None          # time.monotonic() value; None: no deadline
    clock: Clock
    path: Path
    record: dict
    earlier: dict[str, dict]
    shared: Any
    log: Callable[[str], None]
    previous: dict | None = None

    @property
    def result(self) -> dict:
        return self.record["result"]

    def left(self) -> float:
        """Seconds left to this phase (the whole budget's when it has no deadline)."""
        if self.deadline is None:
            return self.clock.left()
        return self.deadline - time.monotonic()

    def fits(self, item: str, estimate_s: float) -> bool:
        """Whether ``item`` (estimated ``estimate_s`` seconds) fits the time left; if not,
        record it as skipped and say so."""
        left = self.left()
        if estimate_s <= left:
            return True
        self.record["skipped_items"].append(
            {"item": item, "estimate_s": round(float(estimate_s), 2),
             "left_s": round(max(left, 0.0), 2)})
        self.log(f"{self.name}: skipped {item}: needs ~{estimate_s:.0f} s, {max(left, 0):.0f} s "
                 f"left in this phase")
        return False

    def save(self) -> None:
        """Write the record as it stands (status ``interrupted`` until the phase ends)."""
        self.record["seconds"] = round(max(self.clock.elapsed() - self.record["started_s"], 0.0),
                                       3)
        atomic_write_json(self.path, self.record)


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase: ``run(ctx)`` fills ``ctx.result`` (or raises :class:`Skip`); ``weight`` is
    its share of the budget (0: always runs); ``markdown(record)`` gives its report section
    and ``figure(record, folder)`` draws its figure (returns the path, or None)."""

    name: str
    title: str
    run: Callable[[PhaseContext], None]
    weight: float = 0.0
    markdown: Callable[[dict], list[str]] | None = None
    figure: Callable[[dict, Path], Path | None] | None = None


def phase_path(out: Path, name: str) -> Path:
    return Path(out) / PHASES_DIR / f"{name}.json"


def _deadline(phases: list[Phase], index: int, clock: Clock, reserve_s: float):
    """``(deadline or None, seconds given)`` of phase ``index``: its weight's share of the time
    left after ``reserve_s``."""
    phase = phases[index]
    if not phase.weight:
        return None, None
    left = clock.left() - reserve_s
    share = left * phase.weight / sum(p.weight for p in phases[index:])
    return time.monotonic() + share, share


def run_phases(phases: list[Phase], *, clock: Clock, out: Path, identity: dict, shared: Any,
               log: Callable[[str], None], reserve_s: float = 0.0) -> list[dict]:
    """Run (or keep) every phase in order; returns their records."""
    identity = json.loads(json.dumps(identity))     # as it reads back from the files
    records: dict[str, dict] = {}
    for index, phase in enumerate(phases):
        path = phase_path(out, phase.name)
        old = read_json(path) if path.exists() else None
        if old is not None and old.get("identity") != identity:
            old = None          # another device or mode: its numbers are not this run's
        if old is not None and old["status"] == RAN:
            log(f"{phase.name}: kept from an earlier run ({path})")
            records[phase.name] = old
            continue
        deadline, share = _deadline(phases, index, clock, reserve_s)
        record = {"phase": phase.name, "title": phase.title, "status": INTERRUPTED,
                  "reason": None, "identity": identity, "started_s": round(clock.elapsed(), 3),
                  "seconds": 0.0, "budget_s": None if share is None else round(share, 2),
                  "result": {}, "skipped_items": []}
        previous = (old["result"] if old is not None and old["status"] in (PARTIAL, INTERRUPTED)
                    else None)
        ctx = PhaseContext(phase.name, deadline, clock, path, record, dict(records), shared, log,
                           previous)
        if share is not None and share <= 0:
            record.update(status=SKIPPED, reason=f"budget exhausted: {max(clock.left(), 0):.0f}"
                          f" s of {clock.budget_s:g} s left, {reserve_s:.0f} s kept for the "
                          f"report")
        else:
            log(f"{phase.name}: start ({'no deadline' if share is None else f'{share:.0f} s'})")
            ctx.save()          # a kill from here on leaves an 'interrupted' record
            try:
                phase.run(ctx)
                record["status"] = PARTIAL if record["skipped_items"] else RAN
                if record["skipped_items"]:
                    record["reason"] = "; ".join(
                        f"{s['item']} skipped (needs ~{s['estimate_s']:.0f} s, "
                        f"{s['left_s']:.0f} s left)" for s in record["skipped_items"])
            except Skip as exc:
                record.update(status=SKIPPED, reason=str(exc))
            except Exception as exc:  # one failing phase must not lose the others
                record.update(status=FAILED, reason=f"{type(exc).__name__}: {exc}",
                              traceback=traceback.format_exc()[-4000:])
        if (record["status"] == SKIPPED and old is not None
                and (old.get("result") or old["status"] == INTERRUPTED)):
            old["note"] = f"kept from an earlier attempt; this attempt: {record['reason']}"
            record = old
        ctx.record = record
        if record is not old:
            ctx.save()
        else:
            atomic_write_json(path, record)
        log(f"{phase.name}: {record['status']}"
            + (f" ({record['reason']})" if record.get("reason") else "")
            + f" [{record['seconds']:.1f} s]")
        records[phase.name] = record
    return [records[p.name] for p in phases]
