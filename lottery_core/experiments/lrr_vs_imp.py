"""LRR paper: accuracy vs density for WR, LRR and LRR with BN rewinding (spec lrr.md §2.3).

Trains ``wr`` (rewind weights, BN and optimizer state to the post-warmup point), ``lrr`` and
``lrr-bn-rewind`` with the paper's recipe (model defaults, lottery_core/models/recipes.py)
and writes ``results.json`` (final and best test accuracy per level, mean ± std over seeds)
and ``accuracy_vs_remaining.png``.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "lrr-vs-imp"
METHODS = ("wr", "lrr", "lrr-bn-rewind")
LABELS = {"wr": "WR (rewind to post-warmup)", "lrr": "LRR",
          "lrr-bn-rewind": "LRR + BN rewinding"}


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--methods", type=comma_list(), default=list(METHODS),
                        help="comma-separated level-loop methods")


def run(args) -> int:
    data, configs, directory, seeds = common.setup_methods(args, NAME)
    results = {"experiment": NAME, "config": configs[args.methods[0]].resolved().to_dict(),
               "seeds": seeds, "metric": "test accuracy (%) at the end of each level "
               "(test_accuracy) and its maximum over the level's evaluations "
               "(best_test_accuracy), the authors' final / best top-1 [C]", "curves": {}}
    for method, config in configs.items():
        run_dir = common.run(config, args, data)
        results["curves"][method] = {"label": LABELS.get(method, method),
                                     **common.accuracy_curve(run_dir, seeds, args.levels)}
        write_results(directory, results)
    return common.report_accuracy(directory, common.by_label(results),
                                  f"{args.model} on {args.dataset}: WR vs LRR")
