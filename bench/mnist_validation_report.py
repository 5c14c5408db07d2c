"""Summarize the MNIST validation runs (docs/mnist_validation.md) and check the acceptance
criteria of the engine issue:

1. IMP's mean test accuracy is within 0.5 pp of the dense network (level 0), or above it, at
   every level;
2. random pruning is below IMP at the last three levels by more than twice the seed spread
   (spread = the larger of the two methods' standard deviations over seeds, ddof = 1).

    python bench/mnist_validation_report.py runs/mnist_validation [--metric test_accuracy]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lottery_core.analysis import summarize  # noqa: E402
from lottery_core.store import collect_results  # noqa: E402


def by_method(table: dict) -> dict:
    return {run.rsplit("-", 1)[0]: levels for run, levels in table.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--metric", default="test_accuracy")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the summary and per-seed tables in Markdown")
    args = parser.parse_args()
    records = collect_results(args.runs_dir)
    table = by_method(summarize(records, args.metric))
    ok = True
    imp = table["imp"]
    dense = 100 * np.mean(imp[0]["values"])
    print(f"metric: {args.metric}; dense (IMP level 0) mean {dense:.2f}%")
    worst = min(100 * np.mean(imp[k]["values"]) - dense for k in imp)
    passed = worst >= -0.5
    ok &= passed
    print(f"[{'PASS' if passed else 'FAIL'}] IMP within 0.5 pp of dense at every level: "
          f"worst mean - dense = {worst:+.2f} pp over levels {min(imp)}..{max(imp)}")
    if "random-prune" in table:
        rnd = table["random-prune"]
        last = sorted(set(imp) & set(rnd))[-3:]
        for k in last:
            a, b = 100 * np.asarray(imp[k]["values"]), 100 * np.asarray(rnd[k]["values"])
            gap = a.mean() - b.mean()
            spread = max(a.std(ddof=1), b.std(ddof=1))
            passed = gap > 2 * spread
            ok &= passed
            print(f"[{'PASS' if passed else 'FAIL'}] level {k} (density "
                  f"{100 * imp[k]['density']:.2f}%): IMP {a.mean():.2f} - random "
                  f"{b.mean():.2f} = {gap:.2f} pp > 2 x spread {2 * spread:.2f} pp")
    for method, levels in table.items():
        seconds = [r["seconds"] for r in records if r["run"].rsplit("-", 1)[0] == method]
        print(f"{method}: {len(seconds)} trainings, training+evaluation time "
              f"{sum(seconds) / 60:.1f} min (sum of per-level seconds)")
    if args.markdown:
        print(summary_markdown(table))
        print()
        from lottery_core.analysis import markdown_table

        print(markdown_table(summarize(records, args.metric)))
        print()
        print(sign_flips_markdown(args.runs_dir))
    return 0 if ok else 1


def sign_flips_markdown(runs_dir: Path, levels=(1, 4, 8, 12)) -> str:
    """Mean over seeds of ``sign_flips_vs_init`` / ``..._vs_previous_level`` (overall, %) per
    method at ``levels``, read from each level's ``metrics.json``."""
    import json

    rows = {}
    for path in sorted(Path(runs_dir).glob("*/seed_*/level_*/metrics.json")):
        m = json.loads(path.read_text())
        if m["level"] in levels:
            for key in ("sign_flips_vs_init", "sign_flips_vs_previous_level"):
                if m.get(key) is not None:
                    rows.setdefault((m["level"], m["method"], key), []).append(
                        100 * m[key]["overall"])
    methods = sorted({method for _, method, _ in rows})
    columns = [(method, key) for method in methods
               for key in ("sign_flips_vs_init", "sign_flips_vs_previous_level")
               if any((k, method, key) in rows for k in levels)]
    names = {"sign_flips_vs_init": "vs θ_0", "sign_flips_vs_previous_level": "vs previous"}
    lines = ["| level | " + " | ".join(f"{m} {names[k]}" for m, k in columns) + " |",
             "| ---: |" + " ---: |" * len(columns)]
    for level in levels:
        cells = [f"{np.mean(rows[(level, m, k)]):.1f}" if (level, m, k) in rows else "–"
                 for m, k in columns]
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(table: dict) -> str:
    """level | weights remaining | mean ± std per method (test accuracy, %)."""
    methods = [m for m in ("imp", "lrr", "random-prune") if m in table] + sorted(
        m for m in table if m not in ("imp", "lrr", "random-prune"))
    levels = sorted(set().union(*[set(table[m]) for m in methods]))
    head = "| level | weights remaining (%) | " + " | ".join(methods) + " |"
    lines = [head, "| ---: | ---: |" + " ---: |" * len(methods)]
    for k in levels:
        density = next(table[m][k]["density"] for m in methods if k in table[m])
        cells = []
        for m in methods:
            if k in table[m]:
                v = 100 * np.asarray(table[m][k]["values"])
                cells.append(f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1
                             else f"{v.mean():.2f}")
            else:
                cells.append("–")
        lines.append(f"| {k} | {100 * density:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
