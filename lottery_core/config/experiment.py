"""Experiment identity: a frozen config and its hashed fields (:meth:`ExperimentConfig.identity`;
hashed and opened as a run folder by :mod:`lottery_core.store`).

OpenLTH's scheme (DESIGN.md): the run directory ``OUT/<method>-<hash>/`` is named by the hash of
the config's *resolved, non-default* fields, so adding a field with a default later keeps old
hashes valid. Fields that say *how much* to run rather than *what* (``levels``, ``seeds``,
``first_seed``) and the method itself (it is in the folder name) are not hashed: a run can be
extended with more levels or seeds, and IMP / LRR / random pruning with the same
hyperparameters share one hash, which is how ``lottery plot`` pairs them.

The model's defaults (registered with the model, :func:`lottery_core.models.model_defaults`;
recipes and their sources in :mod:`lottery_core.models.recipes`) fill every field left
``None``, then ``BASE_DEFAULTS``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lottery_core.config.fields import setting, unhashed


BASE_DEFAULTS: dict[str, Any] = dict(
    optimizer="adam", learning_rate=1e-3, momentum=0.0, nesterov=False, weight_decay=0.0,
    schedule="constant", warmup_steps=0, milestones=(), gamma=0.1, batch_size=128,
    iterations=10000, prune_fraction=0.2, prune_fraction_conv=None,
    prune_fraction_output=None, allocation="layerwise")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One pruning experiment. ``None`` means "the model's default" (``models.model_defaults``).

    Training length per level: ``iterations`` steps, or ``epochs`` full passes over the
    training split (give one). Pruning: each level removes ``prune_fraction`` of the remaining
    weights of each layer (``prune_fraction_conv`` for conv kernels and
    ``prune_fraction_output`` for the output kernel where set); ``allocation='global'`` pools
    all layers instead. ``rewind_step`` is k of weight rewinding (WR). ``model_options`` are
    keyword arguments of the model builder (e.g. ``{"widths": [100]}`` for ``mlp``)."""

    # -- run: which method and how much of it (not hashed: a run can be extended) --------
    method: str = setting("imp", "pruning method (lottery run METHOD)", "run", hashed=False)
    levels: int = setting(12, "pruning levels after the dense level 0", "run", hashed=False)
    seeds: int = setting(3, "number of seeds (replicates)", "run", hashed=False)
    first_seed: int = setting(0, "first seed", "run", hashed=False)
    # -- model and data --------------------------------------------------------------------
    model: str = setting("lenet300", "network: lenet300, mlp, conv2, conv4, conv6, resnet20, "
                         "vgg16, ...", "model")
    model_options: dict | None = setting(
        None, 'model builder options as JSON, e.g. \'{"widths": [100]}\'', "model")
    dataset: str = setting("mnist", "mnist, cifar10, cifar100 or synthetic", "data")
    validation_size: int = setting(5000, "training examples held out for validation", "data")
    split_seed: int = setting(0, "seed of the validation split", "data")
    train_subset: int | None = setting(None, "use only the first N training examples", "data")
    # -- training (None: the model's default) -----------------------------------------------
    optimizer: str | None = setting(None, "sgd or adam", "training")
    learning_rate: float | None = setting(None, "base learning rate", "training")
    momentum: float | None = setting(None, "SGD momentum", "training")
    nesterov: bool | None = setting(None, "Nesterov momentum", "training")
    weight_decay: float | None = setting(None, "coupled L2 weight decay", "training")
    schedule: str | None = setting(None, "learning-rate schedule: constant, step, cosine",
                                   "training")
    warmup_steps: int | None = setting(None, "linear warmup steps", "training")
    milestones: tuple[float, ...] | None = setting(
        None, "step-schedule milestones as comma-separated fractions of the training length, "
        "e.g. 0.5,0.75", "training")
    gamma: float | None = setting(None, "step schedule factor", "training")
    batch_size: int | None = setting(None, "training batch size", "training")
    epochs: int | None = setting(None, "training epochs per level (instead of --iterations)",
                                 "training")
    # -- the level loop: steps per level, evaluation, rewinding -----------------------------
    iterations: int | None = setting(
        None, "training steps per level (overrides the model default)", "level")
    rewind_step: int = setting(0, "k of weight rewinding (wr)", "level")
    eval_every: int | None = setting(
        None, "evaluate val/test and checkpoint every N steps (0: T/10)", "level")
    # -- pruning: how much per level, and how it is allocated over layers -------------------
    prune_fraction: float | None = setting(
        None, "fraction of remaining weights pruned per level (dense layers)", "pruning")
    prune_fraction_conv: float | None = setting(None, "per-level fraction for conv kernels",
                                                "pruning")
    prune_fraction_output: float | None = setting(
        None, "per-level fraction for the output layer", "pruning")
    allocation: str | None = setting(None, "layerwise or global", "pruning")
    # -- Zhou et al. 2019's generalized lottery ticket (spec zhou.md §1) --------------------
    criterion: str | None = setting(
        None, "Zhou et al. mask criterion, e.g. large_final, magnitude_increase, movement "
        "(per-layer, floor counts); unset: magnitude pruning", "zhou")
    mask1: str = setting("rewind", "Zhou et al. mask-1 action for imp: rewind, reinit, "
                         "reshuffle, constant, signed_reinit, signed_reshuffle, "
                         "signed_constant", "zhou")
    mask1_rescale: bool = setting(
        False, "multiply kept weights by #weights/#kept (mask-1 *_rescaling)", "zhou",
        flag="--rescale")
    mask0: str = setting("zero", "Zhou et al. mask-0 action for imp: zero, freeze_init, "
                         "freeze_init_zero_mask, freeze_init_zero_all, "
                         "freeze_init_zero_reshuffle, freeze_init_zero_rev", "zhou")
    # -- the LRR paper's recipe (lottery_core/lrr_recipe.py, spec lrr.md §2.2); None = off,
    #    so these fields leave the hashes of older configs unchanged -------------------------
    final_learning_rate: float | None = setting(
        None, "end of the cosine schedule, lr_min (LRR recipe: 0.01)", "recipe")
    warmup_epochs: int | None = setting(
        None, "dense warmup epochs before level 0; its end is the rewind point", "recipe")
    optimizer_state: str | None = setting(
        None, "fresh, or carry (momentum travels with the weights)", "recipe")
    input_pipeline: str | None = setting(
        None, "none, or cifar (normalize + random crop + flip on the device)", "recipe")
    sign_perturbation: float | None = setting(
        None, "flip the signs of this share of surviving weights ...", "recipe")
    sign_perturbation_every: int | None = setting(
        None, "... at the start of epochs e with e mod k = k-1", "recipe")
    # -- pruning at initialization: lottery run snip|grasp|synflow|magnitude-init|random
    #    (lottery_core/loops/pai_methods.py, docs/pai.md); read only by those methods, set
    #    to their defaults (so unhashed) otherwise --------------------------------------------
    pai_allocation: str = setting(
        "global", "how the kept weights of a level spread over the layers: global (the top "
        "scores of the whole network, as in the SNIP, GraSP and SynFlow code), uniform, "
        "balanced or erk", "pai")
    score_bn: str = setting(
        "eval", "BatchNorm mode of the snip/grasp scoring pass: eval (running statistics, the "
        "identity at θ_0; the default of the SynFlow authors' code and of SNIP's code) or "
        "train (batch statistics; the original GraSP code); synflow always scores in eval "
        "mode", "pai")
    score_batch_size: int | None = setting(
        None, "examples per snip/grasp scoring batch, drawn once per seed from the training "
        "split; unset: 10 × classes (the SynFlow code's default; 100 on 10 classes, the batch "
        "of SNIP's code and the GraSP sample on CIFAR10)", "pai")
    score_batches: int = setting(
        1, "snip/grasp scoring batches, the loss summed over them (each batch its own "
        "BatchNorm statistics in train mode; SNIP and GraSP use one)", "pai")
    synflow_rounds: int = setting(
        100, "synflow pruning rounds (Tanaka et al. 2020: 100)", "pai")
    synflow_schedule: str = setting(
        "exponential", "synflow density over the R rounds: exponential d^(r/R) or linear "
        "1 − (1 − d)·r/R", "pai")
    # -- m ⊙ w inside the level loop: imp/wr/lrr+pilot|spred (loops/reparam_methods.py, spec
    #    mirror.md §3.3); None = the method's default, so older hashes are unchanged ----------
    reparam_alpha: float | None = setting(
        None, "imp/wr/lrr+pilot|spred: constant α of the penalty α(‖m‖² + ‖w‖²) in every level "
        "(method default 1e-4, v1 App. B.3)", "reparam")
    reparam_beta: float | None = setting(
        None, "imp/wr/lrr+pilot: init scale β = m0² − w0² (method default 1)", "reparam")

    def resolved(self) -> "ExperimentConfig":
        """Fill ``None`` fields from the model's defaults (then the base defaults)."""
        from lottery_core.models import model_defaults

        defaults = {**BASE_DEFAULTS, **model_defaults(self.model, self.dataset)}
        values = {}
        for name, default in defaults.items():
            if getattr(self, name) is None:
                values[name] = default
        if self.epochs is not None and self.iterations is None:
            values["iterations"] = None       # the epochs decide
        if self.iterations is not None and self.epochs is None:
            values.pop("epochs", None)        # the iterations decide (over a model's epochs)
        if values.get("milestones") is not None:
            values["milestones"] = tuple(values["milestones"])
        resolved = dataclasses.replace(self, **values)
        if resolved.milestones is not None and not isinstance(resolved.milestones, tuple):
            resolved = dataclasses.replace(resolved, milestones=tuple(resolved.milestones))
        if resolved.eval_every is None:
            resolved = dataclasses.replace(resolved, eval_every=0)
        return resolved

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what is allowed, concern by
        concern (model and data, training and level length, pruning, Zhou et al.'s actions,
        the LRR recipe, pruning at initialization). Whether ``method`` names a registered
        method, and reads the method-specific fields set, is the method registry's check
        (:func:`lottery_core.loops.registry.check_config`)."""
        c = self.resolved()
        _check_model_and_data(c, self)
        _check_training(c)
        _check_pruning(c)
        _check_zhou(c)
        _check_recipe(c)
        _check_pai(c)
        _check_reparam(c)

    def identity(self) -> dict[str, Any]:
        """The hashed fields: resolved values that differ from the dataclass defaults."""
        resolved = self.resolved()
        out = {}
        for field in dataclasses.fields(self):
            if field.name in UNHASHED:
                continue
            value = getattr(resolved, field.name)
            if value != field.default:
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: "
                             f"{', '.join(sorted(names))}")
        values = dict(values)
        if isinstance(values.get("milestones"), list):
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)


#: fields that do not enter the hash (how much to run, and the method: it names the folder)
UNHASHED = unhashed(ExperimentConfig)

#: allowed values of the fields with a fixed set of choices (the recipe's: spec lrr.md §2.2)
PIPELINES = ("none", "cifar")
#: data sets the 'cifar' input pipeline fits (synthetic data have the shape the caller gives;
#: lrr_recipe.input_pipeline checks it when the Trainer is built)
CIFAR_PIPELINE_DATASETS = ("cifar10", "cifar100", "synthetic")
OPTIMIZER_STATES = ("fresh", "carry")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
ALLOCATIONS = ("layerwise", "global")
#: BatchNorm modes of the scoring pass of pruning at initialization (docs/pai.md)
SCORE_BN_MODES = ("eval", "train")


def _check_int(c, name: str, low: int) -> None:
    value = getattr(c, name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < low):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_model_and_data(c, given) -> None:
    """``c`` resolved; ``given`` as the user wrote it (which fields the model's recipe set)."""
    from lottery_core.data import DATASETS
    from lottery_core.models import available_models, check_model_options, model_defaults

    if c.model not in available_models():
        raise ValueError(f"unknown model {c.model!r}; available: "
                         f"{', '.join(available_models())}")
    check_model_options(c.model, c.model_options)
    if c.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {c.dataset!r}; available: {', '.join(DATASETS)}")
    if c.input_pipeline == "cifar" and c.dataset not in CIFAR_PIPELINE_DATASETS:
        fits = ", ".join(m for m in available_models()
                         if model_defaults(m).get("input_pipeline") != "cifar")
        if given.input_pipeline is None:        # the model's recipe chose the pipeline
            raise ValueError(f"model {c.model} does not fit dataset {c.dataset}: its recipe's "
                             f"input pipeline 'cifar' needs CIFAR's 32x32 RGB images; use "
                             f"dataset cifar10 or cifar100, a model for {c.dataset} ({fits}), "
                             f"or input_pipeline none")
        raise ValueError(f"input_pipeline 'cifar' needs CIFAR's 32x32 RGB images, not dataset "
                         f"{c.dataset}; use dataset cifar10 or cifar100, or input_pipeline none")
    for name, low in (("levels", 0), ("seeds", 1), ("first_seed", 0), ("validation_size", 0)):
        _check_int(c, name, low)


def _check_training(c) -> None:
    if c.iterations is not None and c.epochs is not None:
        raise ValueError("give either iterations or epochs, not both")
    if c.iterations is None and c.epochs is None:
        raise ValueError("the training length is unset: give iterations or epochs")
    for name, low in (("iterations", 1), ("epochs", 1), ("batch_size", 1), ("rewind_step", 0),
                      ("eval_every", 0), ("warmup_steps", 0)):
        _check_int(c, name, low)
    if c.iterations is not None and c.rewind_step >= c.iterations:
        raise ValueError(f"rewind_step must be below iterations ({c.iterations}), "
                         f"got {c.rewind_step}")
    if c.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be sgd or adam, got {c.optimizer!r}")
    if c.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be constant, step or cosine, got {c.schedule!r}")
    if not (c.learning_rate > 0 and math.isfinite(c.learning_rate)):
        raise ValueError(f"learning_rate must be positive, got {c.learning_rate}")


def _check_pruning(c) -> None:
    for name in ("prune_fraction", "prune_fraction_conv", "prune_fraction_output"):
        value = getattr(c, name)
        if value is not None and not (0.0 <= value < 1.0):
            raise ValueError(f"{name} (sparsity removed per level) must be in [0, 1), "
                             f"got {value}")
    if c.allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be layerwise or global, got {c.allocation!r}")
    if c.allocation == "global":
        for name in ("prune_fraction_conv", "prune_fraction_output"):
            value = getattr(c, name)
            if value is not None and value != c.prune_fraction:
                raise ValueError(f"global allocation prunes one fraction of all layers: "
                                 f"{name} = {value} differs from prune_fraction = "
                                 f"{c.prune_fraction} (unset it or use allocation layerwise)")


def _check_zhou(c) -> None:
    """Criterion and mask-1 / mask-0 action names (spec zhou.md §1); the actions apply to
    imp (rewinding) only."""
    from lottery_core.sparsity import criteria, mask_actions

    level_criteria = criteria.LEVEL_CRITERIA
    if c.criterion is not None and c.criterion not in level_criteria:
        raise ValueError(f"unknown criterion {c.criterion!r}; available: "
                         f"{', '.join(level_criteria)}")
    if c.mask1 not in mask_actions.MASK1_ACTIONS:
        raise ValueError(f"unknown mask-1 action {c.mask1!r}; available: "
                         f"{', '.join(mask_actions.MASK1_ACTIONS)}")
    if c.mask0 not in mask_actions.MASK0_ACTIONS:
        raise ValueError(f"unknown mask-0 action {c.mask0!r}; available: "
                         f"{', '.join(mask_actions.MASK0_ACTIONS)}")
    if (c.mask1 != "rewind" or c.mask0 != "zero" or c.mask1_rescale) and c.method != "imp":
        raise ValueError(f"mask-1 / mask-0 actions apply to method imp (rewinding), "
                         f"not {c.method!r}")


def _check_recipe(c) -> None:
    """The LRR recipe's fields (spec lrr.md §2.2)."""
    if c.final_learning_rate is not None:
        if not (0.0 <= c.final_learning_rate <= c.learning_rate):
            raise ValueError(f"final_learning_rate must be in [0, learning_rate = "
                             f"{c.learning_rate}], got {c.final_learning_rate}")
        if c.schedule != "cosine" and c.final_learning_rate:
            raise ValueError(f"final_learning_rate applies to the cosine schedule, not "
                             f"{c.schedule!r}")
    for name, low in (("warmup_epochs", 0), ("sign_perturbation_every", 1)):
        _check_int(c, name, low)
    if c.optimizer_state not in (None,) + OPTIMIZER_STATES:
        raise ValueError(f"optimizer_state must be one of {', '.join(OPTIMIZER_STATES)}, "
                         f"got {c.optimizer_state!r}")
    if c.input_pipeline not in (None,) + PIPELINES:
        raise ValueError(f"input_pipeline must be one of {', '.join(PIPELINES)}, "
                         f"got {c.input_pipeline!r}")
    p = c.sign_perturbation
    if p is not None and not (0.0 <= p <= 1.0 and math.isfinite(p)):
        raise ValueError(f"sign_perturbation (flip probability) must be in [0, 1], got {p}")
    if c.sign_perturbation_every is not None and p is None:
        raise ValueError("sign_perturbation_every needs sign_perturbation (the flip probability)")


def _check_pai(c) -> None:
    """Pruning at initialization's fields (docs/pai.md); which methods read them is the
    method registry's check (``Method.reads``)."""
    from lottery_core.sparsity import allocation, pai

    for name, allowed in (("pai_allocation", allocation.PAI_ALLOCATIONS),
                          ("score_bn", SCORE_BN_MODES), ("synflow_schedule", pai.SCHEDULES)):
        if getattr(c, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, "
                             f"got {getattr(c, name)!r}")
    for name in ("score_batch_size", "score_batches", "synflow_rounds"):
        _check_int(c, name, 1)


#: method-name suffixes of the level methods that train m ⊙ w (loops/reparam_methods.py)
REPARAM_SUFFIXES = ("+pilot", "+spred")


def _check_reparam(c) -> None:
    """The m ⊙ w level methods' fields (spec mirror.md §3.3), and what they cannot combine
    with (the dense warmup, a carried optimizer state, sign perturbation, Zhou criteria)."""
    reparam = c.method.endswith(REPARAM_SUFFIXES)
    if not reparam:
        for name in ("reparam_alpha", "reparam_beta"):
            if getattr(c, name) is not None:
                raise ValueError(f"{name} applies to the m ⊙ w methods (imp+pilot, wr+pilot, "
                                 f"lrr+pilot, imp+spred, ...), not {c.method!r}")
        return
    if c.reparam_alpha is not None and not (math.isfinite(c.reparam_alpha)
                                            and c.reparam_alpha >= 0):
        raise ValueError(f"reparam_alpha must be a finite number >= 0, got {c.reparam_alpha!r}")
    if c.reparam_beta is not None:
        if c.method.endswith("+spred"):
            raise ValueError(f"reparam_beta applies to the +pilot methods; {c.method} uses "
                             f"spred's balanced init (|m| = |w|)")
        if not (math.isfinite(c.reparam_beta) and c.reparam_beta > 0):
            raise ValueError(f"reparam_beta must be a finite number > 0, got "
                             f"{c.reparam_beta!r}")
    for name in ("warmup_epochs", "sign_perturbation", "criterion"):
        if getattr(c, name):
            raise ValueError(f"{name} cannot be combined with the m ⊙ w method {c.method!r}")
    if c.optimizer_state == "carry":
        raise ValueError(f"optimizer_state carry cannot be combined with the m ⊙ w method "
                         f"{c.method!r} (each level splits its weights into m ⊙ w afresh)")
