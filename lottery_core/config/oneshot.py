"""Configuration of the one-shot methods of ``lottery run``: ``pilot``, ``oneshot`` and the
continuous-sparsification baselines ``spred``, ``l1``, ``cs``, ``powerprop``, ``str``.

* ``pilot``: train the m ⊙ w reparameterization with PILoT's initialization and Algorithm 1's
  α schedule (spec mirror.md §2), then magnitude-prune |m ⊙ w| once per requested sparsity,
  without retraining (one-shot setting, §2.4 / §3.2).
* ``oneshot``: the baseline: standard training of x, then the same one-shot magnitude pruning.
* the baselines of spec §3.4 (:mod:`lottery_core.loops.cs_methods`): each trains its own
  sparsifying objective once, then the same one-shot magnitude pruning of its effective
  weights; each method's settings form one group (``--spred-*``, ``--l1-*``, ...).

The training hyperparameters are the engine's (:class:`ExperimentConfig`: model, dataset,
optimizer, learning rate, schedule, batch size, ``epochs``, seeds, ...); the one-shot settings
(:class:`OneShotSettings`) add the sparsities, the pruning scope and, for ``pilot``, the
reparameterization and α schedule. The run folder is ``OUT/<method>-<hash>/`` where the hash
covers the training identity and the one-shot settings except the sparsities (pruning is
post hoc, so a run can be re-evaluated at more sparsities without retraining).

Kept import-light (no jax): ``lottery run --help`` builds its parser from here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lottery_core.config.experiment import ExperimentConfig
from lottery_core.config.fields import (add_options, names_in, setting, setting_of,
                                         values_from_args)

#: method name -> one-line description
ONESHOT_METHODS = {
    "pilot": "PILoT: m ⊙ w with Algorithm 1's α schedule, then one-shot magnitude pruning",
    "oneshot": "standard training, then one-shot magnitude pruning (baseline of pilot)",
    "spred": "spred: m ⊙ w with balanced init and constant α(‖m‖² + ‖w‖²), then one-shot pruning",
    "l1": "explicit L1 λ_k‖x‖₁ (constant or decaying λ_k), then one-shot magnitude pruning",
    "cs": "Continuous Sparsification x = w ⊙ σ(βs)/σ(s_0), then one-shot magnitude pruning",
    "powerprop": "PowerPropagation x = θ|θ|^(α−1), then one-shot magnitude pruning",
    "str": "STR x = sign(w)·relu(|w| − σ(s_l)), then one-shot magnitude pruning",
}
#: the settings group of each method with its own settings (the options of other groups are
#: refused for it, and only its group enters its run hash)
METHOD_GROUPS = {"pilot": "pilot", "spred": "spred", "l1": "l1", "cs": "cs",
                 "powerprop": "powerprop", "str": "str"}
L1_SCHEDULES = ("constant", "harmonic", "quadratic", "geometric")
INITS = ("pilot", "spred", "ones")
SCOPES = ("global", "layerwise")

#: ExperimentConfig fields that describe training: the model, data and training concerns
TRAINING_FIELDS = names_in(ExperimentConfig, "model", "data", "training")
#: ExperimentConfig fields the one-shot methods do not use: setting them is an error
UNUSED_FIELDS = names_in(ExperimentConfig, "level", "pruning", "zhou", "recipe", "pai",
                         "reparam")


#: the settings groups: shared ("oneshot") and one per method with settings
SETTING_GROUPS = ("oneshot", *METHOD_GROUPS.values())


@dataclasses.dataclass(frozen=True)
class OneShotSettings:
    """One-shot pruning and PILoT settings (spec mirror.md §2, §3.2).

    ``sparsities``: fractions of the prunable weights removed, each in (0, 1), pruned from the
    same trained network; ``scope``: one global magnitude ranking or the same fraction per layer;
    ``init``: m ⊙ w initialization (``pilot``: m² − w² = β, ``spred``: |m| = |w|, ``ones``);
    ``alpha_init``, ``delta``, ``target_l1``: Algorithm 1's α_init, δ > 1 and L1 target K
    (not published, spec §7.1; our defaults)."""

    sparsities: tuple[float, ...] = setting(
        (0.9, 0.95, 0.98), "comma-separated fractions of prunable weights removed", "oneshot")
    scope: str = setting("global", "pruning ranking: global or layerwise", "oneshot")
    init: str = setting("pilot", "pilot only: m ⊙ w init pilot, spred or ones", "pilot")
    beta: float = setting(1.0, "pilot only: init scale β = m0² − w0²", "pilot")
    alpha_init: float = setting(
        1e-4, "pilot only: Algorithm 1's initial α of the penalty α(‖m‖² + ‖w‖²)", "pilot")
    delta: float = setting(2.0, "pilot only: Algorithm 1's factor δ > 1", "pilot")
    target_l1: float = setting(
        0.0, "pilot only: Algorithm 1's L1 target K; α grows only while ‖m ⊙ w‖₁ ≥ K",
        "pilot")
    # -- the continuous-sparsification baselines (spec mirror.md §3.4); [P] paper, [C] the
    #    authors' code, [S] the spec, [R] ours (sources: lottery_core/sparsity/continuous.py)
    spred_alpha: float = setting(
        1e-4, "spred only: constant α of α(‖m‖² + ‖w‖²) ([R]: v1's grid magnitude)", "spred")
    l1_lambda: float = setting(
        1e-4, "l1 only: λ_0 of λ_k‖x‖₁ over the kernels ([P] v1 grid {1e-4, 1e-3})", "l1")
    l1_schedule: str = setting(
        "constant", "l1 only: λ_k schedule constant, harmonic (1/k), quadratic (1/k²) or "
        "geometric (p^(k−1)) over epochs k ([P] v1 App. B.1)", "l1")
    l1_decay: float = setting(0.95, "l1 only: p of the geometric schedule ([P] v1 App. B.1)",
                              "l1")
    cs_lambda: float = setting(
        1e-8, "cs only: λ of the mask penalty λ‖σ(βs)/σ(s_0)‖₁ ([C] Savarese et al.)", "cs")
    cs_final_temperature: float = setting(
        200.0, "cs only: β at the last epoch; β grows geometrically from 1 ([C])", "cs")
    cs_s_init: float = setting(0.0, "cs only: initial mask logit s_0 ([C])", "cs")
    powerprop_alpha: float = setting(
        2.0, "powerprop only: exponent α > 1 of x = θ|θ|^(α−1) ([S] mirror.md §3.4)",
        "powerprop")
    str_s_init: float = setting(
        -3200.0, "str only: initial threshold logit s_l of every layer ([C] STR ResNet-50 "
        "config; sparsity grows through --weight-decay on s)", "str")

    def validate(self, method: str) -> None:
        """Raise ``ValueError`` naming the bad value and what is allowed."""
        if method not in ONESHOT_METHODS:
            raise ValueError(f"unknown one-shot method {method!r}; available: "
                             f"{', '.join(ONESHOT_METHODS)}")
        if not self.sparsities:
            raise ValueError("sparsities must list at least one value in (0, 1)")
        for s in self.sparsities:
            if not (isinstance(s, (int, float)) and 0.0 < s < 1.0):
                raise ValueError(f"each sparsity must be a number in (0, 1), got {s!r}")
        if len(set(self.sparsities)) != len(self.sparsities):
            raise ValueError(f"sparsities must be distinct, got {list(self.sparsities)}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {self.beta!r}")
        if not (math.isfinite(self.alpha_init) and self.alpha_init >= 0):
            raise ValueError(f"alpha_init must be a finite number >= 0, got {self.alpha_init!r}")
        if not (math.isfinite(self.delta) and self.delta > 1):
            raise ValueError(f"delta must be a finite number > 1, got {self.delta!r}")
        if not (math.isfinite(self.target_l1) and self.target_l1 >= 0):
            raise ValueError(f"target_l1 must be a finite number >= 0, got {self.target_l1!r}")
        for name in ("spred_alpha", "l1_lambda", "cs_lambda"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.l1_schedule not in L1_SCHEDULES:
            raise ValueError(f"l1_schedule must be one of {', '.join(L1_SCHEDULES)}, "
                             f"got {self.l1_schedule!r}")
        if not (math.isfinite(self.l1_decay) and 0 < self.l1_decay < 1):
            raise ValueError(f"l1_decay must be in (0, 1), got {self.l1_decay!r}")
        if not (math.isfinite(self.cs_final_temperature) and self.cs_final_temperature >= 1):
            raise ValueError(f"cs_final_temperature must be a finite number >= 1, got "
                             f"{self.cs_final_temperature!r}")
        for name in ("cs_s_init", "str_s_init"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if not (math.isfinite(self.powerprop_alpha) and self.powerprop_alpha > 1):
            raise ValueError(f"powerprop_alpha must be a finite number > 1, got "
                             f"{self.powerprop_alpha!r}")

    def identity(self, method: str) -> dict[str, Any]:
        """Hashed settings: the scope, plus the fields of the method's own group (e.g. the
        PILoT fields for ``pilot``), not the sparsities."""
        out: dict[str, Any] = {"scope": self.scope}
        if method in METHOD_GROUPS:
            out.update({name: getattr(self, name)
                        for name in names_in(OneShotSettings, METHOD_GROUPS[method])})
        return out


def check_training_config(config) -> None:
    """The engine config must set ``epochs`` and none of the IMP-only fields; ``pilot`` takes
    no optimizer weight decay (its penalty is α(‖m‖² + ‖w‖²))."""
    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    for name in UNUSED_FIELDS:
        if getattr(config, name) != defaults[name] and not (name == "iterations"
                                                             and config.epochs is not None
                                                             and config.iterations is None):
            raise ValueError(f"{name} is not used by the one-shot methods "
                             f"({', '.join(ONESHOT_METHODS)}); remove it")
    if config.epochs is None:
        raise ValueError(f"{config.method} trains by epochs (Algorithm 1 updates α once per "
                         f"epoch): give --epochs N")
    if config.method in ("pilot", "spred") and config.resolved().weight_decay:
        option = "--alpha-init" if config.method == "pilot" else "--spred-alpha"
        raise ValueError(f"{config.method} takes no optimizer weight decay on m and w (got "
                         f"weight_decay={config.resolved().weight_decay}); its penalty is "
                         f"α(‖m‖² + ‖w‖²): set {option} (PyTorch weight_decay=λ is α=λ/2)")


def training_identity(config) -> dict[str, Any]:
    """The hashed training fields (resolved values that differ from the dataclass defaults)."""
    return {k: v for k, v in config.identity().items() if k in TRAINING_FIELDS}


def run_identity(config, settings: OneShotSettings) -> dict[str, Any]:
    """The run's identity, hashed by ``store.identity_hash`` into its folder name."""
    return {"training": training_identity(config), "oneshot": settings.identity(config.method)}


# ----------------------------------------------------------------------------- command line
def add_arguments(parser) -> None:
    """The options of the one-shot methods (an argument group of ``lottery run``)."""
    add_options(parser, OneShotSettings, names_in(OneShotSettings, *SETTING_GROUPS),
                title=f"one-shot methods ({', '.join(ONESHOT_METHODS)}): train, then "
                      f"magnitude-prune once per sparsity")


def settings_from_args(args) -> OneShotSettings:
    """The one-shot settings of the command line; pilot-only options are refused for oneshot."""
    values = {}
    for name, value in values_from_args(args, names_in(OneShotSettings,
                                                        *SETTING_GROUPS)).items():
        group = setting_of(OneShotSettings.__dataclass_fields__[name]).group
        if group != "oneshot" and METHOD_GROUPS.get(args.method) != group:
            raise ValueError(f"--{name.replace('_', '-')} applies to {group} only, not "
                             f"{args.method}")
        values[name] = tuple(value) if name == "sparsities" else value
    settings = OneShotSettings(**values)
    settings.validate(args.method)
    return settings


def reject_oneshot_options(args) -> None:
    """For the level methods (imp, lrr, ...): the one-shot options do not apply."""
    for name in names_in(OneShotSettings, *SETTING_GROUPS):
        if getattr(args, name, None) is not None:
            raise ValueError(f"--{name.replace('_', '-')} applies to "
                             f"{', '.join(ONESHOT_METHODS)} only, not {args.method}")
