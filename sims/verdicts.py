"""A claim's verdict: its pass rule's result read against its recorded expectation.

``lottery verify`` reports one verdict per claim and seed (docs/verify.md):

* ``REPRODUCED``: the pass rule holds, as expected;
* ``NOT REPRODUCED``: a known deviation, the paper's statement is not reproduced here
  (measured and explained on the page its :class:`~sims.registry.Expected` links);
* ``SPEC THRESHOLD [R] NOT MET``: a known deviation from a threshold the spec derived
  itself ([R]); not a non-reproduction of the paper (e.g. nofreeprune.md §8);
* ``FAIL``: an unexpected failure (the pass rule fails, or the claim raised an error);
* ``UNEXPECTED PASS``: a known deviation passed; its record is out of date;
* ``INCONCLUSIVE``: the claim ran but its budget cannot decide it (a network-scale claim at
  CI size, where the direction is not meaningful); the record says why;
* ``NOT RUN``: the run was interrupted before this claim.

The first three and ``INCONCLUSIVE`` match their expectation; ``FAIL``, ``UNEXPECTED PASS``
and ``NOT RUN`` do not. ``--strict`` accepts ``REPRODUCED`` only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

REPRODUCED = "REPRODUCED"
NOT_REPRODUCED = "NOT REPRODUCED"
SPEC_THRESHOLD_NOT_MET = "SPEC THRESHOLD [R] NOT MET"
FAIL = "FAIL"
UNEXPECTED_PASS = "UNEXPECTED PASS"
INCONCLUSIVE = "INCONCLUSIVE"
NOT_RUN = "NOT RUN"

#: the verdicts a known deviation may record (``Expected.verdict``)
KNOWN_DEVIATIONS = (NOT_REPRODUCED, SPEC_THRESHOLD_NOT_MET)
#: every verdict, in the order summaries list them
ORDER = (REPRODUCED, NOT_REPRODUCED, SPEC_THRESHOLD_NOT_MET, INCONCLUSIVE, FAIL,
         UNEXPECTED_PASS, NOT_RUN)
#: verdicts that match what the registry expects
MATCHING = (REPRODUCED,) + KNOWN_DEVIATIONS + (INCONCLUSIVE,)


def verdict(record: dict[str, Any] | None, expected) -> str:
    """The verdict of one finished ``record`` (``None``: not run) of a claim with ``expected``
    (an :class:`~sims.registry.Expected` or ``None``). An error is always ``FAIL``: a claim that
    raised measured nothing, so it cannot be the documented deviation."""
    if record is None:
        return NOT_RUN
    if record.get("error"):
        return FAIL
    if record.get("inconclusive"):
        return INCONCLUSIVE
    if expected is None:
        return REPRODUCED if record["passed"] else FAIL
    return UNEXPECTED_PASS if record["passed"] else expected.verdict


def accepted(label: str, *, strict: bool = False) -> bool:
    """Whether ``label`` lets ``lottery verify`` exit 0 (with ``--strict``: reproduced only)."""
    return label == REPRODUCED if strict else label in MATCHING


def exit_code(labels: Iterable[str], *, strict: bool = False) -> int:
    """0 when every verdict is accepted, else 1."""
    return 0 if all(accepted(label, strict=strict) for label in labels) else 1


def combined(labels: list[str]) -> str:
    """One verdict for a claim run at several seeds: ``FAIL``, else ``UNEXPECTED PASS``, else
    ``NOT RUN`` if any seed has it; else the matching verdict, which is the same at every seed
    (a claim has one expectation)."""
    for label in (FAIL, UNEXPECTED_PASS, NOT_RUN):
        if label in labels:
            return label
    return labels[0]


def counts(labels: Iterable[str]) -> dict[str, int]:
    """``{verdict: count}`` in :data:`ORDER`, every verdict present (zeros included)."""
    tally = Counter(labels)
    return {label: tally.get(label, 0) for label in ORDER}
