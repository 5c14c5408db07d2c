"""The ``lottery`` console script.

Each subcommand lives in its own module under :mod:`lottery_cli.commands` with two
functions, ``add_arguments(parser)`` and ``main(args) -> int``; those modules import
their heavy dependencies (jax, sympy, matplotlib) inside ``main`` so that ``--help`` and
bad-usage errors stay fast. Exit status: 0 success, 1 a claim/derivation/run failed or a
predictable fault (disk full, read-only folder, corrupt data or result file, a run folder
in use), 2 bad usage, 130
interrupted (Ctrl-C); each fault is one line (``lottery_cli/faults.py``; ``LOTTERY_DEBUG=1``
shows its traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lottery_cli import faults

#: subcommand name -> module in lottery_cli.commands
COMMANDS = {
    "verify": "verify",
    "derive": "derive",
    "run": "run",
    "sweep": "sweep",
    "plot": "plot",
    "experiment": "experiment",
    "bench": "bench",
    "data": "data",
}


class VersionAction(argparse.Action):
    """``--version``: ``lottery 0.1.0 (commit abc1234)``, asked of git only when given."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from lottery_core.store.provenance import version_line

        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lottery",
        description="Theory, simulations and experiments for sparse neural networks.",
    )
    parser.add_argument("--version", action=VersionAction,
                        help="print the version (and git commit of a checkout) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"lottery_cli.commands.{module_name}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        command_parser = sub.add_parser(
            name, help=doc, description=module.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from lottery_core.store.provenance import set_command

    set_command(["lottery", *(sys.argv[1:] if argv is None else argv)])   # recorded in results
    try:
        return int(args._module.main(args) or 0)
    except faults.PREDICTABLE as exc:       # one line and an exit status (lottery_cli/faults.py)
        if faults.debug():
            raise
        code, line = faults.describe(exc)
        print(f"lottery {args.command}: {line}", file=sys.stderr)
        return code
    finally:
        set_command(None)


if __name__ == "__main__":
    sys.exit(main())
