"""Diagnostics behind the three failing robustness claims (docs/robustness.md, "Diagnosis").

Not claims: they vary one thing the claims hold fixed, to see whether a failure comes from the
estimator or the training budget rather than from the method comparison itself.

    python bench/robustness_diagnostics.py mi-k [--datasets 200]
        claim 4: the per-coordinate plug-in Î of SNIP, GraSP, IMP and magnitude-after on
        K = 200 data sets at the full preset's sizes, and the ratio on the first k of them.
    python bench/robustness_diagnostics.py r2-budget [--epochs 300] [--seeds 2]
        claim 6: recipe R2 at the full preset's sizes trained for longer (the spec's recipe
        trains to convergence, capped at 500 epochs), C(t) of every method at matched epochs.

Prints plain text; machine and timing noted at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sims.robustness import claims as rb  # noqa: E402
from sims.robustness import experiments as rx  # noqa: E402
from theory import mi_estimators as mi  # noqa: E402


def mi_k(args):
    setup = rb._info_setup("full", datasets=args.datasets)
    masks, layer_sizes = rx.run_mask_information(setup, args.seed)
    K, P = masks["imp"].shape
    s = int(masks["imp"][0].sum())
    print(f"setup {setup}\nP = {P}, s = {s}, imp path {setup.imp_levels}")
    print("data-free identical:", {m: mi.is_data_independent(masks[m])
                                   for m in ("synflow", "random", "magnitude")})
    print(f"{'k':>5} {'ceiling':>9} " + " ".join(f"{m:>16}" for m in
                                                ("snip", "grasp", "imp", "magnitude_after"))
          + "  snip/imp  grasp/imp  snip/imp(no MM)")
    for k in (10, 25, 50, 100, 200, 400):
        if k > K:
            break
        est = {m: mi.plugin_information_upper(masks[m][:k])
               for m in ("snip", "grasp", "imp", "magnitude_after")}
        plain = {m: mi.plugin_information_upper(masks[m][:k], miller_madow=False)
                 for m in ("snip", "imp")}
        print(f"{k:>5} {mi.plugin_ceiling(P, s, k):>9.1f} "
              + " ".join(f"{est[m]:>16.1f}" for m in est)
              + f"  {est['snip'] / est['imp']:.3f}     {est['grasp'] / est['imp']:.3f}"
              + f"      {plain['snip'] / plain['imp']:.3f}")
    # blocks of 50 disjoint data sets: the spread of the ratio at the claim's K
    blocks = [masks["snip"][i:i + 50] for i in range(0, K - 49, 50)]
    ratios = [mi.plugin_information_upper(b) / mi.plugin_information_upper(masks["imp"][i:i + 50])
              for b, i in zip(blocks, range(0, K - 49, 50))]
    print("snip/imp on disjoint blocks of 50 data sets:", [round(r, 3) for r in ratios])


def r2_budget(args):
    setup = dataclasses.replace(rb._r2_setup("full"), epochs=args.epochs, seeds=args.seeds)
    print(f"setup {setup}")
    result = rx.run_pruning_comparison(setup, args.seed)
    curves, _, _ = rb._noise_correlation_curves(setup, result)
    s = setup.sparsities[-1]
    marks = [e for e in (10, 30, 60, 100, 200, 300, 400, 500) if e <= setup.epochs]
    print(f"C(t) at 90% sparsity, mean ± std over {setup.seeds} seeds, epochs {marks}")
    for key in [("dense", 0.0)] + [(m, s) for m in rx.ALL_METHODS]:
        C = curves[key]["C"]
        print(f"{key[0]:>26} " + "  ".join(f"{C[:, e - 1].mean():.3f}±{C[:, e - 1].std(ddof=1):.3f}"
                                          if C.shape[0] > 1 else f"{C[0, e - 1]:.3f}"
                                          for e in marks))
    print("MSE(T) (clipped):", {m: round(float(curves[(m, s)]["mse"][:, -1].mean()), 3)
                                for m in rx.ALL_METHODS})
    print("per-layer density seed 0:", {k: v for k, v in result["layer_density_seed0"].items()
                                        if k.endswith(f"@{s}")})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("mi-k", "r2-budget"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    {"mi-k": mi_k, "r2-budget": r2_budget}[args.which](args)
    print(f"wall {time.perf_counter() - start:.0f} s on {platform.platform()}, "
          f"{platform.processor() or 'cpu'} (2 shared cores: timings are noisy)")


if __name__ == "__main__":
    main()
