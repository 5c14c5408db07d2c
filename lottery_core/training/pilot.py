"""PILoT's training as hooks of the one Trainer step (Jacobs & Burkholz, "Mask in the Mirror",
ICLR 2025; spec mirror.md §2.2).

The params are a :class:`lottery_core.sparsity.reparam.Reparam` ``(m, w)``; the network runs on
x = m ⊙ w (:func:`reparam_apply`) and the loss is

    f(m ⊙ w) + α (‖m‖² + ‖w‖²)        over the reparameterized leaves,

with α read from ``TrainState.aux["alpha"]`` (:func:`alpha_aux`): a traced value, so Algorithm
1's per-epoch α update does not recompile. In one-shot training no mask acts on m and w
(:func:`unmasked`); inside the level loop (iterative PILoT, spec §3.3) the level's mask zeroes
m and w of every pruned weight (:func:`mask_reparam`), so pruned x = m ⊙ w stays exactly 0.
Plain training of x is the same objective with no reparameterized leaf (``m`` ``None``
everywhere), where the penalty is 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from lottery_core.sparsity import reparam as rp
from lottery_core.sparsity import apply_mask
from lottery_core.training.trainer import unmasked


def reparam_apply(apply_fn):
    """``apply(reparam, model_state, x, train)``: the model ``apply_fn`` on x = m ⊙ w."""

    def apply(reparam, model_state, x, train):
        return apply_fn(rp.collapse(reparam), model_state, x, train)

    return apply


def pilot_loss(apply_fn):
    """Trainer ``loss_fn``: f(m ⊙ w) + α(‖m‖² + ‖w‖²), f the mean cross-entropy and
    ``apply_fn`` a :func:`reparam_apply`; reports the data loss f, the penalty and the batch
    accuracy as step metrics."""

    def loss(reparam, model_state, x, y, state):
        logits, new_state = apply_fn(reparam, model_state, x, True)
        data_loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        penalty = rp.weight_decay_penalty(reparam, state.aux["alpha"])
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        return data_loss + penalty, (new_state, {"data_loss": data_loss, "penalty": penalty,
                                                 "accuracy": accuracy})

    return loss


def pilot_hooks(apply_fn) -> dict:
    """Trainer keyword arguments that train a Reparam with PILoT's loss: ``apply_fn``,
    ``loss_fn`` and unmasked gradient / param transforms."""
    apply = reparam_apply(apply_fn)
    return {"apply_fn": apply, "loss_fn": pilot_loss(apply), "grad_transform": unmasked,
            "param_transform": unmasked}


def mask_reparam(tree: rp.Reparam, state) -> rp.Reparam:
    """Gradient / param transform of a Reparam under ``state.mask`` (a mask of the collapsed
    params): m and w (or their gradients) set to exactly 0 where the mask is False."""
    m = jax.tree.map(lambda a, keep: None if a is None else jnp.where(keep, a, jnp.zeros_like(a)),
                     tree.m, state.mask, is_leaf=lambda a: a is None)
    return rp.Reparam(m=m, w=apply_mask(tree.w, state.mask))


def alpha_aux(alpha: float) -> dict:
    """``TrainState.aux`` holding α (float32, so a new value does not recompile)."""
    return {"alpha": jnp.float32(alpha)}
