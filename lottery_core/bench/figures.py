"""The figures of ``lottery bench gpu``: epoch time bars, vmapped-ticket speed-up, and LRR vs
WR accuracy per density with the spec's statements beside it. Each takes a phase record and
the output folder and returns the path written (None when the record has nothing to draw)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lottery_core.figures import save_figure

EPOCH_TIME = "epoch_time.png"
TICKETS = "tickets.png"
LRR = "lrr_accuracy_vs_density.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def epoch_time(record: dict, out: Path) -> Path | None:
    rows = record["result"].get("rows", [])
    if not rows:
        return None
    plt = _pyplot()
    batches = sorted({r["batch"] for r in rows})
    dtypes = sorted({r["dtype"] for r in rows}, key=lambda d: d != "float32")
    width = 0.8 / len(dtypes)
    fig, ax = plt.subplots(figsize=(6, 4))
    for j, dtype in enumerate(dtypes):
        for i, batch in enumerate(batches):
            row = next((r for r in rows if r["batch"] == batch and r["dtype"] == dtype), None)
            if row is None:
                continue
            x = i + (j - (len(dtypes) - 1) / 2) * width
            ax.bar(x, row["epoch_s"], width, color=f"C{j}",
                   label=dtype if i == 0 or batch == batches[0] else None)
            ax.text(x, row["epoch_s"], f"{row['images_per_s']:.0f}\nimg/s", ha="center",
                    va="bottom", fontsize=7)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_xticks(range(len(batches)), [f"batch {b}" for b in batches])
    ax.set_ylabel("seconds per epoch (on-device augmentation)")
    ax.set_title(f"{record['result'].get('model', '')}: one training epoch of "
                 f"{record['result'].get('train_images', '?')} images", fontsize=10)
    ax.margins(y=0.25)
    return save_figure(fig, Path(out) / EPOCH_TIME)


def tickets(record: dict, out: Path) -> Path | None:
    rows = record["result"].get("rows", [])
    if len(rows) < 2:
        return None
    plt = _pyplot()
    k = [r["tickets"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(k, [r["speedup_vs_sequential"] for r in rows], marker="o", label="measured")
    ax.plot(k, k, ls=":", color="grey", label="ideal (K x)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(k, [str(v) for v in k])
    ax.set_xlabel("K tickets trained together (jax.vmap)")
    ax.set_ylabel("speed-up over K sequential tickets")
    ax.set_title(f"batch {record['result'].get('batch')}, float32", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, Path(out) / TICKETS)


def lrr(record: dict, out: Path) -> Path | None:
    from lottery_core.bench.lrr import METHODS, SPEC_STATEMENTS

    result = record["result"]
    if not result.get("accuracy"):
        return None
    plt = _pyplot()
    fig, (acc_ax, flip_ax, text_ax) = plt.subplots(
        1, 3, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.1, 1.1, 1.3]})
    labels = {"wr": "WR (rewind to post-warmup)", "lrr": "LRR"}
    for i, method in enumerate(METHODS):
        curve = result["accuracy"][method]
        acc_ax.plot(curve["remaining"], curve["test_accuracy"]["mean"], marker="o", ms=4,
                    color=f"C{i}", label=f"{labels[method]}, final")
        acc_ax.plot(curve["remaining"], curve["best_test_accuracy"]["mean"], ls="--",
                    color=f"C{i}", alpha=0.6, label=f"{labels[method]}, best")
        flips = result["sign_flips"][method]
        for key, style in (("vs_previous_level", "-"), ("vs_rewind_point", ":")):
            pairs = [(k, 100 * v) for k, v in zip(flips["levels"], flips[key]["mean"])
                     if v is not None]
            if pairs:
                flip_ax.plot(*zip(*pairs), ls=style, marker="o", ms=3, color=f"C{i}",
                             label=f"{method} {key.replace('_', ' ')}")
    acc_ax.set_xscale("log")
    acc_ax.invert_xaxis()
    acc_ax.set_xlabel("weights remaining (%)")
    acc_ax.set_ylabel("test accuracy (%)")
    plan = result.get("plan", {})
    acc_ax.set_title(f"{result.get('model')} CIFAR-10, {plan.get('warmup_epochs')} warmup + "
                     f"{plan.get('epochs')} epochs/level, 1 seed", fontsize=9)
    acc_ax.grid(alpha=0.3, which="both")
    acc_ax.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator

    flip_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    flip_ax.set_xlabel("level k (density 0.8^k)")
    flip_ax.set_ylabel("kept weights with a flipped sign (%)")
    flip_ax.set_title("sign flips (lrr-signs)", fontsize=9)
    flip_ax.grid(alpha=0.3)
    flip_ax.legend(fontsize=7)
    observed = result.get("observations", {})
    text = []
    for statement in SPEC_STATEMENTS:
        text.append(textwrap.fill(f"{statement['id']} ({statement['source']}): "
                                  f"{statement['text']}", 70))
        text.append(textwrap.fill(f"  here: {observed.get(statement['check'], 'n/a')}", 70,
                                  subsequent_indent="    "))
        text.append("")
    text_ax.axis("off")
    text_ax.text(0, 1, "\n".join(text), va="top", ha="left", fontsize=7.5, family="monospace")
    text_ax.set_title("spec lrr.md vs this run (reduced recipe, indicative only)", fontsize=9)
    return save_figure(fig, Path(out) / LRR)
