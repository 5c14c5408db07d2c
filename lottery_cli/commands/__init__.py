"""Subcommands of the ``lottery`` console script (see :mod:`lottery_cli.main`)."""
