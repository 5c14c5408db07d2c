"""Claims 1-9 of spec lrr.md §3: the single hidden neuron a·relu(wᵀx) and the sign dynamics of
IMP vs LRR (Gadhikar & Burkholz, ICLR 2024, §2; model and results reconstructed in spec §1 [R, V]).

Predictions come from :mod:`theory.one_neuron`; observations from gradient descent (or RK4 for
the exact closed-form check) on the population loss, vmapped over initializations in
:mod:`sims.one_neuron.engine` (figures in :mod:`sims.one_neuron.figures`). Gaussian inputs
(closed-form population gradient) carry the d ≥ 2 Monte-Carlo claims; x ~ U[-1,1]^d is exact
for d = 1 (all d = 1 claims use it, c = 1/6) and a fixed scrambled-Sobol sample for d ≥ 2.

Outcome of a run: success = final loss < 1e-8 with the target coordinate kept; failure = final
loss at or above the failure level c/2 − 1e-6 (f has no positive correlation with the target:
f ≡ 0 is approached only algebraically fast in the absorbing region) or the target coordinate
pruned; anything else is "unconverged" and reported. For LRR the theory assumes a converged
dense phase: its run is counted only if the dense phase ended at the target (loss < 1e-8) or at
a stable failure (failure level with a(T) < 0); a dense run still near the unstable saddle
w ≈ 0 with a(T) > 0 (initializations near the measure-zero set w ∥ −e_1, or of tiny norm,
escape arbitrarily slowly) is counted as unconverged, not as a failure.
"""

from __future__ import annotations

import math

import numpy as np

from sims.one_neuron import engine, figures
from sims.registry import ClaimContext, Outcome, claim
from theory import one_neuron as theory

SOURCE = "Gadhikar & Burkholz, ICLR 2024, §2"
SUCCESS_LOSS = 1e-8
FAILURE_BAND = 1e-6
DIMS = (2, 5, 10, 50)
GAUSS_LR, GAUSS_STEPS = 0.1, 2000          # T = 200, lr·c = 0.05
D1_LR, D1_STEPS = 0.5, 4000                # uniform d = 1, c = 1/6: T = 2000
UNIFORM_LR, UNIFORM_STEPS = 0.3, 1500      # Sobol-sample uniform inputs, lr·c = 0.05
MAX_UNCONVERGED = 1e-3

_CACHE: dict[tuple, object] = {}


def _rng(ctx: ClaimContext, *tags: int) -> np.random.Generator:
    return np.random.default_rng([ctx.seed, *tags])


def _runs(ctx: ClaimContext) -> int:
    return ctx.size(quick=400, full=10_000)


def _stderr(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1.0 / n) / n)


def _classify(loss, correct, c: float):
    """(success, failure, unconverged) indicators of the final state of each run."""
    loss = np.asarray(loss, dtype=np.float64)
    finite = np.nan_to_num(loss, nan=np.inf)
    success = correct & (finite < SUCCESS_LOSS)
    failure = ~correct | (finite >= c / 2 - FAILURE_BAND)
    return success, failure & ~success, ~(success | failure)


# --------------------------------------------------------------------------- shared simulations
def _initializations(ctx: ClaimContext, init: str, d: int, tag: int):
    key = ("init", ctx.seed, ctx.preset, init, d, tag)
    if key not in _CACHE:
        _CACHE[key] = engine.sample_initializations(_rng(ctx, tag, d), _runs(ctx), d, init)
    return _CACHE[key]


def _dense(ctx: ClaimContext, init: str, d: int, tag: int):
    key = ("dense", ctx.seed, ctx.preset, init, d, tag)
    if key not in _CACHE:
        a0, w0 = _initializations(ctx, init, d, tag)
        _CACHE[key] = engine.simulate(a0, w0, law="gaussian", lr=GAUSS_LR, steps=GAUSS_STEPS)
    return _CACHE[key]


def _protocol(ctx: ClaimContext, init: str, d: int, keeps=(1,)):
    """One-shot (keeps=(1,)) or iterative pruning for IMP and LRR, Gaussian inputs."""
    tag = 8 if init == "margin" else 9
    key = ("protocol", ctx.seed, ctx.preset, init, d, keeps)
    if key not in _CACHE:
        a0, w0 = _initializations(ctx, init, d, tag)
        _CACHE[key] = engine.prune_protocol(a0, w0, law="gaussian", lr=GAUSS_LR, steps=GAUSS_STEPS,
                                            keeps=keeps, dense=_dense(ctx, init, d, tag),
                                            success_loss=SUCCESS_LOSS)
    return _CACHE[key]


def _dense_converged(dense_loss, dense_a, c: float):
    """Dense phase converged: to the target (loss < 1e-8) or to a stable failure (failure level
    with a(T) < 0). A run at the failure level with a(T) > 0 sits near the unstable saddle w ≈ 0."""
    return (dense_loss < SUCCESS_LOSS) | ((dense_loss >= c / 2 - FAILURE_BAND) & (dense_a < 0))


def _lrr_outcome(out, c: float):
    """(success, failure) of LRR, counting a run only if its dense phase converged (the theory's
    premise, see the module docstring); other runs are unconverged."""
    s, f, _ = _classify(out["lrr_loss"], out["lrr_mask_correct"], c)
    converged = _dense_converged(out["dense_loss"], out["dense_a"], c)
    return s & converged, f & converged


def _agreement(observed_success, observed_failure, predicted):
    """Fraction of converged runs whose outcome equals the prediction, and the unconverged fraction."""
    converged = observed_success | observed_failure
    agree = (observed_success == predicted)[converged]
    return (float(agree.mean()) if agree.size else float("nan"),
            float(1 - converged.mean()), int((~(observed_success == predicted))[converged].sum()))


# --------------------------------------------------------------------------- claim 1
@claim("one_neuron.conservation_law",
       source=f"{SOURCE}; spec lrr.md §1.3 and §3 claim 1 [R, V]",
       statement="a² − ‖w‖² is constant along gradient flow (any d, any symmetric input law); "
                 "one GD step changes it by lr²(∂_aL² − ‖∇_wL‖²), so the drift per step scales as lr².")
def conservation_law(ctx: ClaimContext) -> Outcome:
    d, horizon = 5, 10.0
    lrs = np.array([0.2, 0.1, 0.05, 0.025])
    rng = _rng(ctx, 1)
    a0, w0 = engine.sample_initializations(rng, _runs(ctx), d, "uniform")
    n_unif = ctx.size(quick=100, full=500)  # quick: same shapes as imp_lrr_uniform_inputs (one compile)
    x = engine.sobol_sample(d, ctx.size(quick=256, full=1024), ctx.seed)
    c0 = theory.conserved_quantity(a0, w0)
    per_step, per_step_unif = [], []
    for lr in lrs:
        steps = int(round(horizon / lr))
        res = engine.simulate(a0, w0, law="gaussian", lr=lr, steps=steps)
        per_step.append(np.mean(np.abs(theory.conserved_quantity(res["a"], res["w"]) - c0)) / steps)
        res = engine.simulate(a0[:n_unif], w0[:n_unif], law="uniform", lr=lr, steps=steps, x=x)
        drift = theory.conserved_quantity(res["a"], res["w"]) - c0[:n_unif]
        per_step_unif.append(np.mean(np.abs(drift)) / steps)
    slope = float(np.polyfit(np.log(lrs), np.log(per_step), 1)[0])
    slope_unif = float(np.polyfit(np.log(lrs), np.log(per_step_unif), 1)[0])
    rk4 = engine.simulate(a0, w0, law="gaussian", lr=0.02, steps=int(horizon / 0.02), method="rk4")
    rk4_drift = float(np.max(np.abs(theory.conserved_quantity(rk4["a"], rk4["w"]) - c0)))
    tol = 0.15
    passed = abs(slope - 2) <= tol and abs(slope_unif - 2) <= tol and rk4_drift < 1e-6

    figures.conservation(ctx.figure_path("one_neuron_conservation.png"), lrs, per_step,
                         per_step_unif, slope, slope_unif, len(x), d, horizon)
    return Outcome(
        predicted=2.0, observed=slope, tolerance=tol, passed=passed,
        comparison=f"|slope − 2| <= {tol} for both input laws (slope of log per-step drift vs log lr), "
                   "and RK4 drift < 1e-6",
        figure="one_neuron_conservation.png",
        details={"d": d, "horizon": horizon, "learning_rates": lrs, "runs_gaussian": len(a0),
                 "runs_uniform_inputs": n_unif, "sobol_points": len(x),
                 "per_step_drift_gaussian": per_step, "per_step_drift_uniform": per_step_unif,
                 "slope_uniform_inputs": slope_unif, "rk4_max_drift_h0.02": rk4_drift,
                 "init": "w0 ~ N(0, I/d), a0 = U[-1,1]·‖w0‖"})


# --------------------------------------------------------------------------- claim 2
@claim("one_neuron.d1_closed_form",
       source=f"{SOURCE}; spec lrr.md §1.4 and §3 claim 2 [R, V]",
       statement="For d = 1 in the region w > 0, (a + w)² follows the Riccati solution of §1.4 "
                 "(and p = a·w the sinh law in w < 0); max |closed form − ODE| <= 1e-8.")
def d1_closed_form(ctx: ClaimContext) -> Outcome:
    c = theory.C_UNIFORM
    n = _runs(ctx)
    rng = _rng(ctx, 2)
    a0 = rng.uniform(-1, 1, n)
    w0 = rng.uniform(-1, 1, n)
    w0 = np.where(w0 == 0, 0.5, w0)
    h, every, checkpoints = 1e-3, 500, 10
    a, w = a0, w0[:, None]
    err_pos = err_neg = 0.0
    compared = 0
    pos, neg = w0 > 0, w0 < 0
    for k in range(1, checkpoints + 1):
        res = engine.simulate(a, w, law="d1", c=c, lr=h, steps=every, method="rk4")
        a, w = res["a"], res["w"]
        t = k * every * h
        ca, cw = theory.d1_closed_form(a0[pos], w0[pos], t, c)
        valid = np.isfinite(ca)  # before the exit time of the region w > 0
        err_pos = max(err_pos, float(np.max(np.abs(np.r_[ca[valid] - a[pos][valid],
                                                          cw[valid] - w[pos, 0][valid]]), initial=0)))
        na, nw = theory.d1_negative_region_closed_form(a0[neg], w0[neg], t, c)
        err_neg = max(err_neg, float(np.max(np.abs(np.r_[na - a[neg], nw - w[neg, 0]]))))
        compared += int(valid.sum()) + int(neg.sum())
    observed = max(err_pos, err_neg)
    return Outcome(
        predicted=0.0, observed=observed, tolerance=1e-8,
        details={"runs": n, "c": c, "rk4_step": h, "times": [k * every * h for k in range(1, checkpoints + 1)],
                 "max_err_region_w_pos": err_pos, "max_err_region_w_neg": err_neg,
                 "comparisons": compared,
                 "init": "(a0, w0) ~ U[-1,1]²; w > 0 runs compared only before their exit time t*"})


# --------------------------------------------------------------------------- claim 3
@claim("one_neuron.d1_absorbing_region",
       source=f"{SOURCE}; spec lrr.md §1.4 and §3 claim 3 [R, V]",
       statement="For d = 1, if w(0) < 0 then w(t) < 0 for all t and the loss tends to "
                 "E[relu(x)²]/2 = 1/12 (x ~ U[-1,1]): the dead-sign trap.")
def d1_absorbing_region(ctx: ClaimContext) -> Outcome:
    c = theory.C_UNIFORM
    n = _runs(ctx)
    rng = _rng(ctx, 3)
    a0 = rng.uniform(-1, 1, n)
    w0 = -rng.uniform(1e-3, 1, n)
    res = engine.simulate(a0, w0[:, None], law="d1", c=c, lr=D1_LR, steps=D1_STEPS)
    horizon = D1_LR * D1_STEPS
    # GF bound: |p(T)| <= |p0|/(1 + 2c|p0|T) <= 1/(2cT), so |L(T) − c/2| = (c/2)p(T)² <= c/2·(2cT)^-2
    loss_gap_bound = 2 * (c / 2) / (2 * c * horizon) ** 2
    # signbit: negative at every step; |w| < 1e-150 is flushed to -0.0 by the engine, keeping its sign
    stays_negative = np.signbit(res["w0_max"])
    loss_gap = np.abs(res["loss"] - c / 2)
    ok = stays_negative & (loss_gap <= loss_gap_bound)
    return Outcome(
        predicted=1.0, observed=float(ok.mean()), tolerance=0.0,
        comparison="fraction of runs with w(t) < 0 at every step (sign bit; |w| < 1e-150 is "
                   "flushed to −0.0) and |L(T) − 1/12| <= bound equals 1",
        details={"runs": n, "lr": D1_LR, "steps": D1_STEPS, "horizon": horizon,
                 "max_over_runs_of_max_t_w": float(res["w0_max"].max()),
                 "runs_flushed_to_minus_zero": int(np.sum(res["w0_max"] == 0)),
                 "max_loss_gap": float(loss_gap.max()), "loss_gap_bound (2x GF bound)": loss_gap_bound,
                 "failure_loss": c / 2, "init": "a0 ~ U[-1,1], w0 ~ -U[1e-3, 1]"})


# --------------------------------------------------------------------------- claim 4
@claim("one_neuron.d1_success_rule",
       source=f"{SOURCE}, Fig. 1a [P]; exact rule derived in spec lrr.md §1.4, §3 claim 4 [R, V]",
       statement="For d = 1, training reaches the target iff w(0) > 0 and a(0) + w(0) > 0; under "
                 "a(0)² >= w(0)² this is the paper's quadrant rule a(0) > 0, w(0) > 0.")
def d1_success_rule(ctx: ClaimContext) -> Outcome:
    c = theory.C_UNIFORM
    n = _runs(ctx)
    rng = _rng(ctx, 4)
    a0 = rng.uniform(-1, 1, n)
    w0 = rng.uniform(-1, 1, n)
    res = engine.simulate(a0, w0[:, None], law="d1", c=c, lr=D1_LR, steps=D1_STEPS)
    success, failure, unconverged = _classify(res["loss"], np.ones(n, bool), c)
    predicted = theory.d1_succeeds(a0, w0)
    agreement, frac_unconv, disagreements = _agreement(success, failure, predicted)
    quadrant = theory.quadrant_rule(a0, w0)
    restricted = a0**2 >= w0**2
    quad_restricted = float((quadrant == success)[restricted].mean())
    quad_all = float((quadrant == success).mean())
    passed = agreement == 1.0 and frac_unconv == 0.0 and quad_restricted == 1.0

    figures.d1_rule(ctx.figure_path("one_neuron_d1_rule.png"), a0, w0, success)
    p_quad = 7 / 8  # quadrant rule is wrong exactly on {w > 0, -w < a <= 0}: area 1/8 of the square
    return Outcome(
        predicted=1.0, observed=agreement, tolerance=0.0, passed=passed,
        comparison="per-run agreement with w0>0 ∧ a0+w0>0 equals 1, no unconverged runs, and the "
                   "quadrant rule agrees on every run with a0² >= w0²",
        figure="one_neuron_d1_rule.png",
        details={"runs": n, "lr": D1_LR, "steps": D1_STEPS, "success_rate": float(success.mean()),
                 "unconverged_fraction": frac_unconv, "disagreements": disagreements,
                 "quadrant_agreement_where_a0sq_ge_w0sq": quad_restricted,
                 "runs_with_a0sq_ge_w0sq": int(restricted.sum()),
                 "quadrant_agreement_all": quad_all,
                 "quadrant_agreement_all_predicted": p_quad,
                 "quadrant_agreement_all_stderr": _stderr(p_quad, n),
                 "init": "(a0, w0) ~ U[-1,1]², inputs U[-1,1] (exact population gradient, c = 1/6)"})


# --------------------------------------------------------------------------- claim 5
@claim("one_neuron.sign_of_a_invariant",
       source=f"{SOURCE}, Fig. 1c [P]; spec lrr.md §1.3 and §3 claim 5 [R, V]",
       statement="If a(0)² >= ‖w(0)‖² the sign of a never changes during training (|a| >= √C); "
                 "checked with a margin |a(0)| = 1.2‖w(0)‖ for d in {2, 5, 10, 50}.")
def sign_of_a_invariant(ctx: ClaimContext) -> Outcome:
    per_d, kept, total, min_ratio = {}, 0, 0, np.inf
    for d in DIMS:
        a0, w0 = _initializations(ctx, "margin", d, 8)
        res = _dense(ctx, "margin", d, 8)
        same = np.where(a0 > 0, res["a_min"] > 0, res["a_max"] < 0)
        lowest = np.where(a0 > 0, res["a_min"], -res["a_max"])
        ratio = lowest / np.sqrt(theory.conserved_quantity(a0, w0))
        min_ratio = min(min_ratio, float(ratio.min()))
        per_d[d] = {"runs": len(a0), "sign_kept": float(same.mean())}
        kept += int(same.sum())
        total += len(a0)
    return Outcome(
        predicted=1.0, observed=kept / total, tolerance=0.0,
        comparison="fraction of runs with sign(a(t)) = sign(a(0)) at every GD step equals 1",
        details={"per_d": per_d, "min_over_runs_of_min_t|a|/sqrt(C0)": min_ratio,
                 "lr": GAUSS_LR, "steps": GAUSS_STEPS, "inputs": "Gaussian (closed form)",
                 "init": "w0 ~ N(0, I/d), a0 = ±1.2‖w0‖"})


# --------------------------------------------------------------------------- claim 6
@claim("one_neuron.overparameterized_sign_flip",
       source=f"{SOURCE}, Fig. 1b-c [P]; spec lrr.md §1.5 and §3 claim 6 [R, V]",
       statement="For d >= 2, a(0) > 0 with a(0)² > ‖w(0)‖² and w_1(0) < 0: w_1 becomes positive "
                 "and dense training converges to a·w = e_1 (impossible for d = 1).")
def overparameterized_sign_flip(ctx: ClaimContext) -> Outcome:
    per_d, flipped, total = {}, 0, 0
    for d in DIMS:
        rng = _rng(ctx, 6, d)
        w0 = rng.normal(size=(_runs(ctx), d)) / math.sqrt(d)
        w0[:, 0] = -np.abs(w0[:, 0])
        a0 = 1.2 * np.linalg.norm(w0, axis=1)
        # d = 2: the escape from near w ∥ −e_1 is slowest (the half-space {wᵀx > 0} barely
        # meets {x_1 > 0}); a 3x longer horizon costs little at d = 2
        steps = 3 * GAUSS_STEPS if d == 2 else GAUSS_STEPS
        res = engine.simulate(a0, w0, law="gaussian", lr=GAUSS_LR, steps=steps)
        on_target = (res["loss"] < SUCCESS_LOSS) & (np.max(np.abs(res["a"][:, None] * res["w"]
                                                                  - np.eye(d)[0]), axis=1) < 1e-3)
        ok = (res["w"][:, 0] > 0) & on_target
        per_d[d] = {"runs": len(a0), "steps": steps, "flipped_and_converged": float(ok.mean()),
                    "max_final_loss": float(res["loss"].max())}
        flipped += int(ok.sum())
        total += len(a0)
    observed = flipped / total
    return Outcome(
        predicted=1.0, observed=observed, tolerance=MAX_UNCONVERGED,
        comparison="1 − fraction(w_1(T) > 0 and loss < 1e-8 and |a·w − e_1|∞ < 1e-3) <= 1e-3 "
                   "(runs near the measure-zero set w ∥ −e_1 escape arbitrarily slowly)",
        details={"per_d": per_d, "lr": GAUSS_LR, "inputs": "Gaussian",
                 "init": "w0 ~ N(0, I/d) with w0_1 := −|w0_1|, a0 = 1.2‖w0‖"})


# --------------------------------------------------------------------------- claim 7
@claim("one_neuron.mask_identification",
       source=f"{SOURCE}, Fig. 1b-c [P]; spec lrr.md §1.6 and §3 claim 7 [R, V]",
       statement="After dense training the largest |w_i(T)| is the target coordinate, so magnitude "
                 "pruning finds the correct mask for both IMP and LRR, in >= 99% of runs.")
def mask_identification(ctx: ClaimContext) -> Outcome:
    per_d, hits, total = {}, 0, 0
    for d in DIMS:
        a0, _ = _initializations(ctx, "margin", d, 8)
        res = _dense(ctx, "margin", d, 8)
        nonzero = np.max(np.abs(res["w"]), axis=1) > 0
        correct = (np.argmax(np.abs(res["w"]), axis=1) == 0) & nonzero
        per_d[d] = {"runs": len(a0), "correct_mask": float(correct.mean()),
                    "correct_mask_a0_pos": float(correct[a0 > 0].mean()),
                    "correct_mask_a0_neg": float(correct[a0 < 0].mean()),
                    "runs_with_w_underflowed_to_0": int((~nonzero).sum())}
        hits += int(correct.sum())
        total += len(a0)
    observed = hits / total
    return Outcome(
        predicted=1.0, observed=observed, tolerance=0.01, passed=observed >= 0.99,
        comparison="fraction with argmax_i |w_i(T)| = target >= 0.99 (w ≡ 0 counts as a miss)",
        details={"per_d": per_d, "inputs": "Gaussian", "init": "w0 ~ N(0, I/d), a0 = ±1.2‖w0‖",
                 "stderr": _stderr(observed, total)})


# --------------------------------------------------------------------------- claim 8
@claim("one_neuron.imp_lrr_per_run_agreement",
       source=f"{SOURCE}, Fig. 1b-c [P]; spec lrr.md §1.6 and §3 claim 8 [R, V]",
       statement="Under a(0)² > ‖w(0)‖², per run: LRR succeeds iff a(0) > 0 and IMP succeeds iff "
                 "a(0) > 0 and w_1(0) > 0, for d in {2, 5, 10, 50} (one-shot pruning to 1 weight).")
def imp_lrr_per_run_agreement(ctx: ClaimContext) -> Outcome:
    per_d, worst, worst_unconv = {}, 1.0, 0.0
    c = theory.C_GAUSSIAN
    for d in DIMS:
        a0, w0 = _initializations(ctx, "margin", d, 8)
        out = _protocol(ctx, "margin", d)
        row = {"runs": len(a0)}
        for method, predicted in (("imp", theory.imp_succeeds(a0, w0)),
                                  ("lrr", theory.lrr_succeeds(a0, w0))):
            if method == "lrr":
                s, f = _lrr_outcome(out, c)
            else:
                s, f, _ = _classify(out["imp_loss"], out["imp_mask_correct"], c)
            agreement, unconv, wrong = _agreement(s, f, predicted)
            row[method] = {"agreement": agreement, "unconverged": unconv, "disagreements": wrong,
                           "rate": float(s.mean())}
            worst = min(worst, agreement)
            worst_unconv = max(worst_unconv, unconv)
        per_d[d] = row
        if d == 5:
            figures.sign_plane(ctx.figure_path("one_neuron_sign_plane.png"), a0, w0, out,
                               "d = 5, a(0) = ±1.2‖w(0)‖: IMP needs the quadrant, LRR the "
                               "half-plane a(0) > 0")
    return Outcome(
        predicted=1.0, observed=worst, tolerance=0.0, passed=worst == 1.0 and worst_unconv <= MAX_UNCONVERGED,
        comparison="every converged run agrees with the predicted outcome (min over d and method), "
                   "and at most 0.1% of runs are unconverged",
        figure="one_neuron_sign_plane.png",
        details={"per_d": per_d, "max_unconverged_fraction": worst_unconv, "lr": GAUSS_LR,
                 "steps_per_phase": GAUSS_STEPS, "inputs": "Gaussian",
                 "init": "w0 ~ N(0, I/d), a0 = ±1.2‖w0‖"})


@claim("one_neuron.imp_lrr_success_rates",
       source=f"{SOURCE}, abstract [P]; rates derived in spec lrr.md §1.6 and §3 claim 8 [R, V]",
       statement="With a(0) = ±1.2‖w(0)‖ (fair sign): P(LRR) = 1/2 and P(IMP) = 1/4 for every d >= 2; "
                 "for d = 1 (nothing to prune) both are 1/4.")
def imp_lrr_success_rates(ctx: ClaimContext) -> Outcome:
    rows, worst_dev, worst_se = {}, 0.0, 0.0
    n = _runs(ctx)
    a1, w1 = engine.sample_initializations(_rng(ctx, 8, 1), n, 1, "margin")
    d1 = engine.simulate(a1, w1, law="gaussian", lr=GAUSS_LR, steps=GAUSS_STEPS)
    rate1 = float((d1["loss"] < SUCCESS_LOSS).mean())
    results = {1: {"imp": rate1, "lrr": rate1}}
    for d in DIMS:
        out = _protocol(ctx, "margin", d)
        results[d] = {m: float(out[f"{m}_success"].mean()) for m in ("imp", "lrr")}
    for d, rates in results.items():
        predicted = theory.success_probabilities("margin", d)
        rows[d] = {}
        for m in ("imp", "lrr"):
            se = _stderr(predicted[m], n)
            dev = abs(rates[m] - predicted[m])
            rows[d][m] = {"rate": rates[m], "predicted": predicted[m], "stderr": se}
            worst_dev, worst_se = max(worst_dev, dev), max(worst_se, se)
    figures.success_vs_d(ctx.figure_path("one_neuron_success_vs_d.png"), rows, n)
    return Outcome(
        predicted=0.0, observed=worst_dev, tolerance=4 * worst_se,
        comparison="max over d and method of |rate − predicted| <= 4 standard errors",
        figure="one_neuron_success_vs_d.png",
        details={"per_d": rows, "runs_per_d": n, "inputs": "Gaussian"})


# --------------------------------------------------------------------------- claim 9
@claim("one_neuron.lrr_dominates_imp",
       source=f"{SOURCE}, abstract [P]; spec lrr.md §1.6 and §3 claim 9 [R, V]",
       statement="With a(0) ~ U[-1,1]·‖w(0)‖, every run in which IMP succeeds is an LRR success; "
                 "IMP succeeds iff w_1(0) > 0 and a(0) > −w_1(0), at rate ¼(1 + E|cos∠(w0, e_1)|).")
def lrr_dominates_imp(ctx: ClaimContext) -> Outcome:
    rows, violations, worst_dev, worst_se, worst_agree, worst_unconv = {}, 0, 0.0, 0.0, 1.0, 0.0
    c = theory.C_GAUSSIAN
    for d in DIMS:
        a0, w0 = _initializations(ctx, "uniform", d, 9)
        out = _protocol(ctx, "uniform", d)
        s_imp, f_imp, _ = _classify(out["imp_loss"], out["imp_mask_correct"], c)
        s_lrr, f_lrr, u_lrr = _classify(out["lrr_loss"], out["lrr_mask_correct"], c)
        agreement, unconv, _ = _agreement(s_imp, f_imp, theory.imp_succeeds(a0, w0))
        viol = int((out["imp_success"] & ~out["lrr_success"]).sum())
        p_imp = theory.success_probabilities("uniform", d)["imp"]
        se = _stderr(p_imp, len(a0))
        rows[d] = {"runs": len(a0), "imp_rate": float(s_imp.mean()), "imp_predicted": p_imp,
                   "imp_stderr": se, "lrr_rate": float(s_lrr.mean()),
                   "lrr_unconverged": float(u_lrr.mean()), "dense_success": float(out["dense_success"].mean()),
                   "imp_agreement": agreement, "imp_unconverged": unconv,
                   "imp_success_but_lrr_not": viol}
        violations += viol
        worst_dev = max(worst_dev, abs(float(s_imp.mean()) - p_imp))
        worst_se = max(worst_se, se)
        worst_agree = min(worst_agree, agreement)
        worst_unconv = max(worst_unconv, unconv)
        if d == 5:
            figures.sign_plane(ctx.figure_path("one_neuron_sign_plane_uniform.png"), a0, w0,
                               out, "d = 5, a(0) ~ U[-1,1]·‖w(0)‖: LRR escapes bad signs, "
                                    "IMP does not")
    passed = (violations == 0 and worst_agree == 1.0 and worst_unconv <= MAX_UNCONVERGED
              and worst_dev <= 4 * worst_se)
    return Outcome(
        predicted=0.0, observed=float(violations), tolerance=0.0, passed=passed,
        comparison="no run where IMP succeeds and LRR fails; IMP agrees per run with "
                   "w1>0 ∧ a0>−w1 on converged runs (<= 0.1% unconverged); IMP rate within 4 s.e.",
        figure="one_neuron_sign_plane_uniform.png",
        details={"per_d": rows, "max_imp_rate_deviation": worst_dev, "max_stderr": worst_se,
                 "inputs": "Gaussian", "init": "w0 ~ N(0, I/d), a0 = U[-1,1]·‖w0‖"})


# --------------------------------------------------------------------------- iterative protocol
@claim("one_neuron.iterative_pruning",
       source=f"{SOURCE}; protocol of spec lrr.md §1.6-1.7 (iterative, d = 10, keep 5 → 2 → 1) [R, V]",
       statement="Iterative pruning (d = 10, keep 5 → 2 → 1, retraining in between) gives the same "
                 "per-run outcomes as one-shot: with a(0) = ±1.2‖w(0)‖, LRR iff a(0) > 0 and IMP iff "
                 "a(0) > 0 ∧ w_1(0) > 0 (rates 1/2, 1/4); with a(0) ~ U[-1,1]‖w(0)‖, LRR ⊇ IMP.")
def iterative_pruning(ctx: ClaimContext) -> Outcome:
    d, keeps, c = 10, (5, 2, 1), theory.C_GAUSSIAN
    details = {"d": d, "keeps": keeps, "inputs": "Gaussian"}
    worst, worst_unconv, worst_dev, worst_se = 1.0, 0.0, 0.0, 0.0
    a0, w0 = _initializations(ctx, "margin", d, 8)
    out = _protocol(ctx, "margin", d, keeps)
    probs = theory.success_probabilities("margin", d)
    for method, predicted in (("imp", theory.imp_succeeds(a0, w0)), ("lrr", theory.lrr_succeeds(a0, w0))):
        if method == "lrr":
            s, f = _lrr_outcome(out, c)
        else:
            s, f, _ = _classify(out["imp_loss"], out["imp_mask_correct"], c)
        agreement, unconv, wrong = _agreement(s, f, predicted)
        se = _stderr(probs[method], len(a0))
        details[f"margin_{method}"] = {"rate": float(s.mean()), "predicted_rate": probs[method],
                                       "stderr": se, "agreement": agreement,
                                       "unconverged": unconv, "disagreements": wrong}
        worst, worst_unconv = min(worst, agreement), max(worst_unconv, unconv)
        worst_dev, worst_se = max(worst_dev, abs(float(s.mean()) - probs[method])), max(worst_se, se)
    a0u, w0u = _initializations(ctx, "uniform", d, 9)
    outu = _protocol(ctx, "uniform", d, keeps)
    s, f, _ = _classify(outu["imp_loss"], outu["imp_mask_correct"], c)
    agreement, unconv, _ = _agreement(s, f, theory.imp_succeeds(a0u, w0u))
    violations = int((outu["imp_success"] & ~outu["lrr_success"]).sum())
    details["uniform"] = {"imp_rate": float(s.mean()), "lrr_rate": float(outu["lrr_success"].mean()),
                          "imp_agreement": agreement, "imp_unconverged": unconv,
                          "imp_success_but_lrr_not": violations, "runs": len(a0u)}
    worst, worst_unconv = min(worst, agreement), max(worst_unconv, unconv)
    passed = (worst == 1.0 and worst_unconv <= MAX_UNCONVERGED and violations == 0
              and worst_dev <= 4 * worst_se)
    details.update({"max_rate_deviation": worst_dev, "max_stderr": worst_se, "runs": len(a0)})
    return Outcome(
        predicted=1.0, observed=worst, tolerance=0.0, passed=passed,
        comparison="per-run agreement 1 on converged runs (<= 0.1% unconverged), rates within 4 s.e., "
                   "and no IMP-only success under the uniform a(0)",
        details=details)


# --------------------------------------------------------------------------- uniform inputs, d >= 2
@claim("one_neuron.imp_lrr_uniform_inputs",
       source=f"{SOURCE}; spec lrr.md §1.6-1.7 (inputs x ~ U[-1,1]^d) [R, V]",
       statement="The per-run IMP/LRR rules also hold for inputs x ~ U[-1,1]^5 (fixed scrambled "
                 "Sobol sample, noise-free labels), with a(0) = ±1.2‖w(0)‖.")
def imp_lrr_uniform_inputs(ctx: ClaimContext) -> Outcome:
    d = 5
    n = ctx.size(quick=100, full=10_000)
    x = engine.sobol_sample(d, ctx.size(quick=256, full=512), ctx.seed)
    a0, w0 = engine.sample_initializations(_rng(ctx, 11), n, d, "margin")
    out = engine.prune_protocol(a0, w0, law="uniform", lr=UNIFORM_LR, steps=UNIFORM_STEPS, x=x,
                                success_loss=SUCCESS_LOSS)
    # the empirical failure value ½·mean relu(x_0)² differs from 1/12 by the sample error
    c_emp = float(np.mean(np.maximum(x[:, 0], 0) ** 2))
    rows, worst, worst_unconv = {}, 1.0, 0.0
    c = theory.C_UNIFORM  # the d = 1 retraining phase uses the exact population loss
    dense_ok = _dense_converged(out["dense_loss"], out["dense_a"], c_emp)
    for method, predicted in (("imp", theory.imp_succeeds(a0, w0)), ("lrr", theory.lrr_succeeds(a0, w0))):
        s, f, _ = _classify(out[f"{method}_loss"], out[f"{method}_mask_correct"], c)
        if method == "lrr":
            s, f = s & dense_ok, f & dense_ok
        agreement, unconv, wrong = _agreement(s, f, predicted)
        rows[method] = {"rate": float(s.mean()), "agreement": agreement, "unconverged": unconv,
                        "disagreements": wrong}
        worst, worst_unconv = min(worst, agreement), max(worst_unconv, unconv)
    return Outcome(
        predicted=1.0, observed=worst, tolerance=0.0,
        passed=worst == 1.0 and worst_unconv <= 0.01,
        comparison="every converged run agrees with the predicted outcome; <= 1% unconverged",
        details={**rows, "runs": n, "d": d, "sobol_points": len(x), "lr": UNIFORM_LR,
                 "steps_per_phase": UNIFORM_STEPS, "empirical_c": c_emp,
                 "mask_correct_lrr": float(out["lrr_mask_correct"].mean()),
                 "note": "population gradients replaced by a fixed scrambled Sobol sample "
                         "(no closed form for U[-1,1]^d); cost O(n·d) per run and step"})
