"""Collect the `lottery verify` reports of a seed sweep into one small JSON file and a table.

    python bench/seed_sweep.py REPORT ... --out docs/data/seed_sweep.json [--markdown]

Each REPORT is a ``report.json`` or a folder holding one, written by
``lottery verify <ids> --preset full --seed S --out <folder>``. The JSON file keeps, per claim
and seed, only what the sweep is about (observed, predicted, tolerance, passed, seconds) plus,
for a claim checked over many random instances, its ``details["over_instances"]`` (rate and
confidence bound); per report it keeps the seeds, preset, creation time and provenance. A
report named later replaces an earlier one's record of the same claim and seed (a re-run of
changed claims); the replaced record's creation time, observed value and verdict are kept as
``superseded``. ``--markdown`` prints the tables of docs/seed_sweep.md: per claim (passes,
observed range, failing seeds) and, per seed, each claim stated over instances (instances
held, rate, 95% Wilson interval).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lottery_core.store import atomic_write_text  # noqa: E402
from sims.stats import wilson_interval  # noqa: E402

RECORD_KEYS = ("predicted", "observed", "tolerance", "passed", "seconds")


def _report_path(path: Path) -> Path:
    path = Path(path)
    return path / "report.json" if path.is_dir() else path


def _from_first_format(report: dict) -> dict:
    """A report of the verify before its resumable form (one ``seed``, ``environment``, no
    verdicts) in today's form; each record's verdict is read against the claim's record in
    today's registry (e.g. a documented known deviation), as ``lottery verify`` would now."""
    from sims import registry, verdicts

    claims = registry.discover()
    report = dict(report, seeds=[report["seed"]], provenance=report["environment"])
    report["claims"] = [dict(c, verdict=verdicts.verdict(c, getattr(claims.get(c["claim"]),
                                                                    "expected", None)))
                        for c in report["claims"]]
    return report


def collect(paths) -> dict:
    """The sweep of the reports at ``paths``: ``{"reports": [...], "records": [...]}``."""
    reports, records = [], {}
    for path in paths:
        report = json.loads(_report_path(path).read_text(encoding="utf-8"))
        if "seeds" not in report:
            report = _from_first_format(report)
        reports.append({"seeds": report["seeds"], "preset": report["preset"],
                        "created": report["created"], "provenance": report["provenance"],
                        "claims": sorted({c["claim"] for c in report["claims"]})})
        for claim in report["claims"]:
            if "passed" not in claim:          # NOT RUN in a partial report
                continue
            record = {"claim": claim["claim"], "seed": claim["seed"], "preset": claim["preset"],
                      "created": report["created"], "verdict": claim["verdict"]}
            record.update({k: claim[k] for k in RECORD_KEYS})
            if "over_instances" in claim["details"]:
                record["over_instances"] = claim["details"]["over_instances"]
            if claim.get("error"):
                record["error"] = claim["error"]
            key = (claim["claim"], claim["seed"], claim["preset"])
            if key in records:
                old = records[key]
                record["superseded"] = {k: old[k] for k in ("created", "observed", "passed")}
            records[key] = record
    return {"reports": reports, "records": [records[k] for k in sorted(records)]}


def _number(value) -> float:
    """A report value as a float (NaN and inf are stored as strings in report.json)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def summarize(records: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (claim, preset): seeds run, passes, failing seeds, verdict counts, observed range."""
    table: dict[tuple[str, str], dict] = {}
    for r in records:
        row = table.setdefault((r["claim"], r["preset"]),
                               {"seeds": [], "passes": 0, "failed_seeds": [], "observed": [],
                                "verdicts": {}})
        row["seeds"].append(r["seed"])
        row["verdicts"][r["verdict"]] = row["verdicts"].get(r["verdict"], 0) + 1
        row["passes"] += bool(r["passed"])
        if not r["passed"]:
            row["failed_seeds"].append(r["seed"])
        row["observed"].append(_number(r["observed"]))
    for row in table.values():
        finite = [v for v in row.pop("observed") if math.isfinite(v)]
        row["observed_min"] = min(finite) if finite else math.nan
        row["observed_max"] = max(finite) if finite else math.nan
    return dict(sorted(table.items()))


def markdown(table: dict[tuple[str, str], dict]) -> str:
    """The docs table: claim, preset, passes / seeds, observed min … max, failing seeds, and the
    verdicts (a failing seed of a documented deviation is that deviation, not a FAIL)."""
    lines = ["| claim | preset | passed | observed (min … max) | failing seeds | verdicts |",
             "|---|---|---|---|---|---|"]
    for (claim, preset), row in table.items():
        failed = ", ".join(str(s) for s in sorted(row["failed_seeds"])) or "none"
        counts = ", ".join(f"{v} × {n}" for v, n in sorted(row["verdicts"].items()))
        lines.append(f"| `{claim}` | {preset} | {row['passes']} / {len(row['seeds'])} | "
                     f"{row['observed_min']:.4g} … {row['observed_max']:.4g} | {failed} | "
                     f"{counts} |")
    return "\n".join(lines)


def instances_markdown(records: list[dict]) -> str:
    """Per seed, every claim stated over many instances: held / instances, rate, Wilson 95%;
    then the pooled rate of each claim over all seeds (the seeds draw disjoint instances)."""
    lines = ["| claim | preset | seed | held / instances | rate | Wilson 95% | passed |",
             "|---|---|---|---|---|---|---|"]
    pooled: dict[tuple[str, str], list[int]] = {}
    for r in records:
        over = r.get("over_instances")
        if over:
            pool = pooled.setdefault((r["claim"], r["preset"]), [0, 0, 0])
            pool[0] += over["held"]
            pool[1] += over["instances"]
            pool[2] += 1
            lines.append(_instance_row(r["claim"], r["preset"], str(r["seed"]), over["held"],
                                       over["instances"], *over["wilson95"],
                                       "PASS" if r["passed"] else "FAIL"))
    for (claim, preset), (held, count, seeds) in pooled.items():
        lines.append(_instance_row(claim, preset, f"all {seeds}", held, count,
                                   *wilson_interval(held, count), ""))
    return "\n".join(lines)


def _instance_row(claim, preset, seed, held, count, low, high, verdict) -> str:
    return (f"| `{claim}` | {preset} | {seed} | {held} / {count} | {held / count:.3f} | "
            f"[{low:.3f}, {high:.3f}] | {verdict} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files or folders")
    parser.add_argument("--out", type=Path, help="write the sweep JSON here")
    parser.add_argument("--markdown", action="store_true", help="print the per-claim table")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.reports if not _report_path(p).is_file()]
    if missing:
        print(f"no report.json at: {', '.join(missing)}", file=sys.stderr)
        return 2
    sweep = collect(args.reports)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(sweep, indent=1, ensure_ascii=False) + "\n")
    if args.markdown:
        print(markdown(summarize(sweep["records"])))
        if any("over_instances" in r for r in sweep["records"]):
            print()
            print(instances_markdown(sweep["records"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
