"""The LRR paper's CIFAR training recipe as engine hooks (spec lrr.md §2.2, §2.3).

Gadhikar & Burkholz, "Masks, Signs, and Learning Rate Rewinding", ICLR 2024; the authors'
code ``AdvaitGadhikar/imp-lrr-lts`` [C]. The config fields (``ExperimentConfig``) and what
they do here:

* ``final_learning_rate`` (lr_min): per-level cosine ``lr_min + ½(1 + cos(π t/T))(lr − lr_min)``
  with lr = 0.1, lr_min = 0.01 [C] (``train.make_schedule``);
* ``warmup_epochs`` W: before level 0 the dense network trains W epochs at ``lr·(e+1)/W`` in
  epoch e (a per-epoch linear ramp) [C]. The state at its end (weights, BN state, optimizer
  state) is the run's "init": level 0 starts there, ``imp`` / ``wr --rewind-step 0`` rewind
  there (the paper's WR), and ``sign_flips_vs_init`` compares against it. The schedule
  positions ``[-W·E_steps, 0)`` are the warmup, so one trainer (one compilation) serves both;
* ``optimizer_state = "carry"``: the optimizer state (momentum) travels with the weights:
  level 0 continues the warmup's, LRR continues the previous level's, rewinding methods
  reload the one saved with their rewind point [C] (``main.py``: WR reloads the optimizer
  state from the post-warmup checkpoint; LRR resets nothing but the learning rate);
* ``input_pipeline = "cifar"``: per-channel normalization inside the model's ``apply`` (so
  evaluation sees it too) and RandomCrop(32, padding 4) + horizontal flip of every training
  batch on the device (``augment.py``) [C] ``data/cifar10.py``;
* ``sign_perturbation`` p, ``sign_perturbation_every`` k (default 30): at the start of every
  epoch e ≥ 1 of a level with e mod k = k − 1, each surviving weight of every conv/linear
  kernel flips its sign independently with probability p [C] (``--perturb-signs``,
  defaults p = 0.3, k = 30). *When* inside epoch e the code flips is not in the spec; the
  start of the epoch is our choice [R] (flipping at its end would hit the level's last
  epoch, e = 149 for k = 30, E = 150, right before pruning).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from lottery_core.store import flatten, unflatten

DEFAULT_PERTURB_EVERY = 30


# ----------------------------------------------------------------------------- config
def carries_optimizer_state(c) -> bool:
    return c.optimizer_state == "carry"


# ----------------------------------------------------------------------------- schedule
def level_schedule(c, total_steps: int, steps_per_epoch: int) -> Callable:
    """The learning rate at schedule position ``step``: the level schedule for ``step >= 0``
    and, with ``warmup_epochs = W``, the warmup ramp ``lr·(e+1)/W`` at ``step < 0`` (epoch
    ``e = (step + W·steps_per_epoch) // steps_per_epoch`` of the warmup)."""
    from lottery_core.training import make_schedule

    main = make_schedule(c.schedule, c.learning_rate, total_steps,
                         warmup_steps=c.warmup_steps, milestones=c.milestones, gamma=c.gamma,
                         final_learning_rate=c.final_learning_rate or 0.0)
    warm = c.warmup_epochs or 0
    if not warm:
        return main
    lr, offset = float(c.learning_rate), warm * steps_per_epoch

    def schedule(step):
        step = jnp.asarray(step)
        epoch = jnp.floor_divide(step + offset, steps_per_epoch)
        ramp = lr * (epoch + 1) / warm
        return jnp.where(step < 0, ramp, main(jnp.maximum(step, 0)))

    return schedule


# ----------------------------------------------------------------------------- input
def channel_constants(dataset: str):
    """Per-channel mean / std of the authors' code [C] (CIFAR-100's for cifar100)."""
    from lottery_core.training import augment

    if dataset == "cifar100":
        return augment.CIFAR100_MEAN, augment.CIFAR100_STD
    return augment.CIFAR10_MEAN, augment.CIFAR10_STD


def input_pipeline(c, apply_fn: Callable, dataset: str, input_shape) -> tuple[Callable, Any]:
    """``(apply_fn, augment)`` for the config's ``input_pipeline``: with ``"cifar"``, the
    model sees ``(x − mean)/std`` per channel (training and evaluation) and training batches
    are randomly cropped (4-pixel zero padding in pixel space) and flipped first."""
    if c.input_pipeline in (None, "none"):
        return apply_fn, None
    from lottery_core.training import augment

    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_pipeline 'cifar' needs 32x32x3-like images, got input "
                         f"shape {tuple(input_shape)}")
    mean, std = channel_constants(dataset)

    def normalized_apply(params, state, x, train):
        return apply_fn(params, state, augment.normalize(x, mean, std), train)

    def crop_and_flip(key, images):
        return augment.augment_batch(key, images, 4)

    return normalized_apply, crop_and_flip


# ----------------------------------------------------------------------------- signs
def perturb_signs(key, params, mask, probability: float, paths: list[str]):
    """Flip the sign of each surviving weight of the leaves ``paths`` independently with
    probability ``probability`` (one Bernoulli draw per weight, an independent key per layer)
    [C] ``--perturb-signs``. Returns the new params (other leaves untouched)."""
    flat, flat_mask = flatten(params), flatten(mask)
    keys = jax.random.split(key, max(1, len(paths)))
    out = dict(flat)
    for k, path in zip(keys, paths):
        w = flat[path]
        flip = jax.random.bernoulli(k, probability, jnp.shape(w)) & flat_mask[path]
        out[path] = jnp.where(flip, -w, w)
    return unflatten(out)


def perturbation_epoch_start(next_step, steps_per_epoch: int, every: int):
    """True when schedule position ``next_step`` is the first step of an epoch ``e ≥ 1`` with
    ``e mod every = every − 1``."""
    epoch = next_step // steps_per_epoch
    return ((next_step > 0) & (next_step % steps_per_epoch == 0)
            & (epoch % every == every - 1))


def sign_perturbation_transform(probability: float, every: int, steps_per_epoch: int,
                                paths: list[str]) -> Callable:
    """A Trainer ``param_transform``: ``params ⊙ mask``, then, after the last step before a
    perturbation epoch, :func:`perturb_signs` with a key from the state's PRNG key and step."""
    from lottery_core.sparsity import apply_mask

    def transform(params, state):
        params = apply_mask(params, state.mask)
        if state.opt_state is None:       # Trainer.init_state, not a training step
            return params
        next_step = state.step + 1
        key = jax.random.fold_in(jax.random.fold_in(state.rng, 0x5167), next_step)
        flipped = perturb_signs(key, params, state.mask, probability, paths)
        now = perturbation_epoch_start(next_step, steps_per_epoch, every)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(now, b, a), params, flipped)

    return transform


def recipe_hooks(c, apply_fn: Callable, dataset: str, input_shape, steps_per_epoch: int,
                 paths: list[str]) -> dict:
    """Trainer keyword arguments of the recipe: ``apply_fn``/``augment`` of the input
    pipeline and, with ``sign_perturbation``, the perturbing ``param_transform``."""
    apply_fn, augment_fn = input_pipeline(c, apply_fn, dataset, input_shape)
    hooks = {"apply_fn": apply_fn}
    if augment_fn is not None:
        hooks["augment"] = augment_fn
    if c.sign_perturbation is not None:
        every = c.sign_perturbation_every or DEFAULT_PERTURB_EVERY
        hooks["param_transform"] = sign_perturbation_transform(
            float(c.sign_perturbation), int(every), steps_per_epoch, paths)
    return hooks


# ----------------------------------------------------------------------------- BatchNorm
def batchnorm_prefixes(model_state) -> list[str]:
    """Paths of the BatchNorm layers: the model-state nodes holding ``mean`` and ``var``
    (``layers.batchnorm``); their params are ``<prefix>/scale`` and ``<prefix>/bias``."""
    return sorted({p.rsplit("/", 1)[0] for p in flatten(model_state)
                   if p.endswith("/mean") or p.endswith("/var")})


def rewind_batchnorm(params, source_params, model_state) -> dict:
    """``params`` with every BatchNorm affine parameter (γ = scale, β = bias) taken from
    ``source_params``; conv/linear kernels and other leaves keep their values."""
    bn = set(batchnorm_prefixes(model_state))
    flat, source = flatten(params), flatten(source_params)
    out = {p: (source[p] if p.rsplit("/", 1)[0] in bn else v) for p, v in flat.items()}
    return unflatten(out)


def recompute_bn_statistics(apply_fn: Callable, params, model_state, batches,
                            momentum: float | None = None):
    """Running statistics re-estimated for ``params``: the mean over ``batches`` of each BN
    layer's batch mean and (unbiased) batch variance in train mode, i.e. PyTorch's
    cumulative average (``momentum=None``) after resetting the statistics.

    One train-mode pass from all-zero statistics gives ``new = m · batch_stat`` per layer
    (``layers.batchnorm`` with momentum m), so ``batch_stat = new / m``."""
    from lottery_core.models.layers import BN_MOMENTUM

    m = BN_MOMENTUM if momentum is None else momentum
    zeros = jax.tree_util.tree_map(jnp.zeros_like, model_state)

    @jax.jit
    def batch_stats(x):
        _, new = apply_fn(params, zeros, x, True)
        return jax.tree_util.tree_map(lambda s: s / m, new)

    total, count = None, 0
    for x in batches:
        stats = batch_stats(x)
        total = stats if total is None else jax.tree_util.tree_map(jnp.add, total, stats)
        count += 1
    if count == 0:
        raise ValueError("recompute_bn_statistics needs at least one batch")
    return jax.tree_util.tree_map(lambda s: s / count, total)
