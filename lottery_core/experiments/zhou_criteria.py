"""Zhou et al. 2019 Figs. 3-5: iterative pruning with every mask criterion / mask-1 / mask-0 action.

Runs ``imp`` once per combination of ``--criteria`` × ``--mask1`` × ``--mask0`` (each a normal,
resumable level-loop run under OUT/zhou-criteria-<hash>/runs/), then writes ``results.json``
(test accuracy at the early-stopping iteration, i.e. the evaluation with minimum validation
loss, spec zhou.md §2.4, mean ± std over seeds per level) and ``accuracy_vs_remaining.png``.
"""

from __future__ import annotations

from pathlib import Path

from lottery_core.experiments._common import comma_list

NAME = "zhou-criteria"

#: the nine criteria of Fig. 3 (spec zhou.md §3)
FIG3_CRITERIA = ("large_final", "magnitude_increase", "movement", "large_init_large_final",
                 "large_init", "random", "small_init", "small_init_small_final", "small_final")


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="lenet300", help="network (lenet300, conv2/4/6, ...)")
    parser.add_argument("--dataset", default="mnist", help="mnist, cifar10, cifar100, synthetic")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $LOTTERY_DATA)")
    parser.add_argument("--criteria", type=comma_list(), default=list(FIG3_CRITERIA),
                        help="comma-separated mask criteria")
    parser.add_argument("--mask1", type=comma_list(), default=["rewind"],
                        help="comma-separated mask-1 actions")
    parser.add_argument("--mask0", type=comma_list(), default=["zero"],
                        help="comma-separated mask-0 actions")
    parser.add_argument("--levels", type=int, default=24, help="pruning rounds")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per combination")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (seeds first .. first + seeds - 1)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="training steps per round (default: the model's, FC 50,000)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="evaluate every N steps (early stopping granularity; default T/10)")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="use only the first N training images (quick runs)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def combinations(args) -> list[dict]:
    return [{"criterion": c, "mask1": m1, "mask0": m0}
            for c in args.criteria for m1 in args.mask1 for m0 in args.mask0]


def label(combo: dict) -> str:
    parts = [combo["criterion"]]
    if combo["mask1"] != "rewind":
        parts.append(f"mask1={combo['mask1']}")
    if combo["mask0"] != "zero":
        parts.append(f"mask0={combo['mask0']}")
    return ", ".join(parts)


def run(args) -> int:
    execute(args)
    return 0


def execute(args) -> Path:
    """Run every combination (finished runs are reused) and write ``results.json``; return
    the experiment's folder."""
    from lottery_core.analysis import summarize
    from lottery_core.config import ExperimentConfig
    from lottery_core.data import DataError
    from lottery_core.errors import UsageError
    from lottery_core.experiments._common import mean_std, open_experiment, plot_curves
    from lottery_core.loops.levels import run_experiment
    from lottery_core.store import collect_results, layout, write_results

    base = dict(method="imp", model=args.model, dataset=args.dataset, levels=args.levels,
                seeds=args.seeds, first_seed=args.first_seed or None,
                iterations=args.iterations, eval_every=args.eval_every,
                train_subset=args.train_subset)
    base = {k: v for k, v in base.items() if v is not None}
    configs = []
    for combo in combinations(args):
        try:
            config = ExperimentConfig(**base, **combo)
            config.validate()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        configs.append((combo, config))
    directory = open_experiment(args, NAME, {"base": base, "combinations": combinations(args)})
    runs_dir = directory / layout.RUNS
    results = {"experiment": NAME, "base": base, "metric": "test accuracy at early stopping "
               "(minimum validation loss)", "curves": {}}
    for index, (combo, config) in enumerate(configs):
        print(f"[{index + 1}/{len(configs)}] {label(combo)}")
        try:
            run_dir = run_experiment(config, runs_dir, data_dir=args.data_dir,
                                     progress=not args.no_progress, wait=args.wait)
        except DataError as exc:
            raise UsageError(str(exc)) from None
        records = [r for r in collect_results(runs_dir) if r["run"] == run_dir.name]
        table = summarize(records, "early_stop")[run_dir.name]
        levels = sorted(table)
        stats = [mean_std(table[k]["values"]) for k in levels]
        results["curves"][label(combo)] = {
            **combo, "run": run_dir.name, "levels": levels,
            "remaining": [100 * table[k]["density"] for k in levels],
            "mean": [100 * s[0] for s in stats], "std": [100 * s[1] for s in stats],
            "per_seed": {str(k): dict(zip(map(str, table[k]["seeds"]),
                                          [100 * v for v in table[k]["values"]]))
                         for k in levels}}
        write_results(directory, results)
    figure = plot_curves(results["curves"], directory / layout.ACCURACY_VS_REMAINING,
                         title=f"{args.model} on {args.dataset}: iterative pruning",
                         ylabel="test accuracy at early stopping (%)", seeds=args.seeds)
    print(f"results: {directory / layout.RESULTS}\nfigure: {figure}")
    return directory
