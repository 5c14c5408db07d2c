"""Figures of the ``robustness.*`` claims (:mod:`sims.robustness.claims`); each function draws
one figure from a claim's measurements and writes it to ``path``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lottery_core.figures import log_ticks, plain_log_labels, save_figure, spread_caption

METHOD_LABELS = {"imp": "IMP", "magnitude_after": "magnitude-after (rewind)",
                 "magnitude_after_finetune": "magnitude-after (fine-tune)", "snip": "SNIP",
                 "grasp": "GraSP", "synflow": "SynFlow", "random": "random",
                 "magnitude": "magnitude at init"}


def _std(values, axis=None):
    """Sample standard deviation over seeds (ddof 1, the claims' convention; 0 for one seed)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0] if axis == 0 else values.size
    return values.std(axis=axis, ddof=1) if n > 1 else np.zeros_like(values.mean(axis=axis))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def memorization(path: Path, setup, final, dense) -> None:
    """R1: final train accuracy on random labels against sparsity, per method (mean ± std over
    seeds; solid: masks found by training, dashed: pruning at initialization)."""
    from sims.robustness import experiments as rx

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, by in final.items():
        xs = [0.0] + sorted(by)
        means = [dense.mean()] + [by[s].mean() for s in sorted(by)]
        stds = [_std(dense)] + [_std(by[s]) for s in sorted(by)]
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=METHOD_LABELS[method],
                    linestyle="-" if method in rx.TRAINED_METHODS else "--")
    ax.set_xlabel("sparsity (fraction of weights removed)")
    ax.set_ylabel("train accuracy on random labels")
    ax.set_title(f"R1 memorization: n={setup.n}, d={setup.d}, MLP {setup.width}-{setup.width}\n"
                 f"{spread_caption([setup.seeds], 'bars')}\n"
                 "solid: trained masks, dashed: pruning at initialization", fontsize=8)
    ax.axhline(1.0 / setup.outputs, color="gray", lw=0.8, ls=":", label="chance")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def noise_correlation(path: Path, setup, curves, sparsity) -> None:
    """R2: the noise correlation C(t) over epochs (mean ± std over seeds), per method (solid:
    dense and trained masks, dashed: pruning at initialization)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.8, 4))
    for key, c in curves.items():
        method, s = key
        if s != sparsity and method != "dense":
            continue
        label = "dense" if method == "dense" else METHOD_LABELS[method]
        epochs = np.arange(1, c["C"].shape[1] + 1)
        mean, std = c["C"].mean(0), _std(c["C"], axis=0)
        line, = ax.plot(epochs, mean, label=label,
                        ls="-" if method in ("imp", "magnitude_after", "magnitude_after_finetune", "dense")
                        else "--")
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"noise correlation $C(t) = (1/n) \sum_i f(x_i)\, z_i$")
    ax.set_title(f"R2: {int(sparsity * 100)}% sparsity, flip 0.2, n={setup.n}, d={setup.d}\n"
                 f"{spread_caption([setup.seeds])}\n"
                 "solid: dense and trained masks, dashed: pruning at initialization", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0)                      # beside the axes: the curves cross everywhere
    save_figure(fig, path, dpi=90)


def lipschitz(path: Path, setup, rows, ps, mean_lip, slope, floors) -> None:
    """R4: Lipschitz estimates against nd/p (log-log), the fitted slope and the floor L*."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    nd = setup.n * setup.d
    x = np.array([nd / r["p"] for r in rows])
    ax.scatter(x, [r["lip_lower"] for r in rows], s=14,
               label="lower estimate (grad / PGD), one point per seed")
    ax.scatter(x, [r["lip_upper"] for r in rows], s=14, marker="^",
               label=r"upper bound $\Pi_\ell\, \|W_\ell\|_{op}$, one point per seed")
    if ps:
        ref_x = np.array([nd / p for p in ps])
        anchor = mean_lip[len(mean_lip) // 2] / math.sqrt(ref_x[len(ref_x) // 2])
        ax.plot(ref_x, anchor * np.sqrt(ref_x), "k:",
                label=r"theory slope 1/2 (Lip $\propto \sqrt{nd/p}$)")
        ax.plot(ref_x, mean_lip, "C0-", lw=1,
                label=f"mean lower estimate, fitted Lip ∝ $p^{{{slope:.2f}}}$")
    ax.axhline(float(np.mean([u for _, u in floors])), color="k", lw=0.8, ls="--",
               label="floor L*: smoothest possible below-noise fit")
    ax.axvspan(1, setup.d, color="gray", alpha=0.1, label="n ≤ p ≤ nd")
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ticks(ax.xaxis, list(x) + [1, setup.d])
    plain_log_labels(ax.yaxis)
    ax.set_xlabel("nd / p")
    ax.set_ylabel("Lipschitz constant")
    ax.set_title(f"R4: n={setup.n}, d={setup.d}, fit below noise by ε={setup.eps}", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def mnist(path: Path, setup, memorized, sparsity) -> None:
    """R3: share of corrupted MNIST labels memorized, per method and noise level (horizontal
    bars, mean ± std over seeds)."""
    from sims.robustness import experiments as rx

    plt = _plt()
    methods = ("dense",) + rx.ALL_METHODS
    fig, ax = plt.subplots(figsize=(6.5, 1.8 + 0.3 * len(methods)
                                    + 0.12 * len(methods) * (len(memorized) - 1)))
    height = 0.8 / len(memorized)
    for j, (fraction, stats) in enumerate(memorized.items()):
        ys = np.arange(len(methods)) + j * height
        ax.barh(ys, [stats[m][0] for m in methods], height, xerr=[stats[m][1] for m in methods],
                capsize=2, label=f"{int(fraction * 100)}% random labels")
    ax.set_yticks(np.arange(len(methods)) + 0.4 - height / 2)
    ax.set_yticklabels(["dense"] + [METHOD_LABELS[m] for m in rx.ALL_METHODS], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of the corrupted labels memorized")
    ax.set_title(f"R3 MNIST: n={setup.n}, MLP {setup.width}-{setup.width}, {int(sparsity * 100)}% "
                 f"sparsity (dense at 0%)\n{spread_caption([setup.seeds], 'bars')}", fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)
