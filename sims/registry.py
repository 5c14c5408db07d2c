"""The claim registry: every checkable statement of a paper, as a small function.

A claim is registered under a stable id ``<topic>.<name>`` (e.g.
``one_neuron.d1_success_rule``) by the topic's claim module ``sims/<topic>/claims.py``. Its
function takes a :class:`ClaimContext` (seed, preset, where to put figures) and returns an
:class:`Outcome` (predicted value, observed value, tolerance). The runner in :mod:`sims.verify`
adds the bookkeeping (timing, seed, preset) and turns it into the record of
DESIGN.md::

    {"claim": ..., "source": ..., "statement": ..., "predicted": ...,
     "observed": ..., "tolerance": ..., "passed": ..., "preset": ...,
     "seed": ..., "seconds": ..., "figure": ...}
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
import pkgutil
from pathlib import Path
from typing import Any, Callable

PRESETS = ("quick", "full")


@dataclasses.dataclass(frozen=True)
class ClaimContext:
    """What a claim function is given: the seed, the size preset, and a folder for figures."""

    seed: int
    preset: str
    figure_dir: Path

    @property
    def full(self) -> bool:
        return self.preset == "full"

    def size(self, quick: int, full: int) -> int:
        """Pick a sample size by preset."""
        return full if self.full else quick

    def figure_path(self, name: str) -> Path:
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        return self.figure_dir / name


@dataclasses.dataclass
class Outcome:
    """What a claim measured.

    ``passed`` defaults to ``|observed - predicted| <= tolerance``; a claim whose check is
    of another form (a one-sided bound, an ordering) sets it explicitly and says so in
    ``comparison``. ``details`` holds anything else worth keeping (sample sizes, standard
    errors, per-setting tables); it must be JSON-serialisable.
    """

    predicted: float
    observed: float
    tolerance: float
    passed: bool | None = None
    comparison: str = "|observed - predicted| <= tolerance"
    figure: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def resolved_passed(self) -> bool:
        if self.passed is not None:
            return bool(self.passed)
        if any(isinstance(v, float) and math.isnan(v) for v in (self.predicted, self.observed)):
            return False
        return abs(float(self.observed) - float(self.predicted)) <= float(self.tolerance)


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    source: str
    statement: str
    function: Callable[[ClaimContext], Outcome]

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, Claim] = {}


def claim(claim_id: str, *, source: str, statement: str):
    """Register ``function(ctx) -> Outcome`` under ``claim_id``.

    ``source`` names where the statement comes from (paper, section, equation, and the
    spec's label: [P] paper, [R] derived for the spec, [V] checked numerically).
    """
    if "." not in claim_id:
        raise ValueError(f"claim id {claim_id!r} must look like '<module>.<name>'")

    def register(function: Callable[[ClaimContext], Outcome]):
        existing = _REGISTRY.get(claim_id)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise ValueError(f"claim id {claim_id!r} is registered twice")
        _REGISTRY[claim_id] = Claim(claim_id, source, statement, function)
        return function

    return register


def discover() -> dict[str, Claim]:
    """Import every topic package's claim module so its claims register; return the registry.

    A topic is a sub-package ``sims/<topic>/`` (e.g. ``sims/mirror/``); its claims live in
    ``sims/<topic>/claims.py`` under ids ``<topic>.<name>``. Engines and figure modules are
    imported by the claims that use them, not here.
    """
    import sims

    for module in pkgutil.iter_modules(sims.__path__):
        if not module.ispkg or module.name.startswith("_"):
            continue
        if importlib.util.find_spec(f"sims.{module.name}.claims") is not None:
            importlib.import_module(f"sims.{module.name}.claims")
    return dict(sorted(_REGISTRY.items()))


def select(ids: list[str] | tuple[str, ...]) -> list[Claim]:
    """Claims matching ``ids``: an exact claim id or a module name (``one_neuron``).

    Raises ``KeyError`` naming every unknown id and listing the known ones.
    """
    registry = discover()
    if not ids:
        return list(registry.values())
    chosen: dict[str, Claim] = {}
    unknown = []
    for wanted in ids:
        matches = [c for cid, c in registry.items() if cid == wanted or c.module == wanted]
        if not matches:
            unknown.append(wanted)
        for c in matches:
            chosen[c.id] = c
    if unknown:
        modules = sorted({c.module for c in registry.values()})
        raise KeyError(
            f"unknown claim id(s): {', '.join(unknown)}. Known modules: {', '.join(modules)}; "
            f"known claims: {', '.join(registry)}"
        )
    return list(chosen.values())
