"""Shared plumbing of the named experiments: their folder (:func:`open_experiment`), argument
lists, subsets, statistics, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def open_experiment(args, name: str, identity: dict, *, seeds=(),
                    whole: bool = True) -> Path:
    """``OUT/<name>-<hash>/`` (``store.open_run_directory(..., experiment=True)``), locked by
    this process until ``lottery experiment`` ends (``store.lock.acquire_in_scope``;
    ``--wait``: wait for another process holding it): the folder's ``run.lock`` unless
    ``whole`` is false, and ``seed_<s>.lock`` of each of ``seeds``. A process that writes one
    seed's files only (``--only-seed``) takes that seed's lock alone, so that processes
    training other seeds run beside it; the whole run holds them all."""
    from lottery_core.store import layout, lock, open_run_directory

    directory = open_run_directory(args.out, name, identity, experiment=True)
    if whole:
        lock.acquire_in_scope(directory, wait=args.wait)
    for seed in seeds:
        lock.acquire_in_scope(directory, wait=args.wait, name=layout.seed_lock(seed))
    return directory


def comma_list(kind=str):
    """An argparse ``type`` for comma-separated lists (``a,b,c``)."""

    def parse(text: str):
        return [kind(item) for item in text.split(",") if item]

    return parse


def evaluation_subset(x, y, size: int | None, seed: int = 0):
    """``(x, y)``, or ``size`` of its examples drawn without replacement with a fixed seed
    (sorted, so the order of the file is kept). A random draw, not the first ``size``: the
    CIFAR-10 test batch written by ``make_cifar10.py`` is grouped by class."""
    if size is None or size >= len(y):
        return x, y
    if size < 1:
        raise ValueError(f"test subset size must be >= 1, got {size}")
    keep = np.sort(np.random.RandomState(seed).choice(len(y), size, replace=False))
    return x[keep], y[keep]


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def plot_curves(curves: dict[str, dict], path: Path, *, title: str, ylabel: str, seeds: int,
                chance: float | None = None) -> Path:
    """``curves[label] = {"remaining": [%], "mean": [...], "std": [...]}``: mean ± std over
    ``seeds`` seeds against the percentage of weights remaining, log x-axis reversed (the
    papers' figures); the title's second line says what the bands are. More than 8 curves put
    the legend beside the axes, off the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lottery_core.figures import density_axis, line_style, save_figure, spread_caption

    many = len(curves) > 8
    fig, ax = plt.subplots(figsize=(10, 4.8) if many else (7, 4.5))
    colors = plt.get_cmap("tab20" if len(curves) > 10 else "tab10").colors
    for index, (label, curve) in enumerate(curves.items()):
        x = np.asarray(curve["remaining"])
        mean, std = np.asarray(curve["mean"]), np.asarray(curve["std"])
        line, = ax.plot(x, mean, ms=3, label=label, color=colors[index % len(colors)],
                        **line_style(index))
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    density_axis(ax, [x for curve in curves.values() for x in curve["remaining"]])
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{spread_caption([seeds])}", fontsize=9)
    ax.grid(alpha=0.3)
    if many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)
