"""Run a named experiment (Zhou et al. criteria and supermasks, the LRR paper's studies)."""

from __future__ import annotations


def add_arguments(parser) -> None:
    from lottery_core import experiments
    from lottery_core.config.fields import DefaultsHelpFormatter

    sub = parser.add_subparsers(dest="experiment", metavar="NAME")
    sub.required = True
    for name, module in experiments.available().items():
        doc = (module.__doc__ or "").strip().splitlines()[0]
        experiment_parser = sub.add_parser(
            name, help=doc, description=module.__doc__,
            formatter_class=DefaultsHelpFormatter)
        experiments.add_arguments(experiment_parser, module)
        experiment_parser.set_defaults(_experiment=module)


def main(args) -> int:
    from lottery_cli.faults import check_output_folder
    from lottery_core.errors import CorruptRunError
    from lottery_core.store import integrity, lock

    if getattr(args, "out", None) is not None:
        check_output_folder(args.out)
    with lock.scope():             # the experiment's folder stays locked until it returns
        try:
            return int(args._experiment.run(args) or 0)
        except CorruptRunError as exc:     # no --redo-level here: say what to remove by hand
            raise integrity.corrupt(exc.path, exc.problem, experiment=True) from None
