"""Sign-flip statistics of surviving weights (Paul et al. 2023, "Unmasking the Lottery Ticket
Hypothesis", the LRR paper, spec lrr.md: LRR's advantage is tied to sign flips).

``sign_flip_fraction(a, b, mask)`` = #{i : mask_i, sign(a_i) ≠ sign(b_i)} / #{i : mask_i}
over the prunable leaves; ``sign(0)`` counts as its own sign, so a weight that is 0 in one
tree and non-zero in the other counts as flipped.
"""

from __future__ import annotations

import numpy as np

from lottery_core.store import flatten


def sign_flip_report(a, b, mask, paths: list[str]) -> dict:
    """``{"overall": fraction, "layers": {path: fraction}}`` over the surviving weights."""
    fa, fb, fm = flatten(a), flatten(b), flatten(mask)
    layers, flipped_total, alive_total = {}, 0, 0
    for p in paths:
        m = np.asarray(fm[p], bool)
        flipped = int(np.sum((np.sign(np.asarray(fa[p])) != np.sign(np.asarray(fb[p]))) & m))
        alive = int(m.sum())
        layers[p] = flipped / alive if alive else 0.0
        flipped_total += flipped
        alive_total += alive
    return {"overall": flipped_total / alive_total if alive_total else 0.0, "layers": layers}


def sign_flip_fraction(a, b, mask, paths: list[str]) -> float:
    return sign_flip_report(a, b, mask, paths)["overall"]
