"""Validated sparse-training algorithms at scale, in JAX: the public API.

``import lottery_core as lc`` gives the names below (documented in docs/api.md); each is
imported on first use, so ``import lottery_core`` stays cheap (no jax) until an array name is
touched. Everything else is internal and may move.

* configuration: ``ExperimentConfig``, ``OneShotSettings``;
* running: ``run_levels(config, out)`` (the level loop: imp, wr, lrr, ...),
  ``run_oneshot(config, settings, out)`` (pilot, oneshot), ``Runner``, ``OneShotRunner``;
* methods: ``Method``, ``LevelStart``, ``LevelContext``, ``register_method``,
  ``get_method``, ``METHODS``;
* masks and scores: ``prune``, ``prune_by_magnitude``, ``magnitude_scores``,
  ``random_scores``, ``apply_mask``, ``full_mask``, ``density_report``, ``prunable_paths``,
  ``layer_fractions``, ``prune_at_init``;
* models and data: ``get_model``, ``available_models``, ``register_model``, ``Model``,
  ``load_dataset``, ``synthetic``, ``Dataset``;
* training: ``Trainer``, ``TrainState``, ``make_optimizer``, ``make_schedule``;
* store: ``save_tree``, ``load_tree``, ``read_run`` (every finished level of a folder).
"""

from __future__ import annotations

import importlib

#: the toolkit's version, written only here (pyproject.toml reads it: ``dynamic = ["version"]``;
#: ``lottery --version`` and every result's provenance report it)
__version__ = "0.1.0"

#: public name -> "module:attribute"
_API = {
    "ExperimentConfig": "lottery_core.config:ExperimentConfig",
    "OneShotSettings": "lottery_core.config:OneShotSettings",
    "run_levels": "lottery_core.loops.levels:run_experiment",
    "Runner": "lottery_core.loops.levels:Runner",
    "run_oneshot": "lottery_core.loops.oneshot:run_oneshot",
    "OneShotRunner": "lottery_core.loops.oneshot:OneShotRunner",
    "Method": "lottery_core.loops.protocol:Method",
    "LevelStart": "lottery_core.loops.protocol:LevelStart",
    "LevelContext": "lottery_core.loops.protocol:LevelContext",
    "register_method": "lottery_core.loops.registry:register_method",
    "get_method": "lottery_core.loops.registry:get_method",
    "METHODS": "lottery_core.loops.registry:METHODS",
    "prune": "lottery_core.sparsity:prune",
    "prune_by_magnitude": "lottery_core.sparsity:prune_by_magnitude",
    "magnitude_scores": "lottery_core.sparsity:magnitude_scores",
    "random_scores": "lottery_core.sparsity:random_scores",
    "apply_mask": "lottery_core.sparsity:apply_mask",
    "full_mask": "lottery_core.sparsity:full_mask",
    "density_report": "lottery_core.sparsity:density_report",
    "prunable_paths": "lottery_core.sparsity:prunable_paths",
    "layer_fractions": "lottery_core.sparsity:layer_fractions",
    "prune_at_init": "lottery_core.sparsity:prune_at_init",
    "get_model": "lottery_core.models:get_model",
    "available_models": "lottery_core.models:available_models",
    "register_model": "lottery_core.models:register_model",
    "Model": "lottery_core.models:Model",
    "load_dataset": "lottery_core.data:load_dataset",
    "synthetic": "lottery_core.data:synthetic",
    "Dataset": "lottery_core.data:Dataset",
    "Trainer": "lottery_core.training:Trainer",
    "TrainState": "lottery_core.training:TrainState",
    "make_optimizer": "lottery_core.training:make_optimizer",
    "make_schedule": "lottery_core.training:make_schedule",
    "save_tree": "lottery_core.store:save_tree",
    "load_tree": "lottery_core.store:load_tree",
    "read_run": "lottery_core.store:collect_results",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'lottery_core' has no attribute {name!r}")
    module, attribute = _API[name].split(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
