"""A reduced LRR vs WR run on CIFAR-10, sized to the time left, and its sign flips
(the ``lrr-vs-imp`` and ``lrr-signs`` experiments' metrics on the same runs).

The runs are ordinary level-loop runs of the experiments' options (``settings.experiment_args``:
the LRR paper's recipe, spec lrr.md §2.2, with fewer warmup epochs, levels and epochs per level),
written to ``OUT/lrr/runs[-test<N>]/``, so ``lottery experiment lrr-vs-imp`` / ``lrr-signs``
with the recorded options find them finished (or resume and extend them). WR and LRR train
level by level in turn, and a level starts only when its estimated time fits the time left,
so an exhausted budget leaves both methods at the same density.

The plan (:func:`plan_levels`) spends the time left on ``U`` epochs per method: warmup W =
round(U/50) (at least 1), about sqrt(U) epochs per level, as many levels as that allows, then
the epochs per level filled up; each capped by the settings (the recipe's 10 warmup epochs, 10
levels, 150 epochs per level in the full run). One seed: differences between the methods of
a few tenths of a percent are within seed noise; the report says so.
"""

from __future__ import annotations

import dataclasses
import math
import shlex

from lottery_core.bench.budget import Skip
from lottery_core.bench.training import BenchRun, find_row

METHODS = ("wr", "lrr")
#: fraction of the phase's time the plan may fill (the rest: pruning, files, estimate error)
PLAN_FILL = 0.85

#: spec lrr.md's statements about accuracy per density and sign flips (§3 items 10 and 12,
#: §2.4); ``check`` names the observation computed beside each (:func:`observations`)
SPEC_STATEMENTS = (
    {"id": "claim 10", "source": "spec lrr.md §3, item 10",
     "text": "LRR >= IMP (WR) in test accuracy at every sparsity level on CIFAR-10/100 "
             "ResNet18 (global magnitude pruning, 20% per iteration).",
     "check": "lrr_ge_wr"},
    {"id": "§2.4 gap", "source": "spec lrr.md §2.4 (sanity range from the literature, not "
                                 "from the paper)",
     "text": "LRR >= IMP/WR at all sparsities, with the gap widening at high sparsity.",
     "check": "gap_trend"},
    {"id": "§2.4 small", "source": "spec lrr.md §2.4 [S], reviewer 3",
     "text": "The performance differences between LRR and IMP are small.",
     "check": "gap_size"},
    {"id": "claim 12", "source": "spec lrr.md §3, item 12 (Fig. 12 caption [S])",
     "text": "The per-iteration fraction of sign flips is much larger for LRR than for IMP "
             "in early iterations.",
     "check": "sign_flips"},
)


@dataclasses.dataclass(frozen=True)
class Plan:
    warmup_epochs: int
    levels: int
    epochs: int
    estimate_s: float


def plan_levels(available_s: float, *, epoch_s: float, eval_s: float, compile_s: float,
                max_warmup: int, max_levels: int, max_epochs: int,
                methods: int = len(METHODS)) -> Plan | str:
    """The largest reduced run of ``methods`` runs that fits ``available_s`` seconds, or the
    reason none does. ``epoch_s``: one training epoch; ``eval_s``: the evaluations after
    each epoch (validation + test); ``compile_s``: compilation before the first epoch."""
    per_epoch = epoch_s + eval_s
    units = math.floor((available_s - compile_s) / (methods * per_epoch))
    if units < 3:
        return (f"{available_s:.0f} s fit {max(units, 0)} epochs per method (epoch "
                f"{epoch_s:.1f} s + evaluation {eval_s:.1f} s, compile {compile_s:.0f} s); "
                f"needs >= 3 (1 warmup epoch, 2 levels of 1 epoch)")
    warmup = min(max(1, round(units / 50)), max_warmup)
    rest = units - warmup
    levels = min(max(1, rest // max(1, math.isqrt(rest)) - 1), max_levels)
    epochs = min(max(1, rest // (levels + 1)), max_epochs)
    estimate = compile_s + methods * (warmup * epoch_s + eval_s + (levels + 1) * epochs
                                      * per_epoch)
    return Plan(warmup, levels, epochs, estimate)


def run_phase(ctx) -> None:
    from lottery_core.experiments import _lrr_common as common
    from lottery_core.loops.levels import Runner
    from lottery_core.loops.setup import steps_per_epoch
    from lottery_core.store import layout

    run: BenchRun = ctx.shared
    s = run.settings
    row = find_row(ctx.earlier.get("epoch_time"), s.recipe_batch, "float32")
    if row is None:
        raise Skip(f"needs the epoch time at batch {s.recipe_batch} float32 to plan the run, "
                   f"which was not measured")
    data = run.dataset()
    per_epoch = steps_per_epoch(data, s.recipe_batch)
    # evaluation after every epoch: the validation and the test set
    eval_s = row["eval_s"] * (len(data.y_val) + len(data.y_test)) / row["eval_images"]

    def plan_args(plan: Plan):
        return run.args(batch=s.recipe_batch, epochs=plan.epochs,
                        warmup_epochs=plan.warmup_epochs, levels=plan.levels,
                        eval_every=per_epoch)

    plan, compile_s = _plan(ctx, run, row, eval_s, plan_args)
    args = plan_args(plan)
    ctx.result.update(plan=dataclasses.asdict(plan), methods=list(METHODS), seed=s.seed,
                      model=s.model_label, batch=s.recipe_batch,
                      train_images=int(len(data.y_train)), test_images=int(len(data.y_test)),
                      command="lottery experiment lrr-vs-imp " + shlex.join(args.argv),
                      planned_from={"epoch_s": row["epoch_s"], "eval_s": eval_s,
                                    "compile_s": compile_s, "available_s": ctx.left()})
    ctx.log(f"lrr: plan {plan.warmup_epochs} warmup epochs, {plan.levels} levels x "
            f"{plan.epochs} epochs, est. {plan.estimate_s:.0f} s of {ctx.left():.0f} s")
    ctx.save()
    runners = {m: Runner(common.make_config(args, m), common.runs_directory(args),
                         progress=False, seed_parallel="sequential", dataset=data, devices=1,
                         log=lambda line: ctx.log(f"lrr: {line.strip()}"))
               for m in METHODS}
    level_s = plan.epochs * (row["epoch_s"] + eval_s)
    warmup_s = plan.warmup_epochs * row["epoch_s"] + eval_s
    for level in range(plan.levels + 1):
        for method, runner in runners.items():
            if runner.level_done(s.seed, level):
                continue
            estimate = level_s
            if level == 0:
                warmed = (runner.seed_dir(s.seed) / layout.WARMUP_RECORD).exists()
                estimate += (0.0 if warmed else warmup_s) + (compile_s if method == METHODS[0]
                                                             else 0.0)
            if not ctx.fits(f"{method} level {level} and after", estimate):
                _record_curves(ctx, runners, common)
                return      # a later level needs this one: stop here, both methods alike
            runner.train_level([s.seed], level)
        _record_curves(ctx, runners, common)
        ctx.save()


def _plan(ctx, run: BenchRun, row: dict, eval_s: float, plan_args):
    """``(plan, compile estimate)``. The runs' Trainer is compiled anew unless its spec is the
    epoch-time row's (one warmup epoch, one epoch per level: then only the validation set's
    evaluation may be new); the cheaper plan is taken when its spec is shared."""
    from lottery_core.bench.training import recipe_spec, recipe_trainer

    s = run.settings
    data = run.dataset()
    val_compile = 0.0 if len(data.y_val) == row["eval_images"] else row["eval_compile_s"]
    fresh_compile = row["compile_s"] + row["eval_compile_s"] + val_compile
    limits = dict(epoch_s=row["epoch_s"], eval_s=eval_s, max_warmup=s.max_warmup_epochs,
                  max_levels=s.max_levels, max_epochs=s.max_epochs)
    available = PLAN_FILL * ctx.left()
    cheap = plan_levels(available, compile_s=val_compile, **limits)
    if isinstance(cheap, Plan):
        _, row_spec, _ = recipe_trainer(run, s.recipe_batch, "float32")
        if recipe_spec(run, plan_args(cheap))[0] == row_spec:
            return cheap, val_compile
    plan = plan_levels(available, compile_s=fresh_compile, **limits)
    if isinstance(plan, str):
        raise Skip(f"budget too small for a reduced run: {plan}")
    return plan, fresh_compile


def _finished_levels(runner, seed: int) -> int:
    """Levels 0..k-1 finished (contiguous from 0)."""
    k = 0
    while k <= runner.cfg.levels and runner.level_done(seed, k):
        k += 1
    return k


def _record_curves(ctx, runners, common) -> None:
    """Accuracy (``lrr-vs-imp``'s ``accuracy_curve``) and sign flips (``lrr-signs``'
    ``sign_curves``) of the levels both methods finished."""
    seed = ctx.shared.settings.seed
    done = min(_finished_levels(r, seed) for r in runners.values())
    ctx.result["levels_done"] = done
    if done == 0:
        return
    ctx.result["runs"] = {m: str(r.run_dir) for m, r in runners.items()}
    ctx.result["accuracy"] = {m: common.accuracy_curve(r.run_dir, [seed], done - 1)
                              for m, r in runners.items()}
    ctx.result["sign_flips"] = {m: common.sign_curves(r.run_dir, [seed], done - 1)
                                for m, r in runners.items()}
    ctx.result["observations"] = observations(ctx.result)


def table(result: dict) -> list[dict]:
    """Per level: density, final test accuracy of WR and LRR (%), LRR − WR (pp), sign flips
    (% of kept weights) vs the rewind point and vs the previous level."""
    if not result.get("accuracy"):
        return []
    acc, flips = result["accuracy"], result["sign_flips"]
    rows = []
    for i, level in enumerate(acc["lrr"]["levels"]):
        row = {"level": level, "remaining": acc["lrr"]["remaining"][i]}
        for m in METHODS:
            row[f"{m}_accuracy"] = acc[m]["test_accuracy"]["mean"][i]
            row[f"{m}_best_accuracy"] = acc[m]["best_test_accuracy"]["mean"][i]
            for key in ("vs_rewind_point", "vs_previous_level"):
                value = flips[m][key]["mean"][i]
                row[f"{m}_flips_{key}"] = None if value is None else 100 * value
        row["lrr_minus_wr"] = row["lrr_accuracy"] - row["wr_accuracy"]
        rows.append(row)
    return rows


def observations(result: dict) -> dict[str, str]:
    """What this run shows beside each spec statement (one seed, reduced recipe)."""
    rows = table(result)
    pruned = [r for r in rows if r["level"] > 0]
    if not pruned:
        return {st["check"]: "no pruned level finished" for st in SPEC_STATEMENTS}
    gaps = [r["lrr_minus_wr"] for r in pruned]
    ge = sum(g >= 0 for g in gaps)
    out = {"lrr_ge_wr": f"LRR >= WR at {ge} of {len(gaps)} pruned levels (final test accuracy, "
                        f"one seed); LRR − WR from {min(gaps):+.2f} to {max(gaps):+.2f} pp"}
    if len(gaps) >= 2:
        first, last = gaps[0], gaps[-1]
        out["gap_trend"] = (f"LRR − WR {first:+.2f} pp at {pruned[0]['remaining']:.1f}% "
                            f"remaining, {last:+.2f} pp at {pruned[-1]['remaining']:.1f}%: the "
                            f"gap {'grows' if last > first else 'does not grow'} with sparsity "
                            f"here")
    else:
        out["gap_trend"] = "one pruned level only: no trend"
    out["gap_size"] = f"largest absolute LRR − WR difference {max(abs(g) for g in gaps):.2f} pp"
    early = pruned[:3]

    def mean(key):
        return sum(r[key] for r in early) / len(early)

    out["sign_flips"] = (
        f"levels {early[0]['level']}-{early[-1]['level']}, mean % of kept weights with a "
        f"flipped sign: vs the previous level LRR {mean('lrr_flips_vs_previous_level'):.3f} / "
        f"WR {mean('wr_flips_vs_previous_level'):.3f}; vs the rewind point LRR "
        f"{mean('lrr_flips_vs_rewind_point'):.3f} / WR {mean('wr_flips_vs_rewind_point'):.3f}")
    return out
