"""The accuracy-vs-density figure of a runs folder (mean ± std over seeds, one line per run)."""

from __future__ import annotations

from pathlib import Path

from lottery_core.analysis.labels import run_labels
from lottery_core.analysis.summaries import accuracy_vs_density
from lottery_core.store import layout, read_json


def plot_runs(runs_dir: Path, out: Path | None = None, metric: str = "test_accuracy") -> Path:
    """Draw every run's mean ± std (over seeds) of ``metric`` against the density (log x).

    Each run is named by :func:`~lottery_core.analysis.labels.run_labels` (method and the
    settings that differ); the figure states what the band is. Writes ``out`` (default
    ``runs_dir/accuracy_vs_density.png``) and returns its path; raises ``ValueError`` if
    ``runs_dir`` holds no finished level.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lottery_core.figures import (density_axis, line_style, save_figure, seeds_suffix,
                                      spread_caption)

    table = accuracy_vs_density(runs_dir, metric)
    labels = run_labels({run: read_json(Path(runs_dir) / run / layout.CONFIG) for run in table})
    seed_counts = {run: max(len(entry["values"]) for entry in table[run].values())
                   for run in table}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    densities = []
    for index, run in enumerate(sorted(table, key=lambda r: (labels[r], r))):
        levels = sorted(table[run])
        density = np.array([100 * table[run][k]["density"] for k in levels])
        values = [100 * np.array(table[run][k]["values"]) for k in levels]
        mean = np.array([v.mean() for v in values])
        std = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in values])
        line, = ax.plot(density, mean, ms=3, **line_style(index),
                        label=labels[run] + seeds_suffix(seed_counts[run], seed_counts.values()))
        ax.fill_between(density, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        densities += list(density)
    density_axis(ax, densities)
    ax.set_ylabel(f"{metric.replace('_', ' ')} (%)" if metric != "early_stop"
                  else "test accuracy at early stop (%)")
    ax.set_title(spread_caption(seed_counts.values()), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, out if out is not None
                       else Path(runs_dir) / layout.ACCURACY_VS_DENSITY, dpi=110)
