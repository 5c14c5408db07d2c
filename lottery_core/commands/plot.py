"""Plot test accuracy vs density (mean and spread over seeds) for every run in RUNS_DIR."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("runs_dir", type=Path, metavar="RUNS_DIR", help="folder of runs")
    parser.add_argument("--out", type=Path, default=None,
                        help="figure path (default: RUNS_DIR/accuracy_vs_density.png)")
    parser.add_argument("--metric", default="test_accuracy",
                        choices=["test_accuracy", "val_accuracy", "early_stop"],
                        help="final test/val accuracy, or test accuracy at the early-stopping "
                             "step (minimum validation loss)")
    parser.add_argument("--table", action="store_true",
                        help="also print a Markdown table: run x level x seed, mean and std")


def summarize(records: list[dict], metric: str = "test_accuracy") -> dict:
    """``{run: {level: {"density", "values": [per seed], "seeds": [...]}}}``."""
    table: dict = defaultdict(dict)
    for r in records:
        value = r["early_stop"]["test_accuracy"] if metric == "early_stop" else r[metric]
        entry = table[r["run"]].setdefault(r["level"], {"density": r["density"], "values": [],
                                                        "seeds": []})
        entry["values"].append(value)
        entry["seeds"].append(r["seed"])
    return table


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


def plot_runs(runs_dir: Path, out: Path | None = None, metric: str = "test_accuracy") -> Path:
    """Draw every run's mean ± std (over seeds) of ``metric`` against the density (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lottery_core.experiment import collect_results
    from lottery_core.store import layout

    records = collect_results(runs_dir)
    if not records:
        raise ValueError(f"no finished levels under {runs_dir} (expected "
                         f"<method>-<hash>/{layout.LEVEL_METRICS})")
    table = summarize(records, metric)
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in sorted(table):
        levels = sorted(table[run])
        density = np.array([100 * table[run][k]["density"] for k in levels])
        values = [100 * np.array(table[run][k]["values"]) for k in levels]
        mean = np.array([v.mean() for v in values])
        std = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in values])
        seeds = max(len(v) for v in values)
        line, = ax.plot(density, mean, marker="o", ms=3, label=f"{run} ({seeds} seeds)")
        ax.fill_between(density, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (%)" if metric != "early_stop"
                  else "test accuracy at early stop (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    from lottery_core.figures import save_figure

    return save_figure(fig, out if out is not None
                       else Path(runs_dir) / layout.ACCURACY_VS_DENSITY, dpi=110)


def main(args) -> int:
    from lottery_core.cli import UsageError

    if not Path(args.runs_dir).is_dir():
        raise UsageError(f"runs folder {args.runs_dir} does not exist")
    try:
        figure = plot_runs(args.runs_dir, args.out, args.metric)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(figure)
    if args.table:
        from lottery_core.experiment import collect_results

        print(markdown_table(summarize(collect_results(args.runs_dir), args.metric)))
    return 0
