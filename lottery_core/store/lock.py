"""One writer per run folder: an exclusive ``flock`` on ``run.lock`` (:data:`layout.LOCK`).

Level runs, one-shot runs and named experiments hold the lock of their folder while they
write it. A second process on the same folder stops at once with one line naming the folder
and the process that holds it (:class:`~lottery_core.errors.RunBusyError`, exit status 1), or
waits for it (``wait=True``, ``--wait``).

Why ``flock`` on an open file: the operating system releases the lock when its holder ends in
any way (SIGKILL, a crash), so a lock file left behind is never stale; the next run takes it
over (and says whose it was). The holder writes ``{"pid", "host", "started", "command"}`` into
the file for the message and empties it on release, so a record found by a new holder was left
by a process that ended without releasing. ``flock`` is advisory and local: it does not guard
a folder shared over NFS between machines.

Within one process the lock is re-entrant (a table of held folders): an experiment holding
its folder can run level runs that lock their own folders, and nested holds of one folder do
not deadlock. The ``processes`` seed workers run under their parent's lock, and the follower
processes of a multi-process run (:mod:`.writer`) under process 0's: they take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from lottery_core.errors import RunBusyError
from lottery_core.store import layout, writer
from lottery_core.store.provenance import command

#: lock file path -> [file descriptor, depth] of the locks this process holds
_HELD: dict[str, list[int]] = {}
#: locks taken by :func:`acquire_in_scope`, released when their :func:`scope` ends
_SCOPED: list[str] = []


def _record() -> bytes:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "command": " ".join(command())}).encode()


def _holder(fd: int) -> dict | None:
    """The record in the lock file, ``None`` when it is empty or unreadable."""
    try:
        data = os.pread(fd, 1 << 16, 0)
        return json.loads(data) if data else None
    except (OSError, ValueError):
        return None


def describe(holder: dict | None) -> str:
    if not holder:
        return "another process (no record yet)"
    text = str(holder.get("command", ""))
    text = text if len(text) <= 60 else text[:57] + "..."
    return (f"process {holder.get('pid')} on {holder.get('host')} since "
            f"{holder.get('started')} ({text})")


def live_holder(run_dir: Path) -> dict | None:
    """The record of the process holding ``run_dir``'s lock, read without taking or probing the
    lock (``lottery sweep --status``): ``None`` when the lock file is missing or empty, or when
    its record names a process on this host that has ended (a holder killed before releasing;
    the next run takes the lock over). A holder on another host is taken to be alive."""
    try:
        data = (Path(run_dir) / layout.LOCK).read_bytes()
        record = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("host") == socket.gethostname() and not _alive(record.get("pid")):
        return None
    return record


def _alive(pid) -> bool:
    """Does process ``pid`` of this host exist?"""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:               # another user's process
        return True
    return True


def acquire(run_dir: Path, *, wait: bool = False, log: Callable[[str], None] = print,
            name: str = layout.LOCK) -> str:
    """Take ``run_dir``'s lock (or deepen this process's hold of it); returns its key for
    :func:`release`. Held elsewhere: :class:`RunBusyError`, or with ``wait`` block until the
    holder ends. ``name``: the lock file (``run.lock``; ``layout.seed_lock(s)`` for a
    process that writes one seed's files of a shared folder)."""
    path = Path(run_dir) / name
    key = str(path.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        return key
    if not writer.writes():                   # a follower: process 0 holds the lock
        _HELD[key] = [-1, 1]
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)   # not inherited by children
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        # a folder this process cannot write: nothing it does can change it, so reading it
        # (a finished run that only reports "done") needs no lock; a write fails on its own
        _HELD[key] = [-1, 1]
        return key
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            for _ in range(20):               # the holder writes its record just after locking
                if holder:
                    break
                time.sleep(0.05)
                holder = _holder(fd)
            what = run_dir if name == layout.LOCK else f"{name} of {run_dir}"
            if not wait:
                raise RunBusyError(f"{what} is in use by {describe(holder)}; wait for it to "
                                   f"finish, or rerun with --wait") from None
            log(f"{what} is in use by {describe(holder)}; waiting for it (--wait)")
            fcntl.flock(fd, fcntl.LOCK_EX)
        left = _holder(fd)
        if left:
            log(f"  {run_dir}: taking over the lock left by {describe(left)}, which ended "
                f"without releasing it")
        os.ftruncate(fd, 0)
        os.pwrite(fd, _record(), 0)
    except BaseException:
        os.close(fd)
        raise
    _HELD[key] = [fd, 1]
    return key


def release(key: str) -> None:
    """Undo one :func:`acquire`; the last one empties the file and unlocks it."""
    entry = _HELD[key]
    entry[1] -= 1
    if entry[1] > 0:
        return
    del _HELD[key]
    fd = entry[0]
    if fd < 0:                       # read-only folder or a follower: nothing was locked
        return
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)                          # closing the last descriptor unlocks


@contextmanager
def hold(run_dir: Path, *, wait: bool = False, log: Callable[[str], None] = print):
    """Hold ``run_dir``'s lock for the block."""
    key = acquire(run_dir, wait=wait, log=log)
    try:
        yield
    finally:
        release(key)


def acquire_in_scope(run_dir: Path, *, wait: bool = False,
                     log: Callable[[str], None] = print, name: str = layout.LOCK) -> None:
    """Take ``run_dir``'s lock until the enclosing :func:`scope` ends (or, outside any
    scope, until the process ends): for code that opens its folder midway, such as a named
    experiment."""
    _SCOPED.append(acquire(run_dir, wait=wait, log=log, name=name))


@contextmanager
def scope():
    """Release at the end of the block every lock :func:`acquire_in_scope` took in it."""
    start = len(_SCOPED)
    try:
        yield
    finally:
        while len(_SCOPED) > start:
            release(_SCOPED.pop())
