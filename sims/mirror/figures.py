"""Figures of the ``mirror.*`` claims (:mod:`sims.mirror.claims`): the shape of the potential
R_a and the DLN error curves."""

from __future__ import annotations

import numpy as np

from lottery_core.figures import save_figure
from theory import mirror as theory


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def potential_shape(path, a_values, to_l2, to_l1) -> None:
    """Left: R_{a_t} for n = 1 as ∫α grows (v1 Fig. 1c analogue; x_0 = 0.5, β = 1).
    Right: distance of argmin_{Zx=y} R_a to the L2 and L1 solutions versus a."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    m0, w0 = theory.pilot_init(np.array([0.5]), beta=1.0)
    c, a0 = theory.correction(m0, w0)[0], theory.scale_from_params(m0, w0)[0]
    xs = np.linspace(-1.5, 1.5, 401)
    for A in (0.0, 0.25, 0.5, 1.0, 2.0, 3.0):
        a = float(theory.scale(a0, A))
        values = 0.5 * (xs * np.arcsinh(xs / a) - np.hypot(xs, a) - c * xs)
        values = (values - values.min()) / (values.max() - values.min())
        left.plot(xs, values, label=f"∫α = {A:g} (a = {a:.2g})")
    left.set(xlabel="$x$", ylabel="$R_a(x)$, rescaled to [0, 1]",
             title="$R_{a_t}$: L2 shape at $x_0$ → L1 shape at 0")
    left.legend(fontsize=7)
    right.loglog(a_values, to_l2, "o-", label=r"$\|x_a - x_{L2}\| \,/\, \|x_{L2}\|$")
    right.loglog(a_values, to_l1, "s-", label=r"$\|x_a - x_{L1}\| \,/\, \|x_{L1}\|$")
    right.set(xlabel="$a$", ylabel="relative distance",
              title=r"$x_a = \mathrm{argmin}_{Zx=y}\, R_a(x)$  (c = 0)")
    right.legend(fontsize=7)
    save_figure(fig, path, dpi=90)


def dln_headline(path, curves, steps, settings, schedules) -> None:
    """Mean ‖x_t − x*‖ over GD iterations: one panel per setting, one line per schedule
    (solid: constant penalty, dashed: decaying)."""
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, len(settings), figsize=(3 * len(settings) + 1.2, 3.3),
                             sharey=True)
    iters = np.linspace(steps / curves.shape[-1], steps, curves.shape[-1])
    for s, ax in enumerate(axes):
        for j, (label, kind, _) in enumerate(schedules):
            ax.semilogy(iters, curves[s, j], "-" if kind == 0 else "--", label=label)
        ax.set(title=settings[s][0], xlabel="GD iteration")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
        ax.title.set_fontsize(9)
    axes[0].set_ylabel("‖x_t − x*‖, mean over 5 inits")
    axes[-1].legend(fontsize=7, title="penalty schedule", title_fontsize=7, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0), borderaxespad=0)     # beside the data
    save_figure(fig, path, dpi=80)

