"""Atomic file writes.

Every file the engine writes goes through a temporary file in the same folder followed by
``os.replace``, so a reader (or a run restarted after SIGKILL) sees either the old file or the
complete new one, never a torn write.

Permissions: the temporary file is created with mode ``0o666`` and an exclusive, unpredictable
name, so the kernel applies the user's umask (umask 022: ``rw-r--r--``; 077: ``rw-------``)
and default ACLs as for any file the user creates, without reading or changing the
process-wide umask. (``tempfile.mkstemp`` would force ``0o600`` on every result.) Private
temporary files that must stay ``0o600`` use ``mkstemp`` themselves (``loops/workers.py``).
Reading results back: :func:`lottery_core.store.integrity.read_json`. In a follower process
of a multi-process run (:mod:`.writer`) the writes do nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from lottery_core.errors import os_error_naming
from lottery_core.store import writer


def _create_sibling(path: Path) -> tuple[int, str]:
    """An exclusive new temporary file ``.<name>.<random>.tmp`` beside ``path``, mode 0o666
    less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling file, fsync and ``os.replace``.
    An ``OSError`` (disk full, read-only folder) names ``path``; no temporary file is left.
    Nothing in a follower process (:mod:`.writer`)."""
    if not writer.writes():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = _create_sibling(path)
    except OSError as exc:
        raise os_error_naming(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error_naming(exc, path) from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (atomically)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
