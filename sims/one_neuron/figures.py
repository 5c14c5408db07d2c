"""Figures of the ``one_neuron.*`` claims (:mod:`sims.one_neuron.claims`); each function draws
one figure from a claim's measurements and writes it to ``path``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lottery_core.figures import log_ticks, save_figure

#: run outcome colours of the scatter figures
SUCCESS, FAILURE = "#e0b000", "#c0392b"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def conservation(path: Path, lrs, per_step, per_step_unif, slope: float, slope_unif: float,
                 sobol_points: int, d: int, horizon: float) -> None:
    """GD drift per step of a² − ‖w‖² against the learning rate (log-log), both input laws."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 3.2), dpi=110)
    ax.loglog(lrs, per_step, "o-", label=f"Gaussian inputs (slope {slope:.2f})")
    ax.loglog(lrs, per_step_unif, "s--", label=f"U[-1,1]^5, Sobol n={sobol_points} (slope {slope_unif:.2f})")
    ax.loglog(lrs, per_step[0] * (lrs / lrs[0]) ** 2, "k:", label="∝ lr²")
    log_ticks(ax.xaxis, lrs)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("mean |Δ(a² − ‖w‖²)| per step")
    ax.set_title(f"GD drift of the invariant, d={d}, T={horizon:g}", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def d1_rule(path: Path, a0, w0, success) -> None:
    """d = 1: success (yellow) or failure (red) of each run in the (w(0), a(0)) plane."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.8, 3.6), dpi=110)
    k = min(len(a0), 4000)
    _outcomes(ax, w0[:k], a0[:k], success[:k])
    grid = np.linspace(-1, 1, 3)
    ax.plot(grid, -grid, "k--", lw=0.8, label="a = −w")
    ax.axvline(0, color="k", lw=0.8)
    ax.axhline(0, color="gray", lw=0.5, ls=":")
    ax.set_xlabel("$w(0)$")
    ax.set_ylabel("$a(0)$")
    ax.set_title(f"d = 1: success iff w(0) > 0 and a(0) + w(0) > 0\n"
                 f"{k} of {len(a0)} runs shown", fontsize=8)
    ax.legend(fontsize=7, loc="lower left", markerscale=2)
    save_figure(fig, path)


def _outcomes(ax, x, y, success) -> None:
    """Scatter runs coloured by outcome, one legend entry per outcome."""
    for ok, colour, label in ((True, SUCCESS, "success"), (False, FAILURE, "failure")):
        keep = success == ok
        ax.scatter(x[keep], y[keep], color=colour, s=3, lw=0, label=label)


def sign_plane(path: Path, a0, w0, out, title: str) -> None:
    """IMP and LRR side by side: success of each run in the (w_1(0), a(0)) plane."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.8), dpi=100, sharey=True)
    k = min(len(a0), 3000)
    for ax, method in zip(axes, ("imp", "lrr")):
        ok = out[f"{method}_success"]
        _outcomes(ax, w0[:k, 0], a0[:k], ok[:k])
        ax.axvline(0, color="k", lw=0.7)
        ax.axhline(0, color="k", lw=0.7)
        ax.set_title(f"{method.upper()}: success rate {ok.mean():.3f}", fontsize=9)
        ax.set_xlabel("$w_1(0)$")
    axes[0].set_ylabel("$a(0)$")
    axes[1].legend(fontsize=7, loc="lower right", markerscale=2)
    fig.suptitle(f"{title}\n{len(a0)} runs per method, {k} shown", fontsize=9)
    save_figure(fig, path)


def success_vs_d(path: Path, rows: dict, n: int) -> None:
    """IMP and LRR success rates against d, bars ± 1 binomial standard error of the observed
    rate, with the predicted rates dotted."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 3.2), dpi=110)
    dims = sorted(rows)
    for m, marker in (("imp", "o"), ("lrr", "s")):
        y = [rows[d][m]["rate"] for d in dims]
        e = [math.sqrt(max(r * (1 - r), 1 / n) / n) for r in y]
        ax.errorbar(dims, y, yerr=e, marker=marker, capsize=3, label=m.upper())
        ax.plot(dims, [rows[d][m]["predicted"] for d in dims], "k:", lw=0.8,
                label="theory" if m == "imp" else None)
    ax.set_xscale("log")
    log_ticks(ax.xaxis, dims, lambda v: f"{v:g}")
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 0.75)
    ax.set_title(f"a(0) = ±1.2‖w(0)‖, {n} runs per d\n"
                 "bars: ± 1 binomial s.e., √(r(1 − r)/n)", fontsize=8)
    ax.legend(fontsize=8)
    save_figure(fig, path)
