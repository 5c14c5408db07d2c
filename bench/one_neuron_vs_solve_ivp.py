"""Benchmark: the vmapped JAX simulation of 10,000 single-neuron initializations against a
Python loop over scipy.integrate.solve_ivp for the same initializations, in one process.

Problem: gradient flow of a·relu(wᵀx) on the Gaussian population loss (closed form, spec
lrr.md §1.3), d = 5, w0 ~ N(0, I/d), a0 = ±1.2‖w0‖, horizon T = 20.
- JAX: classical RK4 with step 0.04 (500 steps) and 0.02 (1,000 steps), jit + vmap over all
  runs, float64; best of two timed calls after compilation.
- scipy: solve_ivp(method="DOP853", rtol=1e-10, atol=1e-12) per run with a lean numpy
  right-hand side. The loop is timed on a subset and extrapolated linearly to all runs
  (the runs are independent, so the cost is additive); the script says so in its output.

Usage: python bench/one_neuron_vs_solve_ivp.py [--runs 10000] [--subset 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.one_neuron import engine  # noqa: E402

HORIZON, D = 20.0, 5
STEPS_TIMED = (0.04, 0.02)


def rhs(_, y):
    """Gaussian-input gradient flow: ȧ = g − a‖w‖²/2, ẇ = a∇g − a²w/2."""
    a, w = y[0], y[1:]
    norm = np.sqrt(w @ w)
    cos = min(max(w[0] / norm, -1.0), 1.0)
    theta = np.arccos(cos)
    sin = np.sqrt(1.0 - cos * cos)
    g = norm / (2 * np.pi) * (sin + (np.pi - theta) * cos)
    grad = sin * w / norm
    grad[0] += np.pi - theta
    grad /= 2 * np.pi
    out = np.empty_like(y)
    out[0] = g - 0.5 * a * norm * norm
    out[1:] = a * grad - 0.5 * a * a * w
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--subset", type=int, default=300, help="runs timed with solve_ivp")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.subset <= args.runs:
        raise SystemExit(f"--subset must be in 1..--runs, got {args.subset}")

    a0, w0 = engine.sample_initializations(np.random.default_rng(args.seed), args.runs, D, "margin")
    jax_results = {}
    for step in STEPS_TIMED:
        steps = int(round(HORIZON / step))
        engine.simulate(a0, w0, law="gaussian", lr=step, steps=1, method="rk4")  # compile
        times = []
        for _ in range(2):
            start = time.perf_counter()
            out = engine.simulate(a0, w0, law="gaussian", lr=step, steps=steps, method="rk4")
            times.append(time.perf_counter() - start)
        jax_results[step] = (min(times), steps, out)

    start = time.perf_counter()
    finals = []
    for i in range(args.subset):
        sol = solve_ivp(rhs, (0, HORIZON), np.r_[a0[i], w0[i]], method="DOP853", rtol=1e-10, atol=1e-12)
        finals.append(sol.y[:, -1])
    subset_seconds = time.perf_counter() - start
    scipy_seconds = subset_seconds * args.runs / args.subset
    finals = np.array(finals)

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine: timings are noisy)")
    print(f"problem: Gaussian-input gradient flow, d={D}, T={HORIZON:g}, {args.runs} initializations")
    print(f"scipy solve_ivp DOP853 (rtol 1e-10) loop: {subset_seconds:.3f} s for {args.subset} runs, "
          f"EXTRAPOLATED linearly to {args.runs} runs: {scipy_seconds:.1f} s")
    worst = 0.0
    for step, (seconds, steps, out) in jax_results.items():
        jax_finals = np.c_[out["a"][: args.subset], out["w"][: args.subset]]
        max_diff = float(np.max(np.abs(finals - jax_finals)))
        worst = max(worst, max_diff)
        print(f"JAX jit+vmap RK4 h={step} ({steps} steps), all {args.runs} runs: {seconds:.3f} s; "
              f"speed-up {scipy_seconds / seconds:.0f}x (goal >= 50x); "
              f"max |final state diff| vs solve_ivp on the {args.subset} timed runs: {max_diff:.1e}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
