"""LRR paper: random masks (balanced, ERK, uniform, global) with LRR and WR (spec lrr.md §2.3).

Iterative random pruning to the magnitude schedule's exact global counts (20% per level),
per-layer counts "balanced" (equal kept count per layer, capped at the layer size), ERK,
"uniform" (one density in every layer) or "global" (survivors of all layers pooled)
(``--pruner random-<kind>``, with or without ``--reset-weights`` [C];
``lottery_core.loops.lrr_methods.random_counts``). Level k keeps a uniformly random subset of
level k−1's survivors. ``--kinds`` defaults to balanced,erk (the spec lists all four). Writes
``results.json`` (accuracy curves and the per-layer densities of seed 0's masks) and
``accuracy_vs_remaining.png``; ``--with-magnitude`` adds the magnitude-pruned WR and LRR.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "random-masks"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--kinds", type=comma_list(), default=["balanced", "erk"],
                        help="random mask kinds: balanced, erk, uniform, global")
    parser.add_argument("--with-magnitude", action="store_true",
                        help="also train magnitude-pruned WR and LRR for reference")


def run(args) -> int:
    from lottery_core.errors import UsageError
    from lottery_core.loops.lrr_methods import RANDOM_KINDS

    bad = [k for k in args.kinds if k not in RANDOM_KINDS]
    if bad:
        raise UsageError(f"unknown random mask kind(s) {bad}; allowed: {', '.join(RANDOM_KINDS)}")
    methods = [f"{base}+random-{kind}" for kind in args.kinds for base in ("lrr", "wr")]
    if args.with_magnitude:
        methods += ["lrr", "wr"]
    data = common.load_data(args)
    seeds = common.seeds_of(args)
    directory = common.experiment_folder(args, NAME, {"methods": methods})
    results = {"experiment": NAME, "config": common.make_config(args, "lrr").resolved().to_dict(),
               "seeds": seeds, "curves": {}, "layer_density": {}}
    for method in methods:
        run_dir = common.run(common.make_config(args, method), args, data)
        results["curves"][method] = {"label": method,
                                     **common.accuracy_curve(run_dir, seeds, args.levels)}
        table = common.level_metrics(run_dir, seeds[:1], args.levels)
        results["layer_density"][method] = {str(k): row[seeds[0]]["density_layers"]
                                            for k, row in table.items()}
        write_results(directory, results)
    return common.report_accuracy(directory, results["curves"],
                                  f"{args.model} on {args.dataset}: random masks")
