"""Mirror flow of the m ⊙ w parameterization (Jacobs & Burkholz, "Mask in the Mirror", 2024/25).

Exact float64 math (numpy/scipy) for the spec ``mirror.md``:

* the time-dependent Legendre potential (spec §1.3, verified form [R][V])
  R_a(x) = ½ Σ_i [x_i arcsinh(x_i/a_i) − sqrt(x_i² + a_i²) − c_i x_i],
  ∇R_a(x) = ½ [arcsinh(x/a) − c],  ∇²R_a(x) = diag(1 / (2 sqrt(x² + a²)));
* the scale a_t = (m_t² − w_t²)/2 = a_0 exp(−4 ∫α) for the penalty α(‖m‖² + ‖w‖²);
  the paper's printed a_t = 2u_0v_0 exp(−2∫α) (v1 Thm 3.1) is the same law under the
  weight-decay-gradient convention λ = 2α and a factor-2 normalisation of a (spec §1.3, §2.5);
* the implicit-bias solution argmin_{Zx=y} R_a(x) (v1 Thm 2.4 / 3.3; v2 Thm 2.3), with
  min-L2 and basis-pursuit references for its L2 → L1 limits, and a LASSO reference (FISTA)
  for the spred stationary point;
* PILoT and spred initializations (spec §2.1), the imbalance and the correction c.

Conventions: ``m``, ``w``, ``x`` are arrays of the same shape; ``a`` and ``c`` broadcast.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

__all__ = [
    "potential", "potential_grad", "potential_hessian_diag", "shape_function",
    "scale", "paper_scale", "scale_from_params", "imbalance", "correction",
    "params_from_scale", "pilot_init", "spred_init", "potential_minimizer",
    "implicit_bias_solution", "min_l2_solution", "basis_pursuit_solution", "lasso_solution",
    "discrete_imbalance_factor", "riemannian_velocity", "KKTResult",
]


# ----------------------------------------------------------------------------- validation

def _array(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _positive(name: str, value) -> np.ndarray:
    arr = _array(name, value)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 (the scale a of R_a), got min {arr.min()!r}")
    return arr


def _broadcast(x: np.ndarray, name: str, value) -> np.ndarray:
    try:
        return np.broadcast_to(value, x.shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {np.shape(value)} does not broadcast to x of shape {x.shape}"
        ) from None


# ----------------------------------------------------------------------------- potential

def potential(x, a, c=0.0) -> float:
    """R_a(x) = ½ Σ_i [x_i arcsinh(x_i/a_i) − sqrt(x_i² + a_i²) − c_i x_i]  (spec §1.3 [R][V])."""
    x = _array("x", x)
    a = _broadcast(x, "a", _positive("a", a))
    c = _broadcast(x, "c", _array("c", c))
    return float(0.5 * np.sum(x * np.arcsinh(x / a) - np.hypot(x, a) - c * x))


def potential_grad(x, a, c=0.0) -> np.ndarray:
    """∇R_a(x) = ½ [arcsinh(x/a) − c]  (spec §1.3)."""
    x = _array("x", x)
    a = _broadcast(x, "a", _positive("a", a))
    c = _broadcast(x, "c", _array("c", c))
    return 0.5 * (np.arcsinh(x / a) - c)


def potential_hessian_diag(x, a) -> np.ndarray:
    """Diagonal of ∇²R_a(x): 1 / (2 sqrt(x² + a²)); its inverse is m² + w² on the flow."""
    x = _array("x", x)
    a = _broadcast(x, "a", _positive("a", a))
    return 0.5 / np.hypot(x, a)


def shape_function(x, a) -> np.ndarray:
    """q_a(x) = x arcsinh(x/a) − sqrt(x² + a²) + a ≥ 0, the per-coordinate shape of 2R_a (c = 0).

    q_a(x) ≈ x²/(2a) for |x| ≪ a (implicit L2) and ≈ |x| log(1/a) for a → 0 (implicit L1),
    spec §1.3 [R].
    """
    x = _array("x", x)
    a = _broadcast(x, "a", _positive("a", a))
    return x * np.arcsinh(x / a) - np.hypot(x, a) + a


def potential_minimizer(a, c) -> np.ndarray:
    """Unconstrained minimiser of R_a: x = a sinh(c) (= e^{−4A} m_0 w_0 on the flow; spec §1.3)."""
    a = _positive("a", a)
    c = _array("c", c)
    return a * np.sinh(c)


# ----------------------------------------------------------------------------- scale a_t

def scale(a0, alpha_integral) -> np.ndarray:
    """a_t = a_0 exp(−4 ∫_0^t α_s ds) for the penalty α(‖m‖² + ‖w‖²)  (spec §1.2-1.3 [R][V]).

    With a PyTorch-style weight-decay coefficient λ on m and w (gradient term λ p, penalty
    (λ/2)‖p‖²) pass ∫α = ½∫λ.
    """
    a0 = _positive("a0", a0)
    integral = _array("alpha_integral", alpha_integral)
    if np.any(integral < 0):
        raise ValueError(f"alpha_integral must be >= 0 (alpha_t >= 0), got {alpha_integral!r}")
    return a0 * np.exp(-4.0 * integral)


def paper_scale(m0, w0, alpha_integral) -> np.ndarray:
    """The paper's printed a_t = 2 u_0 v_0 exp(−2∫α), u_0, v_0 = (m_0 ± w_0)/√2 (v1 Thm 3.1 [P]).

    Kept only to show (claim ``mirror.mirror_identity``) that it does *not* satisfy the mirror
    identity under the penalty α(‖m‖² + ‖w‖²) as printed (spec §1.3).
    """
    m0, w0 = _array("m0", m0), _array("w0", w0)
    u0, v0 = (m0 + w0) / np.sqrt(2.0), (m0 - w0) / np.sqrt(2.0)
    return 2.0 * u0 * v0 * np.exp(-2.0 * _array("alpha_integral", alpha_integral))


def imbalance(m, w) -> np.ndarray:
    """m² − w²: conserved by plain gradient flow, decays as e^{−4∫α} under the penalty (§1.2)."""
    m, w = _array("m", m), _array("w", w)
    if m.shape != w.shape:
        raise ValueError(f"m and w must have the same shape, got {m.shape} and {w.shape}")
    return m * m - w * w


def scale_from_params(m, w) -> np.ndarray:
    """a = (m² − w²)/2 from the live parameters: the robust rule of spec §1.3."""
    return 0.5 * imbalance(m, w)


def correction(m0, w0) -> np.ndarray:
    """c = log((m_0 + w_0)/(m_0 − w_0)) = log(u_0/v_0); needs m_0 > |w_0| (spec §1.3)."""
    m0, w0 = _array("m0", m0), _array("w0", w0)
    if m0.shape != w0.shape:
        raise ValueError(f"m0 and w0 must have the same shape, got {m0.shape} and {w0.shape}")
    if np.any(m0 <= np.abs(w0)):
        raise ValueError("the correction needs m0 > |w0| entrywise (the paper's standing "
                         "assumption; spred's balanced init |m0| = |w0| has no potential)")
    return np.log((m0 + w0) / (m0 - w0))


def params_from_scale(a, c) -> tuple[np.ndarray, np.ndarray]:
    """The (m, w) with (m² − w²)/2 = a and log((m+w)/(m−w)) = c: m = √(2a) cosh(c/2),
    w = √(2a) sinh(c/2). Used for the "same c, smaller a" run of claim C5."""
    a = _positive("a", a)
    c = _array("c", c)
    root = np.sqrt(2.0 * a)
    return root * np.cosh(c / 2.0), root * np.sinh(c / 2.0)


# ----------------------------------------------------------------------------- initializations

def pilot_init(x_init, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """PILoT init (spec §2.1 [P]): m_0 w_0 = x_init, m_0² − w_0² = β, m_0 > 0.

    m_0 = sqrt((β + sqrt(β² + 4x²))/2), w_0 = x/m_0; so a_0 = β/2 (the paper's "2u_0v_0 = β").
    """
    x = _array("x_init", x_init)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    m0 = np.sqrt(0.5 * (beta + np.sqrt(beta * beta + 4.0 * x * x)))
    return m0, x / m0


def spred_init(x_init) -> tuple[np.ndarray, np.ndarray]:
    """spred's balanced init (spec §2.1, §3.4): m_0 = sqrt|x|, w_0 = sign(x) sqrt|x| (a_0 = 0)."""
    x = _array("x_init", x_init)
    root = np.sqrt(np.abs(x))
    return root, np.sign(x) * root


# ----------------------------------------------------------------------------- dynamics helpers

def riemannian_velocity(x, grad, a, alpha=0.0) -> np.ndarray:
    """dx/dt = −2 sqrt(x² + a²) ∇f(x) − 4αx: the flow of §1.1 in x-space (spec §1.3 [R][V])."""
    x = _array("x", x)
    a = _broadcast(x, "a", _positive("a", a))
    return -2.0 * np.hypot(x, a) * _array("grad", grad) - 4.0 * alpha * x


def discrete_imbalance_factor(eta, alpha, grad) -> np.ndarray:
    """One GD step multiplies m² − w² by (1 − 2ηα)² − η² g² exactly (spec §1.5 [R][V])."""
    grad = _array("grad", grad)
    return (1.0 - 2.0 * eta * alpha) ** 2 - (eta * grad) ** 2


# ----------------------------------------------------------------------------- implicit bias

class KKTResult(tuple):
    """(x, multiplier, iterations, residual) of :func:`implicit_bias_solution`."""

    __slots__ = ()

    def __new__(cls, x, multiplier, iterations, residual):
        return super().__new__(cls, (x, multiplier, iterations, residual))

    x = property(lambda self: self[0])
    multiplier = property(lambda self: self[1])
    iterations = property(lambda self: self[2])
    residual = property(lambda self: self[3])


def _check_system(Z, y) -> tuple[np.ndarray, np.ndarray]:
    Z, y = _array("Z", Z), _array("y", y)
    if Z.ndim != 2 or y.ndim != 1 or Z.shape[0] != y.shape[0]:
        raise ValueError(f"need Z of shape (d, n) and y of shape (d,), got {Z.shape} and {y.shape}")
    return Z, y


def implicit_bias_solution(Z, y, a, c=0.0, *, tol: float = 1e-12, max_iter: int = 500,
                           full_output: bool = False):
    """argmin_{Zx = y} R_a(x) via its KKT system x = a sinh(2Zᵀλ + c), Zx = y.

    The multiplier λ minimises the convex dual φ(λ) = ½ Σ a cosh(2Zᵀλ + c) − λᵀy (∇φ = Zx(λ) − y,
    ∇²φ = 2 Z diag(a cosh) Zᵀ); damped Newton with Armijo backtracking, and a Levenberg-Marquardt
    shift when the Newton system is ill-conditioned. Converged when ‖Zx − y‖ ≤ tol·(1 + ‖y‖);
    otherwise raises RuntimeError. Source: v1 Thm 2.4/3.3, v2 Thm 2.3, spec §1.4 T7, C3.
    """
    Z, y = _check_system(Z, y)
    n = Z.shape[1]
    a = np.broadcast_to(_positive("a", a), (n,)) if np.ndim(a) == 0 else _positive("a", a)
    c = np.broadcast_to(_array("c", c), (n,)) if np.ndim(c) == 0 else _array("c", c)
    if a.shape != (n,) or c.shape != (n,):
        raise ValueError(f"a and c must be scalars or of shape ({n},), got {a.shape}, {c.shape}")
    target = tol * (1.0 + np.linalg.norm(y))

    def dual(lam):
        s = 2.0 * Z.T @ lam + c
        with np.errstate(over="ignore"):
            return 0.5 * np.sum(a * np.cosh(s)) - lam @ y, s

    lam = np.zeros(Z.shape[0])
    value, s = dual(lam)
    for iteration in range(1, max_iter + 1):
        x = a * np.sinh(s)
        grad = Z @ x - y
        residual = float(np.linalg.norm(grad))
        if residual <= target:
            break
        hess = 2.0 * (Z * (a * np.cosh(s))) @ Z.T
        shift = 1e-14 * np.trace(hess) / len(hess)
        step = np.linalg.solve(hess + shift * np.eye(len(hess)), -grad)
        t, slope = 1.0, float(grad @ step)
        while True:
            new_value, new_s = dual(lam + t * step)
            if np.isfinite(new_value):
                # accept on the dual (Armijo) or, where φ only changes at rounding level near
                # the optimum, on a decrease of the KKT residual
                if new_value <= value + 1e-4 * t * slope:
                    break
                with np.errstate(over="ignore", invalid="ignore"):
                    new_residual = np.linalg.norm(Z @ (a * np.sinh(new_s)) - y)
                if new_residual <= (1.0 - 1e-4 * t) * residual:
                    break
            t *= 0.5
            if t < 1e-20:
                raise RuntimeError(f"implicit_bias_solution: line search failed at iteration "
                                   f"{iteration}, ‖Zx − y‖ = {residual:.3e} > {target:.3e}")
        lam, value, s = lam + t * step, new_value, new_s
    else:
        raise RuntimeError(f"implicit_bias_solution did not converge in {max_iter} iterations: "
                           f"‖Zx − y‖ = {residual:.3e} > {target:.3e}")
    if full_output:
        return KKTResult(x, lam, iteration, residual)
    return x


def min_l2_solution(Z, y) -> np.ndarray:
    """argmin_{Zx=y} ‖x‖₂ = Z⁺y: the a → ∞ limit of the implicit bias (C4)."""
    Z, y = _check_system(Z, y)
    return np.linalg.lstsq(Z, y, rcond=None)[0]


def basis_pursuit_solution(Z, y) -> np.ndarray:
    """argmin_{Zx=y} ‖x‖₁ by the LP x = p − q, p, q ≥ 0 (scipy HiGHS): the a → 0 limit (C4)."""
    Z, y = _check_system(Z, y)
    n = Z.shape[1]
    result = linprog(np.ones(2 * n), A_eq=np.hstack([Z, -Z]), b_eq=y, bounds=(0, None),
                     method="highs")
    if result.status != 0:
        raise RuntimeError(f"basis pursuit LP failed: {result.message}")
    return result.x[:n] - result.x[n:]


def lasso_solution(Z, y, lam: float, *, tol: float = 1e-13, max_iter: int = 200_000) -> np.ndarray:
    """argmin_x (1/2d)‖Zx − y‖² + λ‖x‖₁ by FISTA with restart (reference for spred = LASSO, C8).

    Stops when the prox-gradient step moves x by ≤ tol·(1 + ‖x‖); raises RuntimeError otherwise.
    """
    Z, y = _check_system(Z, y)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    d, n = Z.shape
    step = 1.0 / (np.linalg.norm(Z, 2) ** 2 / d)
    x = np.zeros(n)
    z, t = x.copy(), 1.0
    for _ in range(max_iter):
        g = Z.T @ (Z @ z - y) / d
        v = z - step * g
        x_new = np.sign(v) * np.maximum(np.abs(v) - step * lam, 0.0)
        moved = np.linalg.norm(x_new - x)
        if moved <= tol * (1.0 + np.linalg.norm(x_new)):
            return x_new
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        if (z - x_new) @ (x_new - x) > 0:  # gradient restart
            t_new, z = 1.0, x_new.copy()
        else:
            z = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
    raise RuntimeError(f"lasso_solution did not converge in {max_iter} iterations")
