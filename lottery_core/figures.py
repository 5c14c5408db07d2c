"""Writing matplotlib figures: one place for the folder, layout and close steps, and for the
conventions every figure follows (docs/engine.md, "Figures"):

* percentages on a log axis are written plainly (``100%``, ``51%``, ``6.9%``), never as powers
  of ten (:func:`percent_label`, :func:`log_ticks`, :func:`density_axis`);
* every spread drawn says what it is, in the figure (:func:`spread_caption`): "mean ± std over
  3 seeds" where std is the sample standard deviation (ddof 1), or what other bars are;
* legends name runs by method and differing settings
  (:func:`lottery_core.analysis.labels.run_labels`), never by hash alone.
"""

from __future__ import annotations

import math
from pathlib import Path


#: (line style, marker) of the i-th curve, cycled beside the colours: curves that coincide
#: (IMP and WR rewound to step 0, LRR with and without BN rewinding on an MLP) stay visible,
#: and the two shades of a tab20 colour pair differ in style. Dotted lines are left for
#: reference levels (chance, dense accuracy, theory).
LINE_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), ((0, (6, 2, 1, 2, 1, 2)), "D"))


def line_style(index: int) -> dict:
    """``plot`` keywords (``ls``, ``marker``) of the ``index``-th curve of a figure."""
    style, marker = LINE_STYLES[index % len(LINE_STYLES)]
    return {"ls": style, "marker": marker}


def save_figure(fig, path, dpi: int = 100) -> Path:
    """``tight_layout``, create the parent folder, write ``path`` (PNG) and close ``fig``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plain_number(value: float) -> str:
    """``value`` with two significant digits below 10 and none after the point from 10 up,
    without an exponent: 100, 51, 6.9, 0.54, 0.012 (0 stays 0)."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a tick value must be a finite number >= 0, got {value!r}")
    if value == 0:
        return "0"
    rounded = float(f"{value:.2g}")
    if rounded >= 10:
        return f"{value:.0f}"
    text = f"{rounded:.{1 - math.floor(math.log10(rounded))}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent_label(percent: float) -> str:
    """A percentage as a tick label: ``100%``, ``51%``, ``26%``, ``6.9%``, ``0.54%``."""
    return f"{plain_number(percent)}%"


def thin_log_ticks(values, max_ticks: int = 8) -> list[float]:
    """The distinct positive ``values``, largest first, keeping one only when it lies at least
    1/``max_ticks`` of the decades spanned away from the last kept one (readable labels on a
    log axis: the levels of a 0.8 schedule sit 0.1 decade apart)."""
    distinct = sorted({float(v) for v in values if v > 0}, reverse=True)
    if len(distinct) <= 2:
        return distinct
    gap = (math.log10(distinct[0]) - math.log10(distinct[-1])) / max_ticks
    kept = [distinct[0]]
    for value in distinct[1:]:
        if math.log10(kept[-1]) - math.log10(value) >= gap * (1 - 1e-9):
            kept.append(value)
    return kept


def log_ticks(axis, values, label=plain_number, max_ticks: int = 8) -> None:
    """Put major ticks of a log ``axis`` (``ax.xaxis``/``ax.yaxis``) at ``values`` (thinned by
    :func:`thin_log_ticks`) labelled by ``label``; no minor tick labels, no exponents."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    axis.set_major_locator(FixedLocator(thin_log_ticks(values, max_ticks)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: label(value)))
    axis.set_minor_locator(NullLocator())


def plain_log_labels(axis) -> None:
    """Label a log ``axis`` with plain numbers (1, 10, 100, 3, 4) instead of powers of ten;
    minor ticks are labelled only where the axis spans about a decade or less (matplotlib's
    ``LogFormatter`` thresholds)."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def density_axis(ax, percents, label: str = "weights remaining",
                 max_ticks: int | None = None) -> None:
    """The x axis of an accuracy-vs-density figure: log scale, reversed (densest on the left,
    as in the papers), ticks at the plotted densities written as percentages, thinned to
    ``max_ticks`` (default: as many as the axes' width holds)."""
    ax.set_xscale("log")
    if max_ticks is None:          # about half an inch per label at the axes' present width
        width = ax.get_position().width * ax.figure.get_figwidth()
        max_ticks = max(3, int(width / 0.5))
    log_ticks(ax.xaxis, percents, percent_label, max_ticks)
    low, high = min(p for p in percents if p > 0), max(percents)
    ax.set_xlim(high * 1.08, low / 1.08)
    ax.set_xlabel(label)


def spread_caption(seed_counts, spread: str = "band") -> str:
    """What a figure's mean and its ``spread`` (``"band"``, ``"bars"``) show: "mean ± std over
    3 seeds (band: sample std, ddof 1)"; with differing counts the count of each curve goes
    into the legend (:func:`seeds_suffix`)."""
    counts = sorted(set(int(n) for n in seed_counts))
    if counts == [1]:
        return "one seed: no spread shown"
    over = f"{counts[0]} seeds" if len(counts) == 1 else "n seeds (n in legend)"
    return f"mean ± std over {over} ({spread}: sample std, ddof 1)"


def seeds_suffix(seed_count: int, seed_counts) -> str:
    """`` (n=3)`` for a legend entry when the curves of one figure differ in their seed count
    (:func:`spread_caption` then says so), else ``""``."""
    return f" (n={seed_count})" if len(set(seed_counts)) > 1 else ""
