"""The ``pai_net.*`` claims: pruning at initialization against IMP on LeNet-300-100 (MNIST),
trained through the engine into the run store (:mod:`sims.lenet_mnist`).

* ``capacity_ordering``: No Free Prune claim 5 (spec nofreeprune.md §8.5) on a real network:
  memorization of random labels at equal sparsity >= 90%;
* ``pai_below_imp``: the premise of No Free Prune (§1 [P], after Frankle et al. 2020b) that
  pruning at initialization does not find the lottery tickets IMP finds: test accuracy at
  the sparsest levels.

Labels: [P] the paper, [S] secondary summaries, [R] this project's choice (spec §0).
"""

from __future__ import annotations

import numpy as np

from sims import lenet_mnist as ln
from sims.registry import Budget, ClaimContext, Outcome, claim

PAI = ("snip", "grasp", "synflow", "random")
PAI_ALL = PAI + ("magnitude-init",)
QUICK_REASON = ("one seed and a few dozen steps on a small MNIST subset: no seed spread and "
                "too little training to decide an ordering between pruning methods; quick "
                "checks that the pipeline runs")

# ----------------------------------------------------------------------- capacity (claim 5)
#: the random-label runs (spec §7 R1/R3 [R]: Adam 1e-3, batch 64 [P]; a fixed number of epochs
#: instead of the paper's convergence rule): n MNIST training images whose labels are all
#: redrawn uniformly from the 10 classes (one draw, LABEL_SEED), LeNet-300-100, IMP with global
#: magnitude pruning of 55% of the survivors per level, so levels 3-5 sit at sparsity 90.9%,
#: 95.9%, 98.2% (spec §8.5: {0.9, 0.95, 0.98})
CAPACITY_RECIPE = dict(model="lenet300", dataset="mnist", optimizer="adam", learning_rate=1e-3,
                       batch_size=64, validation_size=0, allocation="global")
CAPACITY_BUDGETS = {
    "quick": dict(CAPACITY_RECIPE, train_subset=256, epochs=10, prune_fraction=0.9,
                  prune_fraction_output=0.9, levels=1, seeds=1),
    "full": dict(CAPACITY_RECIPE, train_subset=1000, epochs=40, prune_fraction=0.55,
                 prune_fraction_output=0.55, levels=5, seeds=3),
    "paper": dict(CAPACITY_RECIPE, train_subset=2000, epochs=500, prune_fraction=0.2,
                  prune_fraction_output=0.2, levels=18, seeds=5),
}
LABEL_SEED = 2402_01089          # arXiv 2402.01089: the one draw of the random labels
TARGETS = (0.9, 0.95, 0.98)      # spec §8.5's sparsities
CAPACITY_STORE = "mnist-random-labels"


def random_label_data(budget: dict):
    """The budget's MNIST training images with every label redrawn uniformly from the 10
    classes by ``numpy.random.default_rng(LABEL_SEED)``; the test split is that training set,
    so a run's test accuracy is its memorization (train accuracy on the random labels)."""
    data = ln.mnist(budget)
    labels = np.random.default_rng(LABEL_SEED).integers(0, 10, len(data.y_train))
    return ln.replace_labels(data, labels.astype(data.y_train.dtype))


def _compared_levels(densities: list[float], targets) -> list[int]:
    """The level nearest (in log density) to each target sparsity at or above 90%."""
    logs = np.log(np.asarray(densities[1:]))
    return sorted({1 + int(np.argmin(np.abs(logs - np.log(1 - t)))) for t in targets})


@claim("pai_net.capacity_ordering",
       source="Kumar, Luo & Sellke 2024, experiments: masks from IMP and magnitude pruning after "
              "training have more capacity than PaI masks [P/S]; claim 5 and its pass rule "
              "spec nofreeprune.md §8.5 [R]; LeNet-300-100 on MNIST with random labels (R3) [R]",
       statement="LeNet-300-100 on MNIST images with random labels, at equal sparsity >= 90%: "
                 "memorization (train accuracy on the random labels) satisfies IMP >= "
                 "magnitude-after > {SNIP, GraSP, SynFlow, random}; checked as IMP - best PaI "
                 "> 2 pooled seed std at >= 2 of the 3 sparsities, all methods within 1 pp "
                 "at 0%.",
       budget=Budget(
           quick="LeNet-300-100, 256 MNIST images with random labels, Adam 1e-3, batch 64, "
                 "10 epochs per level, 1 level at 90% sparsity (global), IMP, magnitude-after "
                 "(= IMP at one level), random; 1 seed",
           full="LeNet-300-100, 1,000 MNIST training images with all labels random (one "
                "draw), Adam 1e-3, batch 64, 40 epochs per level; IMP with global magnitude "
                "pruning of 55% per level, 5 levels (sparsity 55, 79.8, 90.9, 95.9, 98.2%), "
                "rewind to θ_0; magnitude-after (dense, one global prune to the level's "
                "density, rewind, retrain) at 90.9/95.9/98.2%; SNIP, GraSP, SynFlow (100 "
                "rounds), random at IMP's counts; seeds 0-2",
           paper="the paper's sizes were not retrieved (spec §5.1); the spec's recipe: "
                 "LeNet-300-100, 2,000 MNIST images with random labels, Adam 1e-3, batch 64, "
                 "up to 500 epochs, IMP 20% per round to 98.2% (18 levels), the same PaI "
                 "methods and magnitude-after, 5 seeds"),
       paper="IMP and magnitude-after masks memorize more than PaI masks at the same sparsity "
             "(qualitative, Fig. 1 [P/S]; no numbers retrieved, spec §5.1)")
def capacity_ordering(ctx: ClaimContext) -> Outcome:
    budget = ctx.pick(CAPACITY_BUDGETS["quick"], CAPACITY_BUDGETS["full"],
                      CAPACITY_BUDGETS["paper"])
    seeds = ln.seeds_of(ctx, budget)
    data = random_label_data(budget)
    store = ctx.runs() / CAPACITY_STORE
    pai = PAI if ctx.full else ("random",)
    curves = {m: ln.level_accuracy(ln.run_levels(ctx, m, budget, dataset=data, store=store),
                                   seeds, budget["levels"])
              for m in ("imp",) + pai}
    densities = [row["density"] for row in curves["imp"]]
    levels = _compared_levels(densities, TARGETS)
    keep = 1.0 - budget["prune_fraction"]
    after = {}
    for level in levels:
        run = ln.run_levels(ctx, "imp", budget, dataset=data, store=store, levels=1,
                            prune_fraction=1.0 - keep ** level,
                            prune_fraction_output=1.0 - keep ** level)
        after[level] = ln.level_accuracy(run, seeds, 1)
    table, wins = {}, 0
    for level in levels:
        row = {m: curves[m][level] for m in curves}
        row["magnitude-after"] = after[level][1]
        best = max(pai, key=lambda m: row[m]["mean"])
        gap = row["imp"]["mean"] - row[best]["mean"]
        pooled = ln.pooled_std(row["imp"], row[best])
        wins += gap > 2 * pooled
        table[f"{1 - densities[level]:.4f}"] = {
            "level": level, "density": densities[level],
            "magnitude_after_density": row["magnitude-after"]["density"],
            "memorization": {m: {"mean": r["mean"], "std": r["std"], "per_seed": r["per_seed"]}
                             for m, r in row.items()},
            "best_pai": best, "imp_minus_best_pai": gap, "pooled_std": pooled,
            "imp_gap_passes": bool(gap > 2 * pooled),
            "imp_minus_magnitude_after": row["imp"]["mean"] - row["magnitude-after"]["mean"],
            "magnitude_after_minus_best_pai": row["magnitude-after"]["mean"] - row[best]["mean"]}
    dense = [curves[m][0]["mean"] for m in curves] + [after[k][0]["mean"] for k in after]
    dense_spread = max(dense) - min(dense)
    needed = min(2, len(levels))
    ordering = {s: {"imp>=magnitude-after": t["imp_minus_magnitude_after"] >= 0,
                    "magnitude-after>best_pai": t["magnitude_after_minus_best_pai"] > 0}
                for s, t in table.items()}
    return Outcome(
        predicted=float(needed), observed=float(wins), tolerance=0.0,
        passed=wins >= needed and dense_spread <= 0.01,
        comparison=f"sparsities (of {len(levels)} >= 90%) where IMP - best PaI memorization > "
                   f"2 pooled std >= {needed}; level-0 (dense) memorization of every method "
                   f"within 1 pp (spread {100 * dense_spread:.2f} pp)",
        inconclusive=None if ctx.full else QUICK_REASON,
        details={"seeds": seeds, "n_random_labels": budget["train_subset"],
                 "label_seed": LABEL_SEED, "epochs": budget["epochs"],
                 "densities": densities, "compared_levels": levels, "table": table,
                 "full_ordering_imp_ge_after_gt_pai": ordering,
                 "dense_memorization_spread": dense_spread,
                 "curves": {m: [{"density": r["density"], "mean": r["mean"], "std": r["std"]}
                                for r in rows] for m, rows in curves.items()}})


# ----------------------------------------------------------------------- PaI below IMP
PAI_PAPER_BUDGET = dict(model="lenet300", dataset="mnist", levels=18, seeds=5)


@claim("pai_net.pai_below_imp",
       source="Kumar, Luo & Sellke 2024, §1: lottery tickets exist but pruning at "
              "initialization (SNIP, GraSP, SynFlow, random, magnitude at init) does not find "
              "them, after Frankle et al. 2020b [P] (spec nofreeprune.md §1); pass rule (the "
              "form of §8.5) [R]",
       statement="LeNet-300-100 on MNIST: at the three sparsest levels, IMP's test accuracy "
                 "exceeds that of the best PaI method (SNIP, GraSP, SynFlow, magnitude at init, "
                 "random, each at IMP's kept count) by > 2 pooled seed std at >= 2 of them.",
       budget=Budget(
           quick=ln.LEVEL_BUDGET_TEXT["quick"] + "; IMP, SNIP",
           full=ln.LEVEL_BUDGET_TEXT["full"] + "; IMP, LRR, SNIP, GraSP, SynFlow (100 rounds), "
                "magnitude at init, random (PaI at IMP's total count, global allocation)",
           paper="Frankle & Carbin 2019's LeNet-300-100 recipe: Adam 1.2e-3, batch 60, 50,000 "
                 "iterations per level, 20% per level (10% output), 18 levels (density 1.8%), "
                 "the same methods, 5 seeds"),
       paper="PaI methods do not find lottery tickets: at high sparsity their accuracy stays "
             "below IMP's (qualitative [P], citing Frankle et al. 2020b; no numbers in the "
             "spec)")
def pai_below_imp(ctx: ClaimContext) -> Outcome:
    budget = ctx.pick(ln.LEVEL_BUDGETS["quick"], ln.LEVEL_BUDGETS["full"], PAI_PAPER_BUDGET)
    seeds = ln.seeds_of(ctx, budget)
    pai = PAI_ALL if ctx.full else ("snip",)
    methods = ("imp", "lrr") + pai if ctx.full else ("imp",) + pai
    curves = {m: ln.level_accuracy(ln.run_levels(ctx, m, budget), seeds, budget["levels"])
              for m in methods}
    levels = list(range(max(1, budget["levels"] - 2), budget["levels"] + 1))
    table, wins = {}, 0
    for level in levels:
        row = {m: curves[m][level] for m in methods}
        best = max(pai, key=lambda m: row[m]["mean"])
        gap = row["imp"]["mean"] - row[best]["mean"]
        pooled = ln.pooled_std(row["imp"], row[best])
        wins += gap > 2 * pooled
        table[f"{row['imp']['density']:.4f}"] = {
            "level": level, "best_pai": best, "imp_minus_best_pai": gap, "pooled_std": pooled,
            "imp_gap_passes": bool(gap > 2 * pooled),
            "lrr_minus_best_pai": (row["lrr"]["mean"] - row[best]["mean"]) if "lrr" in row
            else None}
    needed = min(2, len(levels))
    return Outcome(
        predicted=float(needed), observed=float(wins), tolerance=0.0, passed=wins >= needed,
        comparison=f"of the {len(levels)} sparsest levels, those where IMP - best PaI test "
                   f"accuracy > 2 pooled std >= {needed}",
        inconclusive=None if ctx.full else QUICK_REASON,
        details={"seeds": seeds, "compared_levels": levels, "table": table,
                 "curves": {m: [{"density": r["density"], "mean": r["mean"], "std": r["std"],
                                 "per_seed": r["per_seed"]} for r in rows]
                            for m, rows in curves.items()}})
