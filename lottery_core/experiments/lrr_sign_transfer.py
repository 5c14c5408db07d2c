"""LRR paper: sign transfer, IMP with LRR's signs and LRR with IMP's signs (spec lrr.md §2.3).

Trains WR and LRR, then WR whose every level starts from the rewind point's magnitudes with
the signs LRR's run carried into that level (``--reset-weights --reset-weight-sign
--load-expt-sign <LRR run>`` [C]; own mask) and LRR whose kernels get their post-warmup signs
back after every pruning step (``lrr+init-signs``, ``--reset-only-weight-sign`` [C]). Does
LRR's advantage travel with its signs? Writes ``results.json`` (accuracy curves and sign
flips vs the rewind point) and ``accuracy_vs_remaining.png``.
"""

from __future__ import annotations

from lottery_core.experiments import _lrr_common as common

NAME = "sign-transfer"
LABELS = {"wr": "WR (own signs)", "lrr": "LRR (own signs)",
          "wr_with_lrr_signs": "WR with LRR's signs", "lrr_with_init_signs": "LRR with init signs"}


def add_arguments(parser) -> None:
    common.add_common_arguments(parser)


def run(args) -> int:
    from lottery_core.loops import registry
    from lottery_core.loops.lrr_methods import sign_reference_method

    data = common.load_data(args)
    directory = common.experiment_folder(args, NAME)
    results = {"experiment": NAME, "config": common.make_config(args, "lrr").resolved().to_dict(),
               "seeds": common.seeds_of(args),
               "signs": "wr_with_lrr_signs: level k starts at |rewind point| with the signs of "
                        "LRR's weights at the end of level k-1 (own sign where LRR's weight is "
                        "0); lrr_with_init_signs: LRR's weights with the post-warmup signs and "
                        "the post-warmup optimizer state after every pruning step"}
    runs = common.add_runs(args, data, directory, results, {"wr": "wr", "lrr": "lrr"}, LABELS)
    transfer = registry.register_method(sign_reference_method(
        registry.get_method("wr"), runs["lrr"].name)).name
    common.add_runs(args, data, directory, results,
                    {"wr_with_lrr_signs": transfer, "lrr_with_init_signs": "lrr+init-signs"},
                    LABELS)
    return common.report_accuracy(directory, common.by_label(results),
                                  f"{args.model} on {args.dataset}: sign transfer "
                                  f"({args.seeds} seeds)")
