"""Figures a person can read: plain density ticks, legends that name runs by method and the
settings that differ, stated spreads, and no text drawn over other text or off the canvas.

Every figure function of the toolkit is drawn here from small made-up inputs; the figure is
taken before it is written (``save_figure`` patched), laid out as ``save_figure`` does, and
the boxes of all drawn text (titles, axis labels, drawn tick labels, legend entries) are
compared pairwise.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lottery_core.figures as lf  # noqa: E402
from lottery_core.analysis import run_labels  # noqa: E402
from lottery_core.store import layout  # noqa: E402


# --------------------------------------------------------------------------- text boxes
def drawn_texts(fig) -> list[tuple[str, object]]:
    """``(text, window box)`` of every non-empty text that is drawn, after ``tight_layout``."""
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():        # the ticks inside the view, as drawn
                texts += [tick.label1, tick.label2]
            texts.append(axis.label)
        texts += [ax.title, ax._left_title, ax._right_title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    texts += [fig._suptitle] + [t for t in fig.texts if t is not fig._suptitle]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts
            if t is not None and t.get_visible() and t.get_text().strip()]


def text_problems(fig) -> list[str]:
    """Pairs of drawn texts that overlap (by more than half a pixel each way), and texts that
    reach past the canvas."""
    texts = drawn_texts(fig)
    width, height = fig.canvas.get_width_height()
    problems = [f"{a!r} overlaps {b!r}" for (a, box_a), (b, box_b) in itertools.combinations(texts, 2)
                if min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 0.5
                and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 0.5]
    problems += [f"{text!r} leaves the canvas" for text, box in texts
                 if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5
                 or box.y1 > height + 0.5]
    return problems


@pytest.fixture
def captured(monkeypatch):
    """The figures handed to ``save_figure`` (by any module), kept open instead of written."""
    figures = []

    def keep(fig, path, dpi=100):
        figures.append(fig)
        return Path(path)

    import sims.mirror.figures as mirror
    import sims.one_neuron.figures as one_neuron
    import sims.robustness.figures as robustness

    for module in (lf, mirror, one_neuron, robustness):
        monkeypatch.setattr(module, "save_figure", keep)
    yield figures
    for fig in figures:
        plt.close(fig)


def tick_texts(axis) -> list[str]:
    return [tick.label1.get_text() for tick in axis._update_ticks()]


# --------------------------------------------------------------------------- tick labels
@pytest.mark.parametrize("percent,label", [
    (100.0, "100%"), (80.0, "80%"), (51.2, "51%"), (26.2144, "26%"), (13.4, "13%"),
    (10.0, "10%"), (9.96, "10%"), (6.87, "6.9%"), (5.0, "5%"), (1.0, "1%"), (0.54, "0.54%"),
    (0.0123, "0.012%"), (0.5, "0.5%"), (0.0, "0%"),
])
def test_percent_labels_are_plain(percent, label):
    assert lf.percent_label(percent) == label


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_percent_label_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="finite number >= 0"):
        lf.percent_label(bad)


def test_thin_log_ticks_keeps_readable_spacing():
    levels = [100 * 0.8 ** k for k in range(21)]          # 100% .. 1.15%, 0.1 decade apart
    ticks = lf.thin_log_ticks(levels, max_ticks=8)
    assert ticks[0] == 100 and ticks == sorted(ticks, reverse=True)
    assert 5 <= len(ticks) <= 9
    gaps = np.diff(-np.log10(ticks))
    assert gaps.min() >= (2 - np.log10(levels[-1])) / 8 * (1 - 1e-9)
    # few values are all kept; non-positive ones are dropped
    assert lf.thin_log_ticks([100, 50, 0, -3]) == [100, 50]


def test_density_axis_writes_plain_percentages():
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    densities = [100 * 0.8 ** k for k in range(21)]
    ax.plot(densities, np.linspace(90, 80, 21))
    lf.density_axis(ax, densities)
    labels = tick_texts(ax.xaxis)
    assert labels[:5] == ["100%", "51%", "26%", "13%", "6.9%"]
    assert all(label.endswith("%") and "^" not in label and "$" not in label and "e" not in label
               for label in labels)
    assert not ax.xaxis.get_minor_ticks() or not any(
        t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
    assert ax.get_xlim()[0] > ax.get_xlim()[1]              # densest on the left
    assert text_problems(fig) == []
    plt.close(fig)


def test_spread_caption_says_what_the_spread_is():
    assert lf.spread_caption([3, 3]) == "mean ± std over 3 seeds (band: sample std, ddof 1)"
    assert lf.spread_caption([2], "bars") == "mean ± std over 2 seeds (bars: sample std, ddof 1)"
    assert "n in legend" in lf.spread_caption([1, 3])
    assert lf.spread_caption([1]) == "one seed: no spread shown"
    assert lf.seeds_suffix(3, [3, 1]) == " (n=3)" and lf.seeds_suffix(3, [3, 3]) == ""


# --------------------------------------------------------------------------- legend names
def config(method, run_hash, **resolved):
    base = {"model": "mlp", "dataset": "mnist", "prune_fraction": 0.2, "learning_rate": 0.0012,
            "model_options": {"widths": [64]}, "nesterov": False}
    return {"method": method, "hash": run_hash, "resolved": {**base, **resolved}}


def test_run_labels_name_method_and_differing_settings():
    labels = run_labels({"imp-a": config("imp", "a"), "imp-b": config("imp", "b", prune_fraction=0.5),
                         "lrr-a": config("lrr", "a")})
    assert labels == {"imp-a": "imp (prune fraction 0.2)", "imp-b": "imp (prune fraction 0.5)",
                      "lrr-a": "lrr (prune fraction 0.2)"}


def test_run_labels_without_differences_are_the_methods():
    assert run_labels({"imp-a": config("imp", "a"), "wr-a": config("wr", "a")}) == \
        {"imp-a": "imp", "wr-a": "wr"}


def test_run_labels_nested_options_and_several_fields():
    labels = run_labels({"x": config("imp", "x", model_options={"widths": [300, 100]},
                                     nesterov=True),
                         "y": config("imp", "y", learning_rate=0.1)})
    assert labels == {"x": "imp (learning rate 0.0012, widths [300, 100], nesterov on)",
                      "y": "imp (learning rate 0.1, widths [64], nesterov off)"}   # config order


def test_run_labels_fall_back_to_the_hash_for_identical_runs():
    labels = run_labels({"imp-a": config("imp", "a1b2"), "imp-b": config("imp", "c3d4"),
                         "lrr-a": config("lrr", "a1b2", prune_fraction=0.5)})
    assert labels == {"imp-a": "imp (prune fraction 0.2) [a1b2]",
                      "imp-b": "imp (prune fraction 0.2) [c3d4]",
                      "lrr-a": "lrr (prune fraction 0.5)"}


def test_run_labels_method_specific_settings_only_where_they_differ():
    pilot = {**config("pilot", "p"), "settings": {"alpha_init": 1e-4, "scope": "global"}}
    oneshot = {**config("oneshot", "o"), "settings": {"scope": "global"}}
    assert run_labels({"p": pilot, "o": oneshot}) == {"p": "pilot", "o": "oneshot"}
    other = {**config("pilot", "q"), "settings": {"alpha_init": 1e-3, "scope": "global"}}
    assert run_labels({"p": pilot, "q": other, "o": oneshot}) == {
        "p": "pilot (alpha init 0.0001)", "q": "pilot (alpha init 0.001)", "o": "oneshot"}


# --------------------------------------------------------------------------- run plots
def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def fake_level_runs(root: Path, runs: dict[str, dict], levels: int = 12, seeds: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for name, cfg in runs.items():
        write_json(root / name / layout.CONFIG, cfg)
        fraction = cfg["resolved"]["prune_fraction"]
        for s in range(seeds):
            for k in range(levels + 1):
                write_json(layout.level_directory(root / name, s, k) / layout.METRICS,
                           {"level": k, "seed": s, "density": (1 - fraction) ** k,
                            "test_accuracy": 0.95 - 0.01 * k + 0.003 * rng.standard_normal()})
    return root


def test_run_plot_names_runs_and_states_the_band(tmp_path, captured):
    from lottery_core.analysis import plot_runs

    runs = {"imp-aaaa": config("imp", "aaaa"), "imp-bbbb": config("imp", "bbbb", prune_fraction=0.5),
            "lrr-aaaa": config("lrr", "aaaa"), "wr-aaaa": config("wr", "aaaa")}
    plot_runs(fake_level_runs(tmp_path, runs))
    [fig] = captured
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(legend) == ["imp (prune fraction 0.2)", "imp (prune fraction 0.5)",
                              "lrr (prune fraction 0.2)", "wr (prune fraction 0.2)"]
    assert ax.get_title() == "mean ± std over 3 seeds (band: sample std, ddof 1)"
    labels = tick_texts(ax.xaxis)
    assert labels[0] == "100%" and all(label.endswith("%") for label in labels)
    assert text_problems(fig) == []


def test_oneshot_plot_names_runs_and_states_the_bars(tmp_path, captured):
    from lottery_core.loops.oneshot import plot_oneshot_runs

    runs = {"pilot-p": {**config("pilot", "p", weight_decay=0.0),
                        "settings": {"alpha_init": 1e-4}},
            "oneshot-o": {**config("oneshot", "o", weight_decay=0.0), "settings": {}},
            "oneshot-w": {**config("oneshot", "w", weight_decay=1e-3), "settings": {}}}
    for name, cfg in runs.items():
        write_json(tmp_path / name / layout.CONFIG, cfg)
        for s in range(2):
            write_json(layout.seed_directory(tmp_path / name, s) / layout.METRICS, {
                "seed": s, "method": cfg["method"], "test_accuracy": 0.98, "val_accuracy": 0.98,
                "sparsities": {f"{p:.4f}": {"test_accuracy": 0.9 - p / 3 + 0.01 * s,
                                            "val_accuracy": 0.9, "density": 1 - p}
                               for p in (0.5, 0.8, 0.9, 0.95, 0.98)}})
    plot_oneshot_runs(tmp_path)
    [fig] = captured
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["oneshot (weight decay 0)", "oneshot (weight decay 0.001)",
                          "pilot (weight decay 0)"]
    assert "dense accuracy" in legend[3]
    assert ax.get_title() == "mean ± std over 2 seeds (bars: sample std, ddof 1)"
    assert tick_texts(ax.xaxis) == ["50%", "20%", "10%", "5%", "2%"]
    assert text_problems(fig) == []


@pytest.mark.parametrize("count", [3, 16])
def test_experiment_curves_many_and_few(tmp_path, captured, count):
    from lottery_core.experiments._common import plot_curves

    remaining = [100 * 0.8 ** k for k in range(25)]
    curves = {f"criterion_number_{i}": {"remaining": remaining,
                                        "mean": list(np.linspace(95, 10 + i, 25)),
                                        "std": [1.0] * 25} for i in range(count)}
    plot_curves(curves, tmp_path / "c.png", title="untrained LeNet-300-100 on mnist",
                ylabel="test accuracy (%)", seeds=3, chance=11.35)
    [fig] = captured
    assert "mean ± std over 3 seeds" in fig.axes[0].get_title()
    assert text_problems(fig) == []


def test_lrr_experiment_figures(tmp_path, captured):
    from lottery_core.experiments import lrr_lmc, lrr_signs

    remaining = [100 * 0.8 ** k for k in range(11)]
    stats = {"mean": [None] + [0.01 * k for k in range(1, 11)], "std": [None] + [0.002] * 10}
    lrr_signs.plot({"seeds": [0, 1], "methods": {
        m: {"levels": list(range(11)), "remaining": remaining, "vs_rewind_point": stats,
            "vs_previous_level": stats} for m in ("wr", "lrr")}}, tmp_path / "s.png")
    pair = {"levels": list(range(1, 11)), "remaining": remaining[1:],
            "error_barrier": {"mean": [0.01] * 10, "std": [0.001] * 10},
            "curves": {"10": {"error_mean": [0.1, 0.2, 0.1]}}}
    lrr_lmc._plot({"seeds": [0, 1, 2], "alphas": [0, 0.5, 1],
                   "pairs": {"consecutive/wr": pair, "wr-vs-lrr": pair}}, tmp_path)
    assert len(captured) == 3
    assert "over 2 seeds" in captured[0]._suptitle.get_text()
    assert "over 3 seeds" in captured[1].axes[0].get_title()
    for fig in captured:
        assert text_problems(fig) == []


# --------------------------------------------------------------------------- sims figures
def test_sign_plane_text_does_not_overlap(captured):
    from sims.one_neuron import figures

    rng = np.random.default_rng(0)
    n = 400
    w0 = rng.normal(size=(n, 5)) / math.sqrt(5)
    a0 = np.where(rng.random(n) < 0.5, -1.2, 1.2) * np.linalg.norm(w0, axis=1)
    out = {"imp_success": (w0[:, 0] > 0) & (a0 > 0), "lrr_success": a0 > 0}
    figures.sign_plane(Path("unused.png"), a0, w0, out,
                       "d = 5, a(0) = ±1.2‖w(0)‖: IMP needs the quadrant, LRR the half-plane "
                       "a(0) > 0")
    [fig] = captured
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("IMP") and titles[1].startswith("LRR")
    assert text_problems(fig) == []


def one_neuron_figures(figures, path):
    rng = np.random.default_rng(1)
    lrs = np.array([0.025, 0.05, 0.1, 0.2])
    figures.conservation(path, lrs, 1e-3 * lrs ** 2, 3e-4 * lrs ** 2, 2.01, 2.0, 256, 5, 10.0)
    a0, w0 = rng.uniform(-1, 1, 300), rng.uniform(-1, 1, 300)
    figures.d1_rule(path, a0, w0, (w0 > 0) & (a0 + w0 > 0))
    rows = {d: {"imp": {"rate": 0.25, "predicted": 0.25}, "lrr": {"rate": 0.5, "predicted": 0.5}}
            for d in (1, 2, 5, 10, 50)}
    figures.success_vs_d(path, rows, 400)


def mirror_figures(figures, path):
    a = np.logspace(-12, 2, 15)
    figures.potential_shape(path, a, np.minimum(1, 1 / a), np.minimum(1, a))
    settings = [("PILoT init + weight decay",), ("PILoT init + L1 on m",),
                ("x + L1 (subgradient)",), ("spred init + weight decay",)]
    schedules = [("const 1e-3", 0, 1e-3), ("const 3e-3", 0, 3e-3), ("harmonic", 1, 0.5),
                 ("geometric", 2, 0.5)]
    curves = np.exp(-np.linspace(0, 5, 50))[None, None, :] * np.ones((4, 4, 1))
    figures.dln_headline(path, curves, 20_000, settings, schedules)


def robustness_figures(figures, path):
    from sims.robustness import experiments as rx

    rng = np.random.default_rng(2)
    setup = SimpleNamespace(n=128, d=10, width=32, seeds=2, outputs=10, eps=0.3)
    final = {m: {0.68: rng.random(2), 0.9: rng.random(2)} for m in rx.ALL_METHODS}
    figures.memorization(path, setup, final, rng.random(2))
    curves = {(m, 0.9): {"C": rng.random((2, 30))} for m in rx.ALL_METHODS}
    curves[("dense", 0.0)] = {"C": rng.random((2, 30))}
    figures.noise_correlation(path, setup, curves, 0.9)
    rows = [{"p": p, "lip_lower": 3 + rng.random(), "lip_upper": 4 + rng.random()}
            for p in (640, 320, 160, 80) for _ in range(2)]
    figures.lipschitz(path, setup, rows, [640, 320, 160, 80], [3.5, 3.6, 3.7, 3.8], -0.06,
                      [(0.1, 0.7), (0.1, 0.7)])
    stats = {m: (0.3, 0.05) for m in ("dense",) + rx.ALL_METHODS}
    figures.mnist(path, setup, {1.0: stats}, 0.9)


@pytest.mark.parametrize("module,draw", [("one_neuron", one_neuron_figures),
                                         ("mirror", mirror_figures),
                                         ("robustness", robustness_figures)])
def test_sims_figures_text_is_readable(captured, module, draw):
    import importlib

    draw(importlib.import_module(f"sims.{module}.figures"), Path("unused.png"))
    assert captured
    for fig in captured:
        assert text_problems(fig) == [], fig.axes[0].get_title()
        for ax in fig.axes:                  # plain numbers on the log x axes of the claims
            labels = tick_texts(ax.xaxis)
            if ax.get_xscale() == "log" and module != "mirror":
                assert labels and not any("10^" in t for t in labels), labels
