"""LRR paper: mask quality vs optimization by swapping mask sequences (spec lrr.md §2.3).

Trains WR and LRR, then WR on LRR's mask sequence (``--pruner mask-ref --reset-weights`` [C]:
does LRR find better masks? Fig. 3 [S]) and LRR on WR's mask sequence (``--pruner mask-ref``
[C]: does LRR optimize a given mask better? Fig. 4 [S]). Level k of a swapped run uses the
reference run's level-k mask of the same seed. Writes ``results.json`` and
``accuracy_vs_remaining.png``.
"""

from __future__ import annotations

import numpy as np

from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "mask-swap"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)


def masks_equal(run_a, run_b, seeds, levels) -> bool:
    from lottery_core.store import flatten, layout, level_directory, load_tree

    for s in seeds:
        for k in range(levels + 1):
            a = flatten(load_tree(level_directory(run_a, s, k) / layout.MASK))
            b = flatten(load_tree(level_directory(run_b, s, k) / layout.MASK))
            if a.keys() != b.keys() or any(not np.array_equal(a[p], b[p]) for p in a):
                return False
    return True


def run(args) -> int:
    from lottery_core.loops import registry
    from lottery_core.loops.lrr_methods import mask_reference_method

    data = common.load_data(args)
    seeds = common.seeds_of(args)
    directory = common.experiment_folder(args, NAME)
    runs = {"wr": common.run(common.make_config(args, "wr"), args, data),
            "lrr": common.run(common.make_config(args, "lrr"), args, data)}
    swapped = {"wr_on_lrr_masks": ("wr", runs["lrr"]), "lrr_on_wr_masks": ("lrr", runs["wr"])}
    for key, (base, reference) in swapped.items():
        method = registry.register_method(mask_reference_method(
            registry.get_method(base), reference.name)).name
        runs[key] = common.run(common.make_config(args, method), args, data)
    labels = {"wr": "WR (own masks)", "lrr": "LRR (own masks)",
              "wr_on_lrr_masks": "WR on LRR's masks", "lrr_on_wr_masks": "LRR on WR's masks"}
    results = {"experiment": NAME, "config": common.make_config(args, "lrr").resolved().to_dict(),
               "seeds": seeds, "curves": {}, "masks_match_reference": {}}
    for key, run_dir in runs.items():
        results["curves"][key] = {"label": labels[key],
                                  **common.accuracy_curve(run_dir, seeds, args.levels)}
    for key, (_, reference) in swapped.items():
        results["masks_match_reference"][key] = masks_equal(runs[key], reference, seeds,
                                                            args.levels)
    write_results(directory, results)
    return common.report_accuracy(directory, common.by_label(results),
                                  f"{args.model} on {args.dataset}: mask swap")
