"""Legend names of runs drawn in one figure: the method plus the settings that tell them apart.

``imp (prune fraction 0.2)`` and ``imp (prune fraction 0.5)`` instead of ``imp-e01b567e857a``:
a setting is named only when its value is not the same in every plotted run, and the short
hash is added only where two runs would otherwise get the same name.
"""

from __future__ import annotations

import json

#: keys of ``config.json`` whose fields describe a run (``settings``: one-shot runs)
SECTIONS = ("resolved", "settings")


def _fields(config: dict) -> dict[str, object]:
    """The run's settings, nested options flattened (``model_options.widths``)."""
    flat: dict[str, object] = {}

    def add(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                add(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    for section in SECTIONS:
        add("", config.get(section) or {})
    return flat


def _value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None or value == {}:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)


def _setting(name: str, value) -> str:
    return f"{name.rsplit('.', 1)[-1].replace('_', ' ')} {_value(value)}"


def run_labels(configs: dict[str, dict]) -> dict[str, str]:
    """``{run: legend name}`` of the runs plotted together, from ``{run: config.json}``.

    The name is the method, then in parentheses every setting (``resolved`` and, for one-shot
    runs, ``settings`` of ``config.json``) whose value differs among the runs that have it, in
    the order of the config (a setting only some methods have, such as pilot's ``alpha_init``
    beside ``oneshot``, is named only where its values differ); runs that still share a name
    get ``[<hash>]`` appended.
    """
    fields = {run: _fields(config) for run, config in configs.items()}
    order: list[str] = []
    for flat in fields.values():
        order += [name for name in flat if name not in order]
    differing = [name for name in order
                 if len({json.dumps(flat[name], sort_keys=True, default=str)
                         for flat in fields.values() if name in flat}) > 1]
    labels = {}
    for run, config in configs.items():
        shown = [_setting(name, fields[run][name]) for name in differing if name in fields[run]]
        labels[run] = config["method"] + (f" ({', '.join(shown)})" if shown else "")
    shared = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {run: label + (f" [{configs[run].get('hash', run)}]" if label in shared else "")
            for run, label in labels.items()}
