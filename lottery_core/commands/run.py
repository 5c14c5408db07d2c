"""Run (or resume) an iterative pruning experiment: imp, wr, lrr, finetune, random-prune;
or a one-shot one: pilot, oneshot (train, then magnitude-prune once; lottery_core/oneshot.py).

Writes OUT/<method>-<hash>/seed_<s>/level_<k>/{mask.npz, params.npz, metrics.json} (layout in
docs/engine.md). Finished levels are skipped; an interrupted level resumes from its last
checkpoint. Options left at "model default" take the model's defaults (LeNet-300-100: Adam
1.2e-3, batch 60, 50,000 iterations, 20% per level, 10% on the output layer).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

#: ExperimentConfig fields exposed as options: name -> (type, help)
OPTIONS = {
    "model": (str, "network: lenet300, mlp, conv2, conv4, conv6, ..."),
    "dataset": (str, "mnist, cifar10, cifar100 or synthetic"),
    "optimizer": (str, "sgd or adam"),
    "learning_rate": (float, "base learning rate"),
    "momentum": (float, "SGD momentum"),
    "weight_decay": (float, "coupled L2 weight decay"),
    "schedule": (str, "learning-rate schedule: constant, step, cosine"),
    "warmup_steps": (int, "linear warmup steps"),
    "gamma": (float, "step schedule factor"),
    "batch_size": (int, "training batch size"),
    "iterations": (int, "training steps per level (overrides the model default)"),
    "epochs": (int, "training epochs per level (instead of --iterations)"),
    "prune_fraction": (float, "fraction of remaining weights pruned per level (dense layers)"),
    "prune_fraction_conv": (float, "per-level fraction for conv kernels"),
    "prune_fraction_output": (float, "per-level fraction for the output layer"),
    "allocation": (str, "layerwise or global"),
    "rewind_step": (int, "k of weight rewinding (wr)"),
    "eval_every": (int, "evaluate val/test and checkpoint every N steps (0: T/10)"),
    "validation_size": (int, "training examples held out for validation"),
    "split_seed": (int, "seed of the validation split"),
    "train_subset": (int, "use only the first N training examples"),
    "levels": (int, "pruning levels after the dense level 0"),
    "seeds": (int, "number of seeds (replicates)"),
    "first_seed": (int, "first seed"),
    "final_learning_rate": (float, "end of the cosine schedule, lr_min (LRR recipe: 0.01)"),
    "warmup_epochs": (int, "dense warmup epochs before level 0; its end is the rewind point"),
    "optimizer_state": (str, "fresh, or carry (momentum travels with the weights)"),
    "input_pipeline": (str, "none, or cifar (normalize + random crop + flip on the device)"),
    "sign_perturbation": (float, "flip the signs of this share of surviving weights ..."),
    "sign_perturbation_every": (int, "... at the start of epochs e with e mod k = k-1"),
    "criterion": (str, "Zhou et al. mask criterion, e.g. large_final, magnitude_increase, "
                       "movement (per-layer, floor counts); unset: magnitude pruning"),
    "mask1": (str, "Zhou et al. mask-1 action for imp: rewind, reinit, reshuffle, constant, "
                   "signed_reinit, signed_reshuffle, signed_constant"),
    "mask0": (str, "Zhou et al. mask-0 action for imp: zero, freeze_init, "
                   "freeze_init_zero_mask, freeze_init_zero_all, freeze_init_zero_reshuffle, "
                   "freeze_init_zero_rev"),
}


def add_arguments(parser) -> None:
    from lottery_core.experiment import ExperimentConfig

    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    parser.add_argument("method", help="imp, wr, lrr, finetune, random-prune; one-shot: "
                                        "pilot, oneshot")
    for name, (kind, text) in OPTIONS.items():
        default = defaults[name]
        shown = "model default" if default is None else default
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None,
                            help=f"{text} (default: {shown})")
    parser.add_argument("--milestones", type=str, default=None,
                        help="step-schedule milestones as comma-separated fractions of the "
                             "training length, e.g. 0.5,0.75 (default: model default)")
    parser.add_argument("--model-options", type=json.loads, default=None,
                        help='model builder options as JSON, e.g. \'{"widths": [100]}\' '
                             "(default: none)")
    parser.add_argument("--rescale", dest="mask1_rescale", action="store_true", default=None,
                        help="multiply kept weights by #weights/#kept (mask-1 *_rescaling)")
    parser.add_argument("--nesterov", action="store_true", default=None,
                        help="Nesterov momentum (default: model default)")
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON file of config fields; command-line options override it")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder")
    parser.add_argument("--data-dir", type=str, default=None,
                        help="data folder (default: $LOTTERY_DATA)")
    parser.add_argument("--seed-parallel", choices=["auto", "vmap", "sequential", "processes"],
                        default="auto",
                        help="train seeds together with jax.vmap, one by one, or in "
                             "single-threaded worker processes (CPU); auto: vmap on an "
                             "accelerator, processes for long multi-seed CPU runs, else "
                             "sequential (default: auto)")
    parser.add_argument("--devices", type=int, default=None,
                        help="data-parallel training over the first N local devices (GPUs, or "
                             "host devices of XLA_FLAGS=--xla_force_host_platform_device_count): "
                             "each batch is split over them, gradients and BatchNorm statistics "
                             "are over the whole batch; the batch size must be divisible by N "
                             "(default: all local devices)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not redraw OUT/accuracy_vs_density.png at the end")
    from lottery_core import oneshot_config

    oneshot_config.add_arguments(parser)
    # argparse formats defaults itself; ours are in the help texts
    parser.formatter_class = __import__("argparse").HelpFormatter


def build_config(args):
    """Merge ``--config FILE`` and the command-line options into an ExperimentConfig."""
    from lottery_core.cli import UsageError
    from lottery_core.experiment import ExperimentConfig

    values = {}
    if args.config is not None:
        try:
            values = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read config file {args.config}: {exc}") from None
        if not isinstance(values, dict):
            raise UsageError(f"config file {args.config} must hold a JSON object")
    values["method"] = args.method
    for name in list(OPTIONS) + ["nesterov", "model_options", "mask1_rescale"]:
        value = getattr(args, name)
        if value is not None:
            values[name] = value
    if args.milestones is not None:
        try:
            values["milestones"] = tuple(float(v) for v in args.milestones.split(",") if v)
        except ValueError:
            raise UsageError(f"--milestones must be comma-separated numbers, got "
                             f"{args.milestones!r}") from None
    if "epochs" in values and "iterations" not in values:
        values["iterations"] = None
    try:
        config = ExperimentConfig.from_dict(values)
        config.validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return config


def main(args) -> int:
    from lottery_core.cli import UsageError
    from lottery_core import oneshot_config

    if args.method in oneshot_config.ONESHOT_METHODS:
        return main_oneshot(args)
    try:
        oneshot_config.reject_oneshot_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    config = build_config(args)
    from lottery_core.data import DataError
    from lottery_core.levels import run_experiment
    from lottery_core.training.sharding import DeviceError

    try:
        run_dir = run_experiment(config, args.out, data_dir=args.data_dir,
                                 progress=not args.no_progress,
                                 seed_parallel=args.seed_parallel, devices=args.devices)
    except (DataError, DeviceError) as exc:
        raise UsageError(str(exc)) from None
    if not args.no_plot:
        from lottery_core.commands.plot import plot_runs

        figure = plot_runs(args.out)
        print(f"plot: {figure}")
    print(f"done: {run_dir}")
    return 0


def main_oneshot(args) -> int:
    """``lottery run pilot|oneshot``: the engine's training options plus the one-shot ones."""
    import argparse

    from lottery_core import oneshot_config
    from lottery_core.cli import UsageError

    if args.levels is not None:
        raise UsageError(f"--levels is not used by {args.method} (it prunes once per "
                         f"--sparsities value)")
    # the engine's merge and field checks, with a level method standing in for validation
    config = build_config(argparse.Namespace(**{**vars(args), "method": "imp"}))
    config = dataclasses.replace(config, method=args.method)
    try:
        oneshot_config.check_training_config(config)
        settings = oneshot_config.settings_from_args(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from lottery_core.oneshot import OneShotRunner, plot_oneshot_runs, summarize_run, \
        summary_table

    try:      # bad data folder, or OUT holds another experiment under this name
        runner = OneShotRunner(config, settings, args.out, data_dir=args.data_dir,
                               progress=not args.no_progress, devices=args.devices)
    except ValueError as exc:       # DataError is a ValueError
        raise UsageError(str(exc)) from None
    run_dir = runner.run()
    print(summary_table(summarize_run(run_dir)))
    if not args.no_plot:
        print(f"plot: {plot_oneshot_runs(args.out)}")
    print(f"done: {run_dir}")
    return 0
