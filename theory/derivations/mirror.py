"""Mirror flow of m ⊙ w: potential, Hessian, imbalance law, mirror identity, limits, Lie brackets.

Each identity derives a formula of ``theory/mirror.py`` from its definition (spec ``mirror.md``
§1.2-1.5 and v1 Appendix C) and states a residual that must simplify to exactly 0.
"""

from __future__ import annotations

import sympy as sp

from theory.derivations.identity import Identity


def _flow_symbols():
    """m > |w| is the paper's standing assumption; it holds iff u, v = (m ± w)/√2 are both
    positive, so parametrise m = (u + v)/√2, w = (u − v)/√2 with u, v > 0 (spec §1.2)."""
    u, v = sp.symbols("u v", positive=True)
    g, alpha = sp.symbols("g alpha", real=True)
    return (u + v) / sp.sqrt(2), (u - v) / sp.sqrt(2), g, alpha


def _factor_roots(expr):
    """Simplify after factoring every square-root argument (sqrt of a perfect square of
    positive symbols then evaluates)."""
    expr = sp.sympify(expr)
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2,
                        lambda e: sp.Pow(sp.factor(e.base), e.exp))
    return sp.simplify(expr)


def _potential_identities() -> list[Identity]:
    x, c = sp.symbols("x c", real=True)
    a = sp.symbols("a", positive=True)
    R = sp.Rational(1, 2) * (x * sp.asinh(x / a) - sp.sqrt(x**2 + a**2) - c * x)
    grad = sp.diff(R, x)
    hess = sp.diff(R, x, 2)
    conj_z = sp.symbols("z", real=True)
    conjugate = a * sp.cosh(2 * conj_z + c) / 2
    return [
        Identity("gradient", "d/dx R_a(x) = ½[arcsinh(x/a) − c]",
                 grad - sp.Rational(1, 2) * (sp.asinh(x / a) - c)),
        Identity("hessian", "d²/dx² R_a(x) = 1/(2 sqrt(x² + a²))",
                 hess - 1 / (2 * sp.sqrt(x**2 + a**2))),
        Identity("mirror_map_inverse",
                 "x = a sinh(2∇R_a(x) + c), so ∇R_a(x) = Zᵀλ gives the KKT point "
                 "x = a sinh(2Zᵀλ + c)",
                 a * sp.sinh(2 * grad + c) - x),
        Identity("conjugate",
                 "R_a*(z) = (a/2) cosh(2z + c) has gradient a sinh(2z + c) (dual of C3)",
                 sp.diff(conjugate, conj_z) - a * sp.sinh(2 * conj_z + c)),
    ]


def _flow_identities() -> list[Identity]:
    m, w, g, alpha = _flow_symbols()
    m_dot = -g * w - 2 * alpha * m                      # eq. (7) of v1 appendix
    w_dot = -g * m - 2 * alpha * w
    x = m * w
    a = (m**2 - w**2) / 2
    x_dot = m_dot * w + m * w_dot
    a_dot = (2 * m * m_dot - 2 * w * w_dot) / 2
    # d/dt ½ arcsinh(x/a) by the chain rule, with sqrt(1 + x²/a²) = (m² + w²)/(m² − w²)
    ratio = x / a
    ratio_dot = (x_dot * a - x * a_dot) / a**2
    sqrt_term = sp.sqrt(1 + ratio**2)
    d_grad_r = sp.Rational(1, 2) * ratio_dot / sqrt_term

    m0, w0 = sp.symbols("m_0 w_0", positive=True)
    beta, xi = sp.symbols("beta x", positive=True)
    m_pilot = sp.sqrt((beta + sp.sqrt(beta**2 + 4 * xi**2)) / 2)
    w_pilot = xi / m_pilot
    c0 = sp.log((m0 + w0) / (m0 - w0))
    a0 = (m0**2 - w0**2) / 2
    u0, v0 = (m0 + w0) / sp.sqrt(2), (m0 - w0) / sp.sqrt(2)
    eta, ak, gk = sp.symbols("eta alpha_k g_k", real=True)
    mm, ww = sp.symbols("m w", real=True)
    m_next = (1 - 2 * eta * ak) * mm - eta * gk * ww
    w_next = (1 - 2 * eta * ak) * ww - eta * gk * mm
    A, lam_int = sp.symbols("A Lambda", nonnegative=True)
    return [
        Identity("inverse_hessian_on_flow",
                 "∇²R_a(x)⁻¹ = 2 sqrt(x² + a²) = m² + w² for x = mw, a = (m² − w²)/2",
                 2 * sp.sqrt(x**2 + a**2) - (m**2 + w**2), simplifier=_factor_roots),
        Identity("imbalance_law", "d(m² − w²)/dt = −4α (m² − w²)",
                 sp.expand((2 * m * m_dot - 2 * w * w_dot) + 4 * alpha * (m**2 - w**2))),
        Identity("riemannian_form", "dx/dt = −(m² + w²) g − 4αx = −2 sqrt(x² + a²) g − 4αx",
                 x_dot - (-(m**2 + w**2) * g - 4 * alpha * x)),
        Identity("mirror_identity",
                 "d/dt ∇R_{a_t}(x_t) = −∇f(x_t) with a_t = (m_t² − w_t²)/2 (constant c)",
                 d_grad_r + g, simplifier=_factor_roots),
        Identity("initial_condition",
                 "∇R_{a_0}(x_0) = 0: x_0/a_0 = sinh(c), c = log((m_0 + w_0)/(m_0 − w_0))",
                 sp.sinh(c0) - (m0 * w0) / a0,
                 simplifier=lambda e: sp.simplify(e.rewrite(sp.exp))),
        Identity("paper_prefactor",
                 "the paper's 2u_0v_0 with u_0, v_0 = (m_0 ± w_0)/√2 equals m_0² − w_0² = 2a_0",
                 2 * u0 * v0 - 2 * a0),
        Identity("weight_decay_mapping",
                 "a_0 e^{−4∫α} = a_0 e^{−2∫λ} for the gradient weight-decay coefficient λ = 2α",
                 sp.exp(-4 * A) - sp.exp(-2 * lam_int).subs(lam_int, 2 * A)),
        Identity("pilot_init", "PILoT init: m_0 w_0 = x and m_0² − w_0² = β",
                 [m_pilot * w_pilot - xi, m_pilot**2 - w_pilot**2 - beta]),
        Identity("discrete_imbalance",
                 "GD step: m'² − w'² = [(1 − 2ηα)² − η²g²](m² − w²)",
                 sp.expand(m_next**2 - w_next**2
                           - ((1 - 2 * eta * ak) ** 2 - eta**2 * gk**2) * (mm**2 - ww**2))),
    ]


def _limit_identities() -> list[Identity]:
    x = sp.symbols("x", positive=True)
    a = sp.symbols("a", positive=True)
    q = x * sp.asinh(x / a) - sp.sqrt(x**2 + a**2) + a
    series = sp.series(q, x, 0, 6).removeO()
    return [
        Identity("large_a_expansion",
                 "q_a(x) = x²/(2a) − x⁴/(24a³) + O(x⁶): implicit L2 for |x| ≪ a",
                 sp.expand(series - (x**2 / (2 * a) - x**4 / (24 * a**3)))),
        Identity("small_a_limit", "q_a(x) / (|x| log(1/a)) → 1 as a → 0⁺: implicit L1",
                 sp.limit(q / (x * sp.log(1 / a)), a, 0, "+") - 1),
        Identity("small_a_next_order",
                 "x arcsinh(x/a) − x log(2x/a) → 0 as a → 0⁺ (x > 0)",
                 sp.limit(x * sp.asinh(x / a) - x * sp.log(2 * x / a), a, 0, "+")),
    ]


def _lie_bracket(fields, coords):
    """[X, Y] = J_Y X − J_X Y for vector fields given as sympy column matrices."""
    X, Y = fields
    return Y.jacobian(coords) * X - X.jacobian(coords) * Y


def _lie_identities() -> list[Identity]:
    # neuron-wise mask: one scalar m scales w ∈ R^2, g(m, w) = (m w_1, m w_2)  (v1 App. C)
    m, w1, w2 = sp.symbols("m w_1 w_2", real=True)
    coords = sp.Matrix([m, w1, w2])
    g = sp.Matrix([m * w1, m * w2])
    Jg = g.jacobian(coords)
    X1, X2 = Jg[0, :].T, Jg[1, :].T
    bracket = _lie_bracket((X1, X2), coords)
    # elementwise mask: g(m, w) = (m_1 w_1, m_2 w_2)
    m1, m2 = sp.symbols("m_1 m_2", real=True)
    coords_e = sp.Matrix([m1, m2, w1, w2])
    g_e = sp.Matrix([m1 * w1, m2 * w2])
    Je = g_e.jacobian(coords_e)
    bracket_e = _lie_bracket((Je[0, :].T, Je[1, :].T), coords_e)
    return [
        Identity("neuronwise_bracket", "[∇g_1, ∇g_2] = w_1 e_{w_2} − w_2 e_{w_1} for g = m·w",
                 bracket - sp.Matrix([0, -w2, w1])),
        Identity("neuronwise_not_in_kernel",
                 "∂g [∇g_1, ∇g_2] = (−m w_2, m w_1) ≠ 0 unless m = 0 or w = 0: "
                 "no mirror flow (C12)",
                 Jg * bracket - sp.Matrix([-m * w2, m * w1])),
        Identity("elementwise_commutes", "for x = m ⊙ w the brackets vanish: [∇g_1, ∇g_2] = 0",
                 bracket_e),
    ]


def derive() -> list[Identity]:
    return _potential_identities() + _flow_identities() + _limit_identities() + _lie_identities()
