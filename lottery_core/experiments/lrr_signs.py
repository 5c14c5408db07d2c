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

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in zip(axes, ("vs_rewind_point", "vs_previous_level"),
                              ("vs the rewind point (post-warmup)", "vs the previous level")):
        for method, c in results["methods"].items():
            pairs = [(k, m, s) for k, m, s in zip(c["levels"], c[key]["mean"], c[key]["std"])
                     if m is not None]
            if not pairs:
                continue
            k, m, s = (np.asarray(v, float) for v in zip(*pairs))
            line, = ax.plot(k, 100 * m, marker="o", ms=3, label=method)
            ax.fill_between(k, 100 * (m - s), 100 * (m + s), color=line.get_color(), alpha=0.2)
        ax.set_xlabel("level k (density 0.8^k)")
        ax.set_ylabel("surviving weights with flipped sign (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
