"""The one-shot methods of ``lottery run``: what each trains before the one top-k.

Every one-shot method (:class:`Sparsifier`) trains a *trainable* pytree built from θ_0 with its
own objective f(x) + penalty, where the network runs on the *effective* weights x; after
training, the one-shot runner (:mod:`lottery_core.loops.oneshot`) magnitude-prunes x to each
requested sparsity with the engine's exact-count top-k (``reparam.magnitude_prune``), so every
method ends at exactly the requested density with pruned weights exactly 0. Methods that learn
their own sparsity (``cs``: 1[s > 0]; ``str``: x = 0 below the threshold) also report that
learned network (``learned``: its density and accuracies) beside the exact-density ones.

=========  ====================================  ==========================================
method     trainable -> effective weights x      penalty (per-epoch hyperparameters)
=========  ====================================  ==========================================
oneshot    x -> x                                0
pilot      (m, w) -> m ⊙ w, PILoT init           α_k(‖m‖² + ‖w‖²), α_k: Algorithm 1
spred      (m, w) -> m ⊙ w, balanced init        α(‖m‖² + ‖w‖²), α constant
l1         x -> x                                λ_k‖x‖₁, λ_k constant or decaying
cs         (w, s) -> w ⊙ σ(β_k s)/σ(s_0)         λ‖σ(β_k s)/σ(s_0)‖₁, β_k growing
powerprop  θ -> θ|θ|^(α−1)                       0
str        (w, s_l) -> sign(w)relu(|w| − σ(s_l)) 0 (the optimizer's weight decay acts on s)
=========  ====================================  ==========================================

Only the kernels (leaves named ``kernel``) are reparameterized and penalized; biases and
BatchNorm parameters train as usual. The per-epoch hyperparameters live in ``TrainState.aux``
(float32 scalars), so a new value does not recompile. Equations and sources:
:mod:`lottery_core.sparsity.continuous`, :mod:`lottery_core.sparsity.reparam`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from lottery_core.sparsity import continuous as cs
from lottery_core.sparsity import reparam as rp
from lottery_core.training.trainer import unmasked

Params = Any


def _kernel_map(fn, params, *others):
    """``fn(leaf, *others)`` at the kernels of ``params``, the leaf itself elsewhere."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf, *rest: fn(leaf, *rest) if rp.kernel_leaves(path, leaf) else leaf,
        params, *others, is_leaf=lambda x: x is None)


def _kernels(params) -> list:
    return [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)
            if rp.kernel_leaves(path, leaf)]


def _gates(params, value: float) -> Params:
    """A tree shaped like ``params``: ``value`` at every kernel entry, ``None`` elsewhere."""
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: jnp.full(jnp.shape(leaf), value, jnp.asarray(leaf).dtype)
        if rp.kernel_leaves(path, leaf) else None, params)


@dataclasses.dataclass(frozen=True)
class Sparsifier:
    """A one-shot method's objective: ``init(params, settings)`` builds the trainable from θ_0;
    ``effective(trainable, aux)`` gives the weights x the network runs on; ``penalty(trainable,
    aux)`` is added to the data loss; ``hyper(settings, epoch, epochs)`` gives the aux values of
    epoch ``epoch`` (0-based); ``learned(trainable, aux)`` (optional) the method's own sparse
    network. ``family`` keys the Trainer cache (methods of one family share its loss)."""

    name: str
    family: str
    init: Callable[[Params, Any], Any]
    effective: Callable[[Any, dict], Params]
    penalty: Callable[[Any, dict], Any]
    hyper: Callable[[Any, int, int], dict]
    learned: Callable[[Any, dict], Params] | None = None


# ----------------------------------------------------------------------------- m ⊙ w family
def _reparam_penalty(trainable, aux):
    return rp.weight_decay_penalty(trainable, aux["alpha"])


def _collapse(trainable, aux):
    return rp.collapse(trainable)


OneShot = Sparsifier("oneshot", "reparam", lambda p, s: rp.Reparam(
    m=jax.tree.map(lambda _: None, p), w=p), _collapse, _reparam_penalty,
    lambda s, e, n: {"alpha": 0.0})
#: α of pilot comes from Algorithm 1 (stateful, run by the one-shot runner), not ``hyper``
Pilot = Sparsifier("pilot", "reparam",
                   lambda p, s: rp.reparameterize(p, init=s.init, beta=s.beta),
                   _collapse, _reparam_penalty, lambda s, e, n: {"alpha": s.alpha_init})
Spred = Sparsifier("spred", "reparam", lambda p, s: rp.reparameterize(p, init="spred"),
                   _collapse, _reparam_penalty, lambda s, e, n: {"alpha": s.spred_alpha})


# ----------------------------------------------------------------------------- explicit L1
def _l1_penalty(params, aux):
    return aux["lam"] * sum(jnp.sum(jnp.abs(k)) for k in _kernels(params))


L1 = Sparsifier("l1", "l1", lambda p, s: p, lambda t, aux: t, _l1_penalty,
                lambda s, e, n: {"lam": cs.l1_strength(s.l1_schedule, s.l1_lambda, e + 1,
                                                       s.l1_decay)})


# ----------------------------------------------------------------------------- CS
def _cs_effective(t, aux):
    return _kernel_map(lambda w, s: cs.cs_weight(w, s, aux["temperature"], aux["s_init"]),
                       t["w"], t["s"])


def _cs_penalty(t, aux):
    return aux["lam"] * sum(jnp.sum(cs.cs_gate(s, aux["temperature"], aux["s_init"]))
                            for s in jax.tree.leaves(t["s"]))


def _cs_hyper(s, epoch, epochs):
    return {"lam": s.cs_lambda, "s_init": s.cs_s_init,
            "temperature": cs.cs_temperature(epoch, epochs, s.cs_final_temperature)}


def _cs_learned(t, aux):
    return _kernel_map(lambda w, s: cs.cs_hard_weight(w, s, aux["s_init"]), t["w"], t["s"])


CS = Sparsifier("cs", "cs",
                lambda p, s: {"w": p, "s": _gates(p, s.cs_s_init)},
                _cs_effective, _cs_penalty, _cs_hyper, _cs_learned)


# ----------------------------------------------------------------------------- PowerProp
PowerProp = Sparsifier(
    "powerprop", "powerprop",
    lambda p, s: _kernel_map(lambda x: cs.powerprop_init(x, s.powerprop_alpha), p),
    lambda t, aux: _kernel_map(lambda th: cs.powerprop_weight(th, aux["alpha"]), t),
    lambda t, aux: jnp.float32(0.0),
    lambda s, e, n: {"alpha": s.powerprop_alpha})


# ----------------------------------------------------------------------------- STR
def _str_effective(t, aux):
    return _kernel_map(cs.str_weight, t["w"], t["s"])


STR = Sparsifier(
    "str", "str",
    lambda p, s: {"w": p, "s": jax.tree_util.tree_map_with_path(
        lambda path, leaf: jnp.full((), s.str_s_init, jnp.asarray(leaf).dtype)
        if rp.kernel_leaves(path, leaf) else None, p)},
    _str_effective, lambda t, aux: jnp.float32(0.0), lambda s, e, n: {}, _str_effective)

#: the one-shot methods, by name
SPARSIFIERS: dict[str, Sparsifier] = {
    sp.name: sp for sp in (OneShot, Pilot, Spred, L1, CS, PowerProp, STR)}


# ----------------------------------------------------------------------------- Trainer hooks
def sparsifier_hooks(sparsifier: Sparsifier, apply_fn) -> dict:
    """Trainer keyword arguments that train ``sparsifier``'s trainable on f(x) + penalty,
    x = ``effective(trainable, state.aux)``; the Trainer's ``apply_fn`` (evaluation) runs a
    Reparam with no reparameterized leaf, i.e. plain x (``oneshot.plain``). The m ⊙ w family
    uses PILoT's hooks (:func:`lottery_core.training.pilot.pilot_hooks`) unchanged."""
    from lottery_core.training.pilot import pilot_hooks, reparam_apply

    if sparsifier.family == "reparam":
        return pilot_hooks(apply_fn)

    def loss(trainable, model_state, x, y, state):
        logits, new_state = apply_fn(sparsifier.effective(trainable, state.aux), model_state,
                                     x, True)
        data_loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        penalty = sparsifier.penalty(trainable, state.aux)
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        return data_loss + penalty, (new_state, {"data_loss": data_loss, "penalty": penalty,
                                                 "accuracy": accuracy})

    return {"apply_fn": reparam_apply(apply_fn), "loss_fn": loss, "grad_transform": unmasked,
            "param_transform": unmasked}


def hyper_aux(hyper: dict) -> dict:
    """``TrainState.aux`` of per-epoch hyperparameters (float32: a new value does not
    recompile)."""
    return {k: jnp.float32(v) for k, v in hyper.items()}
