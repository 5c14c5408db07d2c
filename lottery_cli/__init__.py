"""The ``lottery`` command line, the top layer: theory <- lottery_core <- sims <- lottery_cli.

Only this package imports :mod:`sims` (``lottery verify``) and :mod:`theory.derivations`
(``lottery derive``); ``tests/test_layers.py`` checks the order.
"""
