"""One-neuron Monte Carlo against a ``scipy.integrate.solve_ivp`` loop (bench/peers.py).

Problem (bench/one_neuron_vs_solve_ivp.py): gradient flow of a·relu(wᵀx) on the Gaussian
population loss, d = 5, w0 ~ N(0, I/d), a0 = ±1.2‖w0‖, horizon T = 20. The peer is that
script's ``rhs`` under ``solve_ivp(DOP853, rtol 1e-10, atol 1e-12)``, one run at a time.

Ours, all runs at once, jitted, float64, the batch as the last (contiguous) axis:

- ``engine_rk4``: the engine (``sims.one_neuron.engine.simulate``, RK4, h = 0.04), as the
  claims run it today;
- ``dop853_full``: a fixed-step Runge–Kutta of order 8 with Dormand–Prince's DOP853 tableau
  (scipy's coefficients; the 12 stages of the step, no error estimate) on the full state
  (a, w ∈ R^d);
- ``dop853_reduced``: the same integrator on the exact 3-dimensional reduction
  (a, w_0, r = ‖w_⊥‖), plus φ = π − θ carried along. The flow moves w_⊥ = (w_1..w_{d-1}) along itself: ẇ_⊥ = (a sin θ /
  (2π‖w‖) − a²/2) w_⊥ (the w_⊥ part of ∇g is sin θ w_⊥/(2π‖w‖)), so its direction is
  constant and w_⊥(T) = (r(T)/r(0)) w_⊥(0). With ‖w‖² = w_0² + r², θ = atan2(r, w_0),
  sin θ = r/‖w‖:
  ȧ = (r + (π − θ) w_0)/(2π) − a‖w‖²/2,
  ẇ_0 = a((π − θ) + r w_0/‖w‖²)/(2π) − a² w_0/2,
  ṙ = a r²/(2π‖w‖²) − a² r/2,
  φ̇ = a r φ/(2π‖w‖²)   (φ = π − θ integrated rather than recomputed: no arctangent per stage).

The engine (sims/one_neuron) does not use either integrator; it would need them to get these
speeds.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp
from scipy.integrate._ivp import dop853_coefficients as dop853

from bench.one_neuron_vs_solve_ivp import HORIZON, D, rhs
from sims.one_neuron import engine

TWO_PI = 2.0 * math.pi
STAGES = dop853.N_STAGES
A = dop853.A[:STAGES, :STAGES]
B = dop853.B
C = dop853.C[:STAGES]


def initializations(runs: int, seed: int):
    """(a0 (B,), w0 (B, d)) of the engine's ``margin`` initialization."""
    return engine.sample_initializations(np.random.default_rng(seed), runs, D, "margin")


# ----------------------------------------------------------------------------- right-hand sides
def _full_flow(y):
    """y = (a (B,), w (d, B)) -> (ȧ, ẇ); the closed-form Gaussian gradient flow."""
    a, w = y
    norm2 = jnp.sum(w * w, axis=0)
    norm = jnp.sqrt(norm2)
    r = jnp.sqrt(jnp.sum(w[1:] * w[1:], axis=0))
    theta = jnp.arctan2(r, w[0])
    g = (r + (jnp.pi - theta) * w[0]) / TWO_PI
    grad = (r / (TWO_PI * norm)) / norm * w
    grad = grad.at[0].add((jnp.pi - theta) / TWO_PI)
    return g - 0.5 * a * norm2, a * grad - 0.5 * a * a * w


def _reduced_flow(y):
    """y = (a, w_0, r, φ = π − θ), each (B,) -> their time derivatives (module docstring).
    φ is integrated too (φ̇ = −θ̇ = a r φ/(2π‖w‖²)), so the flow needs no arctangent."""
    a, w0, r, phi = y
    norm2 = w0 * w0 + r * r
    q = a * r / (TWO_PI * norm2)
    half_a2 = 0.5 * a * a
    return ((r + phi * w0) / TWO_PI - 0.5 * a * norm2,
            a * phi / TWO_PI + (q - half_a2) * w0,
            (q - half_a2) * r,
            q * phi)


def _dop853_step(flow, y, h):
    """One fixed step of the 12-stage, order-8 DOP853 tableau."""
    ks = []
    for i in range(STAGES):
        yi = y
        for j in range(i):
            if A[i, j] != 0.0:
                yi = jax.tree_util.tree_map(lambda u, k, c=A[i, j]: u + (h * c) * k, yi, ks[j])
        ks.append(flow(yi))
    out = y
    for i in range(STAGES):
        if B[i] != 0.0:
            out = jax.tree_util.tree_map(lambda u, k, c=B[i]: u + (h * c) * k, out, ks[i])
    return out


def step_sizes(steps: int, power: float) -> np.ndarray:
    """The grid t_k = T (k/steps)^power, k = 0..steps, as step sizes: uniform for power 1,
    finer at the start for power > 1, where large initial weights make the flow fastest."""
    return np.diff(HORIZON * (np.arange(steps + 1) / steps) ** power)


@functools.partial(jax.jit, static_argnames=("flow",))
def _integrate(y0, hs, *, flow):
    return jax.lax.fori_loop(0, hs.shape[0], lambda i, y: _dop853_step(flow, y, hs[i]), y0)


def dop853_full(a0, w0, steps: int, power: float = 1.0) -> np.ndarray:
    """Final states ``[B, 1 + d]`` (a, w) after ``steps`` DOP853 steps to T on the grid of
    :func:`step_sizes`."""
    with jax.enable_x64(True):
        y = _integrate((jnp.asarray(a0), jnp.asarray(w0.T)), jnp.asarray(step_sizes(steps, power)),
                       flow=_full_flow)
        a, w = jax.block_until_ready(y)
        return np.c_[np.asarray(a), np.asarray(w).T]


def dop853_reduced(a0, w0, steps: int, power: float = 1.0) -> np.ndarray:
    """Final states ``[B, 1 + d]`` from the 3-dimensional reduction, w_⊥ rescaled at the end."""
    r0 = np.linalg.norm(w0[:, 1:], axis=1)
    phi0 = np.pi - np.arctan2(r0, w0[:, 0])
    with jax.enable_x64(True):
        y = _integrate(tuple(jnp.asarray(v) for v in (a0, w0[:, 0], r0, phi0)),
                       jnp.asarray(step_sizes(steps, power)), flow=_reduced_flow)
        a, w_0, r, _ = (np.asarray(v) for v in jax.block_until_ready(y))
    scale = np.divide(r, r0, out=np.zeros_like(r), where=r0 > 0)
    return np.c_[a, w_0, w0[:, 1:] * scale[:, None]]


def engine_rk4(a0, w0, steps: int, power: float = 1.0) -> np.ndarray:
    """The engine's RK4 (sims.one_neuron.engine.simulate), as the claims run it (uniform
    steps: ``power`` must be 1)."""
    if power != 1.0:
        raise ValueError(f"the engine steps uniformly: power must be 1, got {power}")
    out = engine.simulate(a0, w0, law="gaussian", lr=HORIZON / steps, steps=steps, method="rk4")
    return np.c_[out["a"], out["w"]]


def solve_ivp_loop(a0, w0) -> np.ndarray:
    """The peer: one ``solve_ivp(DOP853, rtol 1e-10, atol 1e-12)`` per run."""
    return np.array([solve_ivp(rhs, (0, HORIZON), np.r_[a0[i], w0[i]], method="DOP853",
                               rtol=1e-10, atol=1e-12).y[:, -1] for i in range(len(a0))])


#: (name, function, steps, grid power): the rows measured against the peer
VARIANTS = (("engine RK4, h = 0.04 (today's engine)", engine_rk4, 500, 1.0),
            ("DOP853 fixed steps, full state, graded grid", dop853_full, 25, 2.0),
            ("DOP853 fixed steps, 3-d reduction, graded grid", dop853_reduced, 30, 2.0))


def timed(fn, *args):
    clock = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - clock, out


def measure(runs: int, subset: int, rounds: int, seed: int = 0, log=print) -> list[dict]:
    """Rows of ours against the peer. Per round, ABBA: ours, peer (on the first ``subset``
    runs, extrapolated linearly to ``runs``), peer, ours; best of all rounds on each side.
    Agreement: max |final state difference| over the ``subset`` runs the peer solved."""
    a0, w0 = initializations(runs, seed)
    results = []
    for name, fn, steps, power in VARIANTS:
        fn(a0, w0, steps, power)                         # compile
        ours, peer = [], []
        reference = None
        for _ in range(rounds):
            for side in ("ours", "peer", "peer", "ours"):
                if side == "ours":
                    seconds, finals = timed(fn, a0, w0, steps, power)
                    ours.append(seconds)
                else:
                    seconds, reference = timed(solve_ivp_loop, a0[:subset], w0[:subset])
                    peer.append(seconds * runs / subset)
        diff = float(np.max(np.abs(finals[:subset] - reference)))
        row = dict(name=name, steps=steps, grid_power=power, runs=runs, subset=subset, rounds=rounds,
                   ours_s=min(ours), peer_s=min(peer), ratio=min(peer) / min(ours),
                   max_abs_diff=diff)
        log(f"  {name}: ours {row['ours_s']:.3f} s, solve_ivp {row['peer_s']:.1f} s "
            f"(timed on {subset}, extrapolated to {runs}), ratio {row['ratio']:.0f}x, "
            f"max |diff| {diff:.1e}")
        results.append(row)
    return results
