"""The accuracy-vs-density figure of a runs folder (mean ± std over seeds, one line per run)."""

from __future__ import annotations

from pathlib import Path

from lottery_core.analysis.summaries import accuracy_vs_density
from lottery_core.store import layout


def plot_runs(runs_dir: Path, out: Path | None = None, metric: str = "test_accuracy") -> Path:
    """Draw every run's mean ± std (over seeds) of ``metric`` against the density (log x).

    Writes ``out`` (default ``runs_dir/accuracy_vs_density.png``) and returns its path; raises
    ``ValueError`` if ``runs_dir`` holds no finished level.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    table = accuracy_vs_density(runs_dir, metric)
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
