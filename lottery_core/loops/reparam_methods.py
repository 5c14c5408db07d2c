"""Iterative PILoT and spred: m ⊙ w trained inside the IMP / WR / LRR level loop (Jacobs &
Burkholz, "Mask in the Mirror", v1 App. B.3, Table 2; spec mirror.md §2.4, §3.3).

``imp+pilot``, ``wr+pilot``, ``lrr+pilot`` (and ``+spred``) start each level where ``imp`` /
``wr`` / ``lrr`` start it, split those weights into m ⊙ w (:func:`reparam.reparameterize`:
PILoT's init m² − w² = β, or spred's balanced |m| = |w|) and train f(m ⊙ w) + α(‖m‖² + ‖w‖²)
with the level's mask on m and w (pruned x stays exactly 0). The level writes x = m ⊙ w, and
the next level's mask is the engine's magnitude pruning of |x| (exact per-layer counts).

* α is constant during every level: v1's iterative runs list "PILoT regularization {None,
  1e-4}" [P] (no schedule; Algorithm 1 is the one-shot setting's), default 1e-4
  (``--reparam-alpha``); β = 1 [P] (``--reparam-beta``, pilot only). The optimizer's weight decay
  (``--weight-decay``, v1: 1e-4 alongside [P]) acts on m and w too: PyTorch ``weight_decay = λ``
  adds α = λ/2 (spec §2.5).
* Every level splits its starting weights afresh (a = β/2 again, or 0 for spred): for IMP and
  WR these are θ_0 / θ_k, as in the paper; for LRR the previous level's x, whose (m, w) the
  paper may have kept: not stated [R].
* The reparameterization is of the kernels only (spec §7.4 [assumption]); the dense warmup,
  a carried optimizer state, sign perturbation and Zhou et al.'s criteria are refused.
"""

from __future__ import annotations

from lottery_core.loops.methods import (learning_rate_rewinding, rewind_to_init,
                                        rewind_to_step_k)
from lottery_core.loops.protocol import LevelReparam, Method
from lottery_core.sparsity import reparam as rp

#: defaults of the fields ``reparam_alpha`` / ``reparam_beta`` ([P] v1 App. B.3 / §2.1)
DEFAULT_ALPHA = 1e-4
DEFAULT_BETA = 1.0
#: the m ⊙ w initializations of the level methods
INITS = ("pilot", "spred")


def alpha_of(config) -> float:
    return DEFAULT_ALPHA if config.reparam_alpha is None else float(config.reparam_alpha)


def beta_of(config) -> float:
    return DEFAULT_BETA if config.reparam_beta is None else float(config.reparam_beta)


def level_reparam(init: str) -> LevelReparam:
    """m ⊙ w with ``init`` (pilot or spred) as a :class:`LevelReparam`."""

    def trainable(params, config):
        return rp.reparameterize(params, init=init, beta=beta_of(config))

    def hooks(kwargs, config):
        from lottery_core.training.pilot import mask_reparam, pilot_loss, reparam_apply

        if "param_transform" in kwargs:
            raise ValueError(f"sign_perturbation cannot be combined with the m ⊙ w method "
                             f"{config.method!r}")
        apply = reparam_apply(kwargs["apply_fn"])
        return {**kwargs, "apply_fn": apply, "loss_fn": pilot_loss(apply),
                "grad_transform": mask_reparam, "param_transform": mask_reparam}

    return LevelReparam(trainable=trainable, effective=rp.collapse, hooks=hooks)


def alpha_state(runner, seed, level):
    from lottery_core.training.pilot import alpha_aux

    return alpha_aux(alpha_of(runner.cfg))


_BASES = (("imp", rewind_to_init, False, "θ_0"), ("wr", rewind_to_step_k, True, "θ_k"),
          ("lrr", learning_rate_rewinding, False, "the previous level's x"))

REPARAM_METHODS = tuple(
    Method(f"{base}+{init}", start, needs_rewind_point=rewind, aux=alpha_state,
           reparam=level_reparam(init),
           description=f"{base} with m ⊙ w ({init} init) from {where}, "
                       f"penalty α(‖m‖² + ‖w‖²)")
    for init in INITS for base, start, rewind, where in _BASES)
