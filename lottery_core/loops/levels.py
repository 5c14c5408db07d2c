"""The level runner: the iterative pruning loop over seeds and levels.

Level 0 trains the dense network from the run's starting point (θ_0, or the state after the
LRR recipe's dense warmup) for T steps; level k ≥ 1 takes its mask and start from the method
(:mod:`lottery_core.loops.protocol`, methods listed in :mod:`lottery_core.loops.registry`).
Seeds run one after another, together under ``jax.vmap``, or in worker processes
(:mod:`lottery_core.loops.workers`).

Per level and seed the runner writes ``level_<k>/{mask.npz, params.npz, metrics.json}``
(``metrics.json`` marks the level finished and is never rewritten; ``manifest.json``, written
after it, seals the folder) and, while training, ``checkpoint.npz`` after every evaluation
chunk, so a killed run resumes from the last chunk and reproduces the uninterrupted run
exactly. A run holds its folder's lock, and checks every finished level against its manifest
before skipping it (:mod:`lottery_core.store.integrity`). Layout: ``docs/engine.md``. In a
multi-process run (docs/multihost.md) every process trains; only process 0 writes, and the
others wait (:func:`hosts.sync`) before they read what it wrote.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core import lrr_recipe, sparsity
from lottery_core.config import UNHASHED, ExperimentConfig, names_in
from lottery_core.errors import ClusterError, UsageError
from lottery_core.loops import phases, registry, workers
from lottery_core.loops.protocol import LevelContext, LevelStart, Method
from lottery_core.loops.setup import (TrainerSpec, device_data, load_data_and_model,
                                      steps_per_epoch)
from lottery_core.signs import sign_flip_report
from lottery_core.store import (atomic_write_json, canonical_json, flatten, integrity, layout,
                                level_directory, load_extra, load_tree, load_tree_like, lock,
                                open_run_directory, save_tree, writer)
from lottery_core.store.provenance import provenance
from lottery_core.training import (Trainer, TrainState, default_step_loop, epoch_batches,
                                   make_optimizer)
from lottery_core.training import hosts
from lottery_core.training.sharding import local_devices


# ----------------------------------------------------------------------------- helpers
def _stack(trees):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def _index(tree, i):
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def _to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def chunk_bounds(first: int, n_steps: int, every: int, extra_cut: int | None = None):
    """Evaluation chunks ``[(a, b), ...]`` covering ``[first, first + n_steps)``: cuts every
    ``every`` steps from ``first`` (and at ``extra_cut``, the WR rewind step)."""
    end = first + n_steps
    cuts = set(range(first + every, end, every)) | {end}
    if extra_cut is not None and first < extra_cut < end:
        cuts.add(extra_cut)
    cuts = sorted(cuts)
    return list(zip([first] + cuts[:-1], cuts))


# ----------------------------------------------------------------------------- trainer
#: config fields that steer only the level loop (not a training step): left out of its TrainerSpec,
#: so the Trainer builder (and a method's ``trainer_kwargs``) sees their defaults, never these
LOOP_FIELDS = ("levels", "seeds", "first_seed", "eval_every", "prune_fraction",
               "prune_fraction_conv", "prune_fraction_output", "allocation", "rewind_step",
               "validation_size", "split_seed", "train_subset", "batch_size", "iterations",
               "epochs", "optimizer_state") + names_in(ExperimentConfig, "pai")
#: fields that choose the method: in TrainerSpec only when the method adds Trainer hooks
METHOD_FIELDS = ("method", "criterion", "mask1", "mask1_rescale", "mask0")


def level_spec(cfg: ExperimentConfig, method: Method, data, total_steps: int,
               per_epoch: int, devices: int | None) -> TrainerSpec:
    """The :class:`TrainerSpec` of a level runner: the resolved config without ``LOOP_FIELDS``
    (and without ``METHOD_FIELDS`` when the method adds no Trainer hooks)."""
    drop = LOOP_FIELDS + (() if method.trainer_kwargs or method.reparam else METHOD_FIELDS)
    values = {k: v for k, v in cfg.resolved().to_dict().items() if k not in drop}
    return TrainerSpec(canonical_json(values), tuple(data.input_shape), int(data.num_classes),
                       total_steps, per_epoch, len(local_devices(devices)))


@functools.lru_cache(maxsize=None)
def level_trainer(spec: TrainerSpec) -> Trainer:
    """The Trainer of a level runner, built from ``spec`` alone: the model, the optimizer, the
    level schedule, the method's hooks and the recipe's (input pipeline, sign perturbation)."""
    cfg, model = spec.config_and_model()
    method = registry.method_for(cfg)
    schedule = lrr_recipe.level_schedule(cfg, spec.total_steps, spec.steps_per_epoch)
    optimizer = make_optimizer(cfg.optimizer, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay, learning_rate=cfg.learning_rate)
    hooks = method.trainer_kwargs(cfg) if method.trainer_kwargs else {}
    params, _ = jax.eval_shape(model.init, jax.random.PRNGKey(0))
    recipe = lrr_recipe.recipe_hooks(cfg, model.apply, cfg.dataset, spec.input_shape,
                                     spec.steps_per_epoch, sparsity.prunable_paths(params))
    if "param_transform" in recipe and "param_transform" in hooks:
        raise ValueError(f"sign_perturbation cannot be combined with method "
                         f"{method.name!r}, which sets its own param_transform")
    kwargs = {**recipe, **hooks}
    if method.reparam is not None:
        kwargs = method.reparam.hooks(kwargs, cfg)
    return Trainer(optimizer=optimizer, schedule=schedule, last_step=spec.total_steps - 1,
                   step_loop=default_step_loop(params), devices=spec.devices, **kwargs)


# ----------------------------------------------------------------------------- runner
@dataclasses.dataclass
class Runner:
    """Runs (or resumes) one experiment into ``out/<method>-<hash>/``.

    After construction these attributes are its documented surface (experiments use them):
    ``config`` (as given) and ``cfg`` (resolved: the model's defaults filled in), ``method``,
    ``dataset``, ``model``, ``trainer``, ``x_train`` / ``y_train`` and ``eval_sets`` (the data
    on the trainer's devices), ``paths`` (prunable leaves), ``fractions`` (per-layer pruning
    fractions), ``total_steps``, ``steps_per_epoch``, ``run_dir`` and ``seed_dir(seed)``."""

    config: ExperimentConfig
    out: Path
    data_dir: str | None = None
    progress: bool = True
    seed_parallel: str = "auto"       # one of SEED_PARALLEL_MODES
    log: Callable[[str], None] = print
    dataset: Any = None               # a preloaded lottery_core.data.Dataset (tests)
    devices: int | None = None        # data parallelism over this many devices (None: all)
    wait: bool = False                # another process holds the run: wait (else RunBusyError)
    redo_level: int | None = None     # recompute this level and every later one (run())
    command: list | None = None       # the command line recorded (None: sys.argv)

    def __post_init__(self):
        registry.check_config(self.config)
        self.cfg = self.config.resolved()
        if self.redo_level is not None and not 0 <= self.redo_level <= self.cfg.levels:
            raise UsageError(f"--redo-level must be in [0, {self.cfg.levels}] (--levels "
                             f"{self.cfg.levels}), got {self.redo_level}")
        self.method = registry.method_for(self.config)
        if self.seed_parallel not in workers.SEED_PARALLEL_MODES:
            raise ValueError(f"seed_parallel must be one of "
                             f"{', '.join(workers.SEED_PARALLEL_MODES)}, "
                             f"got {self.seed_parallel!r}")
        if self.seed_parallel == "processes" and jax.process_count() > 1:
            raise ValueError("--seed-parallel processes cannot be combined with a "
                             "multi-process run; use sequential or vmap")
        self._given_dataset = self.dataset
        self.dataset, self.model = load_data_and_model(self.cfg, self.data_dir, self.dataset)
        data = self.dataset
        per_epoch = steps_per_epoch(data, self.cfg.batch_size)
        self.total_steps = (self.cfg.iterations if self.cfg.iterations is not None
                            else self.cfg.epochs * per_epoch)
        if self.cfg.rewind_step >= self.total_steps:
            raise ValueError(f"rewind_step {self.cfg.rewind_step} must be below the "
                             f"{self.total_steps} steps of a level")
        self.eval_every = self.cfg.eval_every or max(1, self.total_steps // 10)
        self.steps_per_epoch = per_epoch
        self.carry_opt = lrr_recipe.carries_optimizer_state(self.cfg)
        params, _ = jax.eval_shape(self.model.init, jax.random.PRNGKey(0))
        self.paths = sparsity.prunable_paths(params)
        # one Trainer (and so one set of compiled functions) per training setup per process
        self.trainer = level_trainer(level_spec(self.config, self.method, data,
                                                self.total_steps, per_epoch, self.devices))
        self.trainer.check_batch_size(self.cfg.batch_size)
        self.run_dir = open_run_directory(
            self.out, self.config.method, self.config.identity(),
            {"resolved": {k: v for k, v in self.cfg.to_dict().items() if k not in UNHASHED}})
        self.x_train, self.y_train, self.eval_sets = device_data(self.trainer, data)
        self.fractions = sparsity.layer_fractions(
            params, self.model.num_classes, self.cfg.prune_fraction,
            self.cfg.prune_fraction_conv, self.cfg.prune_fraction_output)
        if self.seed_parallel == "auto":
            self.seed_parallel = workers.auto_seed_parallel(self.cfg.seeds, self.total_steps,
                                                            self.cfg.levels)
        #: where training is, for :meth:`interrupt_message` (None: not started)
        self.position = None

    # -- per-seed artifacts ------------------------------------------------------------
    def trainable(self, params):
        """What the Trainer trains from ``params``: the method's reparameterization, if any."""
        reparam = self.method.reparam
        return params if reparam is None else reparam.trainable(params, self.cfg)

    def effective(self, trainable):
        """The weights a level writes, from what the Trainer trained."""
        reparam = self.method.reparam
        return trainable if reparam is None else reparam.effective(trainable)

    def seed_dir(self, seed: int) -> Path:
        return layout.seed_directory(self.run_dir, seed)

    def initial(self, seed: int):
        """θ_0 and the initial model state of ``seed`` (saved once as ``init.npz``)."""
        params, state = jax.jit(self.model.init)(jax.random.PRNGKey(seed))
        path = self.seed_dir(seed) / layout.INIT
        if not path.exists():
            save_tree(path, {"params": params, "model_state": state})
        return _to_numpy(params), _to_numpy(state)

    def starting_point(self, seed: int):
        """``(params, model_state, opt_state)`` where level 0 starts, the run's "init": θ_0
        (and ``None``: a fresh optimizer) without warmup; with ``warmup_epochs`` the state
        after the warmup (saved as ``warmup.npz`` / ``warmup_opt.npz``, computed once)."""
        if not self.cfg.warmup_epochs:
            params, state = self.initial(seed)
            return params, state, None
        path, opt_path = self.seed_dir(seed) / layout.WARMUP, self.seed_dir(seed) / \
            layout.WARMUP_OPT
        if not (path.exists() and opt_path.exists()):
            self.run_warmup(seed)
            hosts.sync("warmup written")          # the followers read process 0's files
        tree = load_tree(path)
        params, state = tree["params"], tree.get("model_state", {})
        return params, state, self.load_opt_state(opt_path, params)

    def run_warmup(self, seed: int) -> None:
        """Dense warmup of ``warmup_epochs`` epochs from θ_0 at schedule positions
        ``[-W·steps_per_epoch, 0)`` (the per-epoch linear ramp); writes ``warmup.npz``,
        ``warmup_opt.npz`` and ``warmup.json`` (losses, accuracies). Not resumable inside:
        an interrupted warmup restarts (it is W of the run's (levels+1)·E + W epochs)."""
        t0 = time.time()
        n = self.cfg.warmup_epochs * self.steps_per_epoch
        before, self.position = self.position, ("warmup", [seed], 0, n)
        params, state = self.initial(seed)
        train_state = self.trainer.init_state(
            params, state, sparsity.full_mask(params), step=-n,
            rng=jax.random.fold_in(jax.random.PRNGKey(seed), WARMUP_TAG))
        history = []
        chunks = [(bounds, phases.call_pieces(*bounds, self.trainer.step_loop == "python"))
                  for bounds in chunk_bounds(-n, n, self.eval_every)]
        epochs = self.cfg.warmup_epochs
        phase = phases.Phase(f"seed {seed} dense warmup: {epochs} epoch{'s' * (epochs != 1)} "
                             f"({n} steps)", n, sum(len(p) for _, p in chunks), self.progress)
        for (a, b), pieces in chunks:
            losses = []
            for c, d in pieces:
                self.position = ("warmup", [seed], c + n, n)
                indices = epoch_batches((seed, WARMUP_TAG), len(self.x_train),
                                        self.cfg.batch_size, c + n, d - c)
                train_state, steps = self.trainer.run_steps(train_state, self.x_train,
                                                            self.y_train, jnp.asarray(indices))
                losses.append(np.asarray(steps["loss"]))
                phase.advance(d - c)
            history.append({"step": b, "train_loss": float(np.mean(np.concatenate(losses)))})
        phase.close()
        evals = {k: self.trainer.evaluate(train_state.params, train_state.model_state, *xy)
                 for k, xy in self.eval_sets.items()}
        save_tree(self.seed_dir(seed) / layout.WARMUP,
                  {"params": _to_numpy(train_state.params),
                   "model_state": _to_numpy(train_state.model_state)})
        save_tree(self.seed_dir(seed) / layout.WARMUP_OPT, train_state.opt_state)
        atomic_write_json(self.seed_dir(seed) / layout.WARMUP_RECORD, {
            "epochs": self.cfg.warmup_epochs, "steps": n, "history": history,
            **{f"{k}_loss": float(v[0]) for k, v in evals.items()},
            **{f"{k}_accuracy": float(v[1]) for k, v in evals.items()},
            "seconds": time.time() - t0})
        self.log(f"  seed {seed} warmup ({self.cfg.warmup_epochs} epochs): "
                 f"test {float(evals['test'][1]):.4f} ({time.time() - t0:.1f} s)")
        self.position = before          # the warmup is saved: what follows it resumes

    def interrupt_message(self) -> str:
        """What Ctrl-C reports: where training stopped (``self.position``, kept up to date
        by the loops) and what rerunning the command resumes; finished levels are kept."""
        rerun = "rerun the same command to resume"
        where = self.position
        if where is None:
            return f"interrupted before training started; {rerun}"
        if where[0] == "processes":
            return (f"interrupted while seeds {', '.join(map(str, where[1]))} trained in "
                    f"worker processes; {rerun}: finished levels are kept, each unfinished "
                    f"one resumes from its last checkpoint")
        seeds = f"seed{'s' * (len(where[1]) > 1)} {', '.join(map(str, where[1]))}"
        if where[0] == "warmup":
            return (f"interrupted in the dense warmup of {seeds}, step {where[2]} of "
                    f"{where[3]}; {rerun} (the warmup keeps no checkpoint: it restarts)")
        _, _, level, step, n_steps = where
        if step is None:
            return f"interrupted while preparing level {level} ({seeds}); {rerun}"
        if step == 0:
            return (f"interrupted at level {level}, step 0 of {n_steps} ({seeds}); {rerun}: "
                    f"finished levels are kept, level {level} starts again")
        return (f"interrupted at level {level}, step {step} of {n_steps} ({seeds}); {rerun} "
                f"from the checkpoint at step {step}: finished levels are kept")

    def load_opt_state(self, path: Path, params):
        return load_tree_like(path, self.trainer.optimizer.init(params))

    def level_done(self, seed: int, level: int) -> bool:
        return (level_directory(self.run_dir, seed, level) / layout.METRICS).exists()

    def load_level(self, seed: int, level: int):
        d = level_directory(self.run_dir, seed, level)
        params = load_tree(d / layout.PARAMS)
        mask = load_tree(d / layout.MASK)
        state_path = d / layout.MODEL_STATE
        state = load_tree(state_path) if state_path.exists() else {}
        return params, state, mask

    def prepare(self, seed: int, level: int):
        """The level's mask and LevelStart (from disk artifacts of earlier levels)."""
        init_params, init_state, init_opt = self.starting_point(seed)
        init_opt = init_opt if self.carry_opt else None
        if level == 0:
            mask = sparsity.full_mask(init_params)
            start = LevelStart(init_params, init_state, 0, self.total_steps, init_opt)
            return mask, start, init_params, None
        prev_params, prev_state, prev_mask = self.load_level(seed, level - 1)
        rewind, rewind_opt, prev_opt = None, None, None
        if self.method.needs_rewind_point:
            rewind = load_tree(self.seed_dir(seed) / layout.REWIND)
            if self.carry_opt:
                rewind_opt = self.load_opt_state(self.seed_dir(seed) / layout.REWIND_OPT,
                                                 rewind["params"])
        if self.carry_opt:
            prev_opt = self.load_opt_state(
                level_directory(self.run_dir, seed, level - 1) / layout.OPT_STATE, prev_params)
        ctx = LevelContext(
            level=level, seed=seed, config=self.config, total_steps=self.total_steps,
            init_params=init_params, init_state=init_state,
            rewind_params=None if rewind is None else rewind["params"],
            rewind_state=None if rewind is None else rewind.get("model_state", {}),
            previous_params=prev_params, previous_state=prev_state, previous_mask=prev_mask,
            fractions=self.fractions,
            key=jax.random.fold_in(jax.random.PRNGKey(seed), LEVEL_KEY_TAG + level),
            run_dir=self.run_dir, init_opt_state=init_opt, rewind_opt_state=rewind_opt,
            previous_opt_state=prev_opt, runner=self)
        mask = self.method.next_mask(ctx)
        return mask, self.method.start(ctx), init_params, prev_params

    # -- training -----------------------------------------------------------------------
    def run(self) -> Path:
        """Train every unfinished level, holding the run's lock: first ``redo_level``'s
        folders are removed, then every finished level is checked against its manifest."""
        seeds = list(range(self.cfg.first_seed, self.cfg.first_seed + self.cfg.seeds))
        devices = (f", {self.trainer.n_devices} devices" if self.trainer.n_devices > 1 else "")
        self.log(f"{self.cfg.method}: {self.run_dir} ({len(seeds)} seeds, {self.cfg.levels} "
                 f"levels, {self.total_steps} steps/level, seeds {self.seed_parallel}{devices})")
        with lock.hold(self.run_dir, wait=self.wait, log=self.log):
            if self.redo_level is not None:
                integrity.redo_levels(self.run_dir, seeds, self.redo_level, self.log)
            integrity.check_level_run(self.run_dir, seeds, self.cfg.levels, self.log)
            hosts.sync("run folder checked")
            if not (self.run_dir / layout.CONFIG).exists():       # a follower on another disk
                raise ClusterError(f"process {jax.process_index()} does not see the run folder "
                                   f"{self.run_dir} that process 0 wrote; --out must be on a "
                                   f"file system all processes share")
            self.train_pending(seeds)
        return self.run_dir

    def train_pending(self, seeds: list[int]) -> None:
        pending = [s for s in seeds
                   if not all(self.level_done(s, k) for k in range(self.cfg.levels + 1))]
        if self.seed_parallel == "processes" and len(pending) > 1:
            self.position = ("processes", pending)
            workers.train_in_processes(self, pending, WORKER_ENTRY)
            return
        for level in range(self.cfg.levels + 1):
            todo = [s for s in seeds if not self.level_done(s, level)]
            if not todo:
                continue
            if self.seed_parallel == "vmap" and len(todo) > 1:
                self.train_level(todo, level)
            else:
                for seed in todo:
                    self.train_level([seed], level)

    def train_level(self, seeds: list[int], level: int) -> None:
        hosts.sync(f"level {level} seeds {seeds}")  # process 0 wrote what prepare() reads
        t0 = time.time()
        self.position = ("level", seeds, level, None, None)
        prepared = [self.prepare(s, level) for s in seeds]
        starts = [p[1] for p in prepared]
        first, n_steps = starts[0].first_step, starts[0].n_steps
        if any((s.first_step, s.n_steps) != (first, n_steps) for s in starts):
            raise ValueError("seeds of one level must share the schedule window")
        aux_fn = self.method.aux
        states = [self.trainer.init_state(
            self.trainable(st.params), st.model_state, m, step=first,
            rng=jax.random.fold_in(jax.random.PRNGKey(s), level),
            aux=aux_fn(self, s, level) if aux_fn else ())
            for s, (m, st, _, _) in zip(seeds, prepared)]
        states = [state if st.opt_state is None else state._replace(opt_state=st.opt_state)
                  for state, (_, st, _, _) in zip(states, prepared)]
        dirs = [level_directory(self.run_dir, s, level) for s in seeds]
        # resume: every seed's checkpoint must be at the same step to train them together
        records = [{"history": [], "seconds": 0.0} for _ in seeds]
        ckpts = [d / layout.CHECKPOINT for d in dirs]
        if any(c.exists() for c in ckpts):
            loaded = [(load_tree_like(c, st), load_extra(c)) if c.exists() else (st, records[i])
                      for i, (c, st) in enumerate(zip(ckpts, states))]
            steps = {int(s.step) for s, _ in loaded}
            if len(steps) > 1:
                for seed in seeds:
                    self.train_level([seed], level)
                return
            states, records = [s for s, _ in loaded], [r for _, r in loaded]
        multi = len(seeds) > 1
        state = _stack(states) if multi else states[0]
        position = int(np.asarray(state.step).reshape(-1)[0])
        wr_cut = self.cfg.rewind_step if (level == 0 and self.method.needs_rewind_point) \
            else None
        bounds = [(a, b) for a, b in chunk_bounds(first, n_steps, self.eval_every, wr_cut)
                  if a >= position]
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=n_steps, initial=position - first, unit="step", leave=False,
                       desc=f"{self.cfg.method} level {level} seed "
                            f"{','.join(map(str, seeds))}")
        if wr_cut == 0 and position == 0:
            self.save_rewind_point(seeds, state, multi)
        clock = time.time()
        for a, b in bounds:
            self.position = ("level", seeds, level, a - first, n_steps)
            indices = np.stack([epoch_batches((s, level), len(self.x_train),
                                              self.cfg.batch_size, a, b - a) for s in seeds])
            if multi:
                state, steps = self.trainer.run_steps_seeds(state, self.x_train, self.y_train,
                                                            jnp.asarray(indices))
                losses = steps["loss"]
                evals = {k: self.trainer.evaluate_seeds(state.params, state.model_state, *xy)
                         for k, xy in self.eval_sets.items()}
            else:
                state, steps = self.trainer.run_steps(state, self.x_train, self.y_train,
                                                      jnp.asarray(indices[0]))
                losses = steps["loss"][None]
                evals = {k: tuple(v[None] for v in self.trainer.evaluate(
                    state.params, state.model_state, *xy)) for k, xy in self.eval_sets.items()}
            losses = np.asarray(losses)
            now = time.time()
            for i in range(len(seeds)):
                records[i]["history"].append({
                    "step": b, "train_loss": float(losses[i].mean()),
                    **{f"{k}_loss": float(v[0][i]) for k, v in evals.items()},
                    **{f"{k}_accuracy": float(v[1][i]) for k, v in evals.items()}})
                records[i]["seconds"] += (now - clock) / len(seeds)
            clock = now
            if wr_cut is not None and b == wr_cut:
                self.save_rewind_point(seeds, state, multi)
            if b < first + n_steps:
                for i, c in enumerate(ckpts):
                    save_tree(c, _index(state, i) if multi else state, extra=records[i])
            if bar is not None:
                bar.update(b - a)
        if bar is not None:
            bar.close()
        for i, seed in enumerate(seeds):
            final = _index(state, i) if multi else state
            self.finish_level(seed, level, dirs[i], final, prepared[i], records[i],
                              first, n_steps, time.time() - t0)

    def save_rewind_point(self, seeds, state, multi) -> None:
        for i, seed in enumerate(seeds):
            s = _index(state, i) if multi else state
            save_tree(self.seed_dir(seed) / layout.REWIND,
                      {"params": _to_numpy(self.effective(s.params)),
                       "model_state": _to_numpy(s.model_state)})
            if self.carry_opt:
                save_tree(self.seed_dir(seed) / layout.REWIND_OPT, s.opt_state)

    def finish_level(self, seed, level, directory: Path, state: TrainState, prepared, record,
                     first, n_steps, wall) -> None:
        mask, _, init_params, prev_params = prepared
        params = _to_numpy(self.effective(state.params))
        mask = _to_numpy(state.mask)
        save_tree(directory / layout.PARAMS, params)
        save_tree(directory / layout.MASK, mask)
        if flatten(state.model_state):
            save_tree(directory / layout.MODEL_STATE, _to_numpy(state.model_state))
        if self.carry_opt:
            save_tree(directory / layout.OPT_STATE, state.opt_state)
        history = record["history"]
        last = history[-1]
        # without a validation set (validation_size 0) val metrics and early stopping are None
        best = min(history, key=lambda h: (h["val_loss"], h["step"])) if "val_loss" in last \
            else None
        density = sparsity.density_report(mask, self.paths)
        metrics = {
            "method": self.cfg.method, "seed": seed, "level": level,
            "test_accuracy": last["test_accuracy"], "val_accuracy": last.get("val_accuracy"),
            "test_loss": last["test_loss"], "val_loss": last.get("val_loss"),
            "early_stop": best and {"step": best["step"], "test_accuracy": best["test_accuracy"],
                                    "val_accuracy": best["val_accuracy"],
                                    "val_loss": best["val_loss"]},
            "density": density["overall"],
            "density_layers": {p: v["density"] for p, v in density["layers"].items()},
            "kept_weights": density["kept"], "prunable_weights": density["total"],
            "sign_flips_vs_init": sign_flip_report(params, init_params, mask, self.paths),
            "sign_flips_vs_previous_level": (
                None if prev_params is None
                else sign_flip_report(params, prev_params, mask, self.paths)),
            "first_step": first, "steps": n_steps,
            "learning_rate_first": float(self.trainer._learning_rate(first)),
            "learning_rate_last": float(self.trainer._learning_rate(first + n_steps - 1)),
            "seconds": record["seconds"], "wall_seconds_this_process": wall,
            "seed_parallel": self.seed_parallel, "history": history,
            "provenance": provenance(self.command),
        }
        atomic_write_json(directory / layout.METRICS, metrics)
        checkpoint = directory / layout.CHECKPOINT
        if checkpoint.exists() and writer.writes():
            checkpoint.unlink()
        integrity.seal(directory)
        if level == 0:                # θ_0, rewind and warmup files are final now
            integrity.seal(self.seed_dir(seed))
        self.log(f"  seed {seed} level {level}: density {density['overall']:.4f} "
                 f"test {last['test_accuracy']:.4f} "
                 + (f"val {last['val_accuracy']:.4f} " if best else "") +
                 f"({record['seconds']:.1f} s)")


#: seed-sequence tag of the warmup's batch order and PRNG key (levels use their number): a
#: prime above any level count, so the warmup's stream never coincides with a level's
WARMUP_TAG = 999_983
#: level k's method key (random masks, Zhou's mask draws) is fold_in(PRNGKey(seed),
#: LEVEL_KEY_TAG + k): a prime offset that keeps it apart from the level's training key
#: fold_in(PRNGKey(seed), k) and from WARMUP_TAG
LEVEL_KEY_TAG = 1_000_003
#: what a ``processes`` worker runs (module:function), see :func:`seed_worker_main`
WORKER_ENTRY = "lottery_core.loops.levels:seed_worker_main"


def seed_worker_main(job_file: str, worker_id: int, core: int) -> None:
    """One ``processes`` worker (:func:`seed_worker`); Ctrl-C reaches the whole process group
    and the parent reports it, so a worker leaves quietly (exit status 130)."""
    try:
        seed_worker(job_file, worker_id, core)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def seed_worker(job_file: str, worker_id: int, core: int) -> None:
    """Body of one ``processes`` worker: reads ``seed level`` lines on stdin, trains that
    level, answers ``DONE seed level`` on stdout; logs go to stderr."""
    import sys
    import traceback

    from lottery_core.data import load_dataset_npz

    workers.pin_and_tie_to_parent(core)
    job = json.loads(Path(job_file).read_text())
    dataset = None
    if job["dataset_file"] is not None:
        dataset = load_dataset_npz(job["dataset_file"])
    runner = Runner(ExperimentConfig.from_dict(job["config"]), Path(job["out"]),
                    data_dir=job["data_dir"], progress=False, seed_parallel="sequential",
                    dataset=dataset, devices=job["devices"], command=job["command"],
                    log=lambda line: print(f"[worker {worker_id}] {line}", file=sys.stderr,
                                           flush=True))
    for line in sys.stdin:
        seed, level = map(int, line.split())
        try:
            runner.train_level([seed], level)
        except Exception:
            traceback.print_exc()
            print(f"FAIL {seed} {level}", flush=True)
            raise SystemExit(1)
        print(f"DONE {seed} {level}", flush=True)


def run_experiment(config: ExperimentConfig, out, **kwargs) -> Path:
    """Run or resume ``config`` into ``out``; returns the run directory."""
    return Runner(config, Path(out), **kwargs).run()

