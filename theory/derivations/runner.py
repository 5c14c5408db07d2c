"""Run the derivation scripts: ``lottery derive NAME`` or ``lottery derive --all``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

_NOT_DERIVATIONS = {"identity", "runner"}


def available() -> list[str]:
    import theory.derivations as package

    return sorted(
        m.name for m in pkgutil.iter_modules(package.__path__)
        if not m.name.startswith("_") and m.name not in _NOT_DERIVATIONS
    )


def run(names: list[str], *, latex: bool = False, stream=None) -> bool:
    """Run the named derivations; print each identity and its simplified residual.

    Returns True only if every identity of every derivation simplifies to zero.
    """
    import sympy

    stream = stream or sys.stdout
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown derivation(s): {', '.join(unknown)}; known: {', '.join(known)}")
    all_hold = True
    for name in names:
        module = importlib.import_module(f"theory.derivations.{name}")
        print(f"== derivation {name}: {module.__doc__.strip().splitlines()[0]}", file=stream)
        for identity in module.derive():
            holds, residual = identity.check()
            all_hold &= holds
            print(f"  [{'ok' if holds else 'MISMATCH'}] {identity.name}: {identity.statement}", file=stream)
            if latex:
                print(f"      residual (LaTeX): {sympy.latex(identity.residual)}", file=stream)
            if not holds:
                print(f"      residual simplifies to {residual}, not 0", file=stream)
    return all_hold
