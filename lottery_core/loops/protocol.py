"""The method protocol of the level loop: what a method sees and what it returns.

Level 0 trains the dense network from the run's starting point for T steps. Level k ≥ 1 asks
the method for its mask (``Method.next_mask(ctx)``, default :func:`magnitude_next_mask`:
magnitude pruning of the previous level's trained weights with exact per-layer counts) and for
where training starts (``Method.start(ctx) -> LevelStart``: weights, model state, the window
of the learning-rate schedule, optionally the optimizer state). ``ctx`` is a
:class:`LevelContext`. A method may also supply Trainer hooks (``trainer_kwargs``) and the
``TrainState.aux`` slot (``aux``), names the method-specific config fields it reads
(``reads``), and may train a reparameterization of the weights (``reparam``, a
:class:`LevelReparam`: e.g. PILoT's m ⊙ w inside IMP / WR / LRR). Methods are listed in
:mod:`lottery_core.loops.registry`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from lottery_core import sparsity
from lottery_core.config import ExperimentConfig


@dataclasses.dataclass
class LevelContext:
    """What a method may look at when level ``level`` (≥ 1) of seed ``seed`` starts."""

    level: int
    seed: int
    config: ExperimentConfig
    total_steps: int
    init_params: Any
    init_state: Any
    rewind_params: Any | None
    rewind_state: Any | None
    previous_params: Any
    previous_state: Any
    previous_mask: Any
    fractions: dict[str, float]
    key: Any                    # PRNG key of this seed and level
    run_dir: Path | None = None  # where the run keeps its files (methods may store extras)
    # optimizer states (only with optimizer_state="carry"; else None = fresh)
    init_opt_state: Any = None
    rewind_opt_state: Any = None
    previous_opt_state: Any = None
    #: the level runner (``levels.Runner``): its model, trainer (``apply_fn``) and data, for
    #: masks computed from the network and data at θ_0 (pruning at initialization)
    runner: Any = None


@dataclasses.dataclass(frozen=True)
class LevelStart:
    params: Any
    model_state: Any
    first_step: int
    n_steps: int
    opt_state: Any = None       # None: a fresh optimizer state


def magnitude_next_mask(ctx: LevelContext):
    """Prune the smallest |w| of the previous level's trained weights."""
    return sparsity.prune_by_magnitude(ctx.previous_params, ctx.previous_mask, ctx.fractions,
                                        ctx.config.resolved().allocation)


@dataclasses.dataclass(frozen=True)
class LevelReparam:
    """A level trains ``trainable(params, config)`` (e.g. m ⊙ w split from the level's starting
    weights) instead of the weights themselves; ``effective(trainable)`` gives the weights the
    level writes (``params.npz``, the rewind point), from which the next mask is taken;
    ``hooks(trainer_kwargs, config)`` adapts the Trainer's keyword arguments (the recipe's and
    the method's) to the trainable (apply, loss, masked transforms)."""

    trainable: Callable[[Any, ExperimentConfig], Any]
    effective: Callable[[Any], Any]
    hooks: Callable[[dict, ExperimentConfig], dict]


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    start: Callable[[LevelContext], LevelStart]
    next_mask: Callable[[LevelContext], Any] = magnitude_next_mask
    needs_rewind_point: bool = False
    #: optional ``trainer_kwargs(config) -> dict`` of Trainer hooks (loss_fn, param_transform..)
    trainer_kwargs: Callable[[ExperimentConfig], dict] | None = None
    #: optional ``aux(runner, seed, level) -> pytree`` stored in TrainState.aux
    aux: Callable | None = None
    description: str = ""
    #: the config fields of the method-specific concerns (:data:`METHOD_CONCERNS`) this
    #: method reads; the registry refuses the others when they differ from their defaults
    reads: tuple[str, ...] = ()
    #: optional: the levels train a reparameterization of the weights (``None``: the weights)
    reparam: LevelReparam | None = None


#: config concerns whose fields only some methods read (``Method.reads``)
METHOD_CONCERNS = ("pai",)
