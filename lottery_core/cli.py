"""The ``lottery`` console script.

Each subcommand lives in its own module under :mod:`lottery_core.commands` with two
functions, ``add_arguments(parser)`` and ``main(args) -> int``; those modules import
their heavy dependencies (jax, sympy, matplotlib) inside ``main`` so that ``--help`` and
bad-usage errors stay fast. Exit status: 0 success, 1 a claim/derivation/run failed,
2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand name -> module in lottery_core.commands
COMMANDS = {
    "verify": "verify",
    "derive": "derive",
    "run": "run",
    "plot": "plot",
    "experiment": "experiment",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lottery",
        description="Theory, simulations and experiments for sparse neural networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"lottery_core.commands.{module_name}")
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
    try:
        return int(args._module.main(args) or 0)
    except UsageError as exc:
        print(f"lottery {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run the imported module, not __main__, so that commands raising
    # lottery_core.cli.UsageError are caught by this same class
    sys.exit(importlib.import_module("lottery_core.cli").main())
