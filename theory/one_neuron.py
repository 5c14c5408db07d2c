"""Single hidden neuron f(x) = a·relu(wᵀx) learning the target relu(x_1): gradient flow,
its invariant, the d = 1 closed forms, and the success conditions of IMP and LRR.

Source: Gadhikar & Burkholz, "Masks, Signs, and Learning Rate Rewinding", ICLR 2024, §2 [P for
the setting and the qualitative results]. The equations below are the reconstruction of spec
``lrr.md`` §1.3-1.6, derived for the spec [R] and checked numerically there [V]; they are not
quotes of the paper's theorems.

Conventions: float64 numpy; the target coordinate is index 0 (the paper's x_1); ``w`` has the
input dimension d as its last axis; a leading batch shape broadcasts against ``a``.
Population loss L(a, w) = ½ E[(a relu(wᵀx) − relu(x_0))²] for two input laws:

- ``"uniform"``: x ~ U[-1,1]^d, c = E[relu(x_0)²] = 1/6, and E[relu(wᵀx)²] = ‖w‖²/6 exactly.
  The cross moment g(w) = E[relu(x_0) relu(wᵀx)] has no closed form for d ≥ 2: it is exact for
  d = 1 (g = w⁺/6) and a scrambled-Sobol quasi-Monte-Carlo average (fixed seed, 2¹⁶ points by
  default, error ≈ 1e-4) for d ≥ 2.
- ``"gaussian"``: x ~ N(0, I), c = 1/2, and the closed form
  g(w) = ‖w‖/(2π)·(sin θ + (π − θ) cos θ), θ = ∠(w, e_0), whose gradient is
  ∇g(w) = ((π − θ) e_0 + sin θ · w/‖w‖)/(2π)  (checked in ``theory/derivations/one_neuron.py``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

C_UNIFORM = 1.0 / 6.0
C_GAUSSIAN = 0.5
LAWS = {"uniform": C_UNIFORM, "gaussian": C_GAUSSIAN}
DEFAULT_QMC_POINTS = 2**16

__all__ = [
    "C_UNIFORM", "C_GAUSSIAN", "LAWS", "cross_moment", "cross_moment_gradient",
    "population_loss", "failure_loss", "gradient_flow", "conserved_quantity",
    "d1_closed_form", "d1_exit_time", "d1_negative_region_closed_form", "d1_succeeds",
    "quadrant_rule", "imp_succeeds", "lrr_prediction_defined", "lrr_succeeds",
    "success_probabilities",
]


# --------------------------------------------------------------------------- input checks
def _law_constant(law: str) -> float:
    if law not in LAWS:
        raise ValueError(f"unknown input law {law!r}; allowed: {', '.join(LAWS)}")
    return LAWS[law]


def _as_w(w, name: str = "w", min_dim: int = 1) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 0:
        raise ValueError(f"{name} must have the input dimension as its last axis, got a scalar; "
                         f"use shape (..., d)")
    if w.shape[-1] < min_dim:
        raise ValueError(f"{name} has input dimension d = {w.shape[-1]}; allowed: d >= {min_dim}")
    return w


def _broadcast_a(a, w: np.ndarray, name: str = "a") -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    try:
        np.broadcast_shapes(a.shape, w.shape[:-1])
    except ValueError:
        raise ValueError(f"{name} with shape {a.shape} does not broadcast against the batch shape "
                         f"{w.shape[:-1]} of w (shape {w.shape}, last axis = input dimension)") from None
    return a


def _check_c(c) -> float:
    c = float(c)
    if not c > 0 or not math.isfinite(c):
        raise ValueError(f"c = E[relu(z)^2] must be a positive finite number, got {c}")
    return c


# --------------------------------------------------------------------------- population moments
@functools.lru_cache(maxsize=8)
def _sobol_uniform(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    points = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    return 2.0 * points - 1.0


def cross_moment(w, law: str = "uniform", *, n_points: int = DEFAULT_QMC_POINTS, seed: int = 0):
    """g(w) = E[relu(x_0) relu(wᵀx)], shape ``w.shape[:-1]`` (spec §1.3 [R]).

    Gaussian: closed form. Uniform: exact for d = 1 (w⁺/6); quasi-Monte-Carlo over a fixed
    scrambled Sobol set of ``n_points`` points for d ≥ 2.
    """
    _law_constant(law)
    w = _as_w(w)
    d = w.shape[-1]
    if law == "gaussian":
        norm = np.linalg.norm(w, axis=-1)
        safe = np.where(norm > 0, norm, 1.0)
        cos = np.clip(w[..., 0] / safe, -1.0, 1.0)  # w = 0 gives cos = 0 and g = 0
        theta = np.arccos(cos)
        return norm / (2 * np.pi) * (np.sqrt(1 - cos**2) + (np.pi - theta) * cos)
    if d == 1:
        return C_UNIFORM * np.maximum(w[..., 0], 0.0)
    x = _sobol_uniform(d, n_points, seed)
    return _chunked(w, lambda block: np.maximum(block @ x.T, 0.0) @ np.maximum(x[:, 0], 0.0) / n_points,
                    out_tail=())


def cross_moment_gradient(w, law: str = "uniform", *, n_points: int = DEFAULT_QMC_POINTS,
                          seed: int = 0):
    """∇g(w) = E[relu(x_0) 1{wᵀx > 0} x], shape ``w.shape`` (spec §1.3 [R]).

    Gaussian: ((π − θ) e_0 + sin θ · w/‖w‖)/(2π); at w = 0 (not differentiable) the
    defining expectation with relu'(0) = 0 gives 0, which is returned. Uniform: e_0·1{w > 0}/6 for d = 1; quasi-Monte-Carlo for d ≥ 2.
    """
    _law_constant(law)
    w = _as_w(w)
    d = w.shape[-1]
    if law == "gaussian":
        norm = np.linalg.norm(w, axis=-1, keepdims=True)
        safe = np.where(norm > 0, norm, 1.0)
        unit = np.where(norm > 0, w / safe, 0.0)
        cos = np.clip(unit[..., :1], -1.0, 1.0)
        theta = np.where(norm > 0, np.arccos(cos), np.pi)
        e0 = np.zeros(d)
        e0[0] = 1.0
        return ((np.pi - theta) * e0 + np.sqrt(1 - cos**2) * unit) / (2 * np.pi)
    if d == 1:
        return C_UNIFORM * (w > 0).astype(np.float64)
    x = _sobol_uniform(d, n_points, seed)
    weighted = np.maximum(x[:, :1], 0.0) * x
    return _chunked(w, lambda block: (block @ x.T > 0).astype(np.float64) @ weighted / n_points,
                    out_tail=(d,))


def _chunked(w, fn, out_tail, rows: int = 256):
    """Apply ``fn`` to blocks of at most ``rows`` weight vectors (bounded memory for QMC sums)."""
    flat = w.reshape(-1, w.shape[-1])
    out = np.concatenate([fn(flat[i:i + rows]) for i in range(0, len(flat), rows)]) if len(flat) \
        else np.zeros((0, *out_tail))
    return out.reshape(w.shape[:-1] + tuple(out_tail))


def population_loss(a, w, law: str = "uniform", **moment_options):
    """L(a, w) = ½(c a²‖w‖² − 2a g(w) + c), the population loss of spec §1.2 [R]."""
    c = _law_constant(law)
    w = _as_w(w)
    a = _broadcast_a(a, w)
    g = cross_moment(w, law, **moment_options)
    return 0.5 * (c * a**2 * np.sum(w**2, axis=-1) - 2 * a * g + c)


def failure_loss(law: str = "uniform") -> float:
    """Loss of the dead/negative solutions f ≡ 0: ½E[relu(x_0)²] = c/2 (1/12 uniform, 1/4 Gaussian)."""
    return 0.5 * _law_constant(law)


def gradient_flow(a, w, c=None, *, law: str = "uniform", **moment_options):
    """Right-hand side of gradient flow on the population loss (spec §1.3 [R]).

        ȧ = g(w) − c a ‖w‖²,    ẇ = a ∇g(w) − c a² w.

    ``c`` defaults to the law's E[relu(x)²] (1/6 for ``"uniform"``, 1/2 for ``"gaussian"``).
    For d = 1 the flow depends on the law only through c, so any c > 0 is accepted (with
    g = c·w⁺); for d ≥ 2 it must equal the law's value. Returns ``(a_dot, w_dot)``.
    """
    law_c = _law_constant(law)
    w = _as_w(w)
    a = _broadcast_a(a, w)
    c = law_c if c is None else _check_c(c)
    if w.shape[-1] == 1:
        wp = w[..., 0]
        g = c * np.maximum(wp, 0.0)
        grad_g = c * (w > 0).astype(np.float64)
    else:
        if not math.isclose(c, law_c):
            raise ValueError(f"c = {c} does not match the {law} law (c = {law_c}) for d = "
                             f"{w.shape[-1]} >= 2; only d = 1 accepts a free c")
        g = cross_moment(w, law, **moment_options)
        grad_g = cross_moment_gradient(w, law, **moment_options)
    a_dot = g - c * a * np.sum(w**2, axis=-1)
    w_dot = a[..., None] * grad_g - c * (a**2)[..., None] * w
    return a_dot, w_dot


def conserved_quantity(a, w):
    """C = a² − ‖w‖², constant along gradient flow for any d and any input law (spec §1.3 [R])."""
    w = _as_w(w)
    a = _broadcast_a(a, w)
    return a**2 - np.sum(w**2, axis=-1)


# --------------------------------------------------------------------------- d = 1 closed forms
def _d1_arrays(a0, w0, t=None):
    arrays = [np.asarray(v, dtype=np.float64) for v in ((a0, w0) if t is None else (a0, w0, t))]
    try:
        return np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(str(v.shape) for v in arrays)
        raise ValueError(f"d = 1 inputs (a0, w0{', t' if t is not None else ''}) must broadcast; "
                         f"got shapes {shapes}") from None


def _riccati(a0, w0, c):
    u0, v0 = a0 + w0, a0 - w0
    C = u0 * v0                      # a0² − w0², without cancellation
    s0 = u0**2
    root = np.sqrt(4 + C**2)
    s_plus = 2 + root
    s_minus = -(C**2) / s_plus       # 2 − √(4 + C²), without cancellation
    with np.errstate(divide="ignore", invalid="ignore"):  # s0 = s₋ = 0 only on a0 = -w0
        K = (s0 - s_plus) / (s0 - s_minus)
    return C, s0, s_plus, s_minus, K, c * root


def d1_closed_form(a0, w0, t, c=C_UNIFORM):
    """(a(t), w(t)) for d = 1 in the region w > 0 (spec §1.4 [R, V]).

    s = (a + w)² solves ṡ = −(c/2)(s² − 4s − C²), C = a0² − w0², so with s± = 2 ± √(4 + C²),
    K = (s0 − s₊)/(s0 − s₋), λ = c√(4 + C²):
    s(t) = (s₊ − s₋K e^{−λt})/(1 − K e^{−λt}), u = sign(a0 + w0)√s, a = (u + C/u)/2,
    w = (u − C/u)/2. Evaluated in the algebraically equal, cancellation-free form
    s = (s0(s₊ − s₋E) + C²(1 − E))/(s0(1 − E) − s₋ + s₊E), E = e^{−λt}, and
    C/u = (a0 − w0)√(s0/s). On the line a0 = −w0 (C = 0, u ≡ 0) a = −w and w² solves
    d(w²)/dt = −2c w²(1 + w²). Requires w0 > 0 (else ValueError). Where the trajectory leaves
    the region (w reaches 0 at ``d1_exit_time``; only when a0 < −w0) the result for t ≥ t* is NaN.
    """
    c = _check_c(c)
    a0, w0, t = _d1_arrays(a0, w0, t)
    if np.any(w0 <= 0):
        bad = w0[w0 <= 0].flat[0]
        raise ValueError(f"d1_closed_form holds in the region w > 0; got w0 = {bad}. For w0 < 0 "
                         f"use d1_negative_region_closed_form")
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0, got {t[t < 0].flat[0]}")
    C, s0, s_plus, s_minus, K, lam = _riccati(a0, w0, c)
    E = np.exp(-lam * t)
    on_line = (a0 + w0) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (s0 * (s_plus - s_minus * E) + C**2 * (1 - E)) / (s0 * (1 - E) - s_minus + s_plus * E)
        u = np.sign(a0 + w0) * np.sqrt(s)
        c_over_u = (a0 - w0) * np.sqrt(s0 / s)
    a_t = (u + c_over_u) / 2
    w_t = (u - c_over_u) / 2
    # balanced line a = -w: v = w^2, v/(1+v) = v0/(1+v0) e^{-2ct}
    ratio = w0**2 / (1 + w0**2) * np.exp(-2 * c * t)
    w_line = np.sqrt(ratio / (1 - ratio))
    a_t = np.where(on_line, -w_line, a_t)
    w_t = np.where(on_line, w_line, w_t)
    outside = t >= d1_exit_time(a0, w0, c)
    a_t = np.where(outside, np.nan, a_t)
    w_t = np.where(outside, np.nan, w_t)
    return a_t, w_t


def d1_exit_time(a0, w0, c=C_UNIFORM):
    """Time t* at which w reaches 0 from w0 > 0 (inf if never): s(t*) = C (spec §1.4 [R]).

    Only trajectories with a0 + w0 < 0 leave the region w > 0 (then C > 0 and s0 < C < s₊);
    e^{−λt*} = (s₊ − C)/(K(s₋ − C)).
    """
    c = _check_c(c)
    a0, w0 = _d1_arrays(a0, w0)
    C, s0, s_plus, s_minus, K, lam = _riccati(a0, w0, c)
    leaves = (w0 > 0) & (a0 + w0 < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (s_plus - C) / (K * (s_minus - C))
        t_star = -np.log(e) / lam
    return np.where(leaves, t_star, np.where(w0 > 0, np.inf, 0.0))


def d1_negative_region_closed_form(a0, w0, t, c=C_UNIFORM):
    """(a(t), w(t)) for d = 1 in the absorbing region w < 0 (spec §1.4 [R, V]).

    There ȧ = −c a w², ẇ = −c a² w; p = aw obeys ṗ = −c p √(C² + 4p²), solved by
    |p(t)| = |C|/(2 sinh(arcsinh(|C|/(2|p0|)) + c|C|t)) (C ≠ 0), |p0|/(1 + 2c|p0|t) (C = 0);
    then a² = (C + √(C² + 4p²))/2, sign a = sign a0, w = p/a < 0. Requires w0 < 0 and a0 ≠ 0.
    """
    c = _check_c(c)
    a0, w0, t = _d1_arrays(a0, w0, t)
    if np.any(w0 >= 0):
        raise ValueError(f"d1_negative_region_closed_form holds for w0 < 0; got w0 = "
                         f"{w0[w0 >= 0].flat[0]}")
    if np.any(a0 == 0):
        raise ValueError("a0 = 0 is a fixed point of the w < 0 dynamics; give a0 != 0")
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0, got {t[t < 0].flat[0]}")
    C = (a0 + w0) * (a0 - w0)
    p0 = np.abs(a0 * w0)
    absC = np.abs(C)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_c = absC / (2 * np.sinh(np.arcsinh(absC / (2 * p0)) + c * absC * t))
    p_zero = p0 / (1 + 2 * c * p0 * t)
    p = np.where(absC > 0, p_c, p_zero)
    R = np.sqrt(C**2 + 4 * p**2)
    with np.errstate(divide="ignore", invalid="ignore"):  # (C + R)/2 = 2p²/(R − C), stable for C < 0
        a_abs = np.sqrt(np.where(C >= 0, (C + R) / 2, 2 * p**2 / (R - C)))
    a_t = np.sign(a0) * a_abs
    w_t = -p / a_abs
    return a_t, w_t


# --------------------------------------------------------------------------- success rules
def d1_succeeds(a0, w0):
    """d = 1 gradient flow reaches the target ⇔ w0 > 0 and a0 + w0 > 0 (spec §1.4 [R, V]).

    ``a0``, ``w0`` are scalars or broadcasting arrays (one input weight per run).
    """
    a0, w0 = _d1_arrays(a0, w0)
    return (w0 > 0) & (a0 + w0 > 0)


def quadrant_rule(a0, w0):
    """The paper's Fig. 1a rule, success ⇔ a0 > 0 and w0 > 0 [P]. It equals
    :func:`d1_succeeds` only where a0² ≥ w0² (spec §1.4 [R])."""
    a0, w0 = _d1_arrays(a0, w0)
    return (w0 > 0) & (a0 > 0)


def imp_succeeds(a0, w0):
    """IMP (rewind to a0, w0[..., 0] after pruning to the correct mask) succeeds ⇔
    w0_0 > 0 and a0 + w0_0 > 0: the d = 1 rule at the rewound values (spec §1.6 [R, V]).

    ``w0`` has shape (..., d) with d ≥ 2; ``a0`` broadcasts against its batch shape.
    """
    w0 = _as_w(w0, "w0", min_dim=2)
    a0 = _broadcast_a(a0, w0, "a0")
    return d1_succeeds(a0, w0[..., 0])


def lrr_prediction_defined(a0, w0):
    """Where the theory predicts LRR's outcome: a0² ≥ ‖w0‖² (C ≥ 0, sign of a invariant),
    up to a relative rounding slack of 1e-12 (so a0 = ±‖w0‖ computed in floating point counts)."""
    w0 = _as_w(w0, "w0", min_dim=2)
    a0 = _broadcast_a(a0, w0, "a0")
    scale = np.maximum(np.asarray(a0, dtype=np.float64) ** 2, np.sum(w0**2, axis=-1))
    return conserved_quantity(a0, w0) >= -1e-12 * scale


def lrr_succeeds(a0, w0, *, undefined: str = "raise"):
    """LRR (continue from the trained a(T), w_0(T) after pruning to the correct mask) succeeds
    ⇔ a0 > 0, where a0² ≥ ‖w0‖² (spec §1.5-1.6 [R, V]).

    Where a0² < ‖w0‖² the sign of a can change during dense training and the theory gives no
    per-run prediction. ``undefined="raise"`` (default) raises ValueError if any run is there;
    ``undefined="nan"`` returns a float array with 1.0 / 0.0 where defined and NaN elsewhere.
    """
    if undefined not in ("raise", "nan"):
        raise ValueError(f"undefined must be 'raise' or 'nan', got {undefined!r}")
    defined = lrr_prediction_defined(a0, w0)
    a0 = np.broadcast_to(np.asarray(a0, dtype=np.float64), defined.shape)
    if undefined == "raise":
        if not np.all(defined):
            count = int(np.size(defined) - np.count_nonzero(defined))
            raise ValueError(
                f"LRR's outcome is predicted only where a0^2 >= ||w0||^2; {count} run(s) violate "
                f"it. Pass undefined='nan' to get NaN there")
        return a0 > 0
    return np.where(defined, (a0 > 0).astype(np.float64), np.nan)


def _mean_abs_cosine(d: int) -> float:
    """E|cos∠(w, e_0)| for isotropic w in R^d: Γ(d/2)/(√π Γ((d+1)/2))."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


INITIALIZATIONS = ("margin", "balanced", "uniform")


def success_probabilities(init: str, d: int) -> dict[str, float]:
    """P(IMP succeeds) and P(LRR succeeds) for the symmetric initializations of spec §1.6-1.7.

    w0 is isotropic (e.g. N(0, I/d)) and, independent of it,
    - ``"margin"``: a0 = ±m‖w0‖ with a fair random sign and m > 1 (spec: m = 1.2, "ge"),
    - ``"balanced"``: a0 = ±‖w0‖ (C = 0, a knife edge for GD, spec §1.7 caveat (i)),
    - ``"uniform"``: a0 = U[-1,1]·‖w0‖.

    Margin/balanced: LRR = P(a0 > 0) = 1/2 and IMP = P(a0 > 0, w0_0 > 0) = 1/4 for d ≥ 2;
    for d = 1 there is nothing to prune and both equal 1/4. Uniform: IMP =
    P(w0_0 > 0, a0 > −w0_0) = ¼(1 + E|cos θ|); LRR is NaN (C < 0 a.s., no prediction) for
    d ≥ 2 and equals IMP for d = 1. [R]
    """
    if init not in INITIALIZATIONS:
        raise ValueError(f"unknown initialization {init!r}; allowed: {', '.join(INITIALIZATIONS)}")
    if not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    if init in ("margin", "balanced"):
        return {"imp": 0.25, "lrr": 0.25 if d == 1 else 0.5}
    imp = 0.25 * (1 + _mean_abs_cosine(int(d)))
    return {"imp": imp, "lrr": imp if d == 1 else float("nan")}
