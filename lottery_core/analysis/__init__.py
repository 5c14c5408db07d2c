"""Summaries and figures of finished runs: accuracy vs density over seeds, as tables and plots,
runs named by method and differing settings (:func:`run_labels`).

Used by ``lottery plot`` and ``lottery run`` (:mod:`lottery_cli`), the named experiments and
``bench/``. Matplotlib is imported only when a figure is drawn.
"""

from lottery_core.analysis.labels import run_labels
from lottery_core.analysis.plots import plot_runs
from lottery_core.analysis.summaries import accuracy_vs_density, markdown_table, summarize

__all__ = ["accuracy_vs_density", "markdown_table", "plot_runs", "run_labels", "summarize"]
