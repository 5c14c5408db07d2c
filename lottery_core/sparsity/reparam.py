"""m ⊙ w reparameterization of a params pytree: PILoT, spred and plain m ⊙ w.

Source: Jacobs & Burkholz, "Mask in the Mirror: Implicit Sparsification" (ICLR 2025), spec
``mirror.md`` §2. Every selected leaf x (by default the leaves named ``kernel``: conv and dense
weights, spec §7.4 [assumption]) becomes x = m ⊙ w; the network runs on the collapsed params.

* Initializations (spec §2.1): ``"pilot"``: m w = x, m² − w² = β, m > 0 (a_0 = β/2 [R]);
  ``"spred"``: |m| = |w| (a_0 = 0, signs locked); ``"ones"``: m = 1, w = x.
* Objective (spec §2.2): f(m ⊙ w) + α(‖m‖² + ‖w‖²) over the selected leaves. With an optax
  optimizer this penalty is part of the loss; do not also add optax weight decay on m, w
  (PyTorch ``weight_decay = λ`` corresponds to α = λ/2, spec §2.5).
* α schedule: Algorithm 1 of v2 (spec §2.3), one update per epoch, as pure ``init``/``update``
  functions; the comparison operators (≥, ≤) are inferred [spec §7.3].
* Final magnitude pruning of |m ⊙ w|, global or layerwise, with the exact counts and
  deterministic ties of :mod:`lottery_core.sparsity` (spec §2.4).

The trainable object is a :class:`Reparam` ``(m, w)``: ``w`` has the structure of the params and
holds the plain value of every unselected leaf; ``m`` has ``None`` at unselected leaves (an
empty subtree for jax and optax), so ``optimizer.init(reparam)`` and ``optax.apply_updates``
work unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lottery_core.sparsity.allocation import SCOPES

Params = Any
Selector = Callable[[tuple, Any], bool]
INITS = ("pilot", "spred", "ones")


class Reparam(NamedTuple):
    """x = m ⊙ w on the selected leaves; ``m`` is ``None`` where a leaf is not reparameterized."""

    m: Params
    w: Params


def kernel_leaves(path: tuple, leaf) -> bool:
    """Default selector: leaves whose key is ``kernel`` (conv and dense weights)."""
    return bool(path) and getattr(path[-1], "key", None) == "kernel"


def _is_none(leaf) -> bool:
    return leaf is None


def _selected(params: Params, select: Selector) -> Params:
    return jax.tree_util.tree_map_with_path(lambda p, leaf: bool(select(p, leaf)), params)


# ----------------------------------------------------------------------------- build / collapse

def reparameterize(params: Params, *, init: str = "pilot", beta: float = 1.0,
                   select: Selector = kernel_leaves) -> Reparam:
    """Split the selected leaves x into (m, w) with m ⊙ w = x (up to float rounding).

    ``init``: ``"pilot"`` (m_0² − w_0² = β, spec §2.1), ``"spred"`` (|m_0| = |w_0|) or ``"ones"``
    (m_0 = 1, w_0 = x). Raises ValueError for an unknown init, β ≤ 0 or no selected leaf.
    """
    from theory import mirror as mirror_theory     # here: keeps scipy out of engine imports

    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; allowed: {', '.join(INITS)}")
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    chosen = _selected(params, select)
    if not any(jax.tree_util.tree_leaves(chosen)):
        raise ValueError("the selector picked no leaf to reparameterize "
                         "(default: leaves named 'kernel')")

    def split(leaf, pick):
        if not pick:
            return None, leaf
        dtype = jnp.asarray(leaf).dtype
        x = np.asarray(leaf, dtype=np.float64)
        if init == "pilot":
            m, w = mirror_theory.pilot_init(x, beta=beta)
        elif init == "spred":
            m, w = mirror_theory.spred_init(x)
        else:
            m, w = np.ones_like(x), x
        return jnp.asarray(m, dtype), jnp.asarray(w, dtype)

    leaves, treedef = jax.tree.flatten(params)
    pairs = [split(leaf, pick) for leaf, pick in zip(leaves, jax.tree.leaves(chosen))]
    return Reparam(m=jax.tree.unflatten(treedef, [m for m, _ in pairs]),
                   w=jax.tree.unflatten(treedef, [w for _, w in pairs]))


def collapse(reparam: Reparam) -> Params:
    """The params the network runs on: m ⊙ w at reparameterized leaves, w elsewhere."""
    return jax.tree.map(lambda m, w: w if m is None else m * w, reparam.m, reparam.w,
                        is_leaf=_is_none)


def _pairs(reparam: Reparam) -> list[tuple[jax.Array, jax.Array]]:
    ms = jax.tree.leaves(reparam.m, is_leaf=_is_none)
    ws = jax.tree.leaves(reparam.w)
    return [(m, w) for m, w in zip(ms, ws) if m is not None]


# ----------------------------------------------------------------------------- penalty, a_t, L1

def weight_decay_penalty(reparam: Reparam, alpha) -> jax.Array:
    """α (‖m‖² + ‖w‖²) over the reparameterized leaves (spec §1.1, §2.2)."""
    total = sum(jnp.sum(m * m) + jnp.sum(w * w) for m, w in _pairs(reparam))
    return alpha * total


def implicit_scale(reparam: Reparam) -> Params:
    """a = (m² − w²)/2 per reparameterized entry (``None`` elsewhere): the live scale of the
    time-dependent potential R_{a_t}, exact in continuous time (spec §1.3 [R][V])."""
    return jax.tree.map(lambda m, w: None if m is None else 0.5 * (m * m - w * w),
                        reparam.m, reparam.w, is_leaf=_is_none)


def l1_norm(reparam: Reparam) -> jax.Array:
    """‖m ⊙ w‖₁ over the reparameterized leaves (the K test of Algorithm 1)."""
    return sum(jnp.sum(jnp.abs(m * w)) for m, w in _pairs(reparam))


# ----------------------------------------------------------------------------- training

def softmax_cross_entropy(logits, labels) -> jax.Array:
    """Mean cross-entropy for integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# ----------------------------------------------------------------------------- Algorithm 1

class PilotScheduleState(NamedTuple):
    """α to use for the next epoch, the previous epoch's training accuracy, epochs done."""

    alpha: float
    prev_accuracy: float
    epoch: int


class PilotAlphaSchedule(NamedTuple):
    """Algorithm 1 (v2) as an optax-like pair of pure functions ``init()`` and
    ``update(state, train_accuracy, l1) -> state``, called once after every epoch."""

    init: Callable[[], PilotScheduleState]
    update: Callable[[PilotScheduleState, float, float], PilotScheduleState]


def pilot_alpha_update(state: PilotScheduleState, train_accuracy: float, l1: float, *,
                       total_epochs: int, delta: float, target_l1: float) -> PilotScheduleState:
    """One step of Algorithm 1 (spec §2.3): after epoch k = state.epoch + 1,
    α ← α·δ if acc_k ≥ acc_{k−1} and ‖m ⊙ w‖₁ ≥ K and k ≤ T/2, else α ← α/δ."""
    k = state.epoch + 1
    strengthen = (train_accuracy >= state.prev_accuracy and l1 >= target_l1
                  and k <= total_epochs / 2)
    alpha = state.alpha * delta if strengthen else state.alpha / delta
    return PilotScheduleState(alpha=float(alpha), prev_accuracy=float(train_accuracy), epoch=k)


def pilot_alpha_schedule(alpha_init: float, *, total_epochs: int, delta: float,
                         target_l1: float) -> PilotAlphaSchedule:
    """Build Algorithm 1's dynamic α schedule (δ > 1, L1 target K ≥ 0, T epochs).

    δ, K and α_init are not given in the paper (spec §2.3, §7.1); v1's constant grid
    {1e-4, 3e-4, 1e-3} suggests the magnitude of α_init.
    """
    if not np.isfinite(alpha_init) or alpha_init < 0:
        raise ValueError(f"alpha_init must be a finite number >= 0, got {alpha_init!r}")
    if not np.isfinite(delta) or delta <= 1:
        raise ValueError(f"delta must be a finite number > 1, got {delta!r}")
    if not np.isfinite(target_l1) or target_l1 < 0:
        raise ValueError(f"target_l1 must be a finite number >= 0, got {target_l1!r}")
    if int(total_epochs) != total_epochs or total_epochs < 1:
        raise ValueError(f"total_epochs must be a positive integer, got {total_epochs!r}")

    def init() -> PilotScheduleState:
        return PilotScheduleState(alpha=float(alpha_init), prev_accuracy=0.0, epoch=0)

    def update(state, train_accuracy, l1):
        return pilot_alpha_update(state, float(train_accuracy), float(l1),
                                  total_epochs=int(total_epochs), delta=float(delta),
                                  target_l1=float(target_l1))

    return PilotAlphaSchedule(init=init, update=update)


# ----------------------------------------------------------------------------- pruning

def _check_prune_args(sparsity: float, scope: str) -> None:
    if not (0.0 <= float(sparsity) < 1.0):
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; allowed: {', '.join(SCOPES)}")


def magnitude_prune(params: Params, sparsity: float, *, scope: str = "global",
                    select: Selector = kernel_leaves) -> tuple[Params, Params]:
    """Zero the smallest |x| among the selected leaves (spec §2.4), with the engine's pruning
    (:mod:`lottery_core.sparsity`): exactly ``round_half_up(sparsity·N)`` entries are removed.

    ``scope="global"``: one ranking over all selected entries (N = their total count);
    ``"layerwise"``: the same fraction removed in every selected leaf (N = the leaf's count).
    Ties are broken as in ``sparsity``: among equal |x| the entry with the lower flat index (leaves
    in tree order, row-major inside a leaf) is kept. Returns ``(pruned_params, masks)`` with
    boolean masks (True = kept) at selected leaves and ``None`` elsewhere.
    """
    _check_prune_args(sparsity, scope)
    return _prune(params, jax.tree.leaves(_selected(params, select)), sparsity, scope)


def _prune(params: Params, picks: list[bool], sparsity: float, scope: str):
    from lottery_core.sparsity import masks as masks_lib

    leaves, treedef = jax.tree.flatten(params)
    idx = [i for i, pick in enumerate(picks) if pick]
    if not idx:
        raise ValueError("the selector picked no leaf to prune (default: leaves named 'kernel')")
    # zero-padded keys keep tree order in masks_lib's sorted '/'-joined flat view
    keys = {i: f"{i:08d}" for i in idx}
    scores = {keys[i]: np.abs(np.asarray(leaves[i], np.float64)) for i in idx}
    alive = {keys[i]: np.ones(np.shape(leaves[i]), bool) for i in idx}
    fractions = {keys[i]: float(sparsity) for i in idx}
    kept = masks_lib.prune(scores, alive, fractions,
                           "global" if scope == "global" else "layerwise")
    masks: list = [None] * len(leaves)
    for i in idx:
        masks[i] = jnp.asarray(kept[keys[i]])
    pruned = [leaf if mask is None else jnp.where(mask, leaf, jnp.zeros_like(leaf))
              for leaf, mask in zip(leaves, masks)]
    return jax.tree.unflatten(treedef, pruned), jax.tree.unflatten(treedef, masks)


def prune_reparameterized(reparam: Reparam, sparsity: float, *, scope: str = "global"):
    """PILoT's final step: collapse to x = m ⊙ w and magnitude-prune the reparameterized leaves
    (as :func:`magnitude_prune`). Returns ``(pruned_params, masks)``; no retraining (one-shot
    setting, spec §2.4)."""
    _check_prune_args(sparsity, scope)
    picks = [m is not None for m in jax.tree.leaves(reparam.m, is_leaf=_is_none)]
    return _prune(collapse(reparam), picks, sparsity, scope)
