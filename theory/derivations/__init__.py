"""Symbolic (sympy) derivations that check the closed forms used in :mod:`theory`.

Each module here defines ``derive() -> list[Identity]``; :mod:`theory.derivations.runner`
simplifies every identity's residual and fails unless it is exactly zero.
"""

from theory.derivations.identity import Identity

__all__ = ["Identity"]
