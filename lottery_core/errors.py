"""Errors shared by the library and the ``lottery`` command line.

The ``lottery`` console script prints each as one line (``lottery_cli/faults.py``): a
:class:`UsageError` (and a :class:`DataError` it is raised from) with exit status 2, a
:class:`CorruptFileError` with 1, an :class:`Interrupted` run with 130.
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


class CorruptFileError(Exception):
    """A file that exists where expected has damaged contents (a gzip stream that does not
    decompress, a truncated or mislabelled array file); the message names the file. A fault,
    not bad input: the CLI exits with status 1."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says where the run stopped and what rerunning the
    same command does (``lottery`` prints it and exits with status 130)."""


def os_error_naming(exc: OSError, path) -> OSError:
    """``exc`` (same class, errno and text) naming ``path``: errors of ``read()``,
    ``write()`` and ``fsync()`` name no file, and a temporary file's name means nothing to a
    user. Raise it ``from exc``."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))
