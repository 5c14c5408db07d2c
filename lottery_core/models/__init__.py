"""Models as pure functions over dict pytrees.

A :class:`Model` bundles ``init(key) -> (params, state)`` and
``apply(params, state, x, train) -> (logits, state)``. Parameters are nested dicts
(``{"dense_0": {"kernel": ..., "bias": ...}}``); leaves named ``kernel`` are the conv and
dense weights, the prunable ones by default. BatchNorm running statistics live in ``state``
(``{"bn_0": {"mean": ..., "var": ...}}``), so every call stays pure. Images are NHWC float32.

Models register themselves with :func:`register_model`, together with their default training
hyperparameters (keys are fields of :class:`lottery_core.config.ExperimentConfig`; the
source of each recipe is stated where it is registered); :func:`get_model` builds one by name
and raises a clear error for an unknown name, :func:`model_defaults` returns its defaults (with a data set's own values, e.g. the LRR
recipe's CIFAR-100 weight decay, on top).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

Params = dict
State = dict


@dataclasses.dataclass(frozen=True)
class Model:
    """A network: ``name``, the input shape it expects (without the batch axis), the number
    of classes, and its two pure functions."""

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    init: Callable[[Any], tuple[Params, State]]
    apply: Callable[[Params, State, Any, bool], tuple[Any, State]]


_MODELS: dict[str, Callable[..., Model]] = {}
_DEFAULTS: dict[str, dict[str, Any]] = {}
_DATASET_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {}


def register_model(name: str, defaults: dict[str, Any] | None = None,
                   dataset_defaults: dict[str, dict[str, Any]] | None = None):
    """Register ``builder(**options) -> Model`` under ``name`` with its default training
    hyperparameters ``defaults`` (config field -> value; fields left out take the engine's
    base defaults) and, per data set, the values that differ there (``dataset_defaults``:
    data set name -> {field: value}, e.g. CIFAR-100's weight decay)."""

    def register(builder):
        _MODELS[name] = builder
        _DEFAULTS[name] = dict(defaults or {})
        _DATASET_DEFAULTS[name] = {k: dict(v) for k, v in (dataset_defaults or {}).items()}
        return builder

    return register


def _load_builtin_models() -> None:
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def available_models() -> list[str]:
    _load_builtin_models()
    return sorted(_MODELS)


def model_defaults(name: str, dataset: str | None = None) -> dict[str, Any]:
    """The default training hyperparameters registered with model ``name``, with those it
    registered for ``dataset`` on top (``{}`` for an unknown name: the config's validation
    names the model)."""
    _load_builtin_models()
    return {**_DEFAULTS.get(name, {}), **_DATASET_DEFAULTS.get(name, {}).get(dataset, {})}


def get_model(name: str, **options) -> Model:
    """Build the model registered as ``name`` (e.g. ``lenet300``, ``conv4``, ``resnet20``)."""
    _load_builtin_models()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_MODELS))}")
    return _MODELS[name](**options)


def prunable_leaves(params: Params) -> dict:
    """A pytree of booleans shaped like ``params``: True for leaves named ``kernel``."""
    import jax

    def is_kernel(path, _leaf):
        last = path[-1]
        return getattr(last, "key", None) == "kernel"

    return jax.tree_util.tree_map_with_path(is_kernel, params)
