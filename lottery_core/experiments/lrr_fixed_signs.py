"""LRR paper: training with every weight's sign held fixed, LRR and WR (spec lrr.md §2.3).

Trains each base method (``--methods``, default lrr, wr) as is and with fixed signs
(``<method>+fixed-signs``, ``--fix-sign-and-train`` [C]): after every SGD step each prunable
kernel is projected to ``|w|·sign(w_init)``, w_init the run's "init" (the post-warmup point;
``lottery_core.loops.lrr_methods.fixed_sign_transform``). Writes ``results.json`` (accuracy
curves; ``sign_flips_vs_init``: the fraction of surviving weights whose sign differs from the
"init" at the end of each level, 0 with fixed signs) and ``accuracy_vs_remaining.png``.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common

NAME = "fixed-signs"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--methods", type=comma_list(), default=["lrr", "wr"],
                        help="base methods, each trained as is and with fixed signs: lrr, wr")


def run(args) -> int:
    from lottery_core.errors import UsageError
    from lottery_core.loops.lrr_methods import FIXED_SIGN_METHODS

    allowed = [m.name.removesuffix("+fixed-signs") for m in FIXED_SIGN_METHODS]
    bad = [m for m in args.methods if m not in allowed]
    if bad:
        raise UsageError(f"--methods {','.join(bad)} has no fixed-sign variant; allowed: "
                         f"{', '.join(allowed)}")
    methods = {v: v for m in args.methods for v in (m, f"{m}+fixed-signs")}
    data = common.load_data(args)
    directory = common.experiment_folder(args, NAME, {"methods": list(methods)})
    results = {"experiment": NAME, "config": common.make_config(args, "lrr").resolved().to_dict(),
               "seeds": common.seeds_of(args), "signs": "fixed to the kernels' signs at the "
               "run's init (post-warmup point) after every step of every level"}
    common.add_runs(args, data, directory, results, methods)
    return common.report_accuracy(directory, results["curves"],
                                  f"{args.model} on {args.dataset}: fixed-sign training "
                                  f"({args.seeds} seeds)")
