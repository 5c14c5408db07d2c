"""Figures of the ``robustness.*`` claims (:mod:`sims.robustness.claims`); each function draws
one figure from a claim's measurements and writes it to ``path``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lottery_core.figures import save_figure

METHOD_LABELS = {"imp": "IMP", "magnitude_after": "magnitude-after (rewind)",
                 "magnitude_after_finetune": "magnitude-after (fine-tune)", "snip": "SNIP",
                 "grasp": "GraSP", "synflow": "SynFlow", "random": "random",
                 "magnitude": "magnitude at init"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def memorization(path: Path, setup, final, dense) -> None:
    """R1: final train accuracy on random labels against sparsity, per method (± std over seeds)."""
    from sims.robustness import experiments as rx

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, by in final.items():
        xs = [0.0] + sorted(by)
        means = [dense.mean()] + [by[s].mean() for s in sorted(by)]
        stds = [dense.std()] + [by[s].std() for s in sorted(by)]
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=METHOD_LABELS[method],
                    linestyle="-" if method in rx.TRAINED_METHODS else "--")
    ax.set_xlabel("sparsity (fraction of weights removed)")
    ax.set_ylabel("train accuracy on random labels")
    ax.set_title(f"R1 memorization: n={setup.n}, d={setup.d}, MLP {setup.width}-{setup.width}, "
                 f"{setup.seeds} seeds", fontsize=9)
    ax.axhline(1.0 / setup.outputs, color="gray", lw=0.8, ls=":")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def noise_correlation(path: Path, setup, curves, sparsity) -> None:
    """R2: the noise correlation C(t) over epochs (mean ± std over seeds), per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, c in curves.items():
        method, s = key
        if s != sparsity and method != "dense":
            continue
        label = "dense" if method == "dense" else METHOD_LABELS[method]
        epochs = np.arange(1, c["C"].shape[1] + 1)
        mean, std = c["C"].mean(0), c["C"].std(0)
        line, = ax.plot(epochs, mean, label=label,
                        ls="-" if method in ("imp", "magnitude_after", "magnitude_after_finetune", "dense")
                        else "--")
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("noise correlation C(t) = (1/n) Σ f(x_i) z_i")
    ax.set_title(f"R2: {int(sparsity * 100)}% sparsity, flip 0.2, n={setup.n}, d={setup.d}, "
                 f"{setup.seeds} seeds", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def lipschitz(path: Path, setup, rows, ps, mean_lip, slope, floors) -> None:
    """R4: Lipschitz estimates against nd/p (log-log), the fitted slope and the floor L*."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    nd = setup.n * setup.d
    x = np.array([nd / r["p"] for r in rows])
    ax.scatter(x, [r["lip_lower"] for r in rows], s=14, label="lower estimate (grad / PGD)")
    ax.scatter(x, [r["lip_upper"] for r in rows], s=14, marker="^",
               label="upper bound Π ||W_ℓ||_op")
    if ps:
        ref_x = np.array([nd / p for p in ps])
        anchor = mean_lip[len(mean_lip) // 2] / math.sqrt(ref_x[len(ref_x) // 2])
        ax.plot(ref_x, anchor * np.sqrt(ref_x), "k:", label="theory slope 1/2 (Lip ∝ sqrt(nd/p))")
        ax.plot(ref_x, mean_lip, "C0-", lw=1, label=f"fitted: Lip ∝ p^{slope:.2f}")
    ax.axhline(float(np.mean([u for _, u in floors])), color="k", lw=0.8, ls="--",
               label="floor L*: smoothest possible below-noise fit")
    ax.axvspan(1, setup.d, color="gray", alpha=0.1, label="n <= p <= nd")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nd / p")
    ax.set_ylabel("Lipschitz constant")
    ax.set_title(f"R4: n={setup.n}, d={setup.d}, fit below noise by ε={setup.eps}", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def mnist(path: Path, setup, memorized, sparsity) -> None:
    """R3: share of corrupted MNIST labels memorized, per method and noise level."""
    from sims.robustness import experiments as rx

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    methods = ("dense",) + rx.ALL_METHODS
    width = 0.8 / len(memorized)
    for j, (fraction, stats) in enumerate(memorized.items()):
        xs = np.arange(len(methods)) + j * width
        ax.bar(xs, [stats[m][0] for m in methods], width, yerr=[stats[m][1] for m in methods],
               capsize=2, label=f"{int(fraction * 100)}% random labels")
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2)
    ax.set_xticklabels(["dense"] + [METHOD_LABELS[m] for m in rx.ALL_METHODS], rotation=30,
                       ha="right", fontsize=7)
    ax.set_ylabel("corrupted labels memorized")
    ax.set_title(f"R3 MNIST: n={setup.n}, MLP {setup.width}-{setup.width}, {int(sparsity * 100)}% "
                 f"sparsity (dense at 0%), {setup.seeds} seeds", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=90)
