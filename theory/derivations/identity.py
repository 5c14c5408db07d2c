"""An identity that a derivation asserts: ``residual`` must simplify to exactly 0."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable


@dataclasses.dataclass(frozen=True)
class Identity:
    """``name``: short id; ``statement``: the math in words or LaTeX; ``residual``: a sympy
    expression (or a list/Matrix of them) that is zero iff the identity holds.
    ``simplifier`` may replace :func:`sympy.simplify` where a stronger tactic is needed
    (e.g. ``lambda e: sympy.simplify(e.rewrite(sympy.exp))``)."""

    name: str
    statement: str
    residual: Any
    simplifier: Callable[[Any], Any] | None = None

    def check(self):
        """Return ``(holds, simplified_residual)``."""
        import sympy

        simplify = self.simplifier or sympy.simplify
        items = self.residual
        if isinstance(items, sympy.MatrixBase):
            items = list(items)
        if not isinstance(items, (list, tuple)):
            items = [items]
        simplified = [simplify(sympy.sympify(item)) for item in items]
        holds = all(s == 0 for s in simplified)
        return holds, simplified if len(simplified) > 1 else simplified[0]
