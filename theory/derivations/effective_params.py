"""Sparse law of robustness constants (spec §4.2) [R] and Lemma 2.1's sharp constant.

The constants of Versions A and B (spec nofreeprune.md §4.2) and the sharp constant of
Bubeck-Sellke Lemma 2.1, re-derived symbolically.

Versions A and B: with failure budget η = exp(-(I + log 2)/δ) split evenly between the two
terms of q(L), the Lipschitz level L* used in ``theory.effective_params`` makes the second
term exactly η/2, and the side condition makes the first term at most η/2.
"""

from __future__ import annotations

import sympy as sp

from theory.derivations.identity import Identity


def derive() -> list[Identity]:
    eps, c, n, d, s, logN, I, delta, k, Pi, sigma2 = sp.symbols(
        "epsilon c n d s logN I delta k Pi sigma2", positive=True)
    eta = sp.exp(-(I + sp.log(2)) / delta)

    # Version A: q_s(L) second term 2 exp(s logN - eps^2 n d / (8^6 c L^2))
    denom_a = s * logN + sp.log(4) + (I + sp.log(2)) / delta
    L_a = eps / (2 ** 9 * sp.sqrt(c)) * sp.sqrt(n * d / denom_a)
    term_a = 2 * sp.exp(s * logN - eps ** 2 * n * d / (8 ** 6 * c * L_a ** 2))
    # side condition at equality: n eps^2 = 8^4 k (log 8k + (I + log 2)/delta)
    n_side_a = 8 ** 4 * k * (sp.log(8 * k) + (I + sp.log(2)) / delta) / eps ** 2
    first_a = 4 * k * sp.exp(-n_side_a * eps ** 2 / (8 ** 4 * k))

    # Version B: q_1(L) second term 2 exp(-eps^2 n d / (2^14 c L^2)), eta with Pi
    eta_b = sp.exp(-(Pi + sp.log(2)) / delta)
    denom_b = sp.log(4) + (Pi + sp.log(2)) / delta
    L_b = eps / (2 ** 7 * sp.sqrt(c)) * sp.sqrt(n * d / denom_b)
    term_b = 2 * sp.exp(-eps ** 2 * n * d / (2 ** 14 * c * L_b ** 2))
    n_side_b = 2 ** 11 * k * (sp.log(8 * k) + (Pi + sp.log(2)) / delta) / eps ** 2
    first_b = 4 * k * sp.exp(-n_side_b * eps ** 2 / (2 ** 11 * k))

    # Lemma 2.1: min <F, Z> = -eps/3 + sigma2 - sqrt((sigma2 - eps)(sigma2 - eps/6))
    tight = -eps / 3 + sigma2 - sp.sqrt((sigma2 - eps) * (sigma2 - eps / 6))
    first_order = sp.series(tight, eps, 0, 2).removeO()

    def expand_log(e):
        return sp.simplify(sp.expand_log(sp.simplify(e), force=True))

    return [
        Identity("version_a_second_term", "2 exp(s logN - ε²nd/(8⁶cL*²)) = η/2 at the Version A level L*",
                 sp.log(term_a) - sp.log(eta / 2), simplifier=expand_log),
        Identity("version_a_side_condition", "4k exp(-nε²/(8⁴k)) = η/2 when nε² = 8⁴k(log 8k + (I+log 2)/δ)",
                 sp.log(first_a) - sp.log(eta / 2), simplifier=expand_log),
        Identity("version_b_second_term", "2 exp(-ε²nd/(2¹⁴cL*²)) = η/2 at the Version B level L*",
                 sp.log(term_b) - sp.log(eta_b / 2), simplifier=expand_log),
        Identity("version_b_side_condition", "4k exp(-nε²/(2¹¹k)) = η/2 when nε² = 2¹¹k(log 8k + (Π+log 2)/δ)",
                 sp.log(first_b) - sp.log(eta_b / 2), simplifier=expand_log),
        Identity("lemma21_first_order", "min ⟨F,Z⟩ = ε/4 + O(ε²): Lemma 2.1 yields ε/4, not ε/3",
                 first_order - eps / 4),
    ]
