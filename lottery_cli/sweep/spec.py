"""A sweep spec (``SPEC.toml``) read, checked and expanded into runs, before anything runs.

Format (docs/sweep.md)::

    [sweep]
    out = "runs"                 # folder of the runs, relative to the spec file
    methods = ["imp", "lrr"]     # level or one-shot methods of lottery run
    seeds = [0, 1, 2]            # or { first = 0, count = 3 }
    data_dir = "../data"         # optional: --data-dir (default: $LOTTERY_DATA)

    [settings]                   # lottery run options shared by every run, by field name
    model = "mlp"
    iterations = 200

    [grid]                       # lists: one run per combination
    learning_rate = [0.1, 0.05]

Every (method, seed, grid point) is one run: the ``lottery run`` command line of that seed
alone (``--seeds 1 --first-seed S``). Each command line is parsed by ``lottery run``'s own
parser and checked by its own checks (:func:`lottery_cli.commands.run.resolve_run`), and its
folder is the one the run writes (:func:`~lottery_cli.commands.run.run_folder`: the store's
run identity; no other naming). A bad key, method, value or combination is one
``UsageError`` line naming it and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from lottery_core.errors import UsageError

#: the keys of the [sweep] table (out, methods and seeds are required)
SWEEP_KEYS = ("out", "methods", "seeds", "data_dir")
TABLES = ("sweep", "settings", "grid")
#: lottery run options a sweep sets itself (the seeds are the sweep's)
OWN_OPTIONS = ("seeds", "first_seed")
#: options every run of a sweep gets: wait for a run folder another process holds (another
#: seed of the same run, or a lottery run started by hand), no progress bars in the logs, and
#: the figure drawn once by the sweep
RUN_FLAGS = ("--wait", "--no-progress", "--no-plot")


@dataclasses.dataclass(frozen=True)
class Unit:
    """One run of a sweep: a method, a seed and a grid point; ``argv`` is its ``lottery``
    command line, ``run_dir`` its folder and ``seed`` its ``seed_<s>`` in it."""

    method: str
    seed: int
    point: tuple[tuple[str, Any], ...]
    argv: tuple[str, ...]
    run_dir: Path
    levels: int | None                    # a level method's last level
    sparsity_keys: tuple[str, ...] | None  # a one-shot method's masks

    @property
    def key(self) -> str:
        """``<method>-<hash>/seed_<s>``: the unit's name in the sweep's state file."""
        return f"{self.run_dir.name}/seed_{self.seed}"

    @property
    def label(self) -> str:
        point = " ".join(f"{k}={format_value(v)}" for k, v in self.point)
        return f"{self.method} seed {self.seed}" + (f" {point}" if point else "")

    def levels_done(self) -> int:
        """Finished levels of a level run's seed (``metrics.json`` written, as the runner
        decides)."""
        from lottery_core.store import layout

        return sum((layout.level_directory(self.run_dir, self.seed, k) / layout.METRICS)
                   .exists() for k in range(self.levels + 1))

    def finished(self) -> bool:
        """Has the seed's run finished: every level, or every one-shot sparsity?"""
        from lottery_core.store import layout

        if self.levels is not None:
            last = layout.level_directory(self.run_dir, self.seed, self.levels)
            return (last / layout.METRICS).exists()
        path = layout.seed_directory(self.run_dir, self.seed) / layout.METRICS
        try:
            done = json.loads(path.read_text())["sparsities"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return all(k in done for k in self.sparsity_keys)


@dataclasses.dataclass(frozen=True)
class Sweep:
    spec: Path
    name: str
    out: Path
    units: tuple[Unit, ...]


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# ----------------------------------------------------------------------------- options
def option_fields() -> dict[str, dataclasses.Field]:
    """The ``lottery run`` options a spec may set, by field name: the engine's
    (:func:`~lottery_cli.commands.run.option_names`) and the one-shot methods'."""
    from lottery_cli.commands.run import option_names
    from lottery_core.config import ExperimentConfig, OneShotSettings, names_in
    from lottery_core.config.oneshot import SETTING_GROUPS

    engine = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    oneshot = {f.name: f for f in dataclasses.fields(OneShotSettings)}
    fields = {n: engine[n] for n in option_names() if n not in OWN_OPTIONS}
    fields.update({n: oneshot[n] for n in names_in(OneShotSettings, *SETTING_GROUPS)})
    return fields


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def option_argv(where: str, field: dataclasses.Field, value) -> list[str]:
    """The command-line words of ``field = value``; a value of the wrong type is a
    ``UsageError`` naming ``where`` and the type expected."""
    from lottery_core.config.fields import base_type, flag_of

    kind, flag = base_type(field.type), flag_of(field)
    expected = {bool: "true (a flag; leave it out for false)", int: "an integer",
                float: "a number", str: "a string", tuple: "a list of numbers",
                dict: "a table"}[kind]
    ok = {bool: value is True, int: isinstance(value, int) and not isinstance(value, bool),
          float: _number(value), str: isinstance(value, str),
          tuple: isinstance(value, list) and all(map(_number, value)),
          dict: isinstance(value, dict)}[kind]
    if not ok:
        raise UsageError(f"{where} must be {expected}, got {value!r}")
    if kind is bool:
        return [flag]
    if kind is tuple:
        return [flag, ",".join(map(repr, value))]
    if kind is dict:
        return [flag, json.dumps(value)]
    return [flag, str(value)]


def _unknown(key: str, where: str, allowed) -> UsageError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return UsageError(f"unknown key {key!r} in {where}{hint}; allowed: {', '.join(allowed)}")


# ----------------------------------------------------------------------------- reading
def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"no such sweep spec: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a sweep spec (a .toml file)") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None


def _seeds(value) -> list[int]:
    if isinstance(value, dict):
        if set(value) != {"first", "count"}:
            raise UsageError(f"[sweep] seeds as a table must have exactly the keys first and "
                             f"count, got {sorted(value)}")
        first, count = value["first"], value["count"]
        if not (isinstance(first, int) and isinstance(count, int) and first >= 0 and count >= 1
                and not isinstance(first, bool) and not isinstance(count, bool)):
            raise UsageError(f"[sweep] seeds: first must be an integer >= 0 and count >= 1, "
                             f"got first={first!r} count={count!r}")
        return list(range(first, first + count))
    if not (isinstance(value, list) and value and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        raise UsageError(f"[sweep] seeds must be a non-empty list of integers >= 0 or a table "
                         f"{{ first = 0, count = 3 }}, got {value!r}")
    if len(set(value)) != len(value):
        raise UsageError(f"[sweep] seeds lists a seed twice: {value}")
    return list(value)


def _methods(value) -> list[str]:
    from lottery_core.config import ONESHOT_METHODS
    from lottery_core.loops import registry

    if not (isinstance(value, list) and value and all(isinstance(m, str) for m in value)):
        raise UsageError(f"[sweep] methods must be a non-empty list of method names, "
                         f"got {value!r}")
    registry.load_plugins()
    known = [*registry.METHODS, *ONESHOT_METHODS]
    for method in value:
        if method not in known:
            raise UsageError(f"unknown method {method!r} in [sweep] methods; available: "
                             f"{', '.join(known)}")
    if len(set(value)) != len(value):
        raise UsageError(f"[sweep] methods lists a method twice: {value}")
    return list(value)


def _path(value, key: str, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise UsageError(f"[sweep] {key} must be a folder path (a string), got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def load(spec: Path, out: Path | None = None) -> Sweep:
    """Read, check and expand ``spec``; ``out`` (the command line's ``--out``) replaces the
    spec's ``out``. Relative paths in the spec are relative to its folder."""
    spec = Path(spec)
    try:
        return _load(spec, out)
    except UsageError as exc:
        raise UsageError(f"{spec}: {exc}") from None


def _load(spec: Path, out: Path | None) -> Sweep:
    doc = read_toml(spec)
    for key in doc:
        if key not in TABLES:
            raise _unknown(key, "the spec (its tables)", TABLES)
        if not isinstance(doc[key], dict):
            raise UsageError(f"{key} must be a table [{key}], got {doc[key]!r}")
    table = doc.get("sweep")
    if table is None:
        raise UsageError("the spec has no [sweep] table (out, methods, seeds)")
    for key in table:
        if key not in SWEEP_KEYS:
            raise _unknown(key, "[sweep]", SWEEP_KEYS)
    for key in ("out", "methods", "seeds"):
        if key not in table:
            raise UsageError(f"[sweep] needs {key}")
    base = spec.resolve().parent
    out = Path(out).resolve() if out is not None else _path(table["out"], "out", base)
    data_dir = (_path(table["data_dir"], "data_dir", base) if "data_dir" in table
                else os.environ.get("LOTTERY_DATA"))
    if data_dir:            # absolute: a Ray worker may start elsewhere, without the variable
        data_dir = Path(data_dir).expanduser().resolve()
        if not data_dir.is_dir():
            raise UsageError(f"the data folder {data_dir} ([sweep] data_dir, else "
                             f"$LOTTERY_DATA) is not a folder")
    methods, seeds = _methods(table["methods"]), _seeds(table["seeds"])
    settings, grid = doc.get("settings", {}), doc.get("grid", {})
    fields = option_fields()
    words = []
    for key, value in settings.items():
        if key not in fields:
            raise _unknown(key, "[settings]", fields)
        words += option_argv(f"[settings] {key}", fields[key], value)
    for key, values in grid.items():
        if key not in fields:
            raise _unknown(key, "[grid]", fields)
        if key in settings:
            raise UsageError(f"{key} is in both [settings] and [grid]; keep one")
        if not (isinstance(values, list) and values):
            raise UsageError(f"[grid] {key} must be a non-empty list of values, got {values!r}")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise UsageError(f"[grid] {key} lists a value twice: {values}")
        for value in values:
            option_argv(f"[grid] {key} value", fields[key], value)
    points = [tuple(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    common = ["--out", str(out), *(["--data-dir", str(data_dir)] if data_dir else []),
              *RUN_FLAGS]
    units, seen = [], {}
    for method in methods:
        for point in points:
            point_words = [w for k, v in point for w in option_argv(k, fields[k], v)]
            base_argv = ["run", method, *words, *point_words]
            for seed in seeds:
                argv = (*base_argv, "--seeds", "1", "--first-seed", str(seed), *common)
                unit = expand(argv, method, seed, point, out)
                if unit.key in seen:
                    raise _same_run(unit, seen[unit.key])
                seen[unit.key] = unit
                units.append(unit)
    order = {s: i for i, s in enumerate(seeds)}     # seed-major: runs of one folder apart
    units.sort(key=lambda u: order[u.seed])
    return Sweep(spec=spec.resolve(), name=spec.stem, out=out, units=tuple(units))


def _same_run(unit: Unit, other: Unit) -> UsageError:
    return UsageError(f"{other.label} and {unit.label} are the same run {unit.key} (what "
                      f"differs between them is not part of the run identity, e.g. levels); "
                      f"remove one")


class _Parser(argparse.ArgumentParser):
    """``lottery run``'s parser, raising ``UsageError`` instead of exiting."""

    def error(self, message):
        raise UsageError(message)


def run_parser() -> argparse.ArgumentParser:
    from lottery_cli.commands import run

    parser = _Parser(prog="lottery run", add_help=False)
    run.add_arguments(parser)
    return parser


def expand(argv: tuple[str, ...], method: str, seed: int, point, out: Path) -> Unit:
    """The :class:`Unit` of one ``lottery run`` command line, checked as ``lottery run``
    checks it."""
    from lottery_cli.commands import run
    from lottery_core.loops.oneshot import sparsity_key

    args = run_parser().parse_args(list(argv[1:]))
    label = f"{method}" + "".join(f" {k}={format_value(v)}" for k, v in point)
    try:
        config, settings = run.resolve_run(args)
    except UsageError as exc:
        raise UsageError(f"{label}: {exc}") from None
    return Unit(method=method, seed=seed, point=point, argv=tuple(argv),
                run_dir=run.run_folder(out, config, settings),
                levels=config.levels if settings is None else None,
                sparsity_keys=(None if settings is None
                               else tuple(sparsity_key(s) for s in settings.sparsities)))
