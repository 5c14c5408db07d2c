"""Errors shared by the library and the ``lottery`` command line."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user (an option, a file, a folder).

    Raised by library code that parses user input (the named experiments of
    :mod:`lottery_core.experiments`, the CLI's commands); the ``lottery`` console script prints
    it as one line and exits with status 2.
    """


class DataError(ValueError):
    """A data folder or file is missing or unreadable; the message names path and files."""


class RunFault(Exception):
    """A fault of a run folder that the user must resolve (a corrupt result, a folder in use
    by another process); the ``lottery`` console script prints it as one line and exits
    with status 1. Not a ``ValueError``: it must not be mistaken for bad usage (exit 2)."""


class CorruptRunError(RunFault):
    """A result file is missing, unreadable or differs from its manifest.

    ``str(error)`` is one line: ``<path>: <problem>; <remedy>`` (the remedy, e.g. ``rerun
    with --redo-level 2``, is chosen by :func:`lottery_core.store.integrity.corrupt`)."""

    def __init__(self, path, problem: str, remedy: str):
        super().__init__(f"{path}: {problem}; {remedy}")
        self.path, self.problem, self.remedy = path, problem, remedy


class RunBusyError(RunFault):
    """Another process holds the run folder's lock (:mod:`lottery_core.store.lock`)."""
