"""Run (or resume) an iterative pruning experiment: imp, wr, lrr, finetune, random-prune;
pruning at initialization to each level's density: snip, grasp, synflow, magnitude-init,
random (docs/pai.md); or a one-shot one: pilot, oneshot (train, then magnitude-prune once;
lottery_core/loops/oneshot.py).

Writes OUT/<method>-<hash>/seed_<s>/level_<k>/{mask.npz, params.npz, metrics.json} (layout in
docs/engine.md). Finished levels are checked against their manifests, then skipped (a damaged
file stops the run with one line; --redo-level K recomputes from level K); an interrupted
level resumes from its last checkpoint (Ctrl-C says which, exit status 130). One process
writes a run at a time (--wait). With --coordinator several processes (hosts) train one run
data-parallel, process 0 writing it (docs/multihost.md). Options left at "model default" take
the model's defaults (LeNet-300-100: Adam 1.2e-3, batch 60, 50,000 iterations, 20% per level,
10% on the output layer).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lottery_cli import faults
from lottery_cli.faults import check_output_folder, os_error_line

#: ExperimentConfig concerns exposed as options (help texts: the fields' own, config/experiment.py)
OPTION_GROUPS = ("model", "data", "training", "level", "pruning", "zhou", "recipe", "pai",
                 "reparam")


def option_names() -> tuple[str, ...]:
    from lottery_core.config import ExperimentConfig, names_in

    return tuple(n for n in names_in(ExperimentConfig, "run", *OPTION_GROUPS)
                 if n != "method")


def add_arguments(parser) -> None:
    from lottery_core.config import ExperimentConfig, add_options

    parser.add_argument("method", help="imp, wr, lrr, finetune, random-prune, lrr-bn-rewind, "
                                        "lrr+random-balanced, imp+pilot, ...; at init: "
                                        "snip, grasp, synflow, magnitude-init, random; "
                                        "one-shot: pilot, oneshot, spred, l1, cs, powerprop, "
                                        "str")
    add_options(parser, ExperimentConfig, option_names())
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
    parser.add_argument("--devices", type=int, default=None, metavar="N",
                        help="data-parallel training over the first N local devices (GPUs, or "
                             "host devices of XLA_FLAGS=--xla_force_host_platform_device_count): "
                             "each batch is split over them, gradients and BatchNorm statistics "
                             "are over the whole batch; the batch size must be divisible by N "
                             "(default: all local devices)")
    parser.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                        help="multi-process run (jax.distributed, docs/multihost.md): the "
                             "address of process 0, which runs the coordinator; every process "
                             "runs the same command with its own --process-id, trains on its "
                             "devices, and only process 0 writes --out (default: "
                             "$JAX_COORDINATOR_ADDRESS, else a one-process run)")
    parser.add_argument("--num-processes", type=int, default=None, metavar="N",
                        help="the number of processes of a multi-process run (default: "
                             "$JAX_NUM_PROCESSES, else $SLURM_NTASKS)")
    parser.add_argument("--process-id", type=int, default=None, metavar="I",
                        help="this process's id in 0..N-1 (default: $JAX_PROCESS_ID, else "
                             "$SLURM_PROCID)")
    parser.add_argument("--coordinator-timeout", type=float, default=None, metavar="S",
                        help="seconds to wait for the coordinator and the other processes "
                             "(default: 30)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not redraw OUT/accuracy_vs_density.png at the end")
    parser.add_argument("--redo-level", type=int, default=None, metavar="K",
                        help="recompute level K and every later level of every seed (their "
                             "folders are removed first; earlier levels are kept), e.g. after "
                             "a check found a damaged result file (level methods only)")
    parser.add_argument("--wait", action="store_true",
                        help="if another process is writing this run, wait for it to finish "
                             "instead of stopping")
    from lottery_core.config import oneshot as oneshot_config

    oneshot_config.add_arguments(parser)
    # argparse formats defaults itself; ours are in the help texts
    parser.formatter_class = __import__("argparse").HelpFormatter


def build_config(args):
    """Merge ``--config FILE`` and the command-line options into an ExperimentConfig."""
    from lottery_core.errors import UsageError
    from lottery_core.config import ExperimentConfig, values_from_args
    from lottery_core.loops import registry

    values = {}
    if args.config is not None:
        try:
            values = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read config file {args.config}: {exc}") from None
        if not isinstance(values, dict):
            raise UsageError(f"config file {args.config} must hold a JSON object")
    values["method"] = args.method
    values.update(values_from_args(args, option_names()))
    if "epochs" in values and "iterations" not in values:
        values["iterations"] = None
    try:
        config = ExperimentConfig.from_dict(values)
        registry.check_config(config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return config


def main(args) -> int:
    check_output_folder(args.out)         # first: before any data is loaded or folder made
    if join_processes(args) is None:      # before any other use of jax
        return run_method(args)
    from lottery_core.training import hosts

    try:
        return run_method(args)
    except BaseException as exc:          # a fault here: end at once, not in jax's shutdown
        exc = hosts.peer_failure(exc)     # a collective broken by a process that stopped
        hosts.abandon(faults.describe(exc)[0] if isinstance(exc, faults.PREDICTABLE) else 1)
        raise exc


def run_method(args) -> int:
    config, settings = resolve_run(args)
    if settings is not None:
        return main_oneshot(args, config, settings)
    from lottery_core.errors import UsageError
    from lottery_core.loops.levels import Runner

    try:      # bad data folder, model and data that do not fit, OUT holds another experiment
        runner = Runner(config, args.out, data_dir=args.data_dir, progress=not args.no_progress,
                        seed_parallel=args.seed_parallel, devices=args.devices,
                        wait=args.wait, redo_level=args.redo_level)
    except ValueError as exc:       # DataError and DeviceError are ValueErrors
        raise UsageError(str(exc)) from None
    run_dir = run_interruptible(runner)
    from lottery_core.store import writer

    if not args.no_plot and writer.writes():
        from lottery_core.analysis import plot_runs

        redraw_plot(plot_runs, args.out)
    print(f"done: {run_dir}")
    return 0


def resolve_run(args):
    """``(config, settings)`` of the command line, every option checked (the first bad one
    raises ``UsageError`` naming it): a level method's ``ExperimentConfig`` and ``None``, or
    a one-shot method's config and its ``OneShotSettings``. Nothing is read or written
    (``lottery sweep`` checks each of its runs with it before any starts)."""
    from lottery_core.errors import UsageError
    from lottery_core.config import oneshot as oneshot_config

    if args.method in oneshot_config.ONESHOT_METHODS:
        return resolve_oneshot(args)
    try:
        oneshot_config.reject_oneshot_options(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return build_config(args), None


def run_folder(out: Path, config, settings=None) -> Path:
    """``OUT/<method>-<hash>/``, the folder the run of :func:`resolve_run`'s ``(config,
    settings)`` writes: the run identity the runners open (``ExperimentConfig.identity``, a
    one-shot run's ``run_identity``), hashed by the store. Nothing is created."""
    from lottery_core.config import oneshot as oneshot_config
    from lottery_core.store.runs import run_folder as store_run_folder

    identity = (config.identity() if settings is None
                else oneshot_config.run_identity(config, settings))
    return store_run_folder(out, config.method, identity)


def join_processes(args):
    """Join a multi-process run when a coordinator is given (option or environment,
    :func:`lottery_core.training.hosts.resolve`; level methods only) and return its
    ``Cluster``; ``None`` for a one-process run."""
    from lottery_core.config import oneshot as oneshot_config
    from lottery_core.errors import UsageError
    from lottery_core.training import hosts

    timeout = (hosts.DEFAULT_TIMEOUT if args.coordinator_timeout is None
               else args.coordinator_timeout)
    cluster = hosts.resolve(args.coordinator, args.num_processes, args.process_id, timeout)
    if cluster is None:
        if args.coordinator_timeout is not None:
            raise UsageError("--coordinator-timeout is for a multi-process run "
                             "(--coordinator HOST:PORT)")
        return None
    if args.method in oneshot_config.ONESHOT_METHODS:
        raise UsageError(f"a multi-process run is for level methods; {args.method} runs in "
                         f"one process")
    hosts.join(cluster)
    return cluster


def run_interruptible(runner) -> Path:
    """``runner.run()``; Ctrl-C becomes :class:`Interrupted` with the runner's own account of
    where it stopped and what rerunning the command does."""
    from lottery_core.errors import Interrupted

    try:
        return runner.run()
    except KeyboardInterrupt as exc:
        raise Interrupted(runner.interrupt_message()) from exc


def redraw_plot(plot, out: Path) -> None:
    """Redraw the figure of ``out``; a folder that cannot be written (read-only, full) costs
    the figure, not the finished run: one warning line on stderr."""
    import sys

    try:
        print(f"plot: {plot(out)}")
    except OSError as exc:
        print(f"lottery run: warning: plot not redrawn: {os_error_line(exc)}", file=sys.stderr)


def resolve_oneshot(args):
    """:func:`resolve_run` of ``lottery run pilot|oneshot|...``: the engine's training options
    plus the one-shot ones."""
    import argparse

    from lottery_core.config import oneshot as oneshot_config
    from lottery_core.errors import UsageError

    if args.levels is not None:
        raise UsageError(f"--levels is not used by {args.method} (it prunes once per "
                         f"--sparsities value)")
    if args.redo_level is not None:
        raise UsageError(f"--redo-level is for level methods; {args.method} has no levels "
                         f"(remove a damaged seed_<s> folder to compute that seed again)")
    from lottery_core.config import ExperimentConfig, names_in

    for name in names_in(ExperimentConfig, "reparam"):   # the stand-in below would refuse them
        if getattr(args, name, None) is not None:     # with its own name
            raise UsageError(f"{name} is not used by the one-shot methods "
                             f"({', '.join(oneshot_config.ONESHOT_METHODS)}); remove it")
    # the engine's merge and field checks, with a level method standing in for validation
    config = build_config(argparse.Namespace(**{**vars(args), "method": "imp"}))
    config = dataclasses.replace(config, method=args.method)
    try:
        oneshot_config.check_training_config(config)
        settings = oneshot_config.settings_from_args(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return config, settings


def main_oneshot(args, config, settings) -> int:
    """``lottery run pilot|oneshot|...`` of the checked ``(config, settings)``."""
    from lottery_core.errors import UsageError
    from lottery_core.loops.oneshot import OneShotRunner, plot_oneshot_runs, summarize_run, \
        summary_table

    try:      # bad data folder, or OUT holds another experiment under this name
        runner = OneShotRunner(config, settings, args.out, data_dir=args.data_dir,
                               progress=not args.no_progress, devices=args.devices,
                               wait=args.wait)
    except ValueError as exc:       # DataError is a ValueError
        raise UsageError(str(exc)) from None
    run_dir = run_interruptible(runner)
    print(summary_table(summarize_run(run_dir)))
    if not args.no_plot:
        redraw_plot(plot_oneshot_runs, args.out)
    print(f"done: {run_dir}")
    return 0
