"""Results that never lie: manifests of finished folders, checked reads, one-line faults.

A finished folder is *sealed*: ``manifest.json`` (:data:`layout.MANIFEST`), written last and
atomically, records the size and SHA-256 of its files. Sealed are every finished level
(``level_<k>/``, after ``metrics.json``), the seed folder of a level run (its θ_0, rewind and
warmup files, when level 0 finishes), every one-shot seed folder (after each
``metrics.json``) and each named experiment's ``results.json``. A manifest covers the plain
files of its own folder (not subfolders), except checkpoints, temporary files and the lock.

* :func:`check_finished`: before a runner skips (or builds on) a finished folder it checks
  the folder against its manifest; a difference stops the run with one line naming the file,
  the problem and the remedy (:func:`corrupt`). A finished folder without a manifest (written
  before manifests existed, or a run killed between ``metrics.json`` and the manifest) is
  *adopted*: every file is read back completely (JSON parsed, every ``.npz`` member checked
  against its CRC-32) and, when all are readable, the manifest is written then.
* :func:`read_json`: the one reader of JSON result files; a file listed in its folder's
  manifest is checked against it first, and an unreadable file raises
  :class:`~lottery_core.errors.CorruptRunError` naming it (``lottery plot`` and every summary
  read through it).
* :func:`unseal` before a sealed folder is changed (a one-shot seed gaining sparsities,
  ``results.json`` rewritten): a run killed while changing it leaves an unsealed folder,
  adopted by the next run, never a manifest that disagrees with correct files.
* :func:`redo_levels` (``lottery run --redo-level K``): removes level K and every later
  level of every seed (K = 0: the whole seed folders), nothing earlier.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Callable

from lottery_core.errors import CorruptRunError
from lottery_core.store import layout, writer
from lottery_core.store.io import atomic_write_json

#: files a manifest never covers: in-progress checkpoints, the locks, temporary files
_UNSEALED = re.compile(rf"(^\.|checkpoint\.npz$|\.lock$|"
                       rf"^{re.escape(layout.MANIFEST)}$)")
_SEED_RECORD = re.compile(rf"^{layout.SEED_PREFIX}(\d+)\.json$")
MANIFEST_FORMAT = 1


# ----------------------------------------------------------------------------- faults
def remedy(path: Path, experiment: bool = False) -> str:
    """What the user can do about a damaged ``path``, from where it lies in the layout.
    ``experiment``: the level run belongs to ``lottery experiment``, which has no
    ``--redo-level``: say which folders to remove by hand (what ``--redo-level`` removes)."""
    path = Path(path)
    parts = path.parts
    for i in range(1, len(parts)):
        level = layout.number_of(parts[i], layout.LEVEL_PREFIX)
        if level is not None and layout.number_of(parts[i - 1], layout.SEED_PREFIX) is not None:
            if experiment:
                return (f"remove level_{level} and every later level of each seed in "
                        f"{Path(*parts[:i - 1])}, then rerun")
            return f"rerun with --redo-level {level}"
    parent = path.parent
    if layout.number_of(parent.name, layout.SEED_PREFIX) is not None:
        if layout.level_directories(parent):
            if experiment:
                return f"remove every seed_* folder of {parent.parent}, then rerun"
            return "rerun with --redo-level 0"
        return f"remove the folder {parent} and rerun (that seed is computed again)"
    if path.name in (layout.CONFIG, layout.EXPERIMENT):
        return f"restore it, or remove the folder {parent} and rerun"
    if path.name == layout.RESULTS:
        return "rerun the experiment (it rewrites the file from its runs)"
    record = _SEED_RECORD.match(path.name)
    if record is not None:
        checkpoint = layout.seed_checkpoint(int(record.group(1)))
        return f"remove it and {checkpoint} and rerun"
    return "remove it and rerun"


def corrupt(path: Path, problem: str, experiment: bool = False) -> CorruptRunError:
    """The one-line fault ``<path>: <problem>; <remedy>`` (raised by the caller)."""
    return CorruptRunError(path, problem, remedy(path, experiment))


def _json_problem(exc: json.JSONDecodeError, size: int) -> str:
    if size == 0:
        return "empty file (0 bytes), not valid JSON"
    return f"not valid JSON (line {exc.lineno} column {exc.colno})"


# ----------------------------------------------------------------------------- manifests
def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sealable_files(folder: Path) -> list[str]:
    """The plain files of ``folder`` that a manifest covers (sorted names)."""
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.is_file() and not _UNSEALED.search(p.name))


def seal(folder: Path, names: list[str] | None = None) -> None:
    """Write ``folder/manifest.json``: size and SHA-256 of ``names`` (default: every
    :func:`sealable_files`), read back from disk. Call it after the folder's last write.
    Nothing in a follower process (:mod:`.writer`: the files are process 0's to seal)."""
    if not writer.writes():
        return
    folder = Path(folder)
    names = sealable_files(folder) if names is None else sorted(names)
    files = {name: {"bytes": (folder / name).stat().st_size, "sha256": _digest(folder / name)}
             for name in names}
    atomic_write_json(folder / layout.MANIFEST, {"format": MANIFEST_FORMAT, "files": files})


def unseal(folder: Path) -> None:
    """Remove ``folder``'s manifest before changing a sealed folder."""
    if not writer.writes():
        return
    (Path(folder) / layout.MANIFEST).unlink(missing_ok=True)


def _manifest(folder: Path) -> dict[str, dict] | None:
    """The ``files`` of ``folder``'s manifest, ``None`` without one (unreadable: a fault)."""
    path = Path(folder) / layout.MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise corrupt(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        record = json.loads(text)
        files = record["files"]
        if not isinstance(files, dict):
            raise TypeError
    except json.JSONDecodeError as exc:
        raise corrupt(path, _json_problem(exc, len(text))) from None
    except (KeyError, TypeError):
        raise corrupt(path, "not a manifest (no \"files\" object)") from None
    return files


def _check_entry(path: Path, entry: dict) -> None:
    """``path`` has the size and SHA-256 its manifest ``entry`` lists."""
    manifest = layout.MANIFEST
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise corrupt(path, f"missing (listed in {manifest})") from None
    if size != entry["bytes"]:
        what = "empty" if size == 0 else f"{size} bytes"
        raise corrupt(path, f"{what}, {manifest} lists {entry['bytes']} bytes (truncated or "
                            f"overwritten)")
    if _digest(path) != entry["sha256"]:
        raise corrupt(path, f"contents differ from the SHA-256 in {manifest} (changed or "
                            f"damaged since it was written)")


def verify(folder: Path) -> bool:
    """Check every file ``folder``'s manifest lists; ``False`` when there is no manifest.
    The first difference raises :class:`CorruptRunError` naming the file."""
    files = _manifest(folder)
    if files is None:
        return False
    for name, entry in sorted(files.items()):
        _check_entry(Path(folder) / name, entry)
    return True


# ----------------------------------------------------------------------------- readability
def _read_bytes(path: Path) -> bytes:
    """The bytes of ``path``; missing or unreadable: :class:`CorruptRunError` naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise corrupt(path, "missing") from None
    except OSError as exc:
        raise corrupt(path, f"cannot be read ({exc.strerror or exc})") from exc


def check_readable(path: Path) -> None:
    """Read ``path`` back completely: JSON parsed, every ``.npz`` member checked against its
    CRC-32, anything else read. An unreadable file raises :class:`CorruptRunError`."""
    path = Path(path)
    data = _read_bytes(path)
    if path.suffix == ".json":
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            raise corrupt(path, _json_problem(exc, len(data))) from None
        except UnicodeDecodeError:
            raise corrupt(path, "not valid JSON (not UTF-8 text)") from None
    elif path.suffix == ".npz":
        problem = npz_problem(path)
        if problem is not None:
            raise corrupt(path, problem)


def npz_problem(path: Path) -> str | None:
    """Why the array file ``path`` cannot be read back (``None``: every member's bytes match
    the CRC-32 recorded when it was written)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        return f"not a readable array file ({exc})"
    if bad is not None:
        return f"not a readable array file (member {bad} is damaged: CRC-32 mismatch)"
    return None


def check_finished(folder: Path, names: list[str] | None = None) -> str:
    """Check a finished folder before it is skipped or built on: against its manifest
    (``"verified"``), or, without one, read every file back and seal it (``"adopted"``).
    ``names``: the files to seal on adoption (default: every sealable file)."""
    if verify(folder):
        return "verified"
    names = sealable_files(folder) if names is None else names
    for name in names:
        check_readable(Path(folder) / name)
    seal(folder, names)
    return "adopted"


# ----------------------------------------------------------------------------- reading
def read_json(path: Path) -> Any:
    """The JSON value of a result file. A file its folder's manifest lists is checked against
    it first; a missing or unreadable file raises :class:`CorruptRunError` naming it."""
    path = Path(path)
    files = _manifest(path.parent)
    if files is not None and path.name in files:
        _check_entry(path, files[path.name])
    data = _read_bytes(path)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise corrupt(path, _json_problem(exc, len(data))) from None
    except UnicodeDecodeError:
        raise corrupt(path, "not valid JSON (not UTF-8 text)") from None


# ----------------------------------------------------------------------------- level runs
def check_level_run(run_dir: Path, seeds: list[int], levels: int,
                    log: Callable[[str], None] = print) -> None:
    """Check every finished level ``0..levels`` of ``seeds`` (and each seed folder whose level
    0 is finished) before the level loop skips them or builds on them; say how many were
    adopted. A finished level has ``metrics.json`` or a manifest."""
    adopted = []
    for seed in seeds:
        seed_dir = layout.seed_directory(run_dir, seed)
        for level in range(levels + 1):
            folder = layout.level_directory(run_dir, seed, level)
            if not ((folder / layout.METRICS).exists() or (folder / layout.MANIFEST).exists()):
                continue
            if check_finished(folder) == "adopted":
                adopted.append(f"seed {seed} level {level}")
            if level == 0 and check_finished(seed_dir) == "adopted":
                adopted.append(f"seed {seed} start files")
    if adopted:
        log(f"  {len(adopted)} finished folders had no manifest (written before manifests, "
            f"or killed before sealing): read back completely, manifests written "
            f"({', '.join(adopted[:4])}{', ...' if len(adopted) > 4 else ''})")


def redo_levels(run_dir: Path, seeds: list[int], level: int,
                log: Callable[[str], None] = print) -> None:
    """``--redo-level K``: remove ``level_<k>/`` for every ``k >= K`` (those past the run's
    ``--levels`` too: they were built on the removed ones) of each of ``seeds``; ``K = 0``
    removes the whole seed folders (θ_0, rewind and warmup files belong to level 0). Earlier
    levels, and seeds outside ``seeds``, are kept. Nothing in a follower process
    (:mod:`.writer`)."""
    if not writer.writes():
        return
    removed = []
    for seed in seeds:
        seed_dir = layout.seed_directory(run_dir, seed)
        if not seed_dir.is_dir():
            continue
        if level == 0:
            shutil.rmtree(seed_dir)
            removed.append(seed_dir.name)
            continue
        for k, folder in layout.level_directories(seed_dir).items():
            if k >= level:
                shutil.rmtree(folder)
                removed.append(f"{seed_dir.name}/{folder.name}")
    shown = ", ".join(removed[:6]) + (", ..." if len(removed) > 6 else "")
    log(f"  --redo-level {level}: removed {len(removed)} folders ({shown or 'none'}); "
        f"computing them again")
