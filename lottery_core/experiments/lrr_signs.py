"""LRR paper: per level, the fraction of surviving weights whose sign changed (spec §2.3).

For WR and LRR (same recipe and seeds) and every level k: the fraction of the weights kept at
level k whose sign at the end of level k differs from (a) the rewind point, the post-warmup
checkpoint (the runs' "init", ``sign_flips_vs_init`` of metrics.json), and (b) the end of level
k−1 (``sign_flips_vs_previous_level``; undefined at level 0). Writes ``results.json`` and
``sign_flips.png``. Expected [P abstract; S Fig. 12]: LRR flips markedly more signs than WR
in the early, dense levels.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "lrr-signs"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--methods", type=comma_list(), default=["wr", "lrr"],
                        help="comma-separated level-loop methods")


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lottery_core.figures import density_axis, line_style, save_figure, spread_caption

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, key, title in zip(axes, ("vs_rewind_point", "vs_previous_level"),
                              ("vs the rewind point (post-warmup)", "vs the previous level")):
        remaining = []
        for index, (method, c) in enumerate(results["methods"].items()):
            pairs = [(x, m, s) for x, m, s in zip(c["remaining"], c[key]["mean"], c[key]["std"])
                     if m is not None]
            if not pairs:
                continue
            x, m, s = (np.asarray(v, float) for v in zip(*pairs))
            line, = ax.plot(x, 100 * m, ms=3, label=method, **line_style(index))
            ax.fill_between(x, 100 * (m - s), 100 * (m + s), color=line.get_color(), alpha=0.2)
            remaining += list(x)
        if remaining:
            density_axis(ax, remaining, "weights remaining at level k")
        ax.set_ylabel("surviving weights with flipped sign (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(spread_caption([len(results["seeds"])]), fontsize=9)
    save_figure(fig, path, dpi=120)


def run(args) -> int:
    data, configs, directory, seeds = common.setup_methods(args, NAME)
    results = {"experiment": NAME, "config": configs[args.methods[0]].resolved().to_dict(),
               "seeds": seeds, "rewind_point": "the post-warmup checkpoint (warmup_epochs) or "
               "θ_0 without warmup", "metric": "fraction of the weights kept at level k whose "
               "sign differs between the two checkpoints (sign 0 counts as its own sign)",
               "methods": {}}
    for method, config in configs.items():
        run_dir = common.run(config, args, data)
        results["methods"][method] = common.sign_curves(run_dir, seeds, args.levels)
        write_results(directory, results)
    plot(results, directory / "sign_flips.png")
    print(f"results: {directory / 'results.json'}\nfigure: {directory / 'sign_flips.png'}")
    return 0
