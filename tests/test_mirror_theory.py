"""theory.mirror (float64 closed forms, KKT solver, references) and its sympy derivations."""

from __future__ import annotations

import io

import numpy as np
import pytest
import sympy as sp

from theory import mirror as M
from theory.derivations import runner
from theory.derivations.identity import Identity


@pytest.fixture(scope="module")
def system():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((8, 20))
    x_star = np.zeros(20)
    x_star[[2, 11]] = [1.5, -0.7]
    return Z, Z @ x_star, x_star


def test_gradient_and_hessian_match_finite_differences():
    rng = np.random.default_rng(0)
    x, a, c = rng.standard_normal(6), rng.uniform(0.1, 2.0, 6), rng.standard_normal(6)
    h = 1e-6
    numeric = np.array([(M.potential(x + h * e, a, c) - M.potential(x - h * e, a, c)) / (2 * h)
                        for e in np.eye(6)])
    np.testing.assert_allclose(M.potential_grad(x, a, c), numeric, rtol=1e-7, atol=1e-9)
    numeric_h = (M.potential_grad(x + h, a, c) - M.potential_grad(x - h, a, c)) / (2 * h)
    np.testing.assert_allclose(M.potential_hessian_diag(x, a), numeric_h, rtol=1e-6)


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="a must be > 0"):
        M.potential(np.ones(3), 0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        M.potential_grad(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="m0 > \\|w0\\|"):
        M.correction(np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="beta must be"):
        M.pilot_init(np.ones(2), beta=-1.0)
    with pytest.raises(ValueError, match="alpha_integral must be >= 0"):
        M.scale(1.0, -0.5)
    with pytest.raises(ValueError, match="need Z of shape"):
        M.implicit_bias_solution(np.ones((3, 5)), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="same shape"):
        M.imbalance(np.ones(3), np.ones(2))


def test_initializations_and_scale_conventions():
    x = np.array([-2.0, -0.1, 0.0, 0.3, 5.0])
    m0, w0 = M.pilot_init(x, beta=0.5)
    np.testing.assert_allclose(m0 * w0, x, rtol=1e-14)
    np.testing.assert_allclose(M.imbalance(m0, w0), 0.5, rtol=1e-12)
    c = M.correction(m0, w0)
    a0 = M.scale_from_params(m0, w0)
    np.testing.assert_allclose(M.potential_grad(x, a0, c), 0.0, atol=1e-13)  # ∇R_{a0}(x0) = 0
    m1, w1 = M.params_from_scale(a0, c)
    np.testing.assert_allclose(m1, m0, rtol=1e-12)
    np.testing.assert_allclose(w1, w0, rtol=1e-12, atol=1e-15)
    sm, sw = M.spred_init(x)
    np.testing.assert_allclose(sm * sw, x, rtol=1e-14)
    np.testing.assert_array_equal(M.imbalance(sm, sw), 0.0)
    # paper convention: 2u0v0 = 2a0, and exp(−2∫λ) with λ = 2α equals exp(−4∫α)
    A = 0.7
    np.testing.assert_allclose(M.paper_scale(m0, w0, 2 * A), 2 * M.scale(a0, A), rtol=1e-12)
    np.testing.assert_allclose(M.potential_minimizer(M.scale(a0, A), c), np.exp(-4 * A) * x,
                               rtol=1e-12, atol=1e-15)


def test_flow_helpers_match_direct_differentiation():
    rng = np.random.default_rng(1)
    x0, g, alpha, eta = rng.standard_normal(5), rng.standard_normal(5), 0.3, 0.01
    m, w = M.pilot_init(x0, beta=1.0)
    m_dot, w_dot = -g * w - 2 * alpha * m, -g * m - 2 * alpha * w
    np.testing.assert_allclose(M.riemannian_velocity(m * w, g, M.scale_from_params(m, w), alpha),
                               m_dot * w + m * w_dot, rtol=1e-12)
    m1, w1 = m + eta * m_dot, w + eta * w_dot
    np.testing.assert_allclose(M.imbalance(m1, w1),
                               M.discrete_imbalance_factor(eta, alpha, g) * M.imbalance(m, w),
                               rtol=1e-12)


def test_implicit_bias_solution_is_the_constrained_minimiser(system):
    Z, y, _ = system
    rng = np.random.default_rng(2)
    a, c = rng.uniform(0.05, 1.0, 20), 0.3 * rng.standard_normal(20)
    sol = M.implicit_bias_solution(Z, y, a, c, full_output=True)
    assert np.linalg.norm(Z @ sol.x - y) <= 1e-10
    # KKT: ∇R_a(x) lies in range(Zᵀ)
    grad = M.potential_grad(sol.x, a, c)
    np.testing.assert_allclose(Z.T @ sol.multiplier, grad, atol=1e-10)
    # and feasible perturbations along null(Z) increase R
    null = np.linalg.svd(Z)[2][8:]
    base = M.potential(sol.x, a, c)
    for direction in null[:5]:
        assert M.potential(sol.x + 1e-2 * direction, a, c) > base
        assert M.potential(sol.x - 1e-2 * direction, a, c) > base


def test_limits_l2_and_l1(system):
    Z, y, x_star = system
    x_l2, x_l1 = M.min_l2_solution(Z, y), M.basis_pursuit_solution(Z, y)
    np.testing.assert_allclose(Z @ x_l1, y, atol=1e-9)
    np.testing.assert_allclose(x_l1, x_star, atol=1e-8)  # exact recovery of a 2-sparse x*
    big = M.implicit_bias_solution(Z, y, 1e3)
    small = M.implicit_bias_solution(Z, y, 1e-9)
    assert np.linalg.norm(big - x_l2) / np.linalg.norm(x_l2) < 1e-5
    assert np.linalg.norm(small - x_l1) / np.linalg.norm(x_l1) < 1e-3
    q = M.shape_function(np.array([1e-3]), 1.0)[0]
    assert abs(q / 5e-7 - 1) < 1e-6


def test_lasso_solution_satisfies_subgradient_conditions(system):
    Z, y, _ = system
    lam = 0.05
    x = M.lasso_solution(Z, y, lam)
    g = Z.T @ (Z @ x - y) / Z.shape[0]
    on = np.abs(x) > 0
    np.testing.assert_allclose(g[on], -lam * np.sign(x[on]), atol=1e-9)
    assert np.all(np.abs(g[~on]) <= lam + 1e-9)
    with pytest.raises(ValueError, match="lam must be"):
        M.lasso_solution(Z, y, -1.0)


def test_derivations_hold_and_a_wrong_identity_is_caught():
    out = io.StringIO()
    assert runner.run(["mirror"], stream=out)
    text = out.getvalue()
    assert "MISMATCH" not in text and "mirror_identity" in text
    A = sp.symbols("A", positive=True)
    holds, residual = Identity("paper", "e^{-2A} is not e^{-4A}",
                               sp.exp(-4 * A) - sp.exp(-2 * A)).check()
    assert not holds and residual != 0
