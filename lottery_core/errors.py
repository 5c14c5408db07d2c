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
