"""theory.one_neuron against independent numerical computations: Monte Carlo, finite
differences of the loss, and ODE integration with scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from theory import one_neuron as on

RNG = np.random.default_rng(1234)


def _fd_grad(f, w, eps=1e-6):
    w = np.asarray(w, dtype=float)
    grad = np.zeros_like(w)
    for j in range(w.shape[-1]):
        e = np.zeros(w.shape[-1])
        e[j] = eps
        grad[..., j] = (f(w + e) - f(w - e)) / (2 * eps)
    return grad


def _flow_rhs(c=None, law="uniform", d=1):
    def rhs(_, y):
        a_dot, w_dot = on.gradient_flow(y[0], y[1:], c=c, law=law)
        return np.concatenate([[a_dot], w_dot])

    return rhs


def _integrate(a0, w0, t_end, c=None, law="uniform", t_eval=None, **kw):
    y0 = np.concatenate([[a0], np.atleast_1d(w0)])
    # max_step: the right-hand side jumps at w_0 = 0 (d = 1), and unbounded trial steps in the
    # slow absorbing phase overflow before the step-size control rejects them
    return solve_ivp(_flow_rhs(c, law), (0, t_end), y0, rtol=1e-11, atol=1e-13,
                     method="DOP853", t_eval=t_eval, max_step=2.0, **kw)


# ---------------------------------------------------------------- population moments
def test_gaussian_cross_moment_matches_monte_carlo():
    w = RNG.normal(size=(3, 4))
    x = RNG.normal(size=(400_000, 4))
    samples = np.maximum(x[:, :1], 0) * np.maximum(x @ w.T, 0)
    se = samples.std(axis=0) / math.sqrt(len(x))
    assert np.all(np.abs(on.cross_moment(w, "gaussian") - samples.mean(axis=0)) < 5 * se)


@pytest.mark.parametrize("law", ["gaussian", "uniform"])
def test_cross_moment_gradient_is_the_finite_difference_gradient(law):
    w = RNG.normal(size=(4, 3))
    fd = _fd_grad(lambda v: on.cross_moment(v, law, n_points=2**12), w)
    assert np.allclose(on.cross_moment_gradient(w, law, n_points=2**12), fd, atol=2e-6)


def test_uniform_cross_moment_qmc_matches_plain_monte_carlo_and_exact_d1():
    w = np.array([0.7, -0.4, 0.3])
    x = RNG.uniform(-1, 1, size=(1_000_000, 3))
    samples = np.maximum(x[:, 0], 0) * np.maximum(x @ w, 0)
    assert abs(on.cross_moment(w) - samples.mean()) < 5 * samples.std() / 1000 + 2e-4
    # d = 1: g(w) = E[relu(x) relu(w x)] = w^+/6 exactly
    assert np.allclose(on.cross_moment([[0.8], [-0.5]]), [0.8 / 6, 0.0], atol=0, rtol=1e-15)


def test_gaussian_gradient_at_zero_and_euler_identity():
    assert np.array_equal(on.cross_moment_gradient(np.zeros(3), "gaussian"), np.zeros(3))
    w = RNG.normal(size=(5, 6))
    grad = on.cross_moment_gradient(w, "gaussian")
    assert np.allclose(np.sum(w * grad, axis=-1), on.cross_moment(w, "gaussian"), rtol=1e-13)


@pytest.mark.parametrize("law, d", [("gaussian", 1), ("gaussian", 4), ("uniform", 1), ("uniform", 3)])
def test_gradient_flow_is_minus_the_loss_gradient(law, d):
    a = RNG.normal(size=3)
    w = RNG.normal(size=(3, d))
    opts = {} if law == "gaussian" else {"n_points": 2**12}
    a_dot, w_dot = on.gradient_flow(a, w, law=law, **opts)
    eps = 1e-6
    da = (on.population_loss(a + eps, w, law, **opts) - on.population_loss(a - eps, w, law, **opts)) / (2 * eps)
    dw = _fd_grad(lambda v: on.population_loss(a, v, law, **opts), w)
    assert np.allclose(a_dot, -da, atol=1e-7)
    assert np.allclose(w_dot, -dw, atol=1e-6)


def test_population_loss_matches_monte_carlo_and_failure_level():
    a, w = 0.9, np.array([0.5, -1.0, 0.2])
    x = RNG.normal(size=(400_000, 3))
    res = 0.5 * (a * np.maximum(x @ w, 0) - np.maximum(x[:, 0], 0)) ** 2
    assert abs(on.population_loss(a, w, "gaussian") - res.mean()) < 5 * res.std() / math.sqrt(len(x))
    assert on.population_loss(1.0, [1.0, 0.0], "gaussian") == pytest.approx(0.0, abs=1e-15)
    assert on.population_loss(0.0, [1.0, 0.0]) == pytest.approx(on.failure_loss("uniform")) == 1 / 12
    assert on.failure_loss("gaussian") == 0.25


def test_gradient_flow_d1_free_constant_and_validation():
    a_dot, w_dot = on.gradient_flow(0.3, [0.5], c=0.7)
    assert a_dot == pytest.approx(-0.7 * 0.5 * (0.3 * 0.5 - 1))
    assert w_dot[0] == pytest.approx(-0.7 * 0.3 * (0.3 * 0.5 - 1))
    with pytest.raises(ValueError, match="does not match"):
        on.gradient_flow(0.3, [0.5, 0.1], c=0.7)
    with pytest.raises(ValueError, match="scalar"):
        on.gradient_flow(0.3, 0.5)
    with pytest.raises(ValueError, match="broadcast"):
        on.gradient_flow(np.ones(3), np.ones((4, 2)), law="gaussian")
    with pytest.raises(ValueError, match="unknown input law"):
        on.gradient_flow(0.3, [0.5], law="cauchy")
    with pytest.raises(ValueError, match="positive"):
        on.gradient_flow(0.3, [0.5], c=-1.0)
    # broadcasting: one a for a batch of w, and a batch of a for one w
    a_dot, w_dot = on.gradient_flow(0.5, np.ones((2, 3, 4)), law="gaussian")
    assert a_dot.shape == (2, 3) and w_dot.shape == (2, 3, 4)


# ---------------------------------------------------------------- conservation law
@pytest.mark.parametrize("law, d", [("gaussian", 4), ("uniform", 1), ("gaussian", 1)])
def test_conserved_quantity_is_constant_along_integrated_flow(law, d):
    a0, w0 = 0.4, RNG.normal(size=d) * 0.8
    sol = _integrate(a0, w0, 15.0, law=law, t_eval=np.linspace(0, 15, 7))
    values = on.conserved_quantity(sol.y[0], sol.y[1:].T)
    assert np.max(np.abs(values - on.conserved_quantity(a0, w0))) < 1e-8


# ---------------------------------------------------------------- d = 1 closed forms
@pytest.mark.parametrize("a0, w0", [(0.5, 0.3), (-0.2, 0.7), (1.5, 0.1), (0.05, 0.02),
                                    (-0.5, 0.5), (-0.9, 0.4), (2.0, 1.5)])
@pytest.mark.parametrize("c", [1 / 6, 0.5])
def test_d1_closed_form_matches_ode(a0, w0, c):
    t = np.array([0.0, 0.7, 2.0, 6.0])
    sol = _integrate(a0, w0, t[-1], c=c, t_eval=t)
    a_t, w_t = on.d1_closed_form(a0, w0, t, c=c)
    inside = t < on.d1_exit_time(a0, w0, c)
    assert np.all(np.isnan(a_t[~inside])) and np.all(np.isnan(w_t[~inside]))
    assert np.allclose(a_t[inside], sol.y[0][inside], atol=1e-9)
    assert np.allclose(w_t[inside], sol.y[1][inside], atol=1e-9)


def test_d1_exit_time_is_when_the_ode_reaches_w_zero():
    a0, w0, c = -0.9, 0.4, 1 / 6
    event = lambda t, y: y[1]  # noqa: E731
    event.terminal = True
    sol = _integrate(a0, w0, 50.0, c=c, events=event)
    assert on.d1_exit_time(a0, w0, c) == pytest.approx(sol.t_events[0][0], rel=1e-8)
    assert np.isinf(on.d1_exit_time(0.3, 0.4, c)) and np.isinf(on.d1_exit_time(-0.3, 0.4, c))


@pytest.mark.parametrize("a0, w0", [(0.5, -0.3), (-0.2, -0.7), (-0.9, -0.9), (1.2, -0.01)])
def test_d1_negative_region_closed_form_matches_ode(a0, w0):
    t = np.array([0.0, 1.0, 4.0, 20.0])
    sol = _integrate(a0, w0, t[-1], c=1 / 6, t_eval=t)
    a_t, w_t = on.d1_negative_region_closed_form(a0, w0, t)
    assert np.allclose(a_t, sol.y[0], atol=1e-10) and np.allclose(w_t, sol.y[1], atol=1e-10)
    assert np.all(w_t < 0)


def test_d1_closed_forms_reject_the_wrong_region():
    with pytest.raises(ValueError, match="w > 0"):
        on.d1_closed_form(0.5, -0.1, 1.0)
    with pytest.raises(ValueError, match="w0 < 0"):
        on.d1_negative_region_closed_form(0.5, 0.1, 1.0)
    with pytest.raises(ValueError, match="t must be"):
        on.d1_closed_form(0.5, 0.1, -1.0)
    with pytest.raises(ValueError, match="broadcast"):
        on.d1_closed_form(np.ones(2), np.ones(3) * 0.5, 1.0)


# ---------------------------------------------------------------- success rules
def test_d1_success_rule_matches_long_ode_integration():
    rng = np.random.default_rng(7)
    a0 = rng.uniform(-1, 1, 24)
    w0 = rng.uniform(-1, 1, 24)
    predicted = on.d1_succeeds(a0, w0)
    for a, w, p in zip(a0, w0, predicted):
        sol = _integrate(a, w, 400.0, c=0.5)
        aT, wT = sol.y[0, -1], sol.y[1, -1]
        assert (abs(aT * wT - 1) < 1e-6) == p, (a, w)
    assert predicted.any() and not predicted.all()


def test_quadrant_rule_is_the_general_rule_only_where_a0sq_ge_w0sq():
    a0, w0 = RNG.uniform(-1, 1, (2, 20_000))
    general, quadrant = on.d1_succeeds(a0, w0), on.quadrant_rule(a0, w0)
    restricted = a0**2 >= w0**2
    assert np.array_equal(general[restricted], quadrant[restricted])
    wrong = general != quadrant
    assert np.all((w0[wrong] > 0) & (a0[wrong] <= 0) & (a0[wrong] > -w0[wrong]))
    assert wrong.mean() == pytest.approx(1 / 8, abs=0.01)


def _prune_and_retrain(a0, w0, method, t_dense=150.0, t_retrain=150.0):
    """Independent IMP/LRR: scipy integration of the Gaussian flow, prune to the largest |w_i|."""
    dense = _integrate(a0, w0, t_dense, law="gaussian")
    aT, wT = dense.y[0, -1], dense.y[1:, -1]
    keep = int(np.argmax(np.abs(wT)))
    start = (a0, w0[keep]) if method == "imp" else (aT, wT[keep])
    sol = _integrate(start[0], start[1], t_retrain, law="gaussian")
    return keep == 0 and abs(sol.y[0, -1] * sol.y[1, -1] - 1) < 1e-6


def test_imp_and_lrr_rules_match_scipy_prune_and_retrain():
    rng = np.random.default_rng(11)
    cases = []
    for sign_a, sign_w in [(1, 1), (1, -1), (-1, 1), (-1, -1)]:
        w0 = rng.normal(size=4) / 2
        w0[0] = sign_w * abs(w0[0])
        cases.append((sign_a * 1.2 * np.linalg.norm(w0), w0))
    for a0, w0 in cases:
        assert _prune_and_retrain(a0, w0, "imp") == on.imp_succeeds(a0, w0)
        assert _prune_and_retrain(a0, w0, "lrr") == on.lrr_succeeds(a0, w0)


def test_lrr_prediction_domain_and_imp_shapes():
    w0 = np.array([[0.3, 0.4], [0.6, 0.8]])
    a0 = np.array([0.2, -1.5])  # first run: a0² < ‖w0‖², undefined
    assert np.array_equal(on.lrr_prediction_defined(a0, w0), [False, True])
    with pytest.raises(ValueError, match="a0\\^2 >= \\|\\|w0\\|\\|\\^2"):
        on.lrr_succeeds(a0, w0)
    out = on.lrr_succeeds(a0, w0, undefined="nan")
    assert np.isnan(out[0]) and out[1] == 0.0
    assert on.lrr_succeeds(0.5, [0.3, 0.4]) and not on.lrr_succeeds(-0.5, [0.3, 0.4])
    with pytest.raises(ValueError, match="undefined"):
        on.lrr_succeeds(a0, w0, undefined="zero")
    with pytest.raises(ValueError, match="d >= 2"):
        on.imp_succeeds(0.5, [0.3])
    assert np.array_equal(on.imp_succeeds(np.array([0.5, 0.5, -0.1]), np.array([[0.2, 1], [-0.2, 1], [0.2, 1]])),
                          [True, False, True])


@pytest.mark.parametrize("init", ["margin", "balanced", "uniform"])
@pytest.mark.parametrize("d", [1, 2, 5, 10])
def test_success_probabilities_match_monte_carlo_of_the_rules(init, d):
    n = 200_000
    rng = np.random.default_rng(d)
    w0 = rng.normal(size=(n, d)) / math.sqrt(d)
    norm = np.linalg.norm(w0, axis=1)
    sign = rng.choice([-1.0, 1.0], n)
    a0 = {"margin": 1.2 * sign * norm, "balanced": sign * norm,
          "uniform": rng.uniform(-1, 1, n) * norm}[init]
    p = on.success_probabilities(init, d)
    imp = on.d1_succeeds(a0, w0[:, 0]) if d == 1 else on.imp_succeeds(a0, w0)
    assert abs(imp.mean() - p["imp"]) < 4 * math.sqrt(p["imp"] * (1 - p["imp"]) / n)
    if d == 1:
        assert p["lrr"] == pytest.approx(p["imp"])
    elif init == "uniform":
        assert math.isnan(p["lrr"])
    else:
        lrr = on.lrr_succeeds(a0, w0)
        assert abs(lrr.mean() - p["lrr"]) < 4 * math.sqrt(0.25 / n)


def test_success_probabilities_validation():
    with pytest.raises(ValueError, match="initialization"):
        on.success_probabilities("he", 3)
    with pytest.raises(ValueError, match="positive integer"):
        on.success_probabilities("margin", 0)
