"""Optimizers and learning-rate schedules of the Trainer (optax).

``make_optimizer`` wraps SGD / Adam in ``optax.inject_hyperparams`` so that the Trainer can set
the learning rate of every step from a schedule (or the optimizer follows a schedule given as
its ``learning_rate``); ``make_schedule`` builds that schedule.
"""

from __future__ import annotations

from typing import Callable

import optax


def make_schedule(kind: str, learning_rate: float, total_steps: int, *, warmup_steps: int = 0,
                  milestones: tuple[float, ...] = (), gamma: float = 0.1,
                  final_learning_rate: float = 0.0) -> Callable:
    """Learning rate as a function of the step: ``constant``, ``step`` (multiply by ``gamma``
    at each milestone, given as fractions of ``total_steps``), ``cosine`` (from
    ``learning_rate`` to ``final_learning_rate`` at ``total_steps``:
    ``lr_min + ½(1 + cos(π t/T))(lr − lr_min)``, the LRR paper's schedule with lr_min = 0.01,
    spec lrr.md §2.2 [C]); any of them after ``warmup_steps`` of linear warmup from 0."""
    if learning_rate <= 0:
        raise ValueError(f"learning rate must be positive, got {learning_rate}")
    if not 0.0 <= final_learning_rate <= learning_rate:
        raise ValueError(f"final learning rate must be in [0, learning rate = {learning_rate}], "
                         f"got {final_learning_rate}")
    if kind == "constant":
        main = optax.constant_schedule(learning_rate)
    elif kind == "step":
        boundaries = {int(round(m * total_steps)) - warmup_steps: gamma for m in milestones}
        main = optax.piecewise_constant_schedule(learning_rate, boundaries)
    elif kind == "cosine":
        main = optax.cosine_decay_schedule(learning_rate, max(1, total_steps - warmup_steps),
                                           alpha=final_learning_rate / learning_rate)
    else:
        raise ValueError(f"unknown schedule {kind!r}; allowed: constant, step, cosine")
    if warmup_steps <= 0:
        return main
    warm = optax.linear_schedule(0.0, learning_rate, warmup_steps)
    return optax.join_schedules([warm, main], [warmup_steps])


def make_optimizer(name: str, *, momentum: float = 0.0, nesterov: bool = False,
                   weight_decay: float = 0.0, learning_rate: float = 1e-3,
                   b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                   ) -> optax.GradientTransformation:
    """``sgd`` (momentum, Nesterov) or ``adam`` with coupled L2 weight decay (``wd · w`` added
    to the gradient, as PyTorch's ``weight_decay``), wrapped in ``optax.inject_hyperparams``
    so the trainer sets the learning rate of every step from its schedule."""
    if weight_decay < 0:
        raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
    if name not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {name!r}; allowed: sgd, adam")

    def build(learning_rate):
        if name == "sgd":
            base = optax.sgd(learning_rate, momentum=momentum or None, nesterov=nesterov)
        elif name == "adam":
            base = optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)
        else:
            raise ValueError(f"unknown optimizer {name!r}; allowed: sgd, adam")
        if weight_decay:
            return optax.chain(optax.add_decayed_weights(weight_decay), base)
        return base

    return optax.inject_hyperparams(build)(learning_rate=learning_rate)
