"""Single hidden neuron a·relu(wᵀx): ODEs, conservation law, Riccati closed form (spec lrr.md §1.3-1.4).

Every closed form used in :mod:`theory.one_neuron` is derived here from its definition and
checked symbolically: the constants c = E[relu(x)²] of both input laws, the d = 1 losses and
gradient-flow equations in the regions w > 0 and w < 0 (from the loss, not assumed), the
conservation of a² − w², the Riccati equation of s = (a + w)² and its solution, the
reconstruction of (a, w) from (s, C), the absorbing-region solution for p = a·w, and the
Gaussian cross moment g(w) with its gradient and Euler's identity wᵀ∇g = g. [R]
"""

from __future__ import annotations

import sympy as sp

from theory.derivations.identity import Identity


def _exp_simplify(expr):
    return sp.simplify(sp.expand(sp.simplify(expr.rewrite(sp.exp))))


def _d1_losses():
    """The d = 1 population loss in each region, computed by integrating over x ~ U[-1, 1]."""
    a, x = sp.symbols("a x", real=True)
    w = sp.symbols("w", positive=True)
    half = sp.Rational(1, 2)
    density = half  # U[-1, 1]
    # w > 0: relu(w x) = w x on x > 0, 0 on x < 0; target relu(x) = x on x > 0
    loss_pos = half * (sp.integrate(((a * w * x - x) ** 2) * density, (x, 0, 1))
                       + sp.integrate(0 * density, (x, -1, 0)))
    # weight -w < 0: relu(-w x) = -w x on x < 0 (target 0 there), 0 on x > 0 (target x)
    loss_neg = half * (sp.integrate(((a * (-w) * x) ** 2) * density, (x, -1, 0))
                       + sp.integrate((x**2) * density, (x, 0, 1)))
    return a, w, loss_pos, loss_neg


def derive() -> list[Identity]:
    ids: list[Identity] = []
    x = sp.symbols("x", real=True)
    a, c, t = sp.symbols("a c t", real=True)
    wp = sp.symbols("w", positive=True)
    half = sp.Rational(1, 2)

    # --- constants c = E[relu(x)^2]
    c_uniform = sp.integrate(x**2 * half, (x, 0, 1))
    c_gauss = sp.integrate(x**2 * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi), (x, 0, sp.oo))
    ids.append(Identity("c_uniform", "E[relu(x)^2] = 1/6 for x ~ U[-1,1]", c_uniform - sp.Rational(1, 6)))
    ids.append(Identity("c_gaussian", "E[relu(x)^2] = 1/2 for x ~ N(0,1)", c_gauss - half))

    # --- d = 1 losses from the definition, then the ODEs as minus their gradients
    a_, w_, loss_pos, loss_neg = _d1_losses()
    cu = sp.Rational(1, 6)
    ids.append(Identity("d1_loss_positive_region",
                        "w > 0: L = (c/2)(a w - 1)^2 with c = 1/6 (integrated over U[-1,1])",
                        loss_pos - cu / 2 * (a_ * w_ - 1) ** 2))
    ids.append(Identity("d1_loss_negative_region",
                        "w < 0: L = (c/2)(a^2 w^2 + 1) with c = 1/6 (cross term vanishes)",
                        loss_neg - cu / 2 * (a_**2 * w_**2 + 1)))

    w = sp.symbols("w", real=True)
    L_pos = c / 2 * (a * w - 1) ** 2
    L_neg = c / 2 * (a**2 * w**2 + 1)
    a_dot_pos, w_dot_pos = -sp.diff(L_pos, a), -sp.diff(L_pos, w)
    a_dot_neg, w_dot_neg = -sp.diff(L_neg, a), -sp.diff(L_neg, w)
    # theory.one_neuron.gradient_flow for d = 1: a' = g - c a w^2, w' = a g'(w) - c a^2 w, g = c w^+
    ids.append(Identity("d1_flow_positive_region",
                        "w > 0: a' = -c w (a w - 1), w' = -c a (a w - 1) = (g - c a w^2, a g' - c a^2 w) with g = c w",
                        [a_dot_pos - (c * w - c * a * w**2), w_dot_pos - (a * c - c * a**2 * w),
                         a_dot_pos + c * w * (a * w - 1), w_dot_pos + c * a * (a * w - 1)]))
    ids.append(Identity("d1_flow_negative_region",
                        "w < 0: a' = -c a w^2, w' = -c a^2 w (g = 0 there)",
                        [a_dot_neg + c * a * w**2, w_dot_neg + c * a**2 * w]))

    # --- conservation: d/dt (a^2 - w^2) = 0 in both regions
    ids.append(Identity("d1_conservation",
                        "d/dt (a^2 - w^2) = 2 a a' - 2 w w' = 0 in both regions",
                        [2 * a * a_dot_pos - 2 * w * w_dot_pos, 2 * a * a_dot_neg - 2 * w * w_dot_neg]))

    # --- Riccati equation for s = (a + w)^2, with a, w written through u = a + w and C
    u = sp.symbols("u", real=True, nonzero=True)
    C = sp.symbols("C", real=True)
    a_of_u = (u + C / u) / 2
    w_of_u = (u - C / u) / 2
    ids.append(Identity("reconstruction",
                        "a = (u + C/u)/2, w = (u - C/u)/2 give a + w = u and a^2 - w^2 = C",
                        [a_of_u + w_of_u - u, a_of_u**2 - w_of_u**2 - C]))
    s = sp.symbols("s", positive=True)
    s_dot_from_flow = (2 * (a + w) * (a_dot_pos + w_dot_pos)).subs({a: a_of_u, w: w_of_u})
    riccati_rhs = -c / 2 * (s**2 - 4 * s - C**2)
    ids.append(Identity("riccati",
                        "s = (a+w)^2 obeys s' = -(c/2)(s^2 - 4 s - C^2) in the region w > 0",
                        sp.expand(s_dot_from_flow - riccati_rhs.subs(s, u**2))))

    # --- the closed form solves the Riccati equation with s(0) = s0
    s0 = sp.symbols("s0", positive=True)
    root = sp.sqrt(4 + C**2)
    s_plus, s_minus = 2 + root, 2 - root
    K = (s0 - s_plus) / (s0 - s_minus)
    lam = c * root
    s_t = (s_plus - s_minus * K * sp.exp(-lam * t)) / (1 - K * sp.exp(-lam * t))
    ids.append(Identity("riccati_roots", "s± = 2 ± sqrt(4 + C^2) are the roots of s^2 - 4s - C^2",
                        [sp.expand(s_plus**2 - 4 * s_plus - C**2), sp.expand(s_minus**2 - 4 * s_minus - C**2)]))
    ids.append(Identity("closed_form_solves_riccati",
                        "s(t) = (s+ - s- K e^{-λt})/(1 - K e^{-λt}), λ = c sqrt(4+C^2), solves the Riccati ODE",
                        sp.together(sp.diff(s_t, t) - riccati_rhs.subs(s, s_t))))
    ids.append(Identity("closed_form_initial_value", "s(0) = s0", sp.together(s_t.subs(t, 0) - s0)))
    a_inf2 = (C + sp.sqrt(C**2 + 4)) / 2
    ids.append(Identity("limit_on_target",
                        "s -> s+ gives a_inf^2 = (C + sqrt(C^2+4))/2, w_inf = 1/a_inf, so a w = 1",
                        [sp.radsimp(s_plus - (a_inf2 + 2 + 1 / a_inf2)), sp.radsimp(a_inf2 - 1 / a_inf2 - C)]))

    # --- balanced line a = -w (C = 0): v = w^2 with v/(1+v) = v0/(1+v0) e^{-2ct}
    v0 = sp.symbols("v0", positive=True)
    r = v0 / (1 + v0) * sp.exp(-2 * c * t)
    v_t = r / (1 - r)
    w_line = sp.symbols("w_line", positive=True)
    w_dot_line = w_dot_pos.subs(a, -w)  # along a = -w
    ids.append(Identity("balanced_line",
                        "on a = -w: (w^2)' = -2c w^2 (1 + w^2), solved by v/(1+v) = v0/(1+v0) e^{-2ct}",
                        [sp.expand(2 * w * w_dot_line + 2 * c * w**2 * (1 + w**2)),
                         sp.together(sp.diff(v_t, t) + 2 * c * v_t * (1 + v_t))]))

    # --- absorbing region: p = a w obeys p' = -c p (a^2 + w^2) = -c p sqrt(C^2 + 4 p^2)
    p_dot = a_dot_neg * w + a * w_dot_neg
    ids.append(Identity("negative_region_product_ode",
                        "w < 0: p = a w obeys p' = -c p (a^2 + w^2), and (a^2+w^2)^2 = C^2 + 4 p^2",
                        [sp.expand(p_dot + c * a * w * (a**2 + w**2)),
                         sp.expand((a**2 + w**2) ** 2 - (a**2 - w**2) ** 2 - 4 * (a * w) ** 2)]))
    Cp, p0, cp = sp.symbols("C_abs p0 c_pos", positive=True)
    phi = sp.asinh(Cp / (2 * p0)) + cp * Cp * t
    q_t = Cp / (2 * sp.sinh(phi))  # |p(t)|
    ids.append(Identity("negative_region_closed_form",
                        "|p(t)| = |C| / (2 sinh(φ)), φ = asinh(|C|/(2|p0|)) + c|C| t, solves |p|' = -c|p| sqrt(C^2+4p^2) = -c|p||C| coth φ, |p(0)| = |p0|",
                        [sp.simplify(sp.diff(q_t, t) + cp * q_t * Cp * sp.cosh(phi) / sp.sinh(phi)),
                         # both sides are positive (|C| > 0, phi > 0), so compare squares
                         sp.simplify(Cp**2 + 4 * q_t**2 - (Cp * sp.cosh(phi) / sp.sinh(phi)) ** 2),
                         sp.simplify(q_t.subs(t, 0) - p0)],
                        simplifier=_exp_simplify))
    q0 = p0 / (1 + 2 * cp * p0 * t)
    ids.append(Identity("negative_region_closed_form_C0",
                        "C = 0: |p(t)| = |p0|/(1 + 2c|p0| t) solves |p|' = -2c p^2",
                        sp.together(sp.diff(q0, t) + 2 * cp * q0**2)))

    # --- Gaussian cross moment, its gradient, Euler's identity (d = 3 suffices for the algebra)
    w1, w2, w3 = sp.symbols("w1 w2 w3", real=True)
    ws = sp.Matrix([w1, w2, w3])
    norm = sp.sqrt(w1**2 + w2**2 + w3**2)
    perp = sp.sqrt(w2**2 + w3**2)
    theta = sp.acos(w1 / norm)
    g = norm / (2 * sp.pi) * (perp / norm + (sp.pi - theta) * w1 / norm)  # sin θ = |w_perp|/|w|
    e0 = sp.Matrix([1, 0, 0])
    grad_formula = ((sp.pi - theta) * e0 + (perp / norm) * ws / norm) / (2 * sp.pi)
    grad = sp.Matrix([sp.diff(g, v) for v in (w1, w2, w3)])
    ids.append(Identity("gaussian_cross_moment_gradient",
                        "∇g = ((π-θ) e_0 + sin θ w/|w|)/(2π) for g = |w|/(2π)(sin θ + (π-θ) cos θ)",
                        list(grad - grad_formula)))
    ids.append(Identity("gaussian_euler_identity",
                        "wᵀ∇g(w) = g(w) (g is 1-homogeneous), hence d/dt(a^2 - |w|^2) = 2a(g - wᵀ∇g) = 0",
                        (ws.T * grad_formula)[0, 0] - g))
    # d = 1 limit of the Gaussian formula: θ = 0 gives g = w/2 = c w with c = 1/2
    ids.append(Identity("gaussian_d1_limit", "θ = 0 (w > 0): g = w/2 = c w; θ = π: g = 0",
                        [(wp / (2 * sp.pi) * (0 + (sp.pi - 0) * 1)) - c_gauss * wp,
                         (wp / (2 * sp.pi) * (0 + (sp.pi - sp.pi) * (-1)))]))
    return ids
