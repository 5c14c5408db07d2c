"""Configuration fields that carry their own help, group and command-line form.

A config dataclass declares each field with :func:`setting`: its default, a one-line help text
and the concern it belongs to (``group``). Everything else is derived from these declarations,
in the manner of open_lth's ``foundations/hparams.py`` (help beside the field, command line
generated): the command-line options (:func:`add_options`, :func:`values_from_args`), the
field lists of each concern (:func:`names_in`), and which fields enter the run hash
(``hashed``). Kept free of heavy imports: ``lottery --help`` builds its parser from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, Callable, Iterable

#: metadata key under which a field's :class:`Setting` is kept
_KEY = "lottery"


@dataclasses.dataclass(frozen=True)
class Setting:
    """How a field is shown and parsed: help text, concern, whether it is hashed, and the
    command-line flag and parser when they differ from the defaults (``--field-name``, the
    annotated type)."""

    help: str
    group: str
    hashed: bool = True
    flag: str | None = None
    parse: Callable[[str], Any] | None = None


def setting(default: Any, help: str, group: str, *, hashed: bool = True,
            flag: str | None = None, parse: Callable[[str], Any] | None = None):
    """A dataclass field with a :class:`Setting` in its metadata."""
    return dataclasses.field(default=default, metadata={
        _KEY: Setting(help=help, group=group, hashed=hashed, flag=flag, parse=parse)})


def setting_of(field: dataclasses.Field) -> Setting:
    return field.metadata[_KEY]


def names_in(cls, *groups: str) -> tuple[str, ...]:
    """The fields of ``cls`` in the given concerns, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(cls) if setting_of(f).group in groups)


def unhashed(cls) -> tuple[str, ...]:
    """Fields that do not enter the run hash (how much to run, not what)."""
    return tuple(f.name for f in dataclasses.fields(cls) if not setting_of(f).hashed)


def comma_floats(text: str) -> tuple[float, ...]:
    """``"0.5,0.75"`` -> ``(0.5, 0.75)``; a clear argparse error otherwise."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, e.g. 0.5,0.75; got {text!r}") from None


def json_object(text: str) -> dict:
    """A JSON object from the command line, e.g. ``'{"widths": [100]}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({exc})") \
            from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def base_type(annotation) -> type:
    """``float | None`` -> float; ``tuple[float, ...] | None`` -> tuple; ``dict | None`` -> dict."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"tuple": tuple, "dict": dict})  # noqa: S307 (our source)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return typing.get_origin(annotation) or annotation


def flag_of(field: dataclasses.Field) -> str:
    return setting_of(field).flag or "--" + field.name.replace("_", "-")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already states it (the generated
    options say "default: model default" where the value is ``None``)."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_options(parser, cls, names: Iterable[str], *, shown: dict[str, Any] | None = None,
                title: str | None = None) -> None:
    """Add ``--option`` for each field in ``names`` of ``cls``. Every option defaults to
    ``None`` (= not given, so a ``--config`` file or the model's defaults decide); the help
    shows ``shown[name]`` or the field's default ("model default" for ``None``)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    target = parser.add_argument_group(title) if title else parser
    for name in names:
        field = fields[name]
        s = setting_of(field)
        default = (shown or {}).get(name, field.default)
        text = f"{s.help} (default: {'model default' if default is None else default})"
        kind = base_type(field.type)
        if kind is bool:
            target.add_argument(flag_of(field), dest=name, action="store_true", default=None,
                                help=text)
            continue
        parse = s.parse or {tuple: comma_floats, dict: json_object}.get(kind, kind)
        target.add_argument(flag_of(field), dest=name, type=parse, default=None, help=text)


def values_from_args(args, names: Iterable[str]) -> dict[str, Any]:
    """The fields in ``names`` given on the command line (``None`` = not given)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
