"""One-shot pruning runs: PILoT (m ⊙ w + Algorithm 1), standard training or one of the
continuous-sparsification baselines (spred, explicit L1, CS, PowerProp, STR), then magnitude
pruning of the effective weights at each requested sparsity without retraining (spec mirror.md
§2.4, §3.2, §3.4).

One code path trains every method: the trainable object and its objective are the method's
:class:`~lottery_core.loops.cs_methods.Sparsifier`. For ``pilot`` the kernels are split into
m ⊙ w (``reparam.reparameterize``) and the loss carries α(‖m‖² + ‖w‖²); for ``oneshot`` no leaf
is split (``m`` is ``None`` everywhere), so the same step is plain training of x with a zero
penalty; the baselines bring their own trainable, effective weights and penalty, and their
per-epoch hyperparameters (λ_k, β_k, ...) replace α in ``TrainState.aux``. After training, x
is pruned to each sparsity by the ONE exact-count top-k (``reparam.magnitude_prune``). An epoch is one jitted ``lax.scan`` over
device-resident batches (:func:`training.epoch_batches` order, the same per seed for both
methods and for level 0 of the engine) through the engine's one Trainer step with PILoT's
hooks (:mod:`lottery_core.training.pilot`): the params are the Reparam and the loss reads α
from the TrainState, so Algorithm 1's per-epoch update does not recompile.

Run folder (``OUT/<method>-<hash>/``, beside the level methods' folders)::

    config.json                      {"method", "hash", "identity", "resolved", "settings"}
    summary.json                     mean / std / per seed of every metric, per sparsity
    seed_<s>/init.npz                θ_0 (params/..., model_state/...), as the level runner's
    seed_<s>/checkpoint.npz          after every epoch while training (removed at the end)
    seed_<s>/params.npz              trained dense weights x (= m ⊙ w for pilot)
    seed_<s>/reparam.npz             pilot, spred: m/<path>, w/<path> of the kernels
    seed_<s>/trainable.npz           l1, cs, powerprop, str: the trained trainable (w, s, θ)
    seed_<s>/training.json           training finished: per-epoch history, α, seconds
    seed_<s>/mask_<sparsity>.npz     boolean masks (True = kept), '/'-joined keys
    seed_<s>/metrics.json            dense and per-sparsity accuracies
    seed_<s>/manifest.json           written after every metrics.json: seals the seed folder

A seed whose ``metrics.json`` covers every requested sparsity is not touched (its folder is
checked against its manifest first, :func:`store.integrity.check_finished`); a trained seed
(``training.json``) missing some sparsities is only pruned and evaluated at those (unsealed
meanwhile); an interrupted seed resumes from its last finished epoch with the same batches
and α. A run holds its folder's lock (:mod:`lottery_core.store.lock`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.config import ExperimentConfig
from lottery_core.config.oneshot import (ONESHOT_METHODS, TRAINING_FIELDS, OneShotSettings,
                                         check_training_config, run_identity)
from lottery_core.loops.cs_methods import SPARSIFIERS, hyper_aux, sparsifier_hooks
from lottery_core.loops.setup import (TrainerSpec, device_data, load_data_and_model,
                                      steps_per_epoch)
from lottery_core.sparsity import density_report, prunable_paths
from lottery_core.sparsity import reparam as rp
from lottery_core.store import (atomic_write_json, canonical_json, flatten, identity_hash,
                                integrity, layout, load_extra, load_tree, load_tree_like, lock,
                                open_run_directory, read_json, save_tree, unflatten)
from lottery_core.store.provenance import provenance
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule
from lottery_core.training.sharding import local_devices


def plain(params) -> rp.Reparam:
    """Standard training as a :class:`Reparam` with no reparameterized leaf: x itself."""
    return rp.Reparam(m=jax.tree.map(lambda _: None, params), w=params)


def kernel_l1(params) -> float:
    """‖x‖₁ over the prunable leaves (kernels)."""
    flat = flatten(params)
    return float(sum(np.abs(np.asarray(flat[p], np.float64)).sum()
                     for p in prunable_paths(params)))


def full_masks(masks, params) -> dict:
    """Masks with ``None`` (unpruned leaves) replaced by all-True arrays shaped like
    ``params``; numpy booleans."""
    flat = flatten(params)
    return unflatten({k: np.ones(np.shape(flat[k]), bool) if v is None else np.asarray(v, bool)
                      for k, v in flatten(masks).items()})


def sparsity_key(sparsity: float) -> str:
    return f"{float(sparsity):.4f}"


#: one method of each Trainer family (methods of a family share one loss, hence one Trainer)
FAMILY_METHOD = {"reparam": "pilot", "l1": "l1", "cs": "cs", "powerprop": "powerprop",
                 "str": "str"}


def oneshot_trainer(spec: TrainerSpec, family: str = "reparam") -> Trainer:
    """The Trainer of a method family's objective on ``spec``'s model (``"reparam"``: PILoT's,
    :func:`training.pilot.pilot_hooks`, shared by pilot, spred and oneshot); the optimizer's
    own step count drives the schedule (``inject_hyperparams``). Cached per (spec, family)."""
    return _family_trainer(spec, family)


@functools.lru_cache(maxsize=None)
def _family_trainer(spec: TrainerSpec, family: str) -> Trainer:
    cfg, model = spec.config_and_model()
    schedule = make_schedule(cfg.schedule, cfg.learning_rate, spec.total_steps,
                             warmup_steps=cfg.warmup_steps, milestones=cfg.milestones,
                             gamma=cfg.gamma)
    optimizer = make_optimizer(cfg.optimizer, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay, learning_rate=schedule)
    return Trainer(optimizer=optimizer, devices=spec.devices,
                   **sparsifier_hooks(SPARSIFIERS[FAMILY_METHOD[family]], model.apply))


@dataclasses.dataclass
class OneShotRunner:
    """Runs (or resumes) one one-shot experiment into ``out/<method>-<hash>/``."""

    config: ExperimentConfig
    settings: OneShotSettings
    out: Path
    data_dir: str | None = None
    progress: bool = True
    log: Callable[[str], None] = print
    dataset: Any = None               # a preloaded lottery_core.data.Dataset (tests)
    devices: int | None = None        # data parallelism over this many devices (None: all)
    wait: bool = False                # another process holds the run: wait (else RunBusyError)

    def __post_init__(self):
        if self.config.method not in ONESHOT_METHODS:
            raise ValueError(f"unknown one-shot method {self.config.method!r}; available: "
                             f"{', '.join(ONESHOT_METHODS)}")
        self.position = None     # (seed, epoch or None) training is at: interrupt_message
        check_training_config(self.config)            # no level-loop field is set
        self.config.validate()                        # the engine's field checks
        self.settings.validate(self.config.method)
        self.method = self.config.method
        self.sparsifier = SPARSIFIERS[self.method]
        self.cfg = self.config.resolved()
        self.dataset, self.model = load_data_and_model(self.cfg, self.data_dir, self.dataset)
        data = self.dataset
        self.per_epoch = steps_per_epoch(data, self.cfg.batch_size)
        self.epochs = self.cfg.epochs
        self.total_steps = self.epochs * self.per_epoch
        self.trainer = oneshot_trainer(TrainerSpec(
            canonical_json({k: v for k, v in self.cfg.to_dict().items()
                            if k in TRAINING_FIELDS}),
            tuple(data.input_shape), data.num_classes, self.total_steps, self.per_epoch,
            len(local_devices(self.devices))), self.sparsifier.family)
        self.trainer.check_batch_size(self.cfg.batch_size)
        self.x_train, self.y_train, self.eval_sets = device_data(self.trainer, data)
        if "val" not in self.eval_sets:
            raise ValueError(f"one-shot method {self.method!r} reports validation metrics; "
                             f"validation_size must be >= 1, got 0")
        identity = run_identity(self.config, self.settings)
        self.hash = identity_hash(identity)
        self.run_dir = open_run_directory(
            self.out, self.method, identity,
            {"resolved": {k: v for k, v in self.cfg.to_dict().items() if k in TRAINING_FIELDS},
             "settings": identity["oneshot"]})

    # -- folders ------------------------------------------------------------------------
    def seed_dir(self, seed: int) -> Path:
        return layout.seed_directory(self.run_dir, seed)

    # -- the run ------------------------------------------------------------------------
    def run(self) -> Path:
        seeds = list(range(self.cfg.first_seed, self.cfg.first_seed + self.cfg.seeds))
        self.log(f"{self.method}: {self.run_dir} ({len(seeds)} seeds, {self.epochs} epochs = "
                 f"{self.total_steps} steps, sparsities "
                 f"{', '.join(map(str, self.settings.sparsities))})")
        with lock.hold(self.run_dir, wait=self.wait, log=self.log):
            for seed in seeds:
                self.position = (seed, None)
                self.run_seed(seed)
            write_summary(self.run_dir, seeds)
        return self.run_dir

    def interrupt_message(self) -> str:
        """What Ctrl-C reports: the seed and epoch training stopped at (``self.position``)
        and what rerunning the command resumes; finished seeds are kept."""
        rerun = "rerun the same command to resume"
        if self.position is None:
            return f"interrupted before training started; {rerun}"
        seed, epoch = self.position
        if epoch is None:
            return f"interrupted at seed {seed}; {rerun} (finished seeds are kept)"
        if epoch == 0:
            return (f"interrupted at seed {seed}, epoch 0 of {self.epochs}; {rerun}: finished "
                    f"seeds are kept, seed {seed} starts again")
        return (f"interrupted at seed {seed}, epoch {epoch} of {self.epochs}; {rerun} from "
                f"the checkpoint after epoch {epoch}: finished seeds are kept")

    def run_seed(self, seed: int) -> None:
        d = self.seed_dir(seed)
        wanted = [sparsity_key(s) for s in self.settings.sparsities]
        metrics_path = d / layout.METRICS
        if metrics_path.exists() or (d / layout.MANIFEST).exists():
            if integrity.check_finished(d) == "adopted":
                self.log(f"  seed {seed}: no manifest (written before manifests, or killed "
                         f"before sealing): read back completely, manifest written")
        metrics = read_json(metrics_path) if metrics_path.exists() else None
        if metrics is not None and all(k in metrics["sparsities"] for k in wanted):
            self.log(f"  seed {seed}: finished earlier ({metrics_path}), skipped")
            return
        if not (d / layout.TRAINING).exists():
            self.train_seed(seed)
        training = read_json(d / layout.TRAINING)
        params = load_tree(d / layout.PARAMS)
        model_state = load_tree(d / layout.MODEL_STATE) if (d / layout.MODEL_STATE).exists() \
            else {}
        t0 = time.time()
        integrity.unseal(d)                  # new masks and metrics: sealed again below
        if metrics is None:
            metrics = {"method": self.method, "hash": self.hash, "seed": seed,
                       **training["dense"], "sparsities": {}}
        for sparsity in self.settings.sparsities:
            key = sparsity_key(sparsity)
            if key not in metrics["sparsities"]:
                metrics["sparsities"][key] = self.prune_and_evaluate(seed, params, model_state,
                                                                     sparsity)
        metrics["sparsities"] = dict(sorted(metrics["sparsities"].items()))
        metrics.update(epochs=training["epochs"], steps=training["steps"],
                       train_seconds=training["seconds"],
                       prune_seconds=metrics.get("prune_seconds", 0.0) + time.time() - t0,
                       alpha_final=training["alpha_final"],
                       implicit_scale=training["implicit_scale"],
                       kernel_l1=training["kernel_l1"], provenance=provenance())
        if "learned" in training:       # cs, str: the method's own sparsity, before the top-k
            metrics["learned"] = training["learned"]
        atomic_write_json(metrics_path, metrics)
        integrity.seal(d)
        rows = "  ".join(f"{float(k):.2%}: test {v['test_accuracy']:.4f}"
                         for k, v in metrics["sparsities"].items())
        self.log(f"  seed {seed}: dense test {metrics['test_accuracy']:.4f}  {rows}")

    def evaluate(self, params, model_state) -> dict:
        out = {}
        for name, (x, y) in self.eval_sets.items():
            loss, accuracy = self.trainer.evaluate(plain(params), model_state, x, y)
            out[f"{name}_loss"], out[f"{name}_accuracy"] = float(loss), float(accuracy)
        return out

    def prune_and_evaluate(self, seed, params, model_state, sparsity) -> dict:
        """One-shot magnitude pruning of the trained x (no retraining), then val/test."""
        pruned, masks = rp.magnitude_prune(params, sparsity, scope=self.settings.scope)
        masks = full_masks(masks, params)
        save_tree(self.seed_dir(seed) / layout.sparsity_mask(sparsity_key(sparsity)), masks)
        report = density_report(masks, prunable_paths(params))
        return {"sparsity": float(sparsity), **self.evaluate(pruned, model_state),
                "density": report["overall"],
                "density_layers": {p: v["density"] for p, v in report["layers"].items()},
                "kept_weights": report["kept"], "prunable_weights": report["total"]}

    # -- training -----------------------------------------------------------------------
    def initial(self, seed: int):
        """θ_0 of ``seed`` (the engine's: ``model.init(PRNGKey(seed))``), saved once."""
        params, state = self.model.init(jax.random.PRNGKey(seed))
        path = self.seed_dir(seed) / layout.INIT
        if not path.exists():
            save_tree(path, {"params": params, "model_state": state})
        return params, state

    def hyper(self, sched: rp.PilotScheduleState, epoch: int) -> dict:
        """The method's hyperparameters of epoch ``epoch`` (0-based): Algorithm 1's α for
        pilot, the method's own schedule otherwise."""
        if self.method == "pilot":
            return {"alpha": sched.alpha}
        return self.sparsifier.hyper(self.settings, epoch, self.epochs)

    def train_seed(self, seed: int) -> None:
        d = self.seed_dir(seed)
        params, model_state = self.initial(seed)
        trainable = self.sparsifier.init(params, self.settings)
        if self.method == "pilot":
            schedule = rp.pilot_alpha_schedule(self.settings.alpha_init,
                                               total_epochs=self.epochs,
                                               delta=self.settings.delta,
                                               target_l1=self.settings.target_l1)
            sched = schedule.init()
        else:
            schedule = None
            sched = rp.PilotScheduleState(alpha=0.0, prev_accuracy=0.0, epoch=0)
        state = self.trainer.init_state(trainable, model_state, (),
                                        aux=hyper_aux(self.hyper(sched, sched.epoch)))
        record = {"history": [], "seconds": 0.0, "schedule": list(sched)}
        ckpt = d / layout.CHECKPOINT
        if ckpt.exists():   # (trainable, opt_state, model_state) after the last finished epoch
            trainable, opt_state, model_state = load_tree_like(
                ckpt, (state.params, state.opt_state, state.model_state))
            record = load_extra(ckpt)
            sched = rp.PilotScheduleState(float(record["schedule"][0]),
                                          float(record["schedule"][1]),
                                          int(record["schedule"][2]))
            state = state._replace(params=trainable, opt_state=opt_state,
                                   model_state=model_state,
                                   step=jnp.asarray(sched.epoch * self.per_epoch, jnp.int32))
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.epochs, initial=sched.epoch, unit="epoch", leave=False,
                       desc=f"{self.method} seed {seed}")
        clock = time.time()
        hyper = self.hyper(sched, sched.epoch)
        for epoch in range(sched.epoch, self.epochs):
            self.position = (seed, epoch)
            indices = epoch_batches((seed, 0), len(self.x_train), self.cfg.batch_size,
                                    epoch * self.per_epoch, self.per_epoch)
            hyper = self.hyper(sched, epoch)
            aux = hyper_aux(hyper)
            state, steps = self.trainer.run_steps(state._replace(aux=aux),
                                                  self.x_train, self.y_train,
                                                  jnp.asarray(indices))
            loss, accuracy = jnp.mean(steps["data_loss"]), jnp.mean(steps["accuracy"])
            x = self.sparsifier.effective(state.params, aux)
            l1 = kernel_l1(x)
            train_accuracy = float(accuracy)
            if schedule is not None:
                sched = schedule.update(sched, train_accuracy, l1)
            else:
                sched = sched._replace(prev_accuracy=train_accuracy, epoch=epoch + 1)
            evals = self.evaluate(x, state.model_state)
            now = time.time()
            record["seconds"] += now - clock
            clock = now
            record["history"].append({"epoch": epoch + 1,
                                      **{k: float(v) for k, v in hyper.items()},
                                      "train_loss": float(loss),
                                      "train_accuracy": train_accuracy, "kernel_l1": l1,
                                      **evals})
            record["schedule"] = list(sched)
            if epoch + 1 < self.epochs:
                save_tree(ckpt, (state.params, state.opt_state, state.model_state),
                          extra=record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(**{k: f"{v:.2g}" for k, v in hyper.items()},
                                train=f"{train_accuracy:.4f}", val=f"{evals['val_accuracy']:.4f}")
        if bar is not None:
            bar.close()
        trainable, model_state = state.params, state.model_state
        aux = hyper_aux(hyper)            # the last epoch's: the network as trained
        x = jax.tree.map(np.asarray, self.sparsifier.effective(trainable, aux))
        save_tree(d / layout.PARAMS, x)
        if flatten(model_state):
            save_tree(d / layout.MODEL_STATE, jax.tree.map(np.asarray, model_state))
        scale, learned = None, None
        if isinstance(trainable, rp.Reparam) and self.method != "oneshot":
            flat_w = flatten(trainable.w)
            picked = {p: m for p, m in flatten(trainable.m).items() if m is not None}
            save_tree(d / layout.REPARAM, {
                "m": unflatten({p: np.asarray(m) for p, m in picked.items()}),
                "w": unflatten({p: np.asarray(flat_w[p]) for p in picked})})
            a = np.concatenate([np.ravel(v) for v in
                                jax.tree.leaves(rp.implicit_scale(trainable))])
            scale = {"initial": self.settings.beta / 2 if self.method == "pilot" else 0.0,
                     "mean": float(a.mean()), "median": float(np.median(a)),
                     "min": float(a.min()), "max": float(a.max())}
        elif not isinstance(trainable, rp.Reparam):
            save_tree(d / layout.TRAINABLE, jax.tree.map(np.asarray, trainable))
        if self.sparsifier.learned is not None:
            learned = self.learned_report(self.sparsifier.learned(trainable, aux), model_state)
        last = record["history"][-1]
        training = {
            "method": self.method, "seed": seed, "epochs": self.epochs,
            "steps": self.total_steps, "seconds": record["seconds"],
            "alpha_final": sched.alpha if schedule is not None else float(
                hyper.get("alpha", 0.0) if isinstance(trainable, rp.Reparam) else 0.0),
            "implicit_scale": scale, "kernel_l1": last["kernel_l1"],
            "dense": {k: last[k] for k in ("val_accuracy", "test_accuracy", "val_loss",
                                           "test_loss", "train_accuracy")},
            "history": record["history"], "provenance": provenance()}
        if learned is not None:
            training["learned"] = learned
        atomic_write_json(d / layout.TRAINING, training)
        if ckpt.exists():
            ckpt.unlink()
        self.position = (seed, None)      # trained: a rerun only prunes what is missing

    def learned_report(self, params, model_state) -> dict:
        """The method's own sparse network (cs: 1[s > 0]; str: its exact zeros): its density
        over the kernels (nonzero weights, not a top-k) and its val/test accuracy."""
        kernels = [np.asarray(flatten(params)[p]) for p in prunable_paths(params)]
        kept = int(sum(np.count_nonzero(k) for k in kernels))
        total = int(sum(k.size for k in kernels))
        return {"density": kept / total, "kept_weights": kept, "prunable_weights": total,
                **self.evaluate(jax.tree.map(np.asarray, params), model_state)}


# ----------------------------------------------------------------------------- summary
def _stats(values: dict[int, float]) -> dict:
    v = np.asarray(list(values.values()), np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "per_seed": {str(s): float(x) for s, x in values.items()}}


def summarize_run(run_dir: Path, seeds: list[int] | None = None) -> dict:
    """Mean, sample std (ddof 1) and per-seed values of the dense and pruned accuracies."""
    run_dir = Path(run_dir)
    files = sorted(run_dir.glob(layout.SEED_METRICS), key=lambda p: layout.seed_of(p.parent))
    records = [read_json(p) for p in files]
    if seeds is not None:
        records = [r for r in records if r["seed"] in seeds]
    if not records:
        raise ValueError(f"no finished seed under {run_dir}")
    keys = sorted(set.intersection(*(set(r["sparsities"]) for r in records)))
    out = {"method": records[0]["method"], "seeds": [r["seed"] for r in records],
           "dense": {m: _stats({r["seed"]: r[m] for r in records})
                     for m in ("test_accuracy", "val_accuracy")},
           "sparsities": {}}
    for k in keys:
        out["sparsities"][k] = {
            m: _stats({r["seed"]: r["sparsities"][k][m] for r in records})
            for m in ("test_accuracy", "val_accuracy", "density")}
    return out


def write_summary(run_dir: Path, seeds: list[int]) -> dict:
    """``summary.json`` of ``run_dir`` over its finished ``seeds`` (a run writes it for its
    seeds; ``lottery sweep``, whose runs are one seed each, for the seeds it ran)."""
    summary = summarize_run(run_dir, seeds)
    atomic_write_json(Path(run_dir) / layout.SUMMARY, summary)
    return summary


def collect_oneshot_runs(out: Path) -> dict[str, dict]:
    """``{run folder name: summary}`` for every pilot / oneshot run under ``out``."""
    runs = {}
    for config_path in sorted(Path(out).glob(layout.RUN_CONFIGS)):
        meta = read_json(config_path)
        if meta.get("method") in ONESHOT_METHODS and \
                list(config_path.parent.glob(layout.SEED_METRICS)):
            runs[config_path.parent.name] = summarize_run(config_path.parent)
    return runs


def plot_oneshot_runs(out: Path, path: Path | None = None,
                      metric: str = "test_accuracy") -> Path:
    """Mean ± std over seeds of ``metric`` against the share of prunable weights kept (log
    axis), one line per run named by its method and the settings that differ
    (:func:`~lottery_core.analysis.labels.run_labels`), each run's dense accuracy dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from lottery_core.analysis.labels import run_labels
    from lottery_core.figures import (density_axis, line_style, save_figure, seeds_suffix,
                                      spread_caption)

    runs = collect_oneshot_runs(out)
    if not runs:
        raise ValueError(f"no finished pilot / oneshot seed under {out}")
    labels = run_labels({name: read_json(Path(out) / name / layout.CONFIG) for name in runs})
    seed_counts = {name: len(summary["seeds"]) for name, summary in runs.items()}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    remaining = []
    for index, name in enumerate(sorted(runs, key=lambda n: (labels[n], n))):
        summary = runs[name]
        keys = list(summary["sparsities"])
        x = np.array([100 * summary["sparsities"][k]["density"]["mean"] for k in keys])
        mean = np.array([100 * summary["sparsities"][k][metric]["mean"] for k in keys])
        std = np.array([100 * summary["sparsities"][k][metric]["std"] for k in keys])
        line = ax.errorbar(x, mean, yerr=std, ms=4, capsize=3, **line_style(index),
                           label=labels[name] + seeds_suffix(seed_counts[name],
                                                             seed_counts.values()))
        ax.axhline(100 * summary["dense"][metric]["mean"], color=line[0].get_color(), ls=":",
                   lw=1)
        remaining += list(x)
    density_axis(ax, remaining, "prunable weights remaining after one-shot pruning")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
    ax.set_title(spread_caption(seed_counts.values(), "bars"), fontsize=8)
    ax.grid(alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles + [Line2D([], [], color="grey", ls=":", lw=1)],
              names + ["dotted: the run's dense accuracy (mean)"], fontsize=7)
    return save_figure(fig, path if path is not None
                       else Path(out) / layout.ONESHOT_FIGURE)


def summary_table(summary: dict, metric: str = "test_accuracy") -> str:
    """Markdown rows: sparsity | mean ± std | per seed (percent)."""
    lines = [f"| sparsity | {metric} mean ± std (%) | per seed (%) |", "|---:|---:|---|"]
    rows = [("dense", summary["dense"][metric])] + [
        (f"{100 * float(k):g}%", v[metric]) for k, v in summary["sparsities"].items()]
    for label, stats in rows:
        per_seed = ", ".join(f"s{s}: {100 * v:.2f}" for s, v in stats["per_seed"].items())
        lines.append(f"| {label} | {100 * stats['mean']:.2f} ± {100 * stats['std']:.2f} | "
                     f"{per_seed} |")
    return "\n".join(lines)


def run_oneshot(config: ExperimentConfig, settings: OneShotSettings, out, **kwargs) -> Path:
    """Run or resume a ``pilot`` / ``oneshot`` experiment; returns the run directory."""
    return OneShotRunner(config, settings, Path(out), **kwargs).run()
