"""Effective parameter counts and the (sparse) law of robustness, in float64.

Sources (spec ``nofreeprune.md``; labels as there):

- p_eff = I(m; D) + E||m||_1: Kumar, Luo & Sellke, "No Free Prune", ICML 2024, abstract [P].
- Lipschitz lower bound of Bubeck & Sellke 2021, Theorem 3, and their Lemma 2.1 [BS].
- The sparse versions A, B, C and the MI decoupling lemma: derived for the spec (§4.2) [R].
  They are **not** quotes of the paper; its constants and δ-dependence may differ.

All logarithms are natural (information in nats).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import gammaln

LOG2 = math.log(2.0)


# --------------------------------------------------------------------------- validation
def _integer(name: str, value, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive(name: str, value) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _nonnegative(name: str, value) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return value


def _probability(name: str, value) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return value


# --------------------------------------------------------------------------- counting
def log_binomial(P, s):
    """log C(P, s) = lgamma(P+1) - lgamma(s+1) - lgamma(P-s+1), exactly (float64).

    Scalars give a float; arrays broadcast. Raises ``ValueError`` unless 0 <= s <= P are
    integers.
    """
    P_arr = np.asarray(P, dtype=np.float64)
    s_arr = np.asarray(s, dtype=np.float64)
    if np.any(P_arr != np.round(P_arr)) or np.any(s_arr != np.round(s_arr)):
        raise ValueError(f"log_binomial needs integers, got P={P!r}, s={s!r}")
    if np.any(s_arr < 0) or np.any(s_arr > P_arr):
        raise ValueError(f"log_binomial needs 0 <= s <= P, got P={P!r}, s={s!r}")
    value = gammaln(P_arr + 1) - gammaln(s_arr + 1) - gammaln(P_arr - s_arr + 1)
    # C(P, 0) = C(P, P) = 1 exactly; lgamma rounding would otherwise leave ~1e-13.
    value = np.where((s_arr == 0) | (s_arr == P_arr), 0.0, value)
    return float(value) if value.ndim == 0 else value


def mask_entropy_bound(P: int, s: int) -> float:
    """H(m) <= log C(P, s) for any mask with exactly s of P weights kept (spec §4.3.3) [R]."""
    return log_binomial(_integer("P", P), _integer("s", s))


def layerwise_mask_entropy_bound(layer_sizes: Sequence[int], layer_kept: Sequence[int]) -> float:
    """H(m) <= Σ_ℓ log C(P_ℓ, s_ℓ) for masks with fixed per-layer counts (spec §4.3.3) [R]."""
    if len(layer_sizes) != len(layer_kept) or len(layer_sizes) == 0:
        raise ValueError(
            f"layer_sizes and layer_kept must be non-empty and of equal length, "
            f"got {len(layer_sizes)} and {len(layer_kept)}")
    return float(sum(mask_entropy_bound(P, s) for P, s in zip(layer_sizes, layer_kept)))


def entropy_cap_upper(P: int, s: int) -> float:
    """The elementary bound log C(P, s) <= s log(eP/s) = s (1 + log(P/s)) (0 for s = 0)."""
    P, s = _integer("P", P, minimum=1), _integer("s", s)
    if s > P:
        raise ValueError(f"s must be <= P, got s={s}, P={P}")
    return 0.0 if s == 0 else s * (1.0 + math.log(P / s))


def p_eff(mutual_information, expected_nonzeros) -> float:
    """Effective parameter count p_eff = I(m; D) + E||m||_1 (nats + count) [P abstract, S]."""
    return _nonnegative("mutual_information", mutual_information) + _nonnegative(
        "expected_nonzeros", expected_nonzeros)


def worst_case_p_eff(P: int, s: int, log_net: float) -> float:
    """Version C's count s·log(60WJ/ε) + log C(P, s): any mask rule of size s [R]."""
    return s * _nonnegative("log_net", log_net) + mask_entropy_bound(P, s)


# --------------------------------------------------------------------------- BS Lemma 2.1
def noise_correlation(f_values, z) -> float:
    """The empirical noise correlation <F, Z> = (1/n) Σ_i f(x_i) z_i of BS Lemma 2.1."""
    f_values = np.asarray(f_values, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if f_values.shape != z.shape or f_values.ndim != 1 or f_values.size == 0:
        raise ValueError(
            f"f_values and z must be non-empty 1-d arrays of equal shape, "
            f"got {f_values.shape} and {z.shape}")
    return float(np.mean(f_values * z))


def noise_correlation_floor(eps) -> float:
    """ε/4: the lower bound on <F, Z> forced by BS Lemma 2.1's two events.

    If ||Z||² >= σ² - ε/6, <Z, G> >= -ε/6 and ||G + Z - F||² <= σ² - ε, then expanding
    ||G + Z - F||² >= ||Z||² + 2<Z, G> - 2<Z, F> gives 2<Z, F> >= ε/2. The bound is sharp
    to first order in ε (see :func:`lemma21_tight_minimum`); the spec's "ε/3" does not follow
    from these two events.
    """
    return _positive("eps", eps) / 4.0


def lemma21_tight_minimum(sigma2, eps) -> float:
    """min <F, Z> over all F, G, Z allowed by Lemma 2.1's hypotheses (derived here [R]).

    With F = G + Z - R, ||R||² <= σ² - ε: <F, Z> = <G, Z> + ||Z||² - <R, Z>, minimised at
    <G, Z> = -ε/6, ||Z||² = σ² - ε/6, R parallel to Z: -ε/3 + σ² - sqrt((σ² - ε)(σ² - ε/6)).
    This is ε/4 + O(ε²/σ²) and always >= ε/4 (AM-GM).
    """
    sigma2 = _positive("sigma2", sigma2)
    eps = _positive("eps", eps)
    if eps > sigma2:
        raise ValueError(f"eps must be <= sigma2 (fit below the noise level), got {eps} > {sigma2}")
    return -eps / 3.0 + sigma2 - math.sqrt((sigma2 - eps) * (sigma2 - eps / 6.0))


# --------------------------------------------------------------------------- MI decoupling
def binary_kl(a, b) -> float:
    """kl(a || b) = a log(a/b) + (1-a) log((1-a)/(1-b)) in nats (0 log 0 = 0)."""
    a, b = float(a), float(b)
    if not (0.0 <= a <= 1.0 and 0.0 <= b <= 1.0):
        raise ValueError(f"binary_kl needs probabilities in [0, 1], got a={a}, b={b}")

    def term(p, q):
        if p == 0.0:
            return 0.0
        return math.inf if q == 0.0 else p * math.log(p / q)

    return term(a, b) + term(1.0 - a, 1.0 - b)


def mi_decoupling_bound(mutual_information, q_event) -> float:
    """P(E) <= (I(M; D) + log 2) / log(1 / Q(E)), Q = P_M ⊗ P_D (spec §4.2 lemma) [R].

    Follows from kl(P(E) || Q(E)) <= KL(P || Q) = I(M; D) (data processing on 1_E) and
    kl(a || b) >= a log(1/b) - log 2. Returns +inf when Q(E) = 1 (no information), and 0 when
    Q(E) = 0 (then P(E) = 0 by absolute continuity).
    """
    info = _nonnegative("mutual_information", mutual_information)
    q = float(q_event)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q_event must be a probability in [0, 1], got {q_event!r}")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return math.inf
    return (info + LOG2) / math.log(1.0 / q)


# --------------------------------------------------------------------------- Lipschitz bounds
def _bound_inputs(n, d, eps, c, W, J, delta, k):
    n = _integer("n", n, minimum=1)
    d = _integer("d", d, minimum=1)
    eps = _probability("eps", eps)
    c = _positive("c", c)
    W = _positive("W", W)
    J = _positive("J", J)
    delta = _probability("delta", delta)
    k = _integer("k", k, minimum=1)
    log_net = math.log(60.0 * W * J / eps)
    if log_net < 0:
        raise ValueError(f"60 W J / eps must be >= 1 (a net of the weight set), got {60 * W * J / eps}")
    return n, d, eps, c, delta, k, log_net


def law_of_robustness_bound(n, d, p, eps, c=1.0, W=1.0, J=1.0, delta=0.01, k=1) -> float:
    """BS Theorem 3 [BS]: with prob. >= 1-δ, every f_w fitting below noise by ε has

        Lip(f) >= ε / (2^9 sqrt(c)) · sqrt( n d / ( p log(60WJ/ε) + log(4/δ) ) ).

    Valid under the side condition 8^4 k log(8k/δ) <= n ε² (see
    :func:`law_of_robustness_side_condition`); the value is returned regardless.
    """
    n, d, eps, c, delta, k, log_net = _bound_inputs(n, d, eps, c, W, J, delta, k)
    p = _nonnegative("p", p)
    return eps / (2 ** 9 * math.sqrt(c)) * math.sqrt(n * d / (p * log_net + math.log(4.0 / delta)))


def law_of_robustness_side_condition(n, eps, delta=0.01, k=1) -> bool:
    """8^4 k log(8k/δ) <= n ε² (BS Theorem 3, assumption 2) [BS]."""
    return 8 ** 4 * k * math.log(8 * k / _probability("delta", delta)) <= n * _probability("eps", eps) ** 2


def sparse_bound_a(n, d, s, eps, mutual_information, c=1.0, W=1.0, J=1.0, delta=0.01, k=1) -> float:
    """Version A [R] (spec §4.2): ||m||_1 <= s a.s.; weights arbitrary given the mask.

        Lip >= ε/(2^9 sqrt c) · sqrt( nd / ( s log(60WJ/ε) + log 4 + (I(m;D) + log 2)/δ ) ).
    """
    n, d, eps, c, delta, k, log_net = _bound_inputs(n, d, eps, c, W, J, delta, k)
    s = _nonnegative("s", s)
    info = _nonnegative("mutual_information", mutual_information)
    denom = s * log_net + math.log(4.0) + (info + LOG2) / delta
    return eps / (2 ** 9 * math.sqrt(c)) * math.sqrt(n * d / denom)


def sparse_side_condition_a(n, eps, mutual_information, delta=0.01, k=1) -> bool:
    """n ε² >= 8^4 k ( log(8k) + (I + log 2)/δ ) (Version A) [R]."""
    info = _nonnegative("mutual_information", mutual_information)
    return n * _probability("eps", eps) ** 2 >= 8 ** 4 * k * (
        math.log(8 * k) + (info + LOG2) / _probability("delta", delta))


def sparse_bound_b(n, d, expected_nonzeros, eps, mutual_information, c=1.0, W=1.0, J=1.0,
                   delta=0.01, k=1) -> float:
    """Version B [R] (spec §4.2): mask and (quantized) weights both chosen from data.

        Π := I(m; D) + E||m||_1 · log(60WJ/ε),
        Lip >= ε/(2^7 sqrt c) · sqrt( nd / ( log 4 + (Π + log 2)/δ ) ).
    """
    n, d, eps, c, delta, k, log_net = _bound_inputs(n, d, eps, c, W, J, delta, k)
    big_pi = _nonnegative("mutual_information", mutual_information) + _nonnegative(
        "expected_nonzeros", expected_nonzeros) * log_net
    return eps / (2 ** 7 * math.sqrt(c)) * math.sqrt(n * d / (math.log(4.0) + (big_pi + LOG2) / delta))


def sparse_bound_c(n, d, P, s, eps, c=1.0, W=1.0, J=1.0, delta=0.01, k=1) -> float:
    """Version C [R] (spec §4.2): union bound over all C(P, s) masks; any selection rule.

    BS Theorem 3 with p log(60WJ/ε) replaced by s log(60WJ/ε) + log C(P, s).
    """
    n, d, eps, c, delta, k, log_net = _bound_inputs(n, d, eps, c, W, J, delta, k)
    P, s = _integer("P", P, minimum=1), _integer("s", s)
    denom = worst_case_p_eff(P, s, log_net) + math.log(4.0 / delta)
    return eps / (2 ** 9 * math.sqrt(c)) * math.sqrt(n * d / denom)
