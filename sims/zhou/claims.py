"""Claims 4-12 of Zhou et al. 2019 (spec ``zhou.md`` §8) on LeNet-300-100 / MNIST and
Conv2/4/6 / CIFAR-10, through the named experiments (``sims.zhou.runs``).

Labels: [P] the paper's text, [C] the official code, [Rep] the McGill reproduction (official
code, 5 seeds), [S] secondary summaries. Accuracies are in percent; chance on the MNIST test
set is 11.35% (the frequency of digit 1). The full budgets are the CPU budgets behind
docs/zhou.md ("Reproduced on real MNIST"); the paper budgets are the official code's.
"""

from __future__ import annotations

import numpy as np

from sims.registry import Budget, ClaimContext, Expected, Outcome, claim
from sims.verdicts import NOT_REPRODUCED
from sims.zhou import runs

MNIST_CHANCE = 11.35
_SPEC = "Zhou et al. 2019 (spec zhou.md)"
_QUICK_LOOP = ("LeNet-300-100 on the first 600 MNIST training images (validation 5,000, test "
               "10,000), Adam lr 1.2e-3 batch 60, 20 iterations per round (one evaluation)")
_FULL_LOOP = ("LeNet-300-100 on MNIST (55,000 / 5,000 / 10,000), Adam lr 1.2e-3 batch 60, "
              "2,000 iterations per round (the paper: 50,000; eval every 200), seeds s..s+2")
_PAPER_LOOP = ("LeNet-300-100 on MNIST, 50,000 iterations per round, eval every 100, 24 rounds, "
               "seeds s..s+4 (official code)")
_QUICK_REASON = ("600 training images and 20 iterations per round leave the network far from "
                 "trained (about 80-87% dense), so this accuracy statement of a fully "
                 "trained FC net cannot be decided at this size")


def _curves(run: str, ctx: ClaimContext) -> dict:
    return runs.results(run, ctx.preset, ctx.seed, ctx.runs())["curves"]


def _at(curve: dict, level: int) -> tuple[float, float, float]:
    """(mean, std, % remaining) of ``curve`` at round ``level``."""
    i = curve["levels"].index(level)
    return curve["mean"][i], curve["std"][i], curve["remaining"][i]


def _levels_at_most(curve: dict, percent: float) -> list[int]:
    return [k for k, r in zip(curve["levels"], curve["remaining"]) if r <= percent]


# --------------------------------------------------------------------------- claim 4
@claim("zhou.dense_fc_baseline",
       source=f"{_SPEC} §8 claim 4, §2.4; [Rep] mean 0.979",
       statement="The dense LeNet-300-100 reaches 97.9 ± 0.4% test accuracy on MNIST at the "
                 "early-stopping iteration (minimum validation loss).",
       budget=Budget(
           quick="level 0 of the quick criteria grid: " + _QUICK_LOOP + ", seed s",
           full="the dense networks of the full heuristic-supermask run (zhou.heuristic_"
                "supermask_fc): LeNet-300-100, full MNIST, 50,000 iterations, 10 evaluations "
                "(early stopping among them), seeds s..s+2",
           paper="level 0 of the paper criteria grid: 50,000 iterations, eval every 100, "
                 "seeds s..s+4"),
       paper="97.9% dense FC test accuracy at early stopping [Rep mean 0.979]; "
             "claim band 97.9 ± 0.4%")
def dense_fc_baseline(ctx: ClaimContext) -> Outcome:
    from lottery_core.analysis import accuracy_vs_density
    from lottery_core.store import layout

    if ctx.preset == "full":
        directory = runs.folder("supermask_fc", "full", ctx.seed, ctx.runs())
        [table] = accuracy_vs_density(directory / layout.RUNS, "early_stop").values()
        values = [100 * v for v in table[0]["values"]]
        mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
        source = "dense runs of the heuristic-supermask experiment"
    else:
        curve = _curves("criteria", ctx)["large_final"]
        mean, std, _ = _at(curve, 0)
        values = list(curve["per_seed"]["0"].values())
        source = "level 0 of the criteria grid"
    return Outcome(
        predicted=97.9, observed=mean, tolerance=0.4,
        details={"per_seed": values, "std": std, "from": source},
        inconclusive=_QUICK_REASON if ctx.preset == "quick" else None)


# --------------------------------------------------------------------------- claim 5
@claim("zhou.lt_matches_dense",
       source=f"{_SPEC} §8 claim 5 (Fig. 3) [P]; [Rep] 98.2-98.4% at 17-7% remaining",
       statement="The lottery ticket (large_final, rewind, zero) at 17-7% of the weights "
                 "remaining (rounds 8-12) reaches at least the dense accuracy minus 0.2 pp.",
       budget=Budget(quick="large_final of the quick criteria grid: " + _QUICK_LOOP + ", seed s",
                     full="large_final of the full criteria grid (20 rounds): " + _FULL_LOOP,
                     paper="large_final of the paper criteria grid: " + _PAPER_LOOP),
       paper="LT at 17-7% remaining ≥ dense (Rep: 98.2-98.4% against 97.9%) [P/Rep]; "
             "tolerance LT − dense ≥ −0.2 pp")
def lt_matches_dense(ctx: ClaimContext) -> Outcome:
    curve = _curves("criteria", ctx)["large_final"]
    dense = _at(curve, 0)[0]
    rounds = [k for k in range(8, 13) if k in curve["levels"]]
    gaps = {k: _at(curve, k)[0] - dense for k in rounds}
    worst = min(gaps.values())
    return Outcome(
        predicted=-0.2, observed=worst, tolerance=0.0, passed=worst >= -0.2,
        comparison=f"min over rounds 8-12 of (LT − dense) = {worst:+.2f} pp >= −0.2 pp "
                   f"(dense {dense:.2f}%)",
        details={"dense": dense, "lt_minus_dense_pp": gaps,
                 "lt": {k: _at(curve, k)[0] for k in rounds},
                 "remaining": {k: _at(curve, k)[2] for k in rounds}},
        inconclusive=_QUICK_REASON if ctx.preset == "quick" else None)


# --------------------------------------------------------------------------- claim 6
_BANDS = {"large_final": (95.5, 100.0), "magnitude_increase": (95.5, 100.0),
          "movement": (95.5, 100.0), "large_init_large_final": (88.0, 95.0),
          "random": (80.0, 93.0), "small_final": (0.0, 20.0),
          "small_init_small_final": (0.0, 20.0)}


@claim("zhou.criteria_ordering_k20",
       source=f"{_SPEC} §8 claim 6 (Fig. 3) [P/S]; bands from [Rep] (§3 table, k = 20)",
       statement="At 1.19% remaining (round 20) on FC: large_final, magnitude_increase, "
                 "movement ≥ 95.5%; large_init_large_final 88-95%; random 80-93%; "
                 "small_final and small_init_small_final ≤ 20%.",
       budget=Budget(quick="large_final, random, small_final, 20 rounds: " + _QUICK_LOOP
                           + ", seed s",
                     full="7 of the 9 criteria (not large_init, small_init), 20 rounds: "
                          + _FULL_LOOP,
                     paper="the 9 criteria of Fig. 3: " + _PAPER_LOOP),
       paper="Rep at k = 20: large_final .970, magnitude_increase .969, movement .968, "
             "large_init_large_final .921, random .875, small_init_small_final .139, "
             "small_final .113 [Rep]; the named criteria find good subnetworks, small_final "
             "collapses to chance [P]")
def criteria_ordering_k20(ctx: ClaimContext) -> Outcome:
    curves = _curves("criteria", ctx)
    at20 = {name: _at(curve, 20) for name, curve in curves.items()}
    checks = {name: bool(_BANDS[name][0] <= at20[name][0] <= _BANDS[name][1])
              for name in at20 if name in _BANDS}
    remaining = at20["large_final"][2]
    top = min(at20[n][0] for n in ("large_final", "magnitude_increase", "movement")
              if n in at20)
    rule = "; ".join(f"{n} {at20[n][0]:.2f} in [{_BANDS[n][0]:g}, {_BANDS[n][1]:g}]"
                     for n in checks)
    details = {"remaining_percent": remaining,
               "at_k20": {n: {"mean": m, "std": s} for n, (m, s, _) in at20.items()},
               "in_band": checks}
    if ctx.preset == "quick":
        # what this size decides (measured over seeds 0-4, docs/zhou.md): the schedule lands
        # on 1.19% exactly, small_final collapses to chance, large_final stays far above it
        lf, rnd, sf = (at20[n][0] for n in ("large_final", "random", "small_final"))
        passed = abs(remaining - 1.19) <= 0.01 and sf <= 20.0 and lf >= sf + 20.0
        return Outcome(
            predicted=1.19, observed=remaining, tolerance=0.01, passed=passed,
            comparison=f"quick: remaining {remaining:.3f}% = 1.19 ± 0.01, small_final "
                       f"{sf:.2f}% <= 20, large_final {lf:.2f}% >= small_final + 20 pp "
                       f"(the bands of large_final and random need full training)",
            details={**details, "random": rnd})
    return Outcome(predicted=95.5, observed=top, tolerance=0.0, passed=all(checks.values()),
                   comparison=rule + f" (remaining {remaining:.2f}%)", details=details)


# --------------------------------------------------------------------------- claim 7
@claim("zhou.small_final_collapse",
       source=f"{_SPEC} §8 claim 7 (Fig. 3) [P]; [Rep] small_final .357 at k = 12",
       statement="small_final first drops below 50% test accuracy at round 12-13 (7-5.5% "
                 "remaining) on FC, ±1 round.",
       budget=Budget(quick="small_final of the quick criteria grid: " + _QUICK_LOOP
                           + ", seed s",
                     full="small_final of the full criteria grid (20 rounds): " + _FULL_LOOP,
                     paper="small_final of the paper criteria grid: " + _PAPER_LOOP),
       paper="small_final collapses to chance at high pruning [P]; Rep: .966 at k = 8, .357 "
             "at k = 12 [Rep]")
def small_final_collapse(ctx: ClaimContext) -> Outcome:
    curve = _curves("criteria", ctx)["small_final"]
    below = [k for k, m in zip(curve["levels"], curve["mean"]) if m < 50.0]
    first = below[0] if below else float("nan")
    return Outcome(
        predicted=12.5, observed=first, tolerance=1.5,
        passed=bool(below) and 11 <= first <= 14,
        comparison=f"first round with small_final < 50%: {first} in [11, 14] (12-13 ± 1)",
        details={"mean_by_round": dict(zip(curve["levels"], curve["mean"])),
                 "remaining_by_round": dict(zip(curve["levels"], curve["remaining"]))},
        inconclusive=("an undertrained quick net (20 iterations per round) loses accuracy "
                      "at a different round than a trained one; the collapse round is a "
                      "property of full training") if ctx.preset == "quick" else None)


# --------------------------------------------------------------------------- claims 8, 9
def _gap(curves: dict, better: str, worse: str, level: int) -> dict:
    mb, sb, _ = _at(curves[better], level)
    mw, sw, _ = _at(curves[worse], level)
    return {"gap": mb - mw, "noise": 2 * max(sb, sw), "better": mb, "worse": mw}


_PAIRS = (("signed_reinit", "reinit"), ("signed_reshuffle", "reshuffle"),
          ("signed_constant", "constant"))


@claim("zhou.signs_mask1",
       source=f"{_SPEC} §8 claim 8 (Fig. 4) [P/S]",
       statement="At ≤ 7% remaining on FC, each sign-preserving mask-1 action (reinit, "
                 "reshuffle, constant) beats its unsigned counterpart by more than twice the "
                 "larger seed std, and comes within ~1 pp of rewinding.",
       budget=Budget(quick="large_final with mask-1 rewind, reinit, signed_reinit, 12 rounds: "
                           + _QUICK_LOOP + ", seeds s, s+1",
                     full="large_final with the 7 mask-1 actions, 12 rounds: " + _FULL_LOOP,
                     paper="large_final with the 7 mask-1 actions: " + _PAPER_LOOP),
       paper="unsigned reinit / reshuffle / constant clearly worse than rewinding, the "
             "sign-preserving ones approach it: \"signs are all you need\" [P/S] (the exact "
             "gaps were not retrieved)")
def signs_mask1(ctx: ClaimContext) -> Outcome:
    curves = {c["mask1"]: c for c in _curves("mask1", ctx).values()}
    levels = _levels_at_most(curves["rewind"], 7.0)
    pairs = [(s, u) for s, u in _PAIRS if s in curves and u in curves]
    table = {}
    for level in levels:
        rewind = _at(curves["rewind"], level)[0]
        for signed, unsigned in pairs:
            entry = _gap(curves, signed, unsigned, level)
            entry["below_rewind"] = rewind - entry["better"]
            table[f"{signed} vs {unsigned}, round {level}"] = entry
    margin = min(e["gap"] - e["noise"] for e in table.values())
    closeness = max(e["below_rewind"] for e in table.values())
    signs = f"at rounds {levels} (≤ 7% remaining): min(signed − unsigned − 2·std) = " \
            f"{margin:+.2f} pp > 0"
    if ctx.preset == "quick":
        # measured over seeds 0-4 (docs/zhou.md): signs decide even after 20 steps a round;
        # the distance to rewinding needs training (12.8 pp here)
        return Outcome(predicted=0.0, observed=margin, tolerance=0.0, passed=margin > 0,
                       comparison=f"quick, reinit pair only: {signs} (rewind − signed "
                                  f"{closeness:.2f} pp: not decided at this size)",
                       details={"pairs": table})
    return Outcome(
        predicted=0.0, observed=margin, tolerance=0.0,
        passed=len(pairs) == 3 and margin > 0 and closeness <= 1.0,
        comparison=f"{signs} and max(rewind − signed) = {closeness:.2f} pp <= 1",
        details={"pairs": table})


@claim("zhou.zeros_mask0",
       source=f"{_SPEC} §8 claim 9 (Fig. 5) [P/S]",
       statement="At ≤ 7% remaining on FC, freezing pruned weights at their initial values is "
                 "worse than freezing them at zero (gap > 2 × std); at the highest pruning "
                 "rate run, Variant 2 ≥ Variant 1 ≥ LT, each within noise (2 × std) or better.",
       budget=Budget(quick="large_final with mask-0 zero, freeze_init, 12 rounds: "
                           + _QUICK_LOOP + ", seeds s, s+1",
                     full="large_final with 4 mask-0 actions, 12 rounds: " + _FULL_LOOP,
                     paper="large_final with 4 mask-0 actions: " + _PAPER_LOOP),
       paper="freeze-at-init significantly worse than zero; Variant 1 matches LT at low and "
             "beats it at high pruning; Variant 2 better still [P/S]")
def zeros_mask0(ctx: ClaimContext) -> Outcome:
    curves = {c["mask0"]: c for c in _curves("mask0", ctx).values()}
    levels = _levels_at_most(curves["zero"], 7.0)
    frozen = {level: _gap(curves, "zero", "freeze_init", level) for level in levels}
    margin = min(e["gap"] - e["noise"] for e in frozen.values())
    zeros = f"rounds {levels}: min(zero − freeze_init − 2·std) = {margin:+.2f} pp > 0"
    if ctx.preset == "quick":
        # measured over seeds 0-4 (docs/zhou.md); the Variants are not run at this size
        return Outcome(predicted=0.0, observed=margin, tolerance=0.0, passed=margin > 0,
                       comparison=f"quick, freeze-at-init only: {zeros}",
                       details={"zero_vs_freeze_init": frozen})
    last = curves["zero"]["levels"][-1]
    v2_v1 = _gap(curves, "freeze_init_zero_all", "freeze_init_zero_mask", last)
    v1_lt = _gap(curves, "freeze_init_zero_mask", "zero", last)
    passed = margin > 0 and all(e["gap"] >= -e["noise"] for e in (v2_v1, v1_lt))
    return Outcome(
        predicted=0.0, observed=margin, tolerance=0.0, passed=passed,
        comparison=f"{zeros}; round {last}: V2 − V1 = {v2_v1['gap']:+.2f} >= "
                   f"−{v2_v1['noise']:.2f}, V1 − LT = {v1_lt['gap']:+.2f} >= "
                   f"−{v1_lt['noise']:.2f}",
        details={"zero_vs_freeze_init": frozen, "variant2_vs_variant1": v2_v1,
                 "variant1_vs_lt": v1_lt, "last_round": last})


# --------------------------------------------------------------------------- claim 10
@claim("zhou.heuristic_supermask_fc",
       source=f"{_SPEC} §8 claim 10, §6.2 [P/Rep]",
       statement="Untrained FC with one-shot masks from a trained copy: large_final peaks at "
                 "30-45%, large_final_same_sign at 72-86%, signed constants raise the "
                 "large_final_same_sign peak, random / small_final / large_init stay within "
                 "5-15%, and the peaks lie at roughly 20-50% remaining.",
       budget=Budget(
           quick="dense LeNet-300-100 trained 300 iterations on the first 600 MNIST images, "
                 "large_final and large_final_same_sign at powers 0, 4, 8, seed s",
           full="dense LeNet-300-100 trained 50,000 iterations on MNIST (10 evaluations), the "
                "15 criteria of the official list, powers 0..24, seeds s..s+2",
           paper="as full, seeds s..s+4, eval every 100 (official code)"),
       paper="large_final \"nearly 40%\", large_final_same_sign \"over 80%\", signed constant "
             "up to 86% [P]; Rep: 36% and 76% peaks at 41-17% remaining [Rep]")
def heuristic_supermask_fc(ctx: ClaimContext) -> Outcome:
    result = runs.results("supermask_fc", ctx.preset, ctx.seed, ctx.runs())
    init, signed = result["curves"]["init"], result["curves"]["signed_constant"]
    peak = {name: curve["peak"] for name, curve in init.items()}
    lfss = peak["large_final_same_sign"]["mean"]
    details = {"peaks_init": peak,
               "peaks_signed_constant": {n: c["peak"] for n, c in signed.items()},
               "remaining": result["remaining"]}
    if ctx.preset == "quick":
        passed = lfss >= MNIST_CHANCE + 20.0
        return Outcome(
            predicted=MNIST_CHANCE + 20.0, observed=lfss, tolerance=0.0, passed=passed,
            comparison=f"quick: untrained large_final_same_sign peak {lfss:.1f}% >= chance "
                       f"{MNIST_CHANCE} + 20 pp (a supermask exists; the bands need a fully "
                       f"trained dense net)",
            details=details)
    powers, remaining = result["powers"], result["remaining"]
    # "roughly 20-50%": the powers whose remaining lies in [20, 50]%, widened by one power
    inside = [k for k, r in zip(powers, remaining) if 20.0 <= r <= 50.0]
    near = set(range(min(inside) - 1, max(inside) + 2))
    lf = peak["large_final"]["mean"]
    lfss_signed = signed["large_final_same_sign"]["peak"]["mean"]
    chance_like = {n: peak[n]["mean"] for n in ("random", "small_final", "large_init")}
    located = {n: peak[n]["power"] for n in ("large_final", "large_final_same_sign")}
    conditions = {
        "large_final in [30, 45]": 30.0 <= lf <= 45.0,
        "large_final_same_sign in [72, 86]": 72.0 <= lfss <= 86.0,
        "signed constant >= init (large_final_same_sign)": lfss_signed >= lfss,
        "random, small_final, large_init in [5, 15]": all(5.0 <= v <= 15.0
                                                         for v in chance_like.values()),
        "peaks at roughly 20-50% remaining": all(k in near for k in located.values())}
    details["conditions"] = conditions
    return Outcome(
        predicted=80.0, observed=lfss, tolerance=0.0, passed=all(conditions.values()),
        comparison=f"large_final {lf:.1f} in [30, 45]; large_final_same_sign {lfss:.1f} in "
                   f"[72, 86]; signed constant {lfss_signed:.1f} >= {lfss:.1f}; random / "
                   f"small_final / large_init "
                   f"{' / '.join(f'{v:.1f}' for v in chance_like.values())} in [5, 15]; peak "
                   f"powers {located} within powers {min(near)}-{max(near)} "
                   f"(20-50% remaining ± one power)",
        details=details)


# --------------------------------------------------------------------------- claim 11
@claim("zhou.heuristic_supermask_cifar",
       source=f"{_SPEC} §8 claim 11, §6.2 [P]",
       statement="The best untrained large_final_same_sign supermask over Conv2/4/6 on "
                 "CIFAR-10 reaches about 24% (± 4 pp) with the initial values and about 41% "
                 "(± 5 pp) with signed constants.",
       budget=Budget(
           quick="none: training a CIFAR-10 conv net and evaluating it takes minutes on a "
                 "CPU (Conv2, 50 iterations on 600 images: 3.5 min on the loaded 2-core VM)",
           full="a reduced CPU run, not a test of the claim: one seed, dense Conv2 / Conv4 / "
                "Conv6 trained 1,500 / 600 / 400 iterations (the paper: 20-30K) on 45,000 "
                "CIFAR-10 images, large_final and large_final_same_sign at powers "
                "0,2,4,6,8,12,16,20, untrained nets tested on 2,000 test images",
           paper="dense Conv2 / Conv4 / Conv6 at the official iterations (20.3K / 25.5K / "
                 "30K), powers 0..24, full test set, seeds s..s+4 (a GPU run)"),
       paper="large_final_same_sign \"24% on CIFAR-10\" without training; up to 41% with "
             "signed constants (abstract) [P]")
def heuristic_supermask_cifar(ctx: ClaimContext) -> Outcome:
    if ctx.preset == "quick":
        return Outcome(predicted=24.0, observed=float("nan"), tolerance=4.0,
                       inconclusive="the quick budget trains no CIFAR-10 network (minutes "
                                    "each on a CPU); run --preset full or paper")
    best = {}
    for treatment in ("init", "signed_constant"):
        peaks = {}
        for net in ("conv2", "conv4", "conv6"):
            result = runs.results(f"supermask_{net}", ctx.preset, ctx.seed, ctx.runs())
            peaks[net] = result["curves"][treatment]["large_final_same_sign"]["peak"]
        name = max(peaks, key=lambda n: peaks[n]["mean"])
        best[treatment] = {"net": name, **peaks[name], "all": peaks}
    init, signed = best["init"]["mean"], best["signed_constant"]["mean"]
    passed = abs(init - 24.0) <= 4.0 and abs(signed - 41.0) <= 5.0
    return Outcome(
        predicted=24.0, observed=init, tolerance=4.0, passed=passed,
        comparison=f"best initial-values peak {init:.1f}% in 24 ± 4 and best signed-constant "
                   f"peak {signed:.1f}% in 41 ± 5",
        details=best,
        inconclusive=("one seed, dense nets trained to 48-60% instead of the paper's 65-80%, "
                      "8 of 25 powers and a 2,000-image test subset: the peaks are not the "
                      "paper's quantity (docs/zhou.md)") if ctx.preset == "full" else None)


# --------------------------------------------------------------------------- claim 12
def _learned(run: str, ctx: ClaimContext) -> tuple[float, float, dict]:
    result = runs.results(run, ctx.preset, ctx.seed, ctx.runs())
    kept = result["kept_fraction"]["mean"]
    details = {"per_seed": {s: 100 * v["test_accuracy_mean"] for s, v in result["seeds"].items()},
               "std": result["test_accuracy"]["std"], "kept_fraction": result["kept_fraction"],
               "epochs": result["settings"]["epochs"]}
    return result["test_accuracy"]["mean"], kept, details


_LEARNED_QUICK = ("a learned mask on the first 600 MNIST images (batch 50, 2 epochs, 2 mask "
                  "samples), seed s")
_LEARNED_QUICK_REASON = ("2 epochs on 600 images train the mask logits far less than the "
                         "paper's 2,000 epochs on 55,000 images")


@claim("zhou.learned_supermask_plain",
       source=f"{_SPEC} §8 claim 12, §6.3 [S]",
       statement="A learned Bernoulli supermask (straight-through) over the frozen random FC "
                 "reaches ≥ 95% MNIST test accuracy (mean of 10 mask samples), keeping a mean "
                 "σ(m) between 0.1 and 0.93.",
       budget=Budget(
           quick=_LEARNED_QUICK,
           full="LeNet-300-100, full MNIST, SGD momentum 0.9 lr 100 batch 250, 2,000 epochs "
                "(the official README's), 10 mask samples, seeds s..s+2",
           paper="as full, seeds s..s+4"),
       paper="95.3% on MNIST [S]",
       expected=Expected(NOT_REPRODUCED,
                         reason="94.89 ± 0.10% after the paper's 2,000 epochs (3 seeds), "
                                "0.11 pp short, with the curve flat (+0.08 pp over the last "
                                "1,000 epochs)",
                         doc="docs/zhou.md#why-the-plain-learned-mask-stays-below-95"))
def learned_supermask_plain(ctx: ClaimContext) -> Outcome:
    accuracy, kept, details = _learned("learned_plain", ctx)
    return Outcome(
        predicted=95.0, observed=accuracy, tolerance=0.0,
        passed=accuracy >= 95.0 and 0.1 <= kept <= 0.93,
        comparison=f"test {accuracy:.2f}% >= 95 and mean σ(m) {kept:.3f} in [0.1, 0.93]",
        details=details,
        inconclusive=_LEARNED_QUICK_REASON if ctx.preset == "quick" else None)


@claim("zhou.learned_supermask_signed_dwr",
       source=f"{_SPEC} §8 claim 12, §6.3 [S]",
       statement="A learned supermask over signed constants with dynamic weight rescaling "
                 "reaches 98 ± 0.7% MNIST test accuracy on FC, keeping a mean σ(m) between "
                 "0.1 and 0.93.",
       budget=Budget(
           quick=_LEARNED_QUICK + ", signed constants + DWR",
           full="signed constants + DWR, LeNet-300-100, full MNIST, SGD momentum 0.9 lr 100 "
                "batch 250, 200 epochs (the paper: 2,000), 10 mask samples, seeds s..s+2",
           paper="signed constants + DWR, 2,000 epochs, seeds s..s+4"),
       paper="FC 98.0% with signed constants + DWR [S, kosnil README]")
def learned_supermask_signed_dwr(ctx: ClaimContext) -> Outcome:
    accuracy, kept, details = _learned("learned_signed_dwr", ctx)
    return Outcome(
        predicted=98.0, observed=accuracy, tolerance=0.7,
        passed=abs(accuracy - 98.0) <= 0.7 and 0.1 <= kept <= 0.93,
        comparison=f"|test {accuracy:.2f}% − 98| <= 0.7 and mean σ(m) {kept:.3f} in "
                   f"[0.1, 0.93]",
        details=details,
        inconclusive=_LEARNED_QUICK_REASON if ctx.preset == "quick" else None)
