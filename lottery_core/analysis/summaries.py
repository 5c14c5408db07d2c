"""Accuracy vs density over seeds: collect a runs folder, summarize it, write a Markdown table."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def summarize(records: list[dict], metric: str = "test_accuracy") -> dict:
    """``{run: {level: {"density", "values": [per seed], "seeds": [...]}}}``."""
    table: dict = defaultdict(dict)
    for r in records:
        value = (r["early_stop"] or {}).get("test_accuracy") if metric == "early_stop" \
            else r[metric]
        if value is None:
            raise ValueError(f"run {r['run']} has no validation set (validation_size 0), so "
                             f"{metric} is undefined; use test_accuracy")
        entry = table[r["run"]].setdefault(r["level"], {"density": r["density"], "values": [],
                                                        "seeds": []})
        entry["values"].append(value)
        entry["seeds"].append(r["seed"])
    return table


def accuracy_vs_density(runs_dir: Path, metric: str = "test_accuracy") -> dict:
    """:func:`summarize` of every finished level under ``runs_dir``.

    Raises ``ValueError`` if there is none.
    """
    from lottery_core.store import collect_results, layout

    records = collect_results(runs_dir)
    if not records:
        raise ValueError(f"no finished levels under {runs_dir} (expected "
                         f"<method>-<hash>/{layout.LEVEL_METRICS})")
    return summarize(records, metric)


def markdown_table(table: dict) -> str:
    """Rows ``run | level | density % | seed values (%) | mean | std`` (std over seeds, ddof 1)."""
    import numpy as np

    lines = ["| run | level | weights remaining (%) | per seed (%) | mean (%) | std (pp) |",
             "| --- | ---: | ---: | --- | ---: | ---: |"]
    for run in sorted(table):
        for level in sorted(table[run]):
            entry = table[run][level]
            order = np.argsort(entry["seeds"])
            values = 100 * np.asarray(entry["values"])[order]
            seeds = np.asarray(entry["seeds"])[order]
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            per_seed = ", ".join(f"s{s}: {v:.2f}" for s, v in zip(seeds, values))
            lines.append(f"| {run} | {level} | {100 * entry['density']:.2f} | {per_seed} | "
                         f"{values.mean():.2f} | {std:.2f} |")
    return "\n".join(lines)
