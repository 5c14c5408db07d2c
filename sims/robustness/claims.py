"""Claims of "No Free Prune" (Kumar, Luo & Sellke, ICML 2024) and the law of robustness
(Bubeck & Sellke 2021) behind it: spec ``nofreeprune.md`` §8, claims 1-8, and the
real-data recipe R3 on MNIST (``robustness.mnist_noise_memorization``).

Labels: [P] the paper's text, [S] secondary summaries, [BS] Bubeck-Sellke (exact),
[R] derived for the spec (not a quote of the paper). The experiment sizes are our defaults
(spec §7); the paper's were not retrieved.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sims.registry import ClaimContext, Expected, Outcome, claim
from sims.robustness import figures
from sims.verdicts import SPEC_THRESHOLD_NOT_MET
from theory import effective_params as ep
from theory import mi_estimators as mi

# --------------------------------------------------------------------------- presets
_R1 = {
    # quick: measured to decide as the full preset does (IMP - best PaI >= 6 pooled std at
    # 90% at each of seeds 0-9); the earlier n=128, d=10, width 32 barely memorized (dense
    # 0.54) and failed at seed 0 (docs/robustness.md, "Quick preset")
    "quick": dict(n=256, d=20, width=128, outputs=10, epochs=100, seeds=3,
                  sparsities=(0.9,), imp_max_fraction=0.2),
    "full": dict(n=2000, d=50, width=200, outputs=10, epochs=60, seeds=3,
                 sparsities=(0.9, 0.95, 0.98), imp_max_fraction=0.2),
}
_R2 = {
    "quick": dict(n=128, d=10, width=32, outputs=1, epochs=300, seeds=2,
                  sparsities=(0.9,), imp_max_fraction=0.7),
    "full": dict(n=2000, d=50, width=200, outputs=1, epochs=60, seeds=3,
                 sparsities=(0.9,), imp_max_fraction=0.2),
}
_INFO = {
    "quick": dict(n=64, d=10, width=16, classes=10, epochs=30, datasets=50, density=0.1,
                  imp_max_fraction=0.7, prune_examples=64),
    "full": dict(n=500, d=20, width=64, classes=10, epochs=40, datasets=50, density=0.1,
                 imp_max_fraction=0.2, prune_examples=100),
}
_R4 = {
    "quick": dict(n=64, d=40, widths=(8, 16, 32, 64), epochs=600, seeds=2, eps=0.3,
                  random_points=1000, pgd_radius=0.1),
    "full": dict(n=200, d=50, widths=(8, 16, 32, 64, 128, 256, 512), epochs=1000, seeds=3,
                 eps=0.5, random_points=10_000, pgd_radius=0.1),
}
_R3 = {
    # quick: measured to decide as the full preset does (IMP - best PaI >= 8 pooled std at
    # each of seeds 0-9, dense memorizes >= 0.99); the earlier width 32, 30 epochs, 2 seeds
    # memorized 0.52 dense and failed at seed 1 of 0-4 (docs/robustness.md, "Quick preset")
    "quick": dict(n=128, d=784, width=64, outputs=10, epochs=60, seeds=3,
                  sparsities=(0.9,), imp_max_fraction=0.7, fractions=(1.0,)),
    "full": dict(n=1000, d=784, width=200, outputs=10, epochs=30, seeds=2,
                 sparsities=(0.9,), imp_max_fraction=0.2, fractions=(0.2, 0.4, 1.0)),
}


# --------------------------------------------------------------------------- cached experiments
def _pruning_setup(config: dict, **extra):
    """A PruningSetup from a preset row; IMP's path prunes at most ``imp_max_fraction`` of
    the remaining weights per round (spec §7 R1: 20%) and lands on every compared sparsity."""
    from sims.robustness import experiments as rx

    config = dict(config)
    fraction = config.pop("imp_max_fraction")
    return rx.PruningSetup(imp_levels=rx.imp_path(config["sparsities"], fraction), **config,
                           **extra)


def _r2_setup(preset: str):
    return _pruning_setup(_R2[preset], task="regression",
                          prune_examples=min(100, _R2[preset]["n"]), flip=0.2)


@functools.lru_cache(maxsize=4)
def _r1(seed: int, preset: str):
    from sims.robustness import experiments as rx

    setup = _pruning_setup(_R1[preset], task="classification",
                           prune_examples=min(100, _R1[preset]["n"]))
    return setup, rx.run_pruning_comparison(setup, seed)


@functools.lru_cache(maxsize=4)
def _r2(seed: int, preset: str):
    from sims.robustness import experiments as rx

    setup = _r2_setup(preset)
    return setup, rx.run_pruning_comparison(setup, seed)


def _info_setup(preset: str, **overrides):
    from sims.robustness import experiments as rx

    config = dict(_INFO[preset], **overrides)
    fraction = config.pop("imp_max_fraction")
    return rx.InformationSetup(imp_levels=rx.imp_path((1.0 - config["density"],), fraction),
                               **config)


@functools.lru_cache(maxsize=4)
def _info(seed: int, preset: str):
    from sims.robustness import experiments as rx

    setup = _info_setup(preset)
    masks, layer_sizes = rx.run_mask_information(setup, seed)
    return setup, masks, layer_sizes


def _noise_correlation_curves(setup, result):
    """C(t) = (1/n) Σ clip(f_t(x_i)) z_i and MSE(t) per method, run and epoch (R2)."""
    z = np.stack([np.asarray(d["z"]) for d in result["data"]])          # (S, n)
    y = np.stack([np.asarray(d["y"]) for d in result["data"]])
    g = np.stack([np.asarray(d["g"]) for d in result["data"]])
    curves = {}
    runs = {("dense", 0.0): result["dense"]}
    for method, by_sparsity in result["records"].items():
        for sparsity, rec in by_sparsity.items():
            runs[(method, sparsity)] = rec
    for key, rec in runs.items():
        f = np.clip(np.asarray(rec["outputs"], dtype=np.float64), -1.0, 1.0)   # (S, E, n)
        curves[key] = {"C": np.mean(f * z[:, None, :], axis=-1),
                       "mse": np.mean((f - y[:, None, :]) ** 2, axis=-1)}
    return curves, z.astype(np.float64), g.astype(np.float64)


# --------------------------------------------------------------------------- claim 1
@claim("robustness.noise_correlation_implication",
       source="Bubeck & Sellke 2021, Lemma 2.1 [BS]; spec nofreeprune.md §8.1; the constant ε/4 "
              "is the algebraic consequence of the two events (derived here [R])",
       statement="At every logged epoch of every R2 run: if the clipped fit is below the noise "
                 "level by ε = σ² - MSE > 0 and ||Z||² >= σ² - ε/6, <Z,G> >= -ε/6, then the "
                 "noise correlation (1/n) Σ f(x_i) z_i >= ε/4 (zero violations).")
def noise_correlation_implication(ctx: ClaimContext) -> Outcome:
    setup, result = _r2(ctx.seed, ctx.preset)
    sigma2 = 1.0 - (1.0 - 2.0 * setup.flip) ** 2
    curves, z, g = _noise_correlation_curves(setup, result)
    z_sq = np.mean(z ** 2, axis=1)                  # (S,)
    zg = np.mean(z * g, axis=1)
    eligible = violations = below_third = total = 0
    min_slack = math.inf
    for key, c in curves.items():
        eps = sigma2 - c["mse"]                       # (S, E)
        events = (eps > 0) & (z_sq[:, None] >= sigma2 - eps / 6) & (zg[:, None] >= -eps / 6)
        total += eps.size
        eligible += int(events.sum())
        if events.any():
            slack = c["C"][events] - eps[events] / 4.0
            violations += int(np.sum(slack < -1e-9))
            below_third += int(np.sum(c["C"][events] < eps[events] / 3.0))
            min_slack = min(min_slack, float(slack.min()))
    return Outcome(
        predicted=0.0, observed=float(violations), tolerance=0.0,
        passed=violations == 0 and eligible > 0,
        comparison="violations == 0 (float tolerance 1e-9) and at least one eligible (run, epoch)",
        details={"sigma2": sigma2, "runs_x_epochs": total, "eligible": eligible,
                 "min_slack_C_minus_eps_over_4": min_slack,
                 "eligible_with_C_below_eps_over_3": below_third,
                 "note": "the spec's eps/3 does not follow from the two events; eps/4 does "
                         "(theory.effective_params.lemma21_tight_minimum)"})


# --------------------------------------------------------------------------- claim 2
@claim("robustness.mi_decoupling_lemma",
       source="spec nofreeprune.md §4.2, MI decoupling lemma [R]; checked exactly on an "
              "enumerable toy (spec §6.6)",
       statement="For a tiny network pruned after training on every possible data set, the exact "
                 "joint law of (mask, data) satisfies P(E) <= (I(m;D) + log 2)/log(1/Q(E)) and "
                 "kl(P(E)||Q(E)) <= I(m;D) for every tested event E (zero violations).")
def mi_decoupling_lemma(ctx: ClaimContext) -> Outcome:
    from sims.robustness import experiments as rx

    joint, masks = rx.toy_mask_data_joint(n=3, keep=3, seed=ctx.seed)
    info = mi.mutual_information(joint)
    product = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    rng = np.random.default_rng(ctx.seed)
    events = ctx.size(2000, 20_000)
    violations = nontrivial = 0
    min_gap = math.inf
    graph = joint > 0
    for t in range(events):
        if t % 2 == 0:       # random subsets of the whole table
            event = rng.random(joint.shape) < rng.uniform(0.01, 0.6)
        else:                # pieces of the mask-function's graph: the informative events
            event = graph & (rng.random(joint.shape[1]) < rng.uniform(0.05, 1.0))[None, :]
        p_e, q_e = float(joint[event].sum()), float(product[event].sum())
        bound = ep.mi_decoupling_bound(info, q_e)
        kl_ok = ep.binary_kl(p_e, q_e) <= info + 1e-12
        if not (p_e <= bound + 1e-12 and kl_ok):
            violations += 1
        if bound < 1.0:
            nontrivial += 1
            min_gap = min(min_gap, bound - p_e)
    return Outcome(
        predicted=0.0, observed=float(violations), tolerance=0.0,
        passed=violations == 0 and nontrivial > 0,
        comparison="violations == 0 and at least one event where the bound is < 1",
        details={"I_mask_data_nats": info, "H_max_log_C(6,3)": math.log(20),
                 "distinct_masks": len(masks), "datasets": joint.shape[1], "events": events,
                 "events_with_bound_below_1": nontrivial, "min_bound_minus_P(E)": min_gap})


# --------------------------------------------------------------------------- claims 3, 4
@claim("robustness.entropy_cap",
       source="spec nofreeprune.md §6.2 and §8.3 [R]",
       statement="For every pipeline (IMP, magnitude-after, SNIP, GraSP, SynFlow, random, magnitude "
                 "at init) with W0 fixed and K = 50 data sets, the plug-in Σ_j h(p̂_j) does not "
                 "exceed log C(P, s).")
def entropy_cap(ctx: ClaimContext) -> Outcome:
    setup, masks, layer_sizes = _info(ctx.seed, ctx.preset)
    P = sum(layer_sizes)
    s = int(masks["imp"][0].sum())
    cap = ep.mask_entropy_bound(P, s)
    plugin = {m: mi.plugin_information_upper(v, miller_madow=False) for m, v in masks.items()}
    corrected = {m: mi.plugin_information_upper(v) for m, v in masks.items()}
    counts_ok = all(bool(np.all(v.sum(axis=1) == s)) for v in masks.values())
    worst = max(plugin.values())
    return Outcome(
        predicted=cap, observed=worst, tolerance=0.0,
        passed=worst <= cap and counts_ok,
        comparison="max over pipelines of plug-in Σ_j h(p̂_j) <= log C(P, s), every mask of size s",
        details={"P": P, "s": s, "K": setup.datasets, "log_C_P_s": cap,
                 "per_coordinate_cap_P_h(s/P)": float(P * mi.binary_entropy(s / P)),
                 "plugin": plugin, "plugin_miller_madow": corrected,
                 "note": "Σ_j H(m_j) <= P h(s/P) always; log C(P, s) is smaller by about "
                         "½ log(2π s(1-s/P)), so the check relies on the plug-in's low bias"})


@claim("robustness.data_independent_masks",
       source="spec nofreeprune.md §4.3.1 [P/S + R] and §8.4 (ratio threshold qualitative [R])",
       statement="With W0 fixed, random, magnitude-at-init and SynFlow masks are identical across "
                 "data sets (Î = 0 exactly); SNIP and GraSP give Î > 0 with Î_SNIP / Î_IMP < 0.5.",
       expected=Expected(
           SPEC_THRESHOLD_NOT_MET,
           reason="Î_SNIP / Î_IMP is 0.73 at the full preset (1.75 at quick, seed 0), not < 0.5; "
                  "SNIP's Î alone is 50% of the estimator's ceiling, so no IMP could bring the "
                  "ratio below 0.50 at these sizes. The data-free parts hold.",
           doc="docs/robustness.md#claim-4-data_independent_masks"))
def data_independent_masks(ctx: ClaimContext) -> Outcome:
    setup, masks, _ = _info(ctx.seed, ctx.preset)
    free = {m: mi.is_data_independent(masks[m]) for m in ("random", "magnitude", "synflow")}
    info = {m: mi.plugin_information_upper(v) for m, v in masks.items()}
    ratio = info["snip"] / info["imp"] if info["imp"] > 0 else math.inf
    passed = (all(free.values()) and all(info[m] == 0.0 for m in free)
              and info["snip"] > 0 and info["grasp"] > 0 and ratio < 0.5)
    # Diagnostics (not part of the pass rule): the estimator's ceiling, and the ratio on the
    # first k of the K data sets (is it dominated by the plug-in's small-K bias?).
    K, P = masks["imp"].shape
    s = int(masks["imp"][0].sum())
    ceiling = mi.plugin_ceiling(P, s, K)
    by_k = {}
    for k in sorted({min(K, k) for k in (10, 20, 30, 40, K)}):
        sub = {m: mi.plugin_information_upper(masks[m][:k]) for m in ("snip", "grasp", "imp")}
        by_k[k] = {"snip_over_imp": sub["snip"] / sub["imp"] if sub["imp"] > 0 else None,
                   "grasp_over_imp": sub["grasp"] / sub["imp"] if sub["imp"] > 0 else None,
                   "I_hat_nats": sub}
    plain = {m: mi.plugin_information_upper(masks[m], miller_madow=False)
             for m in ("snip", "grasp", "imp")}
    return Outcome(
        predicted=0.5, observed=ratio, tolerance=0.0, passed=passed,
        comparison="data-free pipelines give identical masks and Î = 0; Î_SNIP, Î_GraSP > 0; "
                   "Î_SNIP / Î_IMP < 0.5",
        details={"data_independent": free, "I_hat_miller_madow_nats": info,
                 "grasp_over_imp": info["grasp"] / info["imp"] if info["imp"] > 0 else None,
                 "K": K, "P": P, "s": s, "density": setup.density,
                 "snip_over_imp_without_miller_madow": plain["snip"] / plain["imp"]
                 if plain["imp"] > 0 else None,
                 "plugin_ceiling_nats": ceiling,
                 "fraction_of_ceiling": {m: v / ceiling for m, v in info.items()},
                 "smallest_snip_over_imp_any_imp_could_give": info["snip"] / ceiling,
                 "ratio_on_first_k_datasets": by_k,
                 "note": "Î is Σ_j h(p̂_j) + Miller-Madow, an estimate of the upper bound "
                         "Σ_j H(m_j | W0) >= I(m; D); it cannot exceed plugin_ceiling_nats, so "
                         "the ratio cannot fall below Î_SNIP / ceiling"})


# --------------------------------------------------------------------------- claim 5
def _summaries(values):
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


@claim("robustness.capacity_ordering",
       source="Kumar, Luo & Sellke 2024, Fig. 1 setup and finding [P/S]; recipe R1 and pass rule "
              "spec §7, §8.5 [R]",
       statement="Memorization of random labels (final train accuracy) at equal sparsity >= 90%: "
                 "IMP beats the best PaI method (SNIP, GraSP, SynFlow, random, magnitude at init) "
                 "by > 2 pooled seed std at >= 2 sparsities; at 0% all methods coincide.")
def capacity_ordering(ctx: ClaimContext) -> Outcome:
    from sims.robustness import experiments as rx

    setup, result = _r1(ctx.seed, ctx.preset)
    final = {m: {s: np.asarray(r["accuracy"])[:, -1] for s, r in by.items()}
             for m, by in result["records"].items()}
    dense = np.asarray(result["dense"]["accuracy"])[:, -1]
    table, wins = {}, 0
    for s in setup.sparsities:
        row = {m: _summaries(final[m][s]) for m in rx.ALL_METHODS}
        best_pai = max(rx.PAI_METHODS, key=lambda m: row[m][0])
        gap = row["imp"][0] - row[best_pai][0]
        pooled = math.sqrt((row["imp"][1] ** 2 + row[best_pai][1] ** 2) / 2)
        wins += gap > 2 * pooled
        table[str(s)] = {"mean_std": row, "best_pai": best_pai, "imp_gap": gap,
                         "pooled_std": pooled, "imp_gap_passes": gap > 2 * pooled,
                         "magnitude_after_rewind_minus_best_pai":
                             row["magnitude_after"][0] - row[best_pai][0],
                         "magnitude_after_finetune_minus_best_pai":
                             row["magnitude_after_finetune"][0] - row[best_pai][0],
                         "imp_minus_magnitude_after_rewind":
                             row["imp"][0] - row["magnitude_after"][0],
                         "imp_minus_magnitude_after_finetune":
                             row["imp"][0] - row["magnitude_after_finetune"][0]}
    needed = min(2, len(setup.sparsities))
    figures.memorization(ctx.figure_path("robustness_memorization.png"), setup, final, dense)
    return Outcome(
        predicted=float(needed), observed=float(wins), tolerance=0.0,
        passed=wins >= needed and result["dense_masks_all_true"],
        comparison=f"number of sparsities where IMP - best PaI > 2 pooled std >= {needed}; "
                   "every method's 0%-sparsity mask is all-True (one shared dense run)",
        figure="robustness_memorization.png",
        details={"setup": {k: v for k, v in vars(setup).items()}, "seeds": setup.seeds,
                 "seed": ctx.seed, "dense_accuracy_mean_std": _summaries(dense),
                 "all_methods_identical_at_0": result["dense_masks_all_true"], "table": table,
                 "per_layer_density_seed0": result["layer_density_seed0"]})


# --------------------------------------------------------------------------- claim 6
@claim("robustness.noise_correlation_ordering",
       source="Kumar, Luo & Sellke 2024, measured quantity 2 [S]; recipe R2 and pass rule "
              "spec §7, §8.6 [R]",
       statement="At 90% sparsity (R2, 20% label flips), the final noise correlation C(T) of IMP "
                 "and of magnitude-after (rewind or fine-tune) exceeds every PaI method's by "
                 "> 2 pooled seed std, and "
                 "C(t) grows over training (C(T) > C(1)) for every run.",
       expected=Expected(
           SPEC_THRESHOLD_NOT_MET,
           reason="SynFlow, a data-free PaI method, ends with the highest noise correlation at "
                  "90% sparsity (full preset: 0.383 vs IMP 0.298, magnitude-after <= 0.232), so "
                  "the ordering margin is -0.17, not > 0; C(t) grows for every run.",
           doc="docs/robustness.md#claim-6-noise_correlation_ordering"))
def noise_correlation_ordering(ctx: ClaimContext) -> Outcome:
    from sims.robustness import experiments as rx

    setup, result = _r2(ctx.seed, ctx.preset)
    curves, _, _ = _noise_correlation_curves(setup, result)
    s = setup.sparsities[-1]
    final = {m: curves[(m, s)]["C"][:, -1] for m in rx.ALL_METHODS}
    stats = {m: _summaries(v) for m, v in final.items()}
    gaps = {}
    for trained in rx.TRAINED_METHODS:
        for method in rx.PAI_METHODS:
            pooled = math.sqrt((stats[trained][1] ** 2 + stats[method][1] ** 2) / 2)
            gaps[f"{trained}-{method}"] = {"gap": stats[trained][0] - stats[method][0],
                                           "pooled_std": pooled}
    def beats_all_pai(trained):
        return min(gaps[f"{trained}-{m}"]["gap"] - 2 * gaps[f"{trained}-{m}"]["pooled_std"]
                   for m in rx.PAI_METHODS)

    margins = {t: beats_all_pai(t) for t in rx.TRAINED_METHODS}
    ordered = margins["imp"] > 0 and max(margins["magnitude_after"],
                                         margins["magnitude_after_finetune"]) > 0
    grows = {m: bool(np.all(curves[(m, s)]["C"][:, -1] > curves[(m, s)]["C"][:, 0]))
             for m in rx.ALL_METHODS}
    min_margin = min(margins["imp"], max(margins["magnitude_after"],
                                         margins["magnitude_after_finetune"]))
    figures.noise_correlation(ctx.figure_path("robustness_noise_correlation.png"), setup, curves,
                              s)
    return Outcome(
        predicted=0.0, observed=min_margin, tolerance=0.0,
        passed=ordered and all(grows.values()),
        comparison="IMP and at least one magnitude-after variant (rewind or fine-tune; the "
                   "paper's choice is unknown) beat every PaI method by > 2 pooled std "
                   "(observed: the smaller of the two margins), and C(T) > C(1) for every run",
        figure="robustness_noise_correlation.png",
        details={"sparsity": s, "seeds": setup.seeds, "seed": ctx.seed, "epochs": setup.epochs,
                 "imp_levels": list(setup.imp_levels), "final_C_mean_std": stats,
                 "gaps": gaps, "margins_over_pai": margins,
                 "C_grows": grows,
                 "dense_final_C_mean_std": _summaries(curves[("dense", 0.0)]["C"][:, -1]),
                 "C_rise_per_epoch_last_10": {
                     m: float(np.mean(curves[(m, s)]["C"][:, -1] - curves[(m, s)]["C"][:, -11]) / 10)
                     for m in rx.ALL_METHODS} if setup.epochs > 10 else None,
                 "per_layer_density_seed0": {k: v for k, v in result["layer_density_seed0"].items()
                                             if k.endswith(f"@{s}")}})


# --------------------------------------------------------------------------- claim 7
@claim("robustness.lipschitz_scaling",
       source="Bubeck & Sellke 2021, Thm 3 [BS] (slope -1/2 of the lower bound); recipe R4 and "
              "window spec §7, §8.7 [R] (exploratory)",
       statement="For below-noise fits with n <= p <= nd, the estimated lower bound on Lip falls "
                 "as p grows with log-log slope in [-0.8, -0.2], and every measured Lip is >= the "
                 "absolute BS Theorem 3 bound (<= 1e-2 here).",
       expected=Expected(
           SPEC_THRESHOLD_NOT_MET,
           reason="the lower Lipschitz estimate falls with p, but with slope -0.11 +- 0.03 over "
                  "seeds at the full preset (-0.06 at quick), outside the window [-0.8, -0.2]; "
                  "the trained networks sit 5.5-7.5x above the smallest possible Lipschitz "
                  "constant. The absolute bound holds.",
           doc="docs/robustness.md#claim-7-lipschitz_scaling"))
def lipschitz_scaling(ctx: ClaimContext) -> Outcome:
    from sims.robustness import experiments as rx

    setup = rx.LipschitzSetup(**_R4[ctx.preset])
    rows, sigma2 = rx.run_lipschitz_scaling(setup, ctx.seed)
    n, d = setup.n, setup.d
    in_regime = [r for r in rows if n <= r["p"] <= n * d and r["fit_below_noise"]]
    ps = sorted({r["p"] for r in in_regime})
    mean_lip = [np.mean([r["lip_lower"] for r in in_regime if r["p"] == p]) for p in ps]
    slope = float(np.polyfit(np.log(ps), np.log(mean_lip), 1)[0]) if len(ps) >= 3 else math.nan
    bounds = []
    for r in rows:
        # weights bounded by W = max|θ|, J from BS Lemma 3.1 with depth 2, Q = 1, R = max||x||
        W = max(r["w_max"], 1e-12)
        J = r["x_radius"] * (W * r["p"]) ** 2
        bounds.append(ep.law_of_robustness_bound(n, d, r["p"], setup.eps, W=W, J=J, delta=0.1))
    bounds_ok = all(r["lip_lower"] >= b for r, b in zip(rows, bounds)) and max(bounds) <= 1e-2
    # Diagnostics (not part of the pass rule): slope per seed, and the floor L* that no fit of
    # any width can go below (theory.lipschitz_floor), against which the trained nets are read.
    per_seed = []
    for s in sorted({r["seed_index"] for r in in_regime}):
        mine = sorted((r["p"], r["lip_lower"]) for r in in_regime if r["seed_index"] == s)
        if len(mine) >= 3:
            per_seed.append(float(np.polyfit(np.log([p for p, _ in mine]),
                                             np.log([v for _, v in mine]), 1)[0]))

    def slope_of(key):
        means = [np.mean([r[key] for r in in_regime if r["p"] == p]) for p in ps]
        return float(np.polyfit(np.log(ps), np.log(means), 1)[0]) if len(ps) >= 3 else math.nan

    other_slopes = {k: slope_of(k) for k in ("lip_grad", "lip_pgd", "lip_grad_clipped",
                                               "lip_train_pairs", "lip_upper")}
    floors = rx.lipschitz_floors(setup, ctx.seed)
    pairs_above_floor = all(r["lip_train_pairs"] >= floors[r["seed_index"]][0] * (1 - 1e-4)
                            for r in rows if r["fit_below_noise"])
    figures.lipschitz(ctx.figure_path("robustness_lipschitz.png"), setup, rows, ps, mean_lip,
                      slope, floors)
    return Outcome(
        predicted=-0.5, observed=slope, tolerance=0.3,
        passed=bool(-0.8 <= slope <= -0.2) and bounds_ok,
        comparison="slope of log Lip_lower vs log p (n <= p <= nd, below-noise fits) in "
                   "[-0.8, -0.2]; measured Lip >= BS bound, bound <= 1e-2",
        figure="robustness_lipschitz.png",
        details={"setup": vars(setup), "sigma2": sigma2, "seed": ctx.seed,
                 "points_in_regime": len(in_regime), "all_fit_below_noise":
                 all(r["fit_below_noise"] for r in rows), "max_bs_bound": max(bounds),
                 "bs_side_condition_holds": ep.law_of_robustness_side_condition(n, setup.eps, 0.1),
                 "bounds_satisfied": bounds_ok, "slope_per_seed": per_seed,
                 "slope_of_other_estimates": other_slopes,
                 "slope_per_seed_mean_std": _summaries(per_seed) if per_seed else None,
                 "lipschitz_floor_lower_upper_per_seed": floors,
                 "train_pair_ratio_above_floor": pairs_above_floor,
                 "mean_lip_lower_over_floor_by_p": {
                     int(p): float(v / np.mean([u for _, u in floors]))
                     for p, v in zip(ps, mean_lip)},
                 "rows": rows})


# --------------------------------------------------------------------------- claim 8
@claim("robustness.worst_case_inflation",
       source="spec nofreeprune.md §4.2 Version C and §8.8 [R]",
       statement="For every P and s, the worst-case count s·log(60WJ/ε) + log C(P, s) exceeds "
                 "s·log(60WJ/ε) by at most s(1 + log(P/s)) (exact lgamma arithmetic).")
def worst_case_inflation(ctx: ClaimContext) -> Outcome:
    import math as _m

    Ps = np.unique(np.round(np.logspace(0, ctx.size(6, 8), ctx.size(60, 400))).astype(np.int64))
    worst, checked = -math.inf, 0
    log_net = 20.0
    for P in Ps:
        ss = np.unique(np.round(np.linspace(1, P, min(int(P), 50))).astype(np.int64))
        excess = np.array([ep.worst_case_p_eff(int(P), int(s), log_net) - s * log_net for s in ss])
        cap = np.array([ep.entropy_cap_upper(int(P), int(s)) for s in ss])
        worst = max(worst, float(np.max(excess - cap)))
        checked += len(ss)
    exact_err = max(abs(ep.log_binomial(P, s) - _m.log(_m.comb(P, s)))
                    for P in range(1, 300, 7) for s in range(0, P + 1, 3))
    return Outcome(
        predicted=0.0, observed=worst, tolerance=1e-9,
        passed=worst <= 1e-9 and exact_err < 1e-9,
        comparison="max over (P, s) of [log C(P, s) - s(1 + log(P/s))] <= 1e-9; lgamma matches "
                   "exact integer log C(P, s) to 1e-9",
        details={"pairs_checked": checked, "max_P": int(Ps.max()),
                 "max_abs_error_vs_math.comb": exact_err,
                 "lenet300_density_0.1_log_C_over_s": ep.log_binomial(266200, 26620) / 26620,
                 "lenet300_density_0.01_log_C_over_s": ep.log_binomial(266200, 2662) / 2662})


# --------------------------------------------------------------------------- R3 (MNIST)
@claim("robustness.mnist_noise_memorization",
       source="Kumar, Luo & Sellke 2024, Fig. 1(b) setup (Fashion-MNIST there; MNIST here) [P]; "
              "recipe R3 and pass rule spec §7, §8.5 [R]",
       statement="MLP 784-200-200-10 on 1000 MNIST images with 20%, 40% or 100% randomized labels, "
                 "90% sparsity: the fraction of corrupted labels memorized is higher for IMP than "
                 "for the best PaI method by > 2 pooled seed std at >= 2 of the 3 noise levels.")
def mnist_noise_memorization(ctx: ClaimContext) -> Outcome:
    import dataclasses

    from sims.robustness import experiments as rx
    from sims.robustness import mnist as mn

    preset = dict(_R3[ctx.preset])
    fractions = preset.pop("fractions")
    setup = _pruning_setup(preset, task="classification_predictions",
                           prune_examples=100 if ctx.full else 64)
    sparsity = setup.sparsities[-1]
    table, wins, memorized = {}, 0, {}
    for fraction in fractions:
        def make_data(key, fraction=fraction):
            x, y, corrupted = mn.noisy_mnist_subset(key, setup.n, fraction)
            return {"x": x, "y": y, "corrupted": corrupted}

        result = rx.run_pruning_comparison(setup, ctx.seed, make_data=make_data)
        corrupted = np.stack([np.asarray(d["corrupted"]) for d in result["data"]])     # (S, n)
        labels = np.stack([np.asarray(d["y"]) for d in result["data"]])

        def noise_fit(rec):
            pred = np.asarray(rec["predictions"])[:, -1, :]                            # (S, n)
            return np.array([np.mean(pred[s][corrupted[s]] == labels[s][corrupted[s]])
                             for s in range(pred.shape[0])])

        row = {m: noise_fit(result["records"][m][sparsity]) for m in rx.ALL_METHODS}
        row["dense"] = noise_fit(result["dense"])
        stats = {m: _summaries(v) for m, v in row.items()}
        best_pai = max(rx.PAI_METHODS, key=lambda m: stats[m][0])
        gap = stats["imp"][0] - stats[best_pai][0]
        pooled = math.sqrt((stats["imp"][1] ** 2 + stats[best_pai][1] ** 2) / 2)
        wins += gap > 2 * pooled
        memorized[fraction] = stats
        table[str(fraction)] = {"memorized_mean_std": stats, "best_pai": best_pai, "imp_gap": gap,
                                "pooled_std": pooled, "imp_gap_passes": gap > 2 * pooled,
                                "corrupted_per_seed": corrupted.sum(axis=1).tolist()}
    needed = min(2, len(fractions))
    figures.mnist(ctx.figure_path("robustness_mnist.png"), setup, memorized, sparsity)
    return Outcome(
        predicted=float(needed), observed=float(wins), tolerance=0.0, passed=wins >= needed,
        comparison=f"number of noise levels where IMP - best PaI > 2 pooled std >= {needed}",
        figure="robustness_mnist.png",
        details={"setup": dataclasses.asdict(setup), "fractions": list(fractions),
                 "sparsity": sparsity, "seed": ctx.seed, "table": table,
                 "data": str(mn.mnist_dir())})

