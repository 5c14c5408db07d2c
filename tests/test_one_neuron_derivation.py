"""The sympy derivation of the single-neuron closed forms: every identity holds, and a wrong
closed form is caught."""

from __future__ import annotations

import sympy as sp

import lottery_cli.main as cli
from theory.derivations import one_neuron as derivation
from theory.derivations.identity import Identity


def test_every_identity_holds_and_cli_exits_zero(capsys):
    names = {i.name for i in derivation.derive()}
    assert {"riccati", "closed_form_solves_riccati", "d1_conservation", "d1_flow_positive_region",
            "d1_flow_negative_region", "gaussian_cross_moment_gradient"} <= names
    assert cli.main(["derive", "one_neuron"]) == 0
    printed = capsys.readouterr().out
    assert "MISMATCH" not in printed and "all identities hold" in printed
    assert all(f"[ok] {name}:" in printed for name in names)


def test_a_wrong_rate_in_the_closed_form_is_caught():
    c, t, C, s0 = sp.symbols("c t C s0", positive=True)
    root = sp.sqrt(4 + C**2)
    s_plus, s_minus = 2 + root, 2 - root
    K = (s0 - s_plus) / (s0 - s_minus)
    wrong = (s_plus - s_minus * K * sp.exp(-2 * c * root * t)) / (1 - K * sp.exp(-2 * c * root * t))
    residual = sp.together(sp.diff(wrong, t) + c / 2 * (wrong**2 - 4 * wrong - C**2))
    assert not Identity("wrong", "λ doubled", residual).check()[0]
