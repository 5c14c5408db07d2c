"""The method registry: every method of ``lottery run``'s level loop, listed here.

A method is a :class:`~lottery_core.loops.protocol.Method` defined in one module; the
built-in ones are listed in :data:`BUILTIN` (one line each). Code outside the package adds its
own with :func:`register_method`, or, to reach ``lottery run``, names it under the entry-point
group ``lottery.methods`` of its own distribution (``pyproject.toml``:
``[project.entry-points."lottery.methods"] my-method = "my_package.module:METHOD"``), which is
loaded the first time a method is looked up (docs/extending.md). Zhou et al.'s criterion and
mask-1 / mask-0 actions are not separate names: they transform ``imp`` when the config sets
them (:func:`method_for`).
"""

from __future__ import annotations

import dataclasses

from lottery_core.config.fields import flag_of, setting_of
from lottery_core.loops import deconstruct, lrr_methods, methods, pai_methods, reparam_methods
from lottery_core.loops.protocol import METHOD_CONCERNS, Method

#: the built-in level methods, in the order an unknown-method error lists them
BUILTIN: tuple[Method, ...] = (
    methods.IMP,
    methods.WR,
    methods.LRR,
    methods.FINETUNE,
    methods.RANDOM_PRUNE,
    lrr_methods.LRR_BN_REWIND,
    *lrr_methods.RANDOM_MASK_METHODS,
    *pai_methods.PAI_METHODS,
    *reparam_methods.REPARAM_METHODS,
    *lrr_methods.FIXED_SIGN_METHODS,
    lrr_methods.LRR_INIT_SIGNS,
)

METHODS: dict[str, Method] = {method.name: method for method in BUILTIN}


def register_method(method: Method) -> Method:
    """Add ``method`` under ``method.name`` (a method defined outside this package, or one
    built at run time such as the mask-swap references); returns it."""
    METHODS[method.name] = method
    return method


#: entry-point group under which other distributions list their methods
ENTRY_POINT_GROUP = "lottery.methods"
_plugins_loaded = False


def load_plugins() -> None:
    """Register the methods that installed distributions list under :data:`ENTRY_POINT_GROUP`
    (once per process). An entry point names a :class:`Method` or a function returning one."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        method = entry.load()
        method = method if isinstance(method, Method) else method()
        if not isinstance(method, Method):
            raise TypeError(f"entry point {entry.value} ({ENTRY_POINT_GROUP}) gave "
                            f"{type(method).__name__}, not a lottery_core.loops.Method")
        register_method(method)


def get_method(name: str) -> Method:
    load_plugins()
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def method_for(config) -> Method:
    """The method ``config`` runs: its registered method, transformed by Zhou et al.'s
    criterion and mask actions when the config sets them."""
    method = get_method(config.method)
    if deconstruct.is_deconstructed(config):
        method = deconstruct.deconstructed_method(method, config)
    return method


def check_config(config) -> None:
    """Raise ``ValueError`` naming a bad method or field (the method first), or a field of a
    method-specific concern (:data:`~lottery_core.loops.protocol.METHOD_CONCERNS`) that the
    method does not read (``Method.reads``) set away from its default."""
    method = get_method(config.method)
    config.validate()
    for field in dataclasses.fields(config):
        if (setting_of(field).group in METHOD_CONCERNS and field.name not in method.reads
                and getattr(config, field.name) != field.default):
            readers = [m.name for m in METHODS.values() if field.name in m.reads]
            raise ValueError(f"{flag_of(field)} is read only by the methods "
                             f"{', '.join(readers)}; remove it")
