"""Named experiments: ``lottery experiment NAME [options]``.

An experiment module in this package defines ``NAME`` (the command-line name, e.g.
``zhou-criteria``), a one-line docstring, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are discovered automatically; they import jax and friends inside ``run`` so that
``lottery --help`` stays fast. Every experiment writes JSON results and PNG figures into its
run directory.
"""

from __future__ import annotations

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
