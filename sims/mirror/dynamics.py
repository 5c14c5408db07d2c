"""The dynamics of "Mask in the Mirror" (Jacobs & Burkholz, ICLR 2025; spec ``mirror.md``): the
test bed, gradient flow and gradient descent on f(m ⊙ w) + α_t(‖m‖² + ‖w‖²), in float64 JAX.

Gradient flow by ``jax.experimental.ode.odeint`` (Dormand-Prince, rtol 1e-11); jitted gradient
descent (``lax.fori_loop`` inside a recording ``lax.scan``). Both are vectorised over
initializations and configurations by a leading batch axis on every array (the batched matmul
plays the role of ``vmap``); gradient descent also over test-bed instances by ``jax.vmap``.

Test bed (spec §3.1, §4): d = 40 samples, n = 100 dimensions, Z ~ N(0, 1), x* with 5 nonzeros
drawn N(0, 1), y = Zx*, f(x) = (1/2d)‖Zx − y‖², x_init ~ N(0, 1/n) (std 1/√n), β = 1.
All randomness comes from ``numpy.random.default_rng(seed)``; ``seed`` is an int or a tuple of
ints (a ``SeedSequence`` entropy, used for the extra instances of a claim stated over many).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.ode import odeint

D_SAMPLES, N_DIM, SUPPORT = 40, 100, 5


# ============================================================================ test bed

@functools.lru_cache(maxsize=8)
def testbed(seed: int | tuple[int, ...], inits: int) -> dict[str, np.ndarray]:
    """Z (d, n), y, x* (5-sparse), x_init (inits, n): spec §3.1 with the spec's sanity choices."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((D_SAMPLES, N_DIM))
    x_star = np.zeros(N_DIM)
    support = np.sort(rng.choice(N_DIM, SUPPORT, replace=False))
    x_star[support] = rng.standard_normal(SUPPORT)
    x_init = rng.standard_normal((inits, N_DIM)) / np.sqrt(N_DIM)
    return {"Z": Z, "y": Z @ x_star, "x_star": x_star, "support": support, "x_init": x_init}


def loss(Z, y, x) -> np.ndarray:
    """f(x) = (1/2d)‖Zx − y‖² for a batch x of shape (..., n)."""
    r = x @ Z.T - y
    return 0.5 * np.sum(r * r, axis=-1) / Z.shape[0]


# ============================================================================ gradient flow

def _grad_f(Z, y, x):
    return ((x @ Z.T - y) @ Z) / Z.shape[0]


def _flow_rhs(state, t, Z, y, alpha0, tau):
    """Gradient flow (v1 eq. 7) with α_t = α0 e^{−t/τ}; G' = ∇f(x), so that C1 reads
    ∇R_{a_t}(x_t) = −G_t."""
    m, w, _ = state
    g = _grad_f(Z, y, m * w)
    alpha = alpha0 * jnp.exp(-t / tau)
    return (-g * w - 2.0 * alpha * m, -g * m - 2.0 * alpha * w, g)


@jax.jit
def _flow_jit(m0, w0, Z, y, ts, alpha0, tau):
    state = (m0, w0, jnp.zeros_like(m0))
    return odeint(_flow_rhs, state, ts, Z, y, alpha0, tau, rtol=1e-11, atol=1e-13,
                  mxstep=10**7)


def flow(Z, y, m0, w0, horizon: float, *, alpha0: float = 0.0, tau: float = 1.0,
         points: int = 101):
    """Integrate the flow on [0, horizon] in float64. Returns ts, m, w, G (G = ∫∇f), and
    A_t = ∫α = α0 τ (1 − e^{−t/τ})."""
    with jax.enable_x64(True):
        ts = jnp.linspace(0.0, horizon, points)
        m, w, G = _flow_jit(jnp.asarray(m0), jnp.asarray(w0), jnp.asarray(Z), jnp.asarray(y), ts,
                            jnp.float64(alpha0), jnp.float64(tau))
        ts, m, w, G = (np.asarray(v) for v in (ts, m, w, G))
    A = alpha0 * tau * (1.0 - np.exp(-ts / tau))
    return ts, m, w, G, A


# ============================================================================ gradient descent

def _schedule(kind, alpha0, tau, k):
    """α_k for a schedule code: 0 constant α0, 1 harmonic α0/(1+k/τ), 2 quadratic α0/(1+k/τ)²,
    3 geometric α0·0.95^{k/τ} (spec §3.1: h_k, q_k, g_k with p = 0.95 per τ steps)."""
    s = k / tau
    return jnp.select([kind == 0, kind == 1, kind == 2],
                      [alpha0, alpha0 / (1.0 + s), alpha0 / (1.0 + s) ** 2],
                      alpha0 * 0.95 ** s)


# How the penalty enters a GD step (the state is (p, q); x = p·q, or (p² − q²)/2 when rotated):
WD_MW = 0        # m ⊙ w, weight decay α(‖m‖² + ‖w‖²), update of spec §1.5 in (m, w)
L1_ON_M = 1      # m ⊙ w, explicit α‖m‖₁ on the mask only (subgradient, as autograd does)
L1_ON_X = 2      # x, explicit 2α‖x‖₁ (subgradient, as autograd does; λ = 2α ~ spred's 2α|x|)
L1_ON_X_PROX = 3  # x, explicit 2α‖x‖₁ by a proximal (ISTA) step
WD_UV = 4        # the same GD as WD_MW in the rotated u, v = (m ± w)/√2 (spec §1.2):
                 # u' = (1 − 2ηα − ηg)u, v' = (1 − 2ηα + ηg)v, so a balanced init keeps v ≡ 0
                 # (or u ≡ 0) exactly in floating point


def _x_of(p, q, setting):
    rotated = setting[:, None] == WD_UV
    return jnp.where(rotated, 0.5 * (p * p - q * q), p * q)


def _gd_step(Z, y, eta, setting, kind, alpha0, tau, factor):
    """One GD step for every run of a batch; all arrays have the leading run axis. ``factor``
    (static): accumulate log|(1 − 2ηα)² − η²g²| (C2); without it the log per entry and step,
    about 40% of a step's cost, is not computed."""
    sel = setting[:, None]

    def step(carry, k):
        p, q, log_factor = carry
        g = _grad_f(Z, y, _x_of(p, q, setting))
        alpha = _schedule(kind, alpha0, tau, k)[:, None]
        shrink = 1.0 - 2.0 * eta * alpha
        p_wd, q_wd = shrink * p - eta * g * q, shrink * q - eta * g * p
        p_l1m, q_l1m = p - eta * (g * q + alpha * jnp.sign(p)), q - eta * g * p
        q_l1x = q - eta * (g + 2.0 * alpha * jnp.sign(q))
        v = q - eta * g
        q_prox = jnp.sign(v) * jnp.maximum(jnp.abs(v) - 2.0 * eta * alpha, 0.0)
        p_uv, q_uv = (shrink - eta * g) * p, (shrink + eta * g) * q
        p_new = jnp.select([sel == WD_MW, sel == L1_ON_M, sel == WD_UV], [p_wd, p_l1m, p_uv], p)
        q_new = jnp.select([sel == WD_MW, sel == L1_ON_M, sel == L1_ON_X, sel == L1_ON_X_PROX],
                           [q_wd, q_l1m, q_l1x, q_prox], q_uv)
        if factor:
            log_factor = log_factor + jnp.log(jnp.abs(shrink ** 2 - (eta * g) ** 2))
        return (p_new, q_new, log_factor), None

    return step


@functools.partial(jax.jit, static_argnames=("chunks", "factor"))
def _gd_jit(m0, w0, Z, y, x_star, eta, setting, kind, alpha0, tau, chunks, per_chunk, factor):
    """``chunks`` records of ``per_chunk`` steps each; ``per_chunk`` is traced, so runs of
    different lengths (and step sizes) with the same batch shape share one compilation."""
    step = _gd_step(Z, y, eta, setting, kind, alpha0, tau, factor)

    def chunk(carry, c):
        start = c * per_chunk
        carry = jax.lax.fori_loop(
            0, per_chunk, lambda i, s: step(s, (start + i).astype(jnp.float64))[0], carry)
        x = _x_of(carry[0], carry[1], setting)
        return carry, (jnp.linalg.norm(x - x_star, axis=-1), 0.5 * jnp.sum(
            (x @ Z.T - y) ** 2, axis=-1) / Z.shape[0])

    init = (m0, w0, jnp.zeros_like(m0))
    (m, w, log_factor), (dist, loss) = jax.lax.scan(chunk, init, jnp.arange(chunks))
    return m, w, log_factor, dist, loss


def gradient_descent(Z, y, x_star, m0, w0, *, eta, steps, setting, kind, alpha0, tau=100.0,
                     records: int = 100, factor: bool = False):
    """GD for a batch of runs (leading axis), float64. ``setting``, ``kind``, ``alpha0``, ``tau``
    (in steps) are per run; for ``WD_UV`` pass and get back u, v in place of m, w; for the
    x-space settings pass m ≡ 1 and w = x. Returns the final state, the accumulated
    log Π|(1 − 2ηα)² − η²g²| (C2; ``None`` unless ``factor``), and ‖x − x*‖ and the loss at
    ``records`` even iterations (shape (runs, records)).

    Several test-bed instances: give ``Z`` (k, d, n), ``y`` and ``x_star`` a leading instance
    axis and ``m0``, ``w0`` the shape (k, runs, n); the per-run settings are shared, the k
    instances run in one ``jax.vmap``-ed call and every output gains the leading axis k."""
    if steps % records:
        raise ValueError(f"steps ({steps}) must be a multiple of records ({records})")
    instances = np.ndim(Z) == 3
    runs = np.shape(m0)[-2]
    as_run = lambda v, dt: jnp.broadcast_to(jnp.asarray(v, dt), (runs,))  # noqa: E731
    with jax.enable_x64(True):
        run = functools.partial(_gd_jit, chunks=records, per_chunk=jnp.int32(steps // records),
                                factor=factor)
        if instances:
            run = jax.vmap(run, in_axes=(0, 0, 0, 0, 0) + (None,) * 5)
        out = run(jnp.asarray(m0), jnp.asarray(w0), jnp.asarray(Z), jnp.asarray(y),
                  jnp.asarray(x_star), jnp.float64(eta), as_run(setting, jnp.int32),
                  as_run(kind, jnp.int32), as_run(alpha0, jnp.float64), as_run(tau, jnp.float64))
        m, w, log_factor, dist, loss = (np.asarray(v) for v in out)
    return (m, w, log_factor if factor else None, np.swapaxes(dist, -1, -2),
            np.swapaxes(loss, -1, -2))


def rotate(m, w):
    """u, v = (m + w)/√2, (m − w)/√2 (spec §1.2); x = m·w = (u² − v²)/2."""
    return (m + w) / np.sqrt(2.0), (m - w) / np.sqrt(2.0)
