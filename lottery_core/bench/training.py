"""Training speed on the level runner's own Trainer: the CIFAR epoch (batch x compute dtype)
and K tickets trained together under ``jax.vmap``.

Every timing uses the Trainer that ``lottery run lrr`` / ``lottery experiment lrr-vs-imp``
builds for the same options (``levels.level_trainer(levels.level_spec(...))``: the LRR
recipe's cosine schedule with warmup, SGD with momentum and weight decay, the masked step and
the on-device input pipeline: random crop, flip and normalization of every batch), with the
data resident on the device and each step gathering its batch. One epoch = one call of
``run_steps`` over ``len(train) // batch`` steps (one ``lax.scan`` on an accelerator; a loop
of compiled steps on CPU, ``Trainer.step_loop``). The first call includes compilation; the
epoch time is the second call's (the next epoch's batches, same shapes).

bfloat16 is the models' ``compute_dtype`` option (convolutions and matmuls in bfloat16;
parameters, BatchNorm statistics, gradients and optimizer state in float32; docs/cifar.md,
"Mixed precision"); the Trainer itself has no dtype setting.

K tickets: ``Trainer.run_steps_seeds``, the program the level runner uses for ``--seed-parallel
vmap`` (K seeds, each its own initialization and batch order, one compiled program). One
ticket is the plain ``run_steps`` (what the runner does for one seed), i.e. the epoch time of
the same row.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from lottery_core.bench.budget import Skip
from lottery_core.bench.environment import peak_device_bytes
from lottery_core.bench.settings import BenchSettings, experiment_args

#: folder of the LRR runs inside the bench folder (the experiments' --out)
LRR_DIR = "lrr"


@dataclasses.dataclass
class BenchRun:
    """What the phases share: the settings, the data folder, the output folder, and the data
    set (loaded once, by the experiments' own loader) and its device copy (placed once)."""

    settings: BenchSettings
    data_dir: str | None
    out: Path
    _dataset: object = None
    _device: tuple | None = None

    def args(self, **options):
        """``lottery experiment lrr-vs-imp`` options (``settings.experiment_args``) writing
        into ``OUT/lrr``."""
        return experiment_args(self.settings, self.data_dir, Path(self.out) / LRR_DIR,
                               **options)

    def dataset(self):
        if self._dataset is None:
            from lottery_core.experiments import _lrr_common as common

            self._dataset = common.load_data(self.args(batch=self.settings.recipe_batch))
        return self._dataset

    def device_arrays(self, trainer):
        """``(x_train, y_train, {"val", "test"})`` on the device, placed once (every bench
        Trainer runs on one device, so any of them places them alike)."""
        if self._device is None:
            from lottery_core.loops.setup import device_data

            self._device = device_data(trainer, self.dataset())
        return self._device


def recipe_spec(run: BenchRun, args, method: str = "lrr"):
    """``(TrainerSpec, steps per epoch)`` of the level runner for ``args`` (experiment options
    of :meth:`BenchRun.args`), on one device: equal specs share one Trainer and its compiled
    functions (``levels.level_trainer`` is cached on the spec)."""
    from lottery_core.experiments import _lrr_common as common
    from lottery_core.loops import registry
    from lottery_core.loops.levels import level_spec
    from lottery_core.loops.setup import steps_per_epoch

    data = run.dataset()
    per_epoch = steps_per_epoch(data, args.batch_size)
    config = common.make_config(args, method)
    spec = level_spec(config, registry.method_for(config), data, args.epochs * per_epoch,
                      per_epoch, 1)
    return spec, per_epoch


def recipe_trainer(run: BenchRun, batch: int, dtype: str):
    """``(trainer, spec, steps per epoch)``: the level runner's Trainer for one epoch per level
    and one warmup epoch at this batch size and compute dtype, evaluating after every epoch.
    A reduced LRR run of one warmup epoch and one epoch per level has the same spec, so it
    reuses this Trainer's compiled functions (the tiny run does)."""
    from lottery_core.loops.levels import level_trainer
    from lottery_core.loops.setup import steps_per_epoch

    per_epoch = steps_per_epoch(run.dataset(), batch)
    spec, _ = recipe_spec(run, run.args(batch=batch, dtype=dtype, eval_every=per_epoch))
    return level_trainer(spec), spec, per_epoch


def fresh_state(trainer, init, seed: int):
    """θ_0 of ``seed`` (``init``: the model's jitted init) with a full mask and a fresh
    optimizer, at schedule step 0."""
    import jax

    from lottery_core import sparsity

    params, model_state = init(jax.random.PRNGKey(seed))
    return trainer.init_state(params, model_state, sparsity.full_mask(params),
                              rng=jax.random.PRNGKey(seed))


def timed(fn):
    """``(fn(), wall seconds)`` with the result ready on the device."""
    import jax

    clock = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - clock


def epoch_indices(seeds, n: int, batch: int, per_epoch: int, epoch: int):
    """The engine's batch order (``epoch_batches((seed, 0), ...)``) of one epoch, stacked over
    ``seeds`` when given a list, else for the one seed given."""
    import jax.numpy as jnp

    from lottery_core.training import epoch_batches

    one = lambda s: epoch_batches((s, 0), n, batch, epoch * per_epoch, per_epoch)  # noqa: E731
    if isinstance(seeds, int):
        return jnp.asarray(one(seeds))
    return jnp.asarray(np.stack([one(s) for s in seeds]))


# ----------------------------------------------------------------------------- epoch time
def time_epoch(run: BenchRun, batch: int, dtype: str) -> dict:
    """One row: compile + epoch 0, then epoch 1 timed, then the test-set evaluation twice."""
    import jax

    trainer, spec, per_epoch = recipe_trainer(run, batch, dtype)
    x, y, evals = run.device_arrays(trainer)
    seed = run.settings.seed
    state = fresh_state(trainer, jax.jit(spec.config_and_model()[1].init), seed)
    epochs = [epoch_indices(seed, len(x), batch, per_epoch, e) for e in (0, 1)]
    (state, first_metrics), first = timed(lambda: trainer.run_steps(state, x, y, epochs[0]))
    (state, metrics), epoch = timed(lambda: trainer.run_steps(state, x, y, epochs[1]))
    x_test, y_test = evals["test"]
    _, eval_first = timed(lambda: trainer.evaluate(state.params, state.model_state, x_test,
                                                   y_test))
    (loss, accuracy), eval_s = timed(lambda: trainer.evaluate(state.params, state.model_state,
                                                              x_test, y_test))
    losses = [float(np.mean(np.asarray(m["loss"]))) for m in (first_metrics, metrics)]
    return {"batch": batch, "dtype": dtype, "steps": per_epoch, "images": per_epoch * batch,
            "first_call_s": first, "epoch_s": epoch, "compile_s": max(first - epoch, 0.0),
            "images_per_s": per_epoch * batch / epoch, "eval_images": int(len(y_test)),
            "eval_first_call_s": eval_first, "eval_s": eval_s,
            "eval_compile_s": max(eval_first - eval_s, 0.0),
            "train_loss_epoch": losses, "losses_finite": bool(np.all(np.isfinite(losses))),
            "test_accuracy_after_2_epochs": float(accuracy), "test_loss_after_2_epochs":
            float(loss), "augment_on_device": trainer.augment is not None,
            "step_loop": trainer.step_loop, "peak_device_bytes": peak_device_bytes()}


def rows_in_order(settings: BenchSettings) -> list[tuple[int, str]]:
    """The recipe batch in float32 first (the later phases need it), then the other dtypes
    at that batch, then the other batches."""
    return [(b, d) for b in settings.batches for d in settings.dtypes]


def run_epoch_time(ctx) -> None:
    run: BenchRun = ctx.shared
    rows = ctx.result.setdefault("rows", [])
    ctx.result["model"] = run.settings.model_label
    ctx.result["train_images"] = int(len(run.dataset().x_train))
    for batch, dtype in rows_in_order(run.settings):
        kept = find_row({"result": ctx.previous} if ctx.previous else None, batch, dtype)
        if kept is not None:        # measured by an earlier, partial attempt: the later
            rows.append(kept)       # phases may already have used it
            ctx.log(f"epoch_time: batch {batch} {dtype}: kept from an earlier attempt")
            continue
        estimate = max([r["first_call_s"] + r["epoch_s"] + r["eval_first_call_s"] + r["eval_s"]
                        for r in rows], default=run.settings.first_row_prior_s)
        if not ctx.fits(f"batch {batch} {dtype}", estimate):
            continue
        row = time_epoch(run, batch, dtype)
        rows.append(row)
        ctx.log(f"epoch_time: batch {batch} {dtype}: first call {row['first_call_s']:.1f} s "
                f"(compile + epoch), epoch {row['epoch_s']:.2f} s ({row['images_per_s']:.0f} "
                f"img/s), test eval {row['eval_s']:.2f} s")
        ctx.save()


def find_row(record: dict | None, batch: int, dtype: str) -> dict | None:
    """The epoch-time row of ``batch`` / ``dtype`` in a phase record, if it was measured."""
    if not record:
        return None
    return next((r for r in record["result"].get("rows", [])
                 if r["batch"] == batch and r["dtype"] == dtype), None)


# ----------------------------------------------------------------------------- tickets
def run_tickets(ctx) -> None:
    import jax

    from lottery_core.loops.levels import _stack

    run: BenchRun = ctx.shared
    batch, seed = run.settings.recipe_batch, run.settings.seed
    base = find_row(ctx.earlier.get("epoch_time"), batch, "float32")
    if base is None:
        raise Skip(f"needs the epoch_time row at batch {batch} float32 (one ticket), which "
                   f"was not measured")
    trainer, spec, per_epoch = recipe_trainer(run, batch, "float32")
    x, y, _ = run.device_arrays(trainer)
    rows = ctx.result.setdefault("rows", [])
    ctx.result.update(batch=batch, steps=per_epoch)
    rows.append({"tickets": 1, "program": "run_steps (epoch_time row)",
                 "first_call_s": base["first_call_s"], "epoch_s": base["epoch_s"],
                 "ticket_images_per_s": base["images_per_s"], "speedup_vs_sequential": 1.0,
                 "peak_device_bytes": base["peak_device_bytes"]})
    init = jax.jit(spec.config_and_model()[1].init)
    for k in run.settings.tickets[1:]:
        estimate = 1.5 * base["compile_s"] + 2 * k * base["epoch_s"]
        if not ctx.fits(f"K={k}", estimate):
            continue
        seeds = list(range(seed, seed + k))
        states = _stack([fresh_state(trainer, init, s) for s in seeds])
        epochs = [epoch_indices(seeds, len(x), batch, per_epoch, e) for e in (0, 1)]
        (states, _), first = timed(lambda: trainer.run_steps_seeds(states, x, y, epochs[0]))
        (states, metrics), epoch = timed(lambda: trainer.run_steps_seeds(states, x, y,
                                                                         epochs[1]))
        rows.append({"tickets": k, "program": "run_steps_seeds (vmap)", "first_call_s": first,
                     "epoch_s": epoch, "ticket_images_per_s": k * per_epoch * batch / epoch,
                     "speedup_vs_sequential": k * base["epoch_s"] / epoch,
                     "losses_finite": bool(np.all(np.isfinite(np.asarray(metrics["loss"])))),
                     "peak_device_bytes": peak_device_bytes()})
        ctx.log(f"tickets: K={k}: epoch of {k} tickets {epoch:.2f} s, "
                f"{rows[-1]['speedup_vs_sequential']:.2f}x {k} sequential tickets")
        ctx.save()
