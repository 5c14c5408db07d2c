"""Errors shared by the library and the ``lottery`` command line.

The ``lottery`` console script prints each as one line (``lottery_cli/faults.py``): a
:class:`UsageError` (and a :class:`DataError` it is raised from) with exit status 2,
a :class:`Fault` (a corrupt file or result, a run folder in use) with 1, an
:class:`Interrupted` run with 130.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user (an option, a file, a folder).

    Raised by library code that parses user input (the named experiments of
    :mod:`lottery_core.experiments`, the CLI's commands); the ``lottery`` console script prints
    it as one line and exits with status 2.
    """


class DataError(ValueError):
    """A data folder or file is missing or unreadable; the message names path and files."""


class Fault(Exception):
    """A predictable fault the user must resolve (a damaged file, a run folder in use); the
    ``lottery`` console script prints it as one line and exits with status 1. Not a
    ``ValueError``: it must not be mistaken for bad usage (exit 2)."""


class CorruptFileError(Fault):
    """A file that exists where expected has damaged contents (a gzip stream that does not
    decompress, a truncated or mislabelled array file); the message names the file."""


class CorruptRunError(CorruptFileError):
    """A result file is missing, unreadable or differs from its manifest.

    ``str(error)`` is one line: ``<path>: <problem>; <remedy>`` (the remedy, e.g. ``rerun
    with --redo-level 2``, is chosen by :func:`lottery_core.store.integrity.corrupt`)."""

    def __init__(self, path, problem: str, remedy: str):
        super().__init__(f"{path}: {problem}; {remedy}")
        self.path, self.problem, self.remedy = path, problem, remedy


class RunBusyError(Fault):
    """Another process holds the run folder's lock (:mod:`lottery_core.store.lock`)."""


class ClusterError(Fault):
    """A multi-process run cannot form (:mod:`lottery_core.training.hosts`): the coordinator
    cannot be reached or started, or a process does not see the run folder."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says where the run stopped and what rerunning the
    same command does (``lottery`` prints it and exits with status 130)."""


def os_error_naming(exc: OSError, path) -> OSError:
    """``exc`` (same class, errno and text) naming ``path``: errors of ``read()``,
    ``write()`` and ``fsync()`` name no file, and a temporary file's name means nothing to a
    user. Raise it ``from exc``."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))
