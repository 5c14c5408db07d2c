"""Finished claim records on disk, and when one may be reused instead of rerun.

``lottery verify`` writes each claim's record as soon as the claim finishes::

    OUT/records/<preset>/seed_<s>/<claim id>.json
    OUT/figures/<preset>/seed_<s>/<figure>.png

A rerun of the same command reuses a record when its claim, preset, seed and code version
equal the current ones and it holds no error; ``--fresh`` recomputes every claim. The *code
version* of a claim (:func:`code_version`) is the toolkit's version, the git commit of the
checkout (when it is one) and the SHA-256 of the ``.py`` files in the folder of the claim's
module (its topic package ``sims/<topic>/``), so editing a claim, its engine or its figures
invalidates its records, and so does any new commit. Uncommitted edits outside the topic
package (``theory/``, ``lottery_core/``) are not seen: rerun with ``--fresh`` after those.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

from lottery_core.errors import CorruptRunError
from lottery_core.store import atomic_write_json, layout, read_json
from lottery_core.store.provenance import version

RECORDS = "records"
FIGURES = "figures"


def record_path(out_dir: Path, preset: str, seed: int, claim_id: str) -> Path:
    return layout.seed_directory(Path(out_dir) / RECORDS / preset, seed) / f"{claim_id}.json"


def figure_dir(out_dir: Path, preset: str, seed: int) -> Path:
    return layout.seed_directory(Path(out_dir) / FIGURES / preset, seed)


def sources_sha256(function) -> str:
    """SHA-256 over the names and bytes of the ``.py`` files beside ``function``'s module."""
    folder = Path(inspect.getfile(function)).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(claim, commit: str | None) -> dict[str, Any]:
    """What a claim's record was computed with (see the module docstring)."""
    return {"toolkit": version(), "git_commit": commit,
            "claim_sources_sha256": sources_sha256(claim.function)}


def save(out_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` atomically to its place; return the path."""
    path = record_path(out_dir, record["preset"], record["seed"], record["claim"])
    atomic_write_json(path, record)
    return path


def reusable(out_dir: Path, claim_id: str, preset: str, seed: int,
             version: dict[str, Any]) -> dict[str, Any] | None:
    """The finished record of ``claim_id`` at ``preset`` and ``seed`` computed with ``version``,
    or ``None`` (missing, unreadable, another version, or an error record: those are rerun)."""
    path = record_path(out_dir, preset, seed, claim_id)
    try:
        record = read_json(path)
    except (OSError, ValueError, CorruptRunError):   # a cache entry: recompute it
        return None
    same = (isinstance(record, dict) and record.get("claim") == claim_id
            and record.get("preset") == preset and record.get("seed") == seed
            and record.get("code_version") == version and "passed" in record)
    return record if same and not record.get("error") else None
