"""Experiment configuration: frozen dataclasses whose fields carry their help text and concern.

:class:`ExperimentConfig` describes one pruning experiment; its fields are declared by concern
(run, model, data, training, level, pruning, zhou, recipe, pai) with :func:`fields.setting`,
which keeps the help text beside the field. The command-line options of ``lottery run`` and of the
named experiments are generated from these declarations (:func:`fields.add_options`), and the
field lists of each concern (e.g. what the one-shot methods use) are derived from them.
:class:`OneShotSettings` adds the one-shot methods' settings (``pilot``, ``oneshot``).
Kept free of heavy imports (no jax): ``lottery --help`` builds its parser from here.
"""

from lottery_core.config.experiment import BASE_DEFAULTS, UNHASHED, ExperimentConfig
from lottery_core.config.fields import add_options, names_in, setting, values_from_args
from lottery_core.config.oneshot import ONESHOT_METHODS, OneShotSettings

__all__ = ["BASE_DEFAULTS", "ExperimentConfig", "ONESHOT_METHODS", "OneShotSettings",
           "UNHASHED", "add_options", "names_in", "setting", "values_from_args"]
