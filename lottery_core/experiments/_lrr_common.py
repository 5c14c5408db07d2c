"""Shared plumbing of the LRR paper's experiments (spec lrr.md §2): options, runs, tables.

Every ``lrr-*`` experiment trains ordinary level-loop runs (``lottery_core.loops.levels.Runner``)
into ``OUT/runs/`` (``OUT/runs-test<N>/`` with ``--test-subset N``). Run folders are named by
method and config hash, so experiments with the same recipe share runs: ``lrr-signs`` after
``lrr-vs-imp`` trains nothing new. Each experiment writes ``results.json`` and its figures
into ``OUT/<experiment>-<hash>/``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from lottery_core.store import write_results

#: the spec's recipe lives in the model defaults (lottery_core/models/recipes.py); these are
#: the experiment-level defaults (spec lrr.md §2.2: 150 epochs per level [C]/[S])
DEFAULTS = dict(model="resnet20", dataset="cifar10", levels=10, epochs=150, seeds=3)

#: ExperimentConfig fields offered as options, passed on when given (None = the model's default)
CONFIG_OPTIONS = ("optimizer", "schedule", "epochs", "iterations", "warmup_epochs", "batch_size",
                  "learning_rate", "final_learning_rate", "momentum", "weight_decay",
                  "prune_fraction", "prune_fraction_output", "allocation", "input_pipeline",
                  "optimizer_state", "rewind_step", "eval_every", "validation_size",
                  "train_subset", "first_seed")


def add_common_arguments(parser, *, levels: int | None = None) -> None:
    parser.add_argument("--model", default=DEFAULTS["model"],
                        help="resnet20, resnet18, vgg16, resnet_cifar, ...")
    parser.add_argument("--model-options", type=json.loads, default=None,
                        help='model builder options as JSON, e.g. \'{"depth": 8}\'')
    parser.add_argument("--dataset", default=DEFAULTS["dataset"],
                        help="cifar10, cifar100, ...")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $LOTTERY_DATA)")
    parser.add_argument("--levels", type=int, default=levels or DEFAULTS["levels"],
                        help="pruning levels after the dense level 0 (density 0.8^k)")
    parser.add_argument("--seeds", type=int, default=DEFAULTS["seeds"], help="seeds per run")
    from lottery_core.config import ExperimentConfig, add_options
    from lottery_core.models.recipes import LRR_CIFAR

    # the help shows the CIFAR recipe's values (the default model's) and the experiment's own
    add_options(parser, ExperimentConfig, CONFIG_OPTIONS,
                shown={**LRR_CIFAR, "epochs": DEFAULTS["epochs"]})
    parser.add_argument("--test-subset", type=int, default=None,
                        help="evaluate on N test images only, a fixed random subset (quick "
                             "runs; the runs then live in OUT/runs-test<N>)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def base_values(args) -> dict:
    """ExperimentConfig fields from the options (only those given, plus model/dataset...)."""
    values = dict(model=args.model, dataset=args.dataset, levels=args.levels, seeds=args.seeds,
                  model_options=args.model_options)
    from lottery_core.config import values_from_args

    values.update(values_from_args(args, CONFIG_OPTIONS))
    if values.get("iterations") is None and "epochs" not in values:
        from lottery_core.models import model_defaults

        # the model's recipe for this data set (160 on CIFAR-100), else the experiments' 150
        values["epochs"] = model_defaults(args.model, args.dataset).get("epochs",
                                                                       DEFAULTS["epochs"])
    return {k: v for k, v in values.items() if v is not None}


def make_config(args, method: str, **extra):
    from lottery_core.errors import UsageError
    from lottery_core.config import ExperimentConfig
    from lottery_core.loops import registry

    try:
        config = ExperimentConfig(method=method, **{**base_values(args), **extra})
        registry.check_config(config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return config


def load_data(args):
    """The data set once for all runs (``--test-subset`` applied)."""
    from lottery_core.errors import UsageError
    from lottery_core.data import DataError, load_dataset

    values = base_values(args)
    try:
        data = load_dataset(args.dataset, args.data_dir,
                            validation_size=values.get("validation_size", 5000),
                            train_subset=values.get("train_subset"))
    except (DataError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if args.test_subset is not None:
        if not 0 < args.test_subset <= len(data.x_test):
            raise UsageError(f"--test-subset must be in [1, {len(data.x_test)}], got "
                             f"{args.test_subset}")
        # a fixed random subset: the test files may be ordered by class
        keep = np.sort(np.random.default_rng(0).permutation(len(data.x_test))[:args.test_subset])
        data = dataclasses.replace(data, x_test=data.x_test[keep], y_test=data.y_test[keep])
    return data


def runs_directory(args) -> Path:
    from lottery_core.store import layout

    name = layout.RUNS if args.test_subset is None else f"{layout.RUNS}-test{args.test_subset}"
    return Path(args.out) / name


def run(config, args, data) -> Path:
    """Train (or resume) ``config`` into the shared runs folder; returns its run folder."""
    from lottery_core.errors import UsageError
    from lottery_core.loops.levels import Runner

    try:
        runner = Runner(config, runs_directory(args), progress=not args.no_progress,
                        dataset=data, wait=args.wait)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return runner.run()


def add_runs(args, data, directory: Path, results: dict, methods: dict[str, str],
             labels: dict[str, str] | None = None) -> dict[str, Path]:
    """Train (or reuse) the run of each ``{key: method}``; put its labelled accuracy curve in
    ``results["curves"][key]`` and its sign flips vs the rewind point (summary per level) in
    ``results["sign_flips_vs_init"][key]``, writing the results after each run. Returns
    ``{key: run folder}``."""
    seeds, runs = seeds_of(args), {}
    for key, method in methods.items():
        runs[key] = run(make_config(args, method), args, data)
        results.setdefault("curves", {})[key] = {
            "label": (labels or {}).get(key, method),
            **accuracy_curve(runs[key], seeds, args.levels)}
        results.setdefault("sign_flips_vs_init", {})[key] = sign_curves(
            runs[key], seeds, args.levels)["vs_rewind_point"]
        write_results(directory, results)
    return runs


def level_metrics(run_dir: Path, seeds: list[int], levels: int) -> dict[int, dict[int, dict]]:
    """``{level: {seed: metrics.json}}`` of a finished run."""
    from lottery_core.store import layout, level_directory, read_json

    return {k: {s: read_json(level_directory(run_dir, s, k) / layout.METRICS) for s in seeds}
            for k in range(levels + 1)}


def setup_methods(args, name: str):
    """``(data, {method: config}, run folder, seeds)`` of an experiment comparing ``args.methods``."""
    data = load_data(args)
    configs = {m: make_config(args, m) for m in args.methods}
    directory = experiment_folder(args, name, {"methods": list(args.methods)})
    return data, configs, directory, seeds_of(args)


def seeds_of(args) -> list[int]:
    first = args.first_seed or 0
    return list(range(first, first + args.seeds))


def summary(per_level: dict[int, dict[int, float | None]]) -> dict:
    """``{"mean": [...], "std": [...], "per_seed": {level: {seed: v}}}`` over seeds
    (sample std, ddof 1; ``None`` where a value is undefined, e.g. level 0 vs previous)."""
    means, stds = [], []
    for level in sorted(per_level):
        values = [v for v in per_level[level].values() if v is not None]
        if not values:
            means.append(None)
            stds.append(None)
            continue
        arr = np.asarray(values, np.float64)
        means.append(float(arr.mean()))
        stds.append(float(arr.std(ddof=1)) if arr.size > 1 else 0.0)
    return {"mean": means, "std": stds,
            "per_seed": {str(k): {str(s): v for s, v in per_level[k].items()}
                         for k in sorted(per_level)}}


def accuracy_curve(run_dir: Path, seeds: list[int], levels: int) -> dict:
    """Final and best test accuracy (%) per level, the authors' two reported numbers [C]."""
    table = level_metrics(run_dir, seeds, levels)
    density = [table[k][seeds[0]]["density"] for k in sorted(table)]
    final = {k: {s: 100 * m["test_accuracy"] for s, m in row.items()} for k, row in table.items()}
    best = {k: {s: 100 * max(h["test_accuracy"] for h in m["history"]) for s, m in row.items()}
            for k, row in table.items()}
    return {"run": Path(run_dir).name, "levels": sorted(table), "density": density,
            "remaining": [100 * d for d in density], "test_accuracy": summary(final),
            "best_test_accuracy": summary(best)}


def sign_curves(run_dir, seeds, levels) -> dict:
    """Sign flips per level of a finished run, from its metrics: vs the rewind point (the
    run's "init") and vs the previous level, overall (summaries) and per layer (seed means)."""
    table = level_metrics(run_dir, seeds, levels)
    density = [table[k][seeds[0]]["density"] for k in sorted(table)]

    def overall(key):
        return {k: {s: (None if m[key] is None else m[key]["overall"]) for s, m in row.items()}
                for k, row in table.items()}

    def layers(key):
        out = {}
        for k, row in table.items():
            if row[seeds[0]][key] is None:
                continue
            names = row[seeds[0]][key]["layers"]
            out[str(k)] = {p: sum(m[key]["layers"][p] for m in row.values()) / len(row)
                           for p in names}
        return out

    return {"run": run_dir.name, "levels": sorted(table), "density": density,
            "remaining": [100 * d for d in density],
            "vs_rewind_point": summary(overall("sign_flips_vs_init")),
            "vs_previous_level": summary(overall("sign_flips_vs_previous_level")),
            "layers_vs_rewind_point": layers("sign_flips_vs_init"),
            "layers_vs_previous_level": layers("sign_flips_vs_previous_level")}


def plot_accuracy(curves: dict[str, dict], path: Path, title: str) -> Path:
    from lottery_core.experiments._common import plot_curves

    seeds = max(len(per_level) for c in curves.values()
                for per_level in c["test_accuracy"]["per_seed"].values())
    return plot_curves({label: {"remaining": c["remaining"], "mean": c["test_accuracy"]["mean"],
                                "std": c["test_accuracy"]["std"]}
                        for label, c in curves.items()}, path, title=title,
                       ylabel="final test accuracy (%)", seeds=seeds)


def report_accuracy(directory: Path, curves: dict[str, dict], title: str) -> int:
    """Draw ``directory/accuracy_vs_remaining.png`` from ``{label: curve}``, print where the
    results and the figure are; the experiment's exit code (0)."""
    from lottery_core.store import layout

    figure = plot_accuracy(curves, directory / layout.ACCURACY_VS_REMAINING, title)
    print(f"results: {directory / layout.RESULTS}\nfigure: {figure}")
    return 0


def by_label(results: dict) -> dict[str, dict]:
    """``results["curves"]`` keyed by each curve's ``label``."""
    return {c["label"]: c for c in results["curves"].values()}


def experiment_folder(args, name: str, extra: dict | None = None) -> Path:
    """``OUT/<name>-<hash>/``, opened and locked; also kept as ``args.experiment_dir`` so that a
    caller of ``run(args)`` (the ``lrr.*`` claims, sims/lrr) reads that run's results.json."""
    from lottery_core.experiments._common import open_experiment

    identity = {"base": base_values(args), "test_subset": args.test_subset, **(extra or {})}
    args.experiment_dir = open_experiment(args, name, identity)
    return args.experiment_dir
