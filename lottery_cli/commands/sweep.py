"""Run a sweep: every method × seed × grid point of SPEC.toml as one lottery run, locally or on
a Ray cluster; only what is missing runs.

SPEC.toml ([sweep] out, methods, seeds, data_dir; [settings]: lottery run options shared by
every run; [grid]: lists, one run per combination) is checked completely before anything
runs (docs/sweep.md). Each run is the lottery run command line of one seed; its folder is the
run's usual OUT/<method>-<hash>/seed_<s> (a one-shot folder's summary.json is rewritten over
the sweep's seeds). Finished runs are skipped, a run another process is writing is waited for, a run killed midway resumes from its checkpoint; a failed run is
recorded with its one-line error in OUT/sweep-<name>/state.json (logs beside it) and the
others go on (exit status 1 if any failed). --status prints what is done, running, failed
and pending without taking any lock.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXECUTORS = ("local", "ray")


def add_arguments(parser) -> None:
    from lottery_core.config.fields import DefaultsHelpFormatter

    parser.formatter_class = DefaultsHelpFormatter      # defaults stated in the help texts
    parser.add_argument("spec", type=Path, help="the sweep spec (a .toml file)")
    parser.add_argument("--status", action="store_true",
                        help="print what is done, running, failed and pending, then exit "
                             "(runs nothing, takes no lock) (default: off)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local: on this machine, one run after another in this process, "
                             "or --workers N child processes at a time; ray: one Ray task per "
                             "run (needs the ray extra: pip install \"lottery-toolkit[ray]\")")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local executor: runs at a time (default: 1)")
    parser.add_argument("--address", default=None, metavar="HOST:PORT",
                        help="ray executor: the cluster's head node (GCS address, e.g. "
                             "127.0.0.1:6379), auto, or ray://HOST:PORT (default: "
                             "$RAY_ADDRESS, else a Ray instance started on this machine)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the runs, instead of the spec's [sweep] out (default: "
                             "the spec's)")
    parser.add_argument("--wait", action="store_true",
                        help="if another lottery sweep is running this spec, wait for it to "
                             "finish instead of stopping (default: off)")
    parser.add_argument("--no-plot", action="store_true",
                        help="do not redraw the figures of OUT at the end (default: off)")


def check_options(args) -> None:
    from lottery_core.errors import UsageError

    if args.executor != "ray" and args.address is not None:
        raise UsageError("--address is for --executor ray")
    if args.executor != "local" and args.workers is not None:
        raise UsageError("--workers is for --executor local (a Ray cluster schedules its "
                         "runs by its CPUs)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")


def main(args) -> int:
    from lottery_cli.faults import check_output_folder
    from lottery_cli.sweep import spec, state

    check_options(args)
    sweep = spec.load(args.spec, args.out)
    check_output_folder(sweep.out, "out")
    if args.status:
        text, counts = state.table(sweep, state.read_state(sweep))
        print(f"sweep {sweep.spec.name}: {len(sweep.units)} runs in {sweep.out}: "
              f"{state.summary(counts)}")
        print(text)
        return 0
    if args.executor == "ray":
        from lottery_cli.sweep.execute import check_ray

        check_ray(args.address)         # not installed, no cluster: one line, nothing written
    from lottery_core.store import lock

    with lock.hold(state.sweep_dir(sweep), wait=args.wait):
        return run_sweep(sweep, args)


def run_sweep(sweep, args) -> int:
    from lottery_cli.sweep import execute, state
    from lottery_core.errors import Fault, Interrupted

    runs = state.read_state(sweep)
    todo = [u for u in sweep.units if not u.finished()]
    total = len(sweep.units)
    print(f"sweep {sweep.spec.name}: {total} runs in {sweep.out}: {total - len(todo)} done, "
          f"{len(todo)} to run")
    if not todo:
        print(f"all {total} runs are done; nothing to run")
        return 0
    elsewhere = [u for u in todo if state.status(u, None)[0] == "running"]
    if elsewhere:
        print(f"  {len(elsewhere)} of them running in other processes (e.g. {elsewhere[0].key}): "
              f"waited for, then skipped if they finish")
    where = (f"Ray at {args.address}" if args.address else "Ray") if args.executor == "ray" \
        else f"{args.workers or 1} local worker{'s' * ((args.workers or 1) > 1)}"
    print(f"  executor: {where}; logs in {state.sweep_dir(sweep) / 'logs'}")
    ended = []

    def on_end(unit, code, line, seconds):
        entry = state.record(unit, code, line, seconds, state.log_path(sweep, unit),
                             runs.get(unit.key))
        runs[unit.key] = entry
        state.write_state(sweep, runs)
        ended.append(entry)
        tail = "" if entry["status"] == "done" else f": {entry['error']}"
        print(f"  [{len(ended)}/{len(todo)}] {entry['status']} {unit.label} "
              f"({seconds:.1f} s) {unit.key}{tail}", flush=True)

    log_of = lambda unit: state.log_path(sweep, unit)      # noqa: E731
    try:
        if args.executor == "ray":
            execute.run_ray(todo, log_of, on_end, args.address)
        else:
            execute.run_local(todo, log_of, on_end, args.workers or 1)
    except KeyboardInterrupt as exc:
        raise Interrupted(f"interrupted after {len(ended)} of {len(todo)} runs; rerun the same "
                          f"command to resume (finished runs are kept, the others resume "
                          f"from their checkpoints)") from exc
    finished = [u for u in todo if runs[u.key]["status"] == "done"]
    summarize_oneshot(sweep, finished)
    if not args.no_plot and finished:
        redraw(sweep)
    failed = [(u, runs[u.key]) for u in todo if runs[u.key]["status"] == "failed"]
    if failed:
        unit, entry = failed[0]
        raise Fault(f"{len(failed)} of {total} runs failed (first: {unit.label}: "
                    f"{entry['error']}); lottery sweep {args.spec} --status lists them, logs in "
                    f"{state.sweep_dir(sweep) / 'logs'}; rerun the same command to retry them")
    print(f"done: all {total} runs of {sweep.out}")
    return 0


def summarize_oneshot(sweep, finished) -> None:
    """Each one-shot run folder a run of this sweep finished: its ``summary.json`` over every
    seed of the sweep finished there (a sweep's runs are one seed each, and each wrote the
    summary of its own seed), written under the folder's lock."""
    from lottery_core.loops.oneshot import write_summary
    from lottery_core.store import lock

    folders = {u.run_dir for u in finished if u.sparsity_keys is not None}
    for run_dir in sorted(folders):
        seeds = [u.seed for u in sweep.units if u.run_dir == run_dir and u.finished()]
        with lock.hold(run_dir, wait=True):
            write_summary(run_dir, seeds)


def redraw(sweep) -> None:
    """Redraw OUT's figures once (the runs of a sweep draw none): accuracy vs density of the
    level runs, accuracy vs sparsity of the one-shot ones."""
    from lottery_cli.commands.run import redraw_plot
    from lottery_core.config import ONESHOT_METHODS

    methods = {u.method for u in sweep.units}
    if methods - set(ONESHOT_METHODS):
        from lottery_core.analysis import plot_runs

        redraw_plot(plot_runs, sweep.out)
    if methods & set(ONESHOT_METHODS):
        from lottery_core.loops.oneshot import plot_oneshot_runs

        redraw_plot(plot_oneshot_runs, sweep.out)
    sys.stdout.flush()
