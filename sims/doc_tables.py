"""Result tables in ``docs/*.md`` generated from ``report.json`` files, never typed by hand.

A page marks a table with two comments; the opening one names the report (relative to the
repository root) and, optionally, the claims to show (ids or ``topic.*`` patterns)::

    <!-- verify-table: docs/data/zhou_full.json claims=zhou.* -->
    (generated; do not edit)
    <!-- /verify-table -->

A named experiment's accuracy curves (``results.json`` with ``curves``: per curve ``levels``,
``remaining``, ``mean``, ``std`` over seeds) are tabled the same way, at the rounds named::

    <!-- curve-table: docs/data/zhou_criteria_full_results.json levels=0,8,12,20 -->
    <!-- /curve-table -->

``python -m sims.doc_tables docs/zhou.md`` rewrites every marked block from its report;
``--check`` exits 1 naming each stale block (``tests/test_doc_tables.py`` runs the check on
every page). A row gives the claim, the budget it ran at and the paper's number side by side,
what was observed, the rule and the verdict.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from pathlib import Path
from typing import Any

from sims.report import _fmt, _range, seeds_text

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- (?P<kind>verify|curve)-table: (?P<args>[^>]*?) -->\n)(?P<body>.*?)"
                   r"(<!-- /(?P=kind)-table -->)", re.S)


def _cell(text: Any) -> str:
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any], patterns: list[str] | None = None) -> str:
    """The markdown table of ``report``'s claims matching ``patterns`` (all when none)."""
    rows = [r for r in report["by_claim"]
            if not patterns or any(fnmatch.fnmatchcase(r["claim"], p) for p in patterns)]
    if not rows:
        raise ValueError(f"no claim of the report matches {patterns}")
    entries = {(e["claim"], e["seed"]): e for e in report["claims"]}
    seeds = report["seeds"]
    lines = [f"Generated from `report.json` (preset `{report['preset']}`, {seeds_text(seeds)}, "
             f"commit {(report['code'].get('git_commit') or 'unknown')[:10]}, "
             f"{report['created'][:10]}) by `python -m sims.doc_tables`; do not edit.", "",
             "| claim | budget | paper | observed | rule | verdict |", "|---|---|---|---|---|---|"]
    for row in rows:
        if len(seeds) == 1:
            observed = _fmt(entries[(row["claim"], seeds[0])].get("observed", "-"))
            verdict = row["verdict"]
        else:
            observed = _range(list(row["observed_by_seed"].values()))
            verdict = f"{row['verdict']} ({row['seeds_passed']}/{row['seeds_finished']} seeds)"
        why = next((w for w in (entries[(row["claim"], s)].get("inconclusive") for s in seeds)
                    if w), None)
        if why:
            verdict += f": {why}"
        budget = row.get("budget") or report["preset"]
        lines.append(f"| `{row['claim']}` | {_cell(budget)} | {_cell(row.get('paper'))} | "
                     f"{_cell(observed)} | {_cell(row['comparison'])} | {_cell(verdict)} |")
    return "\n".join(lines) + "\n"


def render_curves(results: dict[str, Any], levels: list[int]) -> str:
    """Mean ± std over seeds of each curve of an experiment's ``results.json`` at ``levels``
    (rounds), with the percentage of weights remaining at each round in the header."""
    curves = results["curves"]
    first = next(iter(curves.values()))
    missing = [k for k in levels if k not in first["levels"]]
    if missing:
        raise ValueError(f"curve-table: rounds {missing} are not in the results "
                         f"(it has {first['levels'][0]}..{first['levels'][-1]})")
    remaining = [first["remaining"][first["levels"].index(k)] for k in levels]
    provenance = results.get("provenance", {})
    commit = (provenance.get("toolkit", {}).get("commit") or "unknown")[:10]
    lines = [f"Generated from the `{results.get('experiment', '?')}` results (commit {commit}) "
             f"by `python -m sims.doc_tables`; do not edit. Metric: "
             f"{_cell(results.get('metric', 'accuracy'))}, percent, mean ± std over "
             f"{len(next(iter(first['per_seed'].values())))} seeds.", "",
             "| curve | " + " | ".join(f"k={k} ({r:.2f}%)" for k, r in zip(levels, remaining))
             + " |", "|---|" + "---:|" * len(levels)]
    for name, curve in curves.items():
        cells = []
        for k in levels:
            i = curve["levels"].index(k)
            cells.append(f"{curve['mean'][i]:.2f} ± {curve['std'][i]:.2f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _block_text(kind: str, args: str, root: Path) -> str:
    parts = args.split()
    report = json.loads((root / parts[0]).read_text())
    allowed = {"verify": "claims", "curve": "levels"}[kind]
    values = []
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key != allowed:
            raise ValueError(f"{kind}-table: unknown option {part!r} (allowed: {allowed}=...)")
        values += value.split(",")
    if kind == "curve":
        if not values:
            raise ValueError("curve-table: name the rounds to show (levels=0,8,12)")
        return render_curves(report, [int(v) for v in values])
    return render(report, values or None)


def update(page: Path, root: Path = ROOT, *, check: bool = False) -> list[str]:
    """Regenerate every marked block of ``page``; return the reports of the blocks that were
    stale (with ``check`` the page is left as it is)."""
    stale = []

    def fill(match: re.Match) -> str:
        body = _block_text(match.group("kind"), match.group("args"), root)
        if body != match.group("body"):
            stale.append(match.group("args").split()[0])
        return match.group(1) + body + match.group(5)

    new = BLOCK.sub(fill, page.read_text())
    if stale and not check:
        page.write_text(new)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sims.doc_tables",
                                     description="regenerate the result tables of docs pages")
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="report stale tables, change nothing (exit 1 if any)")
    args = parser.parse_args(argv)
    stale = 0
    for page in args.pages:
        for report in update(page, check=args.check):
            print(f"{page}: table from {report} {'is stale' if args.check else 'regenerated'}")
            stale += 1
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
