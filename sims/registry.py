"""The claim registry: every checkable statement of a paper, as a small function.

A claim is registered under a stable id ``<topic>.<name>`` (e.g.
``one_neuron.d1_success_rule``) by the topic's claim module ``sims/<topic>/claims.py``. Its
function takes a :class:`ClaimContext` (seed, preset, where to put figures) and returns an
:class:`Outcome` (predicted value, observed value, tolerance, the comparison rule). A claim
whose pass rule is known to fail, for a measured and documented reason, carries an
:class:`Expected` record (``@claim(..., expected=Expected(...))``); :mod:`sims.verdicts` turns
"passed" and that record into the claim's verdict. The runner in :mod:`sims.verify` adds the
bookkeeping (timing, seed, preset, code version) and turns it into the record of
DESIGN.md::

    {"claim": ..., "source": ..., "statement": ..., "predicted": ...,
     "observed": ..., "tolerance": ..., "comparison": ..., "passed": ..., "preset": ...,
     "seed": ..., "seconds": ..., "figure": ..., "code_version": ...}
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
import pkgutil
from pathlib import Path
from typing import Any, Callable

PRESETS = ("quick", "full", "paper")


@dataclasses.dataclass(frozen=True)
class ClaimContext:
    """What a claim function is given: the seed, the size preset, a folder for figures and a
    folder for engine runs.

    ``preset`` is ``quick``, ``full`` or ``paper``. A simulation claim (no :class:`Budget`) has
    no paper budget: it is given ``full`` when ``paper`` is asked for. A network-scale claim
    trains through the engine into ``runs_dir`` (``lottery verify --runs DIR``; default
    ``OUT/runs``): the run store's identity and manifests make a finished run a cache hit, so a
    long run is checked from its stored results instead of being repeated.
    """

    seed: int
    preset: str
    figure_dir: Path
    runs_dir: Path | None = None

    @property
    def full(self) -> bool:
        return self.preset in ("full", "paper")

    def size(self, quick: int, full: int) -> int:
        """Pick a sample size by preset (``paper`` takes the full size)."""
        return full if self.full else quick

    def pick(self, quick, full, paper=None):
        """Pick a setting by preset; ``paper`` falls back to ``full`` when not given."""
        if self.preset == "paper" and paper is not None:
            return paper
        return full if self.full else quick

    def runs(self) -> Path:
        """The folder engine runs go to (created on first use)."""
        if self.runs_dir is None:
            raise ValueError("this claim trains networks: give ClaimContext a runs_dir")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        return self.runs_dir

    def figure_path(self, name: str) -> Path:
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        return self.figure_dir / name


@dataclasses.dataclass
class Outcome:
    """What a claim measured.

    ``passed`` defaults to ``|observed - predicted| <= tolerance``, and ``comparison`` then
    defaults to that rule with the tolerance written out. A claim whose check is of another
    form (a one-sided bound, an ordering, several conditions) sets ``passed`` explicitly and
    must state the rule it used in ``comparison`` (one line, the numbers written out).
    ``details`` holds anything else worth keeping (sample sizes, standard errors, per-setting
    tables); it must be JSON-serialisable. ``inconclusive`` (one sentence) marks a run whose
    budget cannot decide the claim (e.g. a network claim at CI size): the verdict is
    INCONCLUSIVE whatever the rule says, and the reason is shown.
    """

    predicted: float
    observed: float
    tolerance: float
    passed: bool | None = None
    comparison: str | None = None
    figure: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    inconclusive: str | None = None

    def __post_init__(self):
        if self.passed is not None and not self.comparison:
            raise ValueError("an Outcome that sets passed= must state its rule in comparison=")

    def resolved_comparison(self) -> str:
        """The rule that decided ``passed``, as shown in the table and the report."""
        if self.comparison:
            return self.comparison
        return f"|observed − predicted| <= {float(self.tolerance):.3g}"

    def resolved_passed(self) -> bool:
        if self.passed is not None:
            return bool(self.passed)
        if any(isinstance(v, float) and math.isnan(v) for v in (self.predicted, self.observed)):
            return False
        return abs(float(self.observed) - float(self.predicted)) <= float(self.tolerance)


@dataclasses.dataclass(frozen=True)
class Expected:
    """A known deviation: the claim's pass rule fails, measured and explained in ``doc``.

    ``verdict`` says what the miss means (:data:`sims.verdicts.NOT_REPRODUCED`: the paper's
    statement is not reproduced; :data:`sims.verdicts.SPEC_THRESHOLD_NOT_MET`: a threshold
    the spec derived itself, labelled [R], is missed, which is not a non-reproduction of the
    paper). ``reason`` is one sentence with the measurement; ``doc`` is
    ``docs/<page>.md#<heading-anchor>``, the diagnosis. Never move a threshold instead.
    """

    verdict: str
    reason: str
    doc: str

    def __post_init__(self):
        from sims.verdicts import KNOWN_DEVIATIONS

        if self.verdict not in KNOWN_DEVIATIONS:
            raise ValueError(f"Expected verdict {self.verdict!r} is not one of "
                             f"{', '.join(KNOWN_DEVIATIONS)}")
        if not self.reason.strip():
            raise ValueError("Expected needs a reason")
        if not (self.doc.startswith("docs/") and ".md#" in self.doc):
            raise ValueError(f"Expected doc {self.doc!r} must look like docs/<page>.md#<anchor>")


@dataclasses.dataclass(frozen=True)
class Budget:
    """What a network-scale claim trains at each preset, in words (model, data, iterations or
    epochs, levels, seeds), shown by ``lottery verify --list`` and in every record.

    ``quick``: CI size, checking a direction only where that is meaningful at that size;
    ``full``: the CPU budget behind the docs; ``paper``: the paper's budget (meant for a GPU).
    """

    quick: str
    full: str
    paper: str

    def __post_init__(self):
        for preset in PRESETS:
            if not getattr(self, preset).strip():
                raise ValueError(f"Budget needs a description for the {preset!r} preset")

    def at(self, preset: str) -> str:
        return getattr(self, preset)


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    source: str
    statement: str
    function: Callable[[ClaimContext], Outcome]
    expected: Expected | None = None
    budget: Budget | None = None
    paper: str | None = None

    def context_preset(self, preset: str) -> str:
        """The preset the claim function sees: a simulation has no paper budget (full)."""
        return "full" if preset == "paper" and self.budget is None else preset

    def budget_text(self, preset: str) -> str:
        if self.budget is not None:
            return self.budget.at(preset)
        if preset == "paper":
            return "full (a simulation: no separate paper budget)"
        return preset

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]


_REGISTRY: dict[str, Claim] = {}


def claim(claim_id: str, *, source: str, statement: str, expected: Expected | None = None,
          budget: Budget | None = None, paper: str | None = None):
    """Register ``function(ctx) -> Outcome`` under ``claim_id``.

    ``source`` names where the statement comes from (paper, section, equation, and the
    spec's label: [P] paper, [R] derived for the spec, [V] checked numerically).
    ``expected`` records a known, documented deviation (see :class:`Expected`).
    A network-scale claim gives its ``budget`` per preset and ``paper``, the paper's number or
    statement at the paper's budget (with its label), shown next to every observation.
    """
    if "." not in claim_id:
        raise ValueError(f"claim id {claim_id!r} must look like '<module>.<name>'")
    if budget is not None and not (paper and paper.strip()):
        raise ValueError(f"claim {claim_id!r} has a budget: give paper=, the paper's number")

    def register(function: Callable[[ClaimContext], Outcome]):
        existing = _REGISTRY.get(claim_id)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise ValueError(f"claim id {claim_id!r} is registered twice")
        _REGISTRY[claim_id] = Claim(claim_id, source, statement, function, expected, budget,
                                    paper)
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
