"""Mask-1 and mask-0 actions of Zhou et al. (2019), §3-§4 (spec zhou.md §4, §5).

Between rounds, a *mask-1 action* decides the starting values of the kept weights and a
*mask-0 action* decides what the pruned weights are fixed to. A layer is then computed as

    kernel = trainable ⊙ m + frozen ⊙ (1 − m)            (official ``masked_layers.py`` [C])

so :func:`mask0_action` returns the frozen values (and which kept weights restart from 0).
All functions act on one layer (numpy arrays) with an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray

#: spec §4: rewind is the original lottery ticket; the others are Fig. 4's treatments
MASK1_ACTIONS = ("rewind", "reinit", "reshuffle", "constant",
                 "signed_reinit", "signed_reshuffle", "signed_constant")
#: spec §5: zero is the original lottery ticket; the rest are Fig. 5's variants and controls
MASK0_ACTIONS = ("zero", "freeze_init", "freeze_init_zero_mask", "freeze_init_zero_all",
                 "freeze_init_zero_reshuffle", "freeze_init_zero_rev")


def _check(name: str, allowed: tuple[str, ...], what: str) -> None:
    if name not in allowed:
        raise ValueError(f"unknown {what} {name!r}; available: {', '.join(allowed)}")


def _shuffled(values: Array, rng: np.random.Generator) -> Array:
    return rng.permutation(values.reshape(-1)).reshape(values.shape)


def _shuffled_within(values: Array, mask: Array, rng: np.random.Generator) -> Array:
    """Permute the entries of ``values`` at the positions where ``mask`` is True."""
    out = values.copy().reshape(-1)
    kept = np.flatnonzero(mask.reshape(-1))
    out[kept] = out[kept][rng.permutation(kept.size)]
    return out.reshape(values.shape)


def layer_std(w_i: Array) -> float:
    """α_ℓ: the standard deviation of the layer's initial weights (``np.std`` over the kernel)."""
    return float(np.std(w_i))


def rescaling_factor(mask: Array) -> float:
    """``*_rescaling`` variants: #weights / #ones in the mask (spec §4, extra code variants)."""
    ones = int(np.count_nonzero(mask))
    if ones == 0:
        raise ValueError("cannot rescale a layer whose mask keeps no weight")
    return mask.size / ones


def mask1_values(action: str, w_i: Array, mask: Array, rng: np.random.Generator) -> Array:
    """The next round's initial values of a whole layer (dense: pruned positions included).

    Iterative runs chain these: round k's values come from round k−1's (spec §7 [C]), and the
    kept weights start from them, ``where(mask, values, 0)`` (:func:`mask1_action`).

    - ``rewind``: w_i (original LT).
    - ``reinit``: all initial values of the layer shuffled and reassigned (code ``random_reinit``).
    - ``reshuffle``: the kept weights' initial values permuted among the kept positions.
    - ``constant``: α·sign(w_i) with positions shuffled over the layer (``rand_signed_constant``):
      random signs in the original proportion, magnitude α = std(w_i).
    - ``signed_reinit`` / ``signed_reshuffle`` / ``signed_constant``: the same magnitudes, each
      weight keeping sign(w_i).
    """
    _check(action, MASK1_ACTIONS, "mask-1 action")
    w_i = np.asarray(w_i, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if w_i.shape != mask.shape:
        raise ValueError(f"w_i {w_i.shape} and mask {mask.shape} differ in shape")
    sign = np.sign(w_i)
    alpha = layer_std(w_i)
    if action == "rewind":
        return w_i
    if action == "reinit":
        return _shuffled(w_i, rng)
    if action == "reshuffle":
        return _shuffled_within(w_i, mask, rng)
    if action == "constant":
        return _shuffled(alpha * sign, rng)
    if action == "signed_reinit":
        return _shuffled(np.abs(w_i), rng) * sign
    if action == "signed_reshuffle":
        return _shuffled_within(np.abs(w_i), mask, rng) * sign
    return alpha * sign  # signed_constant


def mask1_action(action: str, w_i: Array, mask: Array, rng: np.random.Generator,
                 *, rescale: bool = False) -> Array:
    """Starting values of the kept weights (pruned entries 0): :func:`mask1_values` under the
    mask; with ``rescale`` multiplied by #weights / #ones (:func:`rescaling_factor`)."""
    mask = np.asarray(mask, dtype=bool)
    values = np.where(mask, mask1_values(action, w_i, mask, rng), 0.0)
    return values * rescaling_factor(mask) if rescale else values


def mask0_action(action: str, w_i: Array, w_f: Array, mask: Array,
                 rng: np.random.Generator) -> tuple[Array, Array]:
    """``(frozen, restart_from_zero)`` for one layer; the kernel is
    ``trainable ⊙ m + frozen ⊙ (1 − m)`` and kept weights flagged in ``restart_from_zero``
    start retraining from 0 instead of their mask-1 value.

    - ``zero``: pruned weights fixed at 0 (original LT).
    - ``freeze_init``: pruned weights frozen at w_i.
    - ``freeze_init_zero_mask`` (Variant 1): a pruned weight is frozen at 0 if it moved toward
      zero during training (|w_i| > |w_f|), else at w_i.
    - ``freeze_init_zero_all`` (Variant 2): Variant 1 for the pruned weights, and kept weights
      with |w_i| > |w_f| restart from 0.
    - ``freeze_init_zero_reshuffle`` (control): zero as many pruned weights as Variant 1
      would, chosen at random; the rest frozen at w_i.
    - ``freeze_init_zero_rev`` (control): zero the pruned weights whose magnitude increased.
    """
    _check(action, MASK0_ACTIONS, "mask-0 action")
    w_i = np.asarray(w_i, dtype=np.float64)
    w_f = np.asarray(w_f, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if not (w_i.shape == w_f.shape == mask.shape):
        raise ValueError(f"shapes differ: w_i {w_i.shape}, w_f {w_f.shape}, mask {mask.shape}")
    pruned = ~mask
    moved_to_zero = np.abs(w_i) > np.abs(w_f)
    restart_from_zero = np.zeros_like(mask)
    if action == "zero":
        frozen = np.zeros_like(w_i)
    elif action == "freeze_init":
        frozen = np.where(pruned, w_i, 0.0)
    elif action in ("freeze_init_zero_mask", "freeze_init_zero_all"):
        frozen = np.where(pruned & ~moved_to_zero, w_i, 0.0)
        if action == "freeze_init_zero_all":
            restart_from_zero = mask & moved_to_zero
    elif action == "freeze_init_zero_reshuffle":
        count = int(np.count_nonzero(pruned & moved_to_zero))
        pruned_positions = np.flatnonzero(pruned.reshape(-1))
        zeroed = rng.choice(pruned_positions, size=count, replace=False)
        frozen = np.where(pruned, w_i, 0.0).reshape(-1)
        frozen[zeroed] = 0.0
        frozen = frozen.reshape(w_i.shape)
    else:  # freeze_init_zero_rev
        frozen = np.where(pruned & ~(np.abs(w_f) > np.abs(w_i)), w_i, 0.0)
    return frozen, restart_from_zero


def effective_kernel(trainable, mask, frozen):
    """``trainable ⊙ m + frozen ⊙ (1 − m)``: works on numpy and JAX arrays alike."""
    return trainable * mask + frozen * (1 - mask)
