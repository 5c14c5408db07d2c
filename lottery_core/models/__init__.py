"""Models as pure functions over dict pytrees.

A :class:`Model` bundles ``init(key) -> (params, state)`` and
``apply(params, state, x, train) -> (logits, state)``. Parameters are nested dicts
(``{"dense_0": {"kernel": ..., "bias": ...}}``); leaves named ``kernel`` are the conv and
dense weights, the prunable ones by default. BatchNorm running statistics live in ``state``
(``{"bn_0": {"mean": ..., "var": ...}}``), so every call stays pure. Images are NHWC float32.

Models register themselves with :func:`register_model`, together with their default training
hyperparameters (keys are fields of :class:`lottery_core.config.ExperimentConfig`; the
source of each recipe is stated where it is registered); :func:`get_model` builds one by name
and raises a clear error for an unknown name, :func:`model_defaults` returns its defaults (with
a data set's own values, e.g. the LRR recipe's CIFAR-100 weight decay, on top),
:func:`check_model_options` checks a user's ``model_options`` against the builder's options
(:func:`model_options`) before anything is built.
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
_OPTIONS: dict[str, dict[str, Any]] = {}
_DATASET_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {}
#: models built by :func:`get_model`: (name, builder, options as JSON) -> Model
_BUILT: dict[tuple, Model] = {}

#: builder parameters the data set fixes (``setup.load_data_and_model``), never model options
DATA_PARAMETERS = ("input_shape", "num_classes")


def keyword_options(builder: Callable, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword parameters of ``builder`` that have defaults, with those defaults, less
    :data:`DATA_PARAMETERS` and ``exclude``: the options a user may set."""
    import inspect

    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if p.default is not inspect.Parameter.empty
            and p.name not in DATA_PARAMETERS + tuple(exclude)}


def register_model(name: str, defaults: dict[str, Any] | None = None,
                   options: dict[str, Any] | None = None,
                   dataset_defaults: dict[str, dict[str, Any]] | None = None):
    """Register ``builder(**options) -> Model`` under ``name`` with its default training
    hyperparameters ``defaults`` (config field -> value; fields left out take the engine's
    base defaults), the ``options`` a user may pass (``model_options``: name -> default,
    whose type a given value must have; default: :func:`keyword_options` of the builder,
    which a builder taking ``**options`` must replace) and, per data set, the values that
    differ there (``dataset_defaults``: data set name -> {field: value}, e.g. CIFAR-100's
    weight decay)."""

    def register(builder):
        _MODELS[name] = builder
        _DEFAULTS[name] = dict(defaults or {})
        _OPTIONS[name] = dict(keyword_options(builder) if options is None else options)
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


def model_options(name: str) -> dict[str, Any]:
    """The options of model ``name`` a user may set, with their defaults."""
    _load_builtin_models()
    return dict(_OPTIONS.get(name, {}))


#: option value types by their default's type: (type, one value, several values, accepted)
_SCALARS = ((bool, "true or false", "booleans", (bool,)),
            (int, "an integer", "integers", (int,)),
            (float, "a number", "numbers", (int, float)),
            (str, "a string", "strings", (str,)))


def _scalar(default):
    return next((row for row in _SCALARS if isinstance(default, row[0])), None)


def _expected_type(default) -> tuple[str, Callable[[Any], bool]]:
    """What a value of an option with this default must be: ``(words, test)``; a list
    default takes a list of values of its first element's type. Booleans are not numbers."""
    def test_scalar(row, v):
        return isinstance(v, row[3]) and (row[0] is bool or not isinstance(v, bool))

    if isinstance(default, (tuple, list)):
        row = _scalar(default[0]) if default else None
        if row is None:
            return "a list", lambda v: isinstance(v, (list, tuple))
        return (f"a list of {row[2]}",
                lambda v: isinstance(v, (list, tuple)) and all(test_scalar(row, x) for x in v))
    row = _scalar(default)
    if row is None:             # None or another type: the builder checks the value
        return "any value", lambda v: True
    return row[1], lambda v: test_scalar(row, v)


def check_model_options(name: str, options) -> None:
    """Raise ``ValueError`` naming the first option of ``options`` (``model_options``) that
    model ``name`` does not take, or whose value has the wrong type, and what is allowed."""
    import difflib
    import json

    if options is None:
        return
    if not isinstance(options, dict):
        raise ValueError(f"model_options must be a JSON object of option names and values, "
                         f"got {json.dumps(options)}")
    allowed = model_options(name)
    listed = ", ".join(f"{k} (default {json.dumps(v)})" for k, v in allowed.items())
    for key, value in options.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            why = (f"; the data set sets {key}" if key in DATA_PARAMETERS else "")
            raise ValueError(f"model {name} has no option {key!r}{hint}{why}; "
                             + (f"its options: {listed}" if allowed else "it takes none"))
        words, test = _expected_type(allowed[key])
        if not test(value):
            raise ValueError(f"model option {key} of {name} must be {words} (default "
                             f"{json.dumps(allowed[key])}), got {json.dumps(value)}")


def get_model(name: str, **options) -> Model:
    """The model registered as ``name`` (e.g. ``lenet300``, ``conv4``, ``resnet20``) built
    with ``options``. Built once per (builder, options) in a process: runs of the same model
    share its ``init`` and ``apply`` functions, so JAX compiles their programs once, not once
    per run (a :class:`Model` is frozen and its functions are pure)."""
    import json

    _load_builtin_models()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_MODELS))}")
    builder = _MODELS[name]
    try:
        key = (name, builder, json.dumps(options, sort_keys=True))
    except (TypeError, ValueError):     # options that are not JSON (arrays, objects): built anew
        return builder(**options)
    if key not in _BUILT:
        _BUILT[key] = builder(**options)
    return _BUILT[key]


def prunable_leaves(params: Params) -> dict:
    """A pytree of booleans shaped like ``params``: True for leaves named ``kernel``."""
    import jax

    def is_kernel(path, _leaf):
        last = path[-1]
        return getattr(last, "key", None) == "kernel"

    return jax.tree_util.tree_map_with_path(is_kernel, params)
