"""LRR paper: recovery from sign perturbations, LRR vs WR (spec lrr.md §2.3).

Trains LRR and WR with and without sign perturbation: at the start of every epoch e ≥ 1 of a
level with e mod k = k − 1, every surviving conv/linear weight flips its sign independently
with probability p (``--perturb-signs --perturb-sign-ratio p --perturb-sign-every k`` [C],
defaults p = 0.3, k = 30). Writes ``results.json`` (accuracy curves, and per level the drop
``unperturbed − perturbed`` of the mean final test accuracy) and ``accuracy_vs_remaining.png``.
Expected [S]: LRR recovers more reliably; small effect at low sparsity.
"""

from __future__ import annotations

from lottery_core.experiments._common import comma_list
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import write_results

NAME = "sign-perturbation"


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)
    parser.add_argument("--p", type=float, default=0.3, help="flip probability per weight")
    parser.add_argument("--every", type=int, default=30, help="k: perturb every k epochs")
    parser.add_argument("--methods", type=comma_list(), default=["lrr", "wr"],
                        help="comma-separated level-loop methods")


def run(args) -> int:
    data = common.load_data(args)
    seeds = common.seeds_of(args)
    directory = common.experiment_folder(args, NAME, {"p": args.p, "every": args.every,
                                                      "methods": list(args.methods)})
    results = {"experiment": NAME, "p": args.p, "every": args.every, "seeds": seeds,
               "config": common.make_config(args, args.methods[0]).resolved().to_dict(),
               "timing": "signs flip after the last step of epoch e-1, i.e. before epoch e, "
                         "for e >= 1 with e mod every = every - 1 (epochs of the level)",
               "curves": {}, "drop": {}}
    for method in args.methods:
        clean = common.run(common.make_config(args, method), args, data)
        perturbed = common.run(common.make_config(args, method, sign_perturbation=args.p,
                                                  sign_perturbation_every=args.every),
                               args, data)
        a = common.accuracy_curve(clean, seeds, args.levels)
        b = common.accuracy_curve(perturbed, seeds, args.levels)
        results["curves"][method] = {"label": method, **a}
        results["curves"][f"{method}+perturbed"] = {"label": f"{method}, signs perturbed", **b}
        results["drop"][method] = {
            "levels": a["levels"], "remaining": a["remaining"],
            "mean": [x - y for x, y in zip(a["test_accuracy"]["mean"],
                                           b["test_accuracy"]["mean"])]}
        write_results(directory, results)
    return common.report_accuracy(directory, common.by_label(results),
                                  f"{args.model} on {args.dataset}: sign perturbation "
                                  f"p={args.p}, every {args.every} epochs")
