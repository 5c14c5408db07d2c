"""What ``lottery`` prints for a predictable fault: one line and an exit status, no traceback.

=================================  ====  ==============================================
exception                          exit  line
=================================  ====  ==============================================
``UsageError`` (bad input)         2     ``error: <its message>``
``Fault`` (corrupt file, busy run) 1     ``error: <its message, naming the file>``
``OSError`` (disk, permissions)    1     ``error: <errno-specific words>: <the file>``
``KeyboardInterrupt`` (Ctrl-C)     130   ``interrupted ...; rerun the same command ...``
=================================  ====  ==============================================

Anything else is a bug and keeps its traceback. ``LOTTERY_DEBUG=1`` in the environment shows
the traceback of the faults above too (:func:`debug`).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from lottery_core.errors import Fault, UsageError

EXIT_FAULT, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
#: the exceptions :func:`describe` turns into one line
PREDICTABLE = (UsageError, Fault, OSError, KeyboardInterrupt)
#: what an interrupt without a runner's own message says
INTERRUPTED = ("interrupted; rerun the same command to resume (results written so far are "
               "kept)")
RESUME = "rerun the same command to resume (results written so far are kept)"


def debug() -> bool:
    """``LOTTERY_DEBUG`` is set to anything but empty or ``0``: show tracebacks."""
    return os.environ.get("LOTTERY_DEBUG", "") not in ("", "0")


def os_error_line(exc: OSError) -> str:
    """An ``OSError`` in words a user can act on, naming its file (the atomic writer and
    the data readers make sure it has one)."""
    path = exc.filename
    where = f" {path}" if path is not None else ""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        full = "disk full" if code == errno.ENOSPC else "disk quota exceeded"
        return f"{full}: cannot write{where}; free some space, then {RESUME}"
    if code == errno.EROFS:
        return f"read-only file system: cannot write{where}; choose a writable --out"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied:{where}"
    if code == errno.ENOTDIR:
        return f"not a folder: a part of{where} is a file"
    if code == errno.EISDIR:
        return f"{path} is a folder, not a file"
    if code == errno.ENOENT:
        return f"no such file or folder:{where}"
    if code == errno.EIO:
        return f"input/output error on{where} (a failing disk or network file system?)"
    return f"{exc.strerror or exc}:{where}" if path is not None else str(exc)


def describe(exc: BaseException) -> tuple[int, str]:
    """``(exit status, line)`` of one of the :data:`PREDICTABLE` exceptions."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, str(exc) or INTERRUPTED
    if isinstance(exc, UsageError):
        return EXIT_USAGE, f"error: {exc}"
    if isinstance(exc, OSError):
        return EXIT_FAULT, f"error: {os_error_line(exc)}"
    return EXIT_FAULT, f"error: {exc}"


def check_output_folder(path: Path, option: str = "--out") -> None:
    """``UsageError`` unless ``path`` is a folder or can become one: its nearest existing
    ancestor must be a folder (checked before anything is created)."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        what = "is a file" if existing == path else f"lies under the file {existing}"
        raise UsageError(f"{option} {path} {what}, not a folder; choose a folder")
