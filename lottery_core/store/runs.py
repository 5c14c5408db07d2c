"""Opening a run folder: write its identity card, or check that it is the same experiment.

Level runs, one-shot runs and named experiments all go through :func:`open_run_directory`:
the folder is ``OUT/<name>-<hash>/`` (:func:`layout.run_directory`, hash by
:func:`identity.identity_hash`) and its card (``config.json`` for runs, ``experiment.json``
for named experiments) records the name, the hash and the identity. A folder whose card
names another experiment (different name or identity) is refused, so results of different
configs never mix. A new card records the :func:`provenance.provenance` of the process that
created the folder (outside the identity: it does not change the hash).

:func:`collect_results` reads every finished level through :func:`integrity.read_json` (checked
against the level's manifest); :func:`write_results` writes a named experiment's
``results.json`` with its provenance and seals it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lottery_core.store import integrity, layout
from lottery_core.store.identity import identity_hash
from lottery_core.store.integrity import read_json
from lottery_core.store.io import atomic_write_json
from lottery_core.store.provenance import provenance


def _digest(name: str, identity: dict[str, Any], experiment: bool) -> str:
    return identity_hash(identity, namespace=name if experiment else None)


def run_folder(out: Path, name: str, identity: dict[str, Any], *,
               experiment: bool = False) -> Path:
    """``OUT/<name>-<hash>/`` of ``identity`` (the folder :func:`open_run_directory` opens),
    without creating or reading anything (``lottery sweep`` finds its runs with it)."""
    return layout.run_directory(out, name, _digest(name, identity, experiment))


def open_run_directory(out: Path, name: str, identity: dict[str, Any],
                       record: dict[str, Any] | None = None, *,
                       experiment: bool = False) -> Path:
    """Create or check ``OUT/<name>-<hash>/`` and return it.

    Runs (``name`` = method): ``config.json`` = ``{"method", "hash", "identity",
    "provenance", **record}`` with ``hash = identity_hash(identity)``. Named experiments
    (``experiment=True``): ``experiment.json`` = ``{"experiment", "hash", "identity",
    "provenance", **record}`` with ``hash = identity_hash(identity, namespace=name)``."""
    digest = _digest(name, identity, experiment)
    run_dir = layout.run_directory(out, name, digest)
    name_key, card = ("experiment", layout.EXPERIMENT) if experiment else ("method",
                                                                           layout.CONFIG)
    identity = json.loads(json.dumps(identity))          # tuples -> lists, as read back
    path = run_dir / card
    if path.exists():
        existing = read_json(path)
        if existing.get("identity") != identity or existing.get(name_key) != name:
            raise ValueError(f"{path} describes a different experiment; refusing to overwrite "
                             f"(remove the folder or choose another --out)")
    else:
        atomic_write_json(path, {**(record or {}), name_key: name, "hash": digest,
                                 "identity": identity, "provenance": provenance()})
    return run_dir


def collect_results(runs_dir: Path) -> list[dict]:
    """Every finished level under ``runs_dir``: the ``metrics.json`` records plus method, hash
    and run folder name."""
    records = []
    for config_path in sorted(Path(runs_dir).glob(layout.RUN_CONFIGS)):
        meta = read_json(config_path)
        for metrics_path in sorted(config_path.parent.glob(layout.LEVEL_METRICS)):
            record = read_json(metrics_path)
            record.setdefault("method", meta["method"])
            record["hash"] = meta["hash"]
            record["run"] = config_path.parent.name
            records.append(record)
    return records


def write_results(directory: Path, results: dict[str, Any]) -> Path:
    """``directory/results.json`` = ``results`` plus ``"provenance"``, then its manifest
    (unsealed first, so a run killed in between leaves no manifest that disagrees)."""
    path = Path(directory) / layout.RESULTS
    integrity.unseal(directory)
    atomic_write_json(path, {**results, "provenance": provenance()})
    integrity.seal(directory, [layout.RESULTS])
    return path
