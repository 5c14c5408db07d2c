"""Named experiments: ``lottery experiment NAME [options]``.

An experiment module in this package defines ``NAME`` (the command-line name, e.g.
``zhou-criteria``), a one-line docstring, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are discovered automatically; they import jax and friends inside ``run`` so that
``lottery --help`` stays fast. Every experiment writes JSON results and PNG figures into its
run directory.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import ModuleType


def available() -> dict[str, ModuleType]:
    """``{experiment name: module}`` for every experiment module in this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME"):
            found[module.NAME] = module
    return dict(sorted(found.items()))


def add_arguments(parser, module: ModuleType) -> None:
    """``module``'s options plus ``--wait``, as ``lottery experiment NAME`` takes them."""
    module.add_arguments(parser)
    parser.add_argument(
        "--wait", action="store_true",
        help="if another process is writing the experiment's folder or one of its runs, "
             "wait for it to finish instead of stopping")


def namespace(name: str, argv: list[str]) -> argparse.Namespace:
    """The arguments ``lottery experiment NAME *argv`` gives the experiment's ``run``: for
    callers outside the command line (the network-scale claims of ``sims/``), so that a run
    they start and one started by the command share the experiment's folder."""
    module = available()[name]
    parser = argparse.ArgumentParser(prog=f"lottery experiment {name}")
    add_arguments(parser, module)
    return parser.parse_args(argv)
