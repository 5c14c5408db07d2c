"""Run registered claims, keep each finished record, and write ``report.json``, ``report.md``.

Each claim's record is written (atomically) as soon as the claim finishes
(:mod:`sims.records`), and the report is rewritten after every claim, so an interrupted or
crashed run leaves a report of what finished, with the rest marked ``NOT RUN``; rerunning the
same command reuses the finished records (same preset, seed and code version). Several seeds
run seed by seed, every claim at each (the claims of one seed share cached simulations).
"""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from lottery_core.store import atomic_write_text
from lottery_core.store.provenance import git_state, version
from sims import records, report
from sims.registry import PRESETS, Claim, ClaimContext, Outcome


def _json_ready(value: Any) -> Any:
    """Convert numpy / jax scalars and arrays into plain JSON types (NaN/inf as strings)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if hasattr(value, "tolist"):
        return _json_ready(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def run_claim(claim: Claim, *, seed: int, preset: str, out_dir: Path,
              code_version: dict[str, Any] | None = None,
              runs_dir: Path | None = None) -> dict[str, Any]:
    """Run one claim and return its record. An exception becomes a failed record with the error
    (``KeyboardInterrupt`` is not caught: an interrupted claim has no record). Network-scale
    claims train into ``runs_dir`` (default ``out_dir/runs``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    out_dir = Path(out_dir)
    figure_dir = records.figure_dir(out_dir, preset, seed)
    context = ClaimContext(seed=seed, preset=claim.context_preset(preset), figure_dir=figure_dir,
                           runs_dir=Path(runs_dir) if runs_dir is not None else out_dir / "runs")
    start = time.perf_counter()
    error = None
    try:
        outcome = claim.function(context)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"claim {claim.id} returned {type(outcome).__name__}, not Outcome")
        passed = outcome.resolved_passed()
    except Exception as exc:  # a broken claim is a failed claim, with the reason recorded
        outcome = Outcome(predicted=float("nan"), observed=float("nan"), tolerance=float("nan"),
                          passed=False, comparison="(the claim raised an error)")
        passed = False
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        outcome.details["traceback"] = traceback.format_exc()
    seconds = time.perf_counter() - start
    figure = (figure_dir / outcome.figure).relative_to(out_dir).as_posix() if outcome.figure else None
    record = {
        "claim": claim.id,
        "source": claim.source,
        "statement": claim.statement,
        "predicted": outcome.predicted,
        "observed": outcome.observed,
        "tolerance": outcome.tolerance,
        "comparison": outcome.resolved_comparison(),
        "passed": passed,
        "preset": preset,
        "budget": claim.budget_text(preset),
        "paper": claim.paper,
        "seed": seed,
        "seconds": round(seconds, 3),
        "figure": figure,
        "details": outcome.details,
        "code_version": code_version or records.code_version(claim, git_state()[0]),
    }
    if error:
        record["error"] = error
    elif outcome.inconclusive:
        record["inconclusive"] = outcome.inconclusive
    return _json_ready(record)


def _write(out_dir: Path, rep: dict[str, Any]) -> None:
    atomic_write_text(out_dir / "report.json", json.dumps(rep, indent=2) + "\n")
    atomic_write_text(out_dir / "report.md", report.render_markdown(rep))


def verify(claims: list[Claim], *, preset: str = "quick", seed: int = 0,
           seeds: Sequence[int] | None = None, out_dir: Path = Path("reports"),
           progress: bool = True, stream=None, fresh: bool = False,
           strict: bool = False, runs_dir: Path | None = None) -> dict[str, Any]:
    """Run ``claims`` at ``seed`` (or at each of ``seeds``), reusing finished records unless
    ``fresh``; write the reports after every claim; print the table; return the report.
    Network-scale claims train into ``runs_dir`` (default ``out_dir/runs``), where finished
    runs are reused (``--runs DIR``).

    On ``KeyboardInterrupt`` the partial report is written and returned with
    ``report["interrupted"]`` true (nothing is printed: the caller says what happened).
    """
    from tqdm import tqdm

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    seeds = [seed] if seeds is None else [int(s) for s in seeds]
    stream = stream or sys.stdout
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    commit = git_state()[0]
    code = {"toolkit": version(), "git_commit": commit}
    versions = {c.id: records.code_version(c, commit) for c in claims}
    runs = [(s, c) for s in seeds for c in claims]
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if not fresh:
        for s, c in runs:
            record = records.reusable(out_dir, c.id, preset, s, versions[c.id])
            if record is not None:
                done[(c.id, s)] = record
    reused = set(done)
    if reused:
        print(f"reusing {len(reused)} of {len(runs)} finished claim records in "
              f"{out_dir / records.RECORDS} (same preset, seed and code version; --fresh "
              f"recomputes them)", file=stream)
    env = report.environment()

    def current(interrupted: bool = False) -> dict[str, Any]:
        return report.build(claims, preset=preset, seeds=seeds, done=done, reused=reused,
                            strict=strict, code=code, interrupted=interrupted,
                            provenance_info=env)

    todo = [(s, c) for s, c in runs if (c.id, s) not in done]
    _write(out_dir, current())
    bar = tqdm(todo, desc=f"verify ({preset})", unit="claim", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    try:
        for s, c in bar:
            bar.set_postfix_str(c.id if len(seeds) == 1 else f"{c.id} seed {s}")
            record = run_claim(c, seed=s, preset=preset, out_dir=out_dir,
                               code_version=versions[c.id], runs_dir=runs_dir)
            records.save(out_dir, record)
            done[(c.id, s)] = record
            _write(out_dir, current())
    except KeyboardInterrupt:
        bar.close()
        rep = current(interrupted=True)
        _write(out_dir, rep)
        return rep
    bar.close()
    rep = current()
    _write(out_dir, rep)
    report.print_table(rep, stream)
    for line in report.summary_lines(rep):
        print(line, file=stream)
    print(f"report in {out_dir / 'report.md'}", file=stream)
    return rep
