"""Run registered claims and write ``report.json``, ``report.md`` and the figures.

The report is written atomically (temporary file, then rename), so an interrupted run
never leaves a half-written report behind.
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from lottery_core.store import atomic_write_text
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


def run_claim(claim: Claim, *, seed: int, preset: str, out_dir: Path) -> dict[str, Any]:
    """Run one claim and return its record. An exception becomes a failed record with the error."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    context = ClaimContext(seed=seed, preset=preset, figure_dir=Path(out_dir) / "figures")
    start = time.perf_counter()
    error = None
    try:
        outcome = claim.function(context)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"claim {claim.id} returned {type(outcome).__name__}, not Outcome")
        passed = outcome.resolved_passed()
    except Exception as exc:  # a broken claim is a failed claim, with the reason recorded
        outcome = Outcome(predicted=float("nan"), observed=float("nan"), tolerance=float("nan"))
        passed = False
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        outcome.details["traceback"] = traceback.format_exc()
    seconds = time.perf_counter() - start
    record = {
        "claim": claim.id,
        "source": claim.source,
        "statement": claim.statement,
        "predicted": outcome.predicted,
        "observed": outcome.observed,
        "tolerance": outcome.tolerance,
        "comparison": outcome.comparison,
        "passed": passed,
        "preset": preset,
        "seed": seed,
        "seconds": round(seconds, 3),
        "figure": f"figures/{outcome.figure}" if outcome.figure else None,
        "details": outcome.details,
    }
    if error:
        record["error"] = error
    return _json_ready(record)


def environment() -> dict[str, str]:
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import jax

        info["jax"] = jax.__version__
        info["jax_backend"] = jax.default_backend()
    except Exception as exc:  # jax is a dependency; still, a report without it is useful
        info["jax"] = f"unavailable ({exc})"
    import numpy

    info["numpy"] = numpy.__version__
    return info


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# lottery verify report",
        "",
        f"- created: {report['created']}",
        f"- preset: `{report['preset']}`, seed: {report['seed']}",
        f"- passed: {report['summary']['passed']} / {report['summary']['total']}",
        f"- environment: " + ", ".join(f"{k} {v}" for k, v in report["environment"].items()),
        "",
        "| claim | predicted | observed | tolerance | passed | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["claims"]:
        mark = "PASS" if r["passed"] else "**FAIL**"
        lines.append(
            f"| `{r['claim']}` | {_fmt(r['predicted'])} | {_fmt(r['observed'])} | "
            f"{_fmt(r['tolerance'])} | {mark} | {_fmt(r['seconds'])} |"
        )
    lines.append("")
    for r in report["claims"]:
        lines += [f"## `{r['claim']}`", "", f"*Source:* {r['source']}", "", r["statement"], ""]
        lines.append(
            f"Predicted {_fmt(r['predicted'])}, observed {_fmt(r['observed'])}, "
            f"tolerance {_fmt(r['tolerance'])} ({r['comparison']}): "
            f"{'passed' if r['passed'] else 'FAILED'}."
        )
        if r.get("error"):
            lines += ["", "```", r["error"], "```"]
        details = {k: v for k, v in r["details"].items() if k != "traceback"}
        if details:
            lines += ["", "<details><summary>details</summary>", "", "```json",
                      json.dumps(details, indent=1), "```", "", "</details>"]
        if r["figure"]:
            lines += ["", f"![{r['claim']}]({r['figure']})"]
        lines.append("")
    return "\n".join(lines)


def verify(claims: list[Claim], *, preset: str = "quick", seed: int = 0,
           out_dir: Path = Path("reports"), progress: bool = True,
           stream=None) -> dict[str, Any]:
    """Run ``claims``, print a table, write ``report.json`` and ``report.md``; return the report."""
    from tqdm import tqdm

    stream = stream or sys.stdout
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    bar = tqdm(claims, desc=f"verify ({preset})", unit="claim", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for claim in bar:
        bar.set_postfix_str(claim.id)
        records.append(run_claim(claim, seed=seed, preset=preset, out_dir=out_dir))
    bar.close()
    passed = sum(r["passed"] for r in records)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "preset": preset,
        "seed": seed,
        "environment": environment(),
        "summary": {"total": len(records), "passed": passed, "failed": len(records) - passed},
        "claims": records,
    }
    atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out_dir / "report.md", render_markdown(report))
    print_table(records, stream)
    print(f"{passed}/{len(records)} claims passed; report in {out_dir / 'report.md'}", file=stream)
    return report


def print_table(records: list[dict[str, Any]], stream) -> None:
    width = max([len(r["claim"]) for r in records] + [5])
    header = f"{'claim':<{width}}  {'predicted':>11}  {'observed':>11}  {'tolerance':>10}  result  seconds"
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for r in records:
        print(
            f"{r['claim']:<{width}}  {_fmt(r['predicted']):>11}  {_fmt(r['observed']):>11}  "
            f"{_fmt(r['tolerance']):>10}  {'PASS' if r['passed'] else 'FAIL':<6}  {r['seconds']:>7.2f}",
            file=stream,
        )
        if r.get("error"):
            print(f"    error: {r['error']}", file=stream)
