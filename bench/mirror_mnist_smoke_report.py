"""Summarize the MNIST one-shot smoke runs of docs/mirror.md §5 (`lottery run pilot` vs
`lottery run oneshot`): Markdown tables (mean ± std over seeds and per seed), the implicit
scale a_T of the PILoT runs against its prediction, and the figure.

    python bench/mirror_mnist_smoke_report.py RUNS_DIR [--figure docs/figures/x.png]

Prediction of a_T [R]: the flow law m² − w² = (m_0² − w_0²) e^{−4∫α} (spec mirror.md §1.2)
with time ∫ = Σ_s η_s/(1 − μ) for SGD with momentum μ (the momentum sum of a slowly varying
gradient term), α constant within an epoch (Algorithm 1), so
a_T ≈ (β/2) exp(−4 Σ_s α_{epoch(s)} η_s / (1 − μ)); discrete steps shrink a slightly more
(spec §1.5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lottery_core.loops.oneshot import collect_oneshot_runs, summary_table  # noqa: E402
from lottery_core.training import make_schedule  # noqa: E402


def label(run_dir: Path) -> str:
    config = json.loads((run_dir / "config.json").read_text())
    r, s = config["resolved"], config["settings"]
    if config["method"] == "pilot":
        return (f"PILoT (α_init {s['alpha_init']:g}, δ {s['delta']:g}, K {s['target_l1']:g}, "
                f"β {s['beta']:g})")
    wd = r.get("weight_decay") or 0.0
    return "standard" + (f" + weight decay {wd:g}" if wd else "")


def predicted_scale(run_dir: Path, training: dict) -> float:
    config = json.loads((run_dir / "config.json").read_text())
    r, s = config["resolved"], config["settings"]
    steps = training["steps"]
    per_epoch = steps // training["epochs"]
    schedule = make_schedule(r["schedule"], r["learning_rate"], steps,
                             warmup_steps=r["warmup_steps"], milestones=tuple(r["milestones"]),
                             gamma=r["gamma"])
    lr = np.asarray([float(schedule(i)) for i in range(steps)])
    alpha = np.repeat([h["alpha"] for h in training["history"]], per_epoch)
    momentum = r["momentum"] or 0.0
    return s["beta"] / 2 * float(np.exp(-4 * np.sum(lr * alpha) / (1 - momentum)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--figure-min-seeds", type=int, default=3,
                        help="draw only runs with at least this many finished seeds")
    args = parser.parse_args()
    runs = collect_oneshot_runs(args.runs_dir)
    labels = {name: label(args.runs_dir / name) for name in runs}
    for name, summary in runs.items():
        run_dir = args.runs_dir / name
        print(f"\n### {labels[name]}  ({name})\n")
        print(summary_table(summary, "test_accuracy"))
        print()
        print(summary_table(summary, "val_accuracy"))
        seconds = []
        for seed in summary["seeds"]:
            metrics = json.loads((run_dir / f"seed_{seed}" / "metrics.json").read_text())
            seconds.append(metrics["train_seconds"])
            training = json.loads((run_dir / f"seed_{seed}" / "training.json").read_text())
            if training["implicit_scale"] is not None:
                a = training["implicit_scale"]
                pred = predicted_scale(run_dir, training)
                print(f"seed {seed}: a_T median {a['median']:.3e} (min {a['min']:.3e}, max "
                      f"{a['max']:.3e}); predicted {pred:.3e}; ratio {a['median'] / pred:.3f}; "
                      f"alpha_final {training['alpha_final']:.3e}; ‖x‖₁ "
                      f"{training['kernel_l1']:.0f}")
            else:
                print(f"seed {seed}: ‖x‖₁ {training['kernel_l1']:.0f}")
        print(f"training seconds per seed: {', '.join(f'{s:.0f}' for s in seconds)}")
    if args.figure is not None:
        shown = {k: v for k, v in runs.items() if len(v["seeds"]) >= args.figure_min_seeds}
        figure(args.runs_dir, shown, labels, args.figure)
        print(f"\nfigure: {args.figure} ({args.figure.stat().st_size / 1024:.0f} KB)")
    return 0


def figure(runs_dir: Path, runs: dict, labels: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, summary in runs.items():
        keys = list(summary["sparsities"])
        x = np.array([100 * (1 - float(k)) for k in keys])          # weights remaining (%)
        mean = np.array([100 * summary["sparsities"][k]["test_accuracy"]["mean"] for k in keys])
        std = np.array([100 * summary["sparsities"][k]["test_accuracy"]["std"] for k in keys])
        line = left.errorbar(x, mean, yerr=std, marker="o", ms=4, capsize=3,
                             label=labels[name])
        color = line[0].get_color()
        for seed in summary["seeds"]:
            t = json.loads((runs_dir / name / f"seed_{seed}" / "training.json").read_text())
            epochs = [h["epoch"] for h in t["history"]]
            right.plot(epochs, [h["kernel_l1"] for h in t["history"]], color=color, lw=1,
                       label=labels[name] if seed == summary["seeds"][0] else None)
    left.set_xscale("log")
    left.invert_xaxis()
    left.set_xticks([50, 20, 10, 5, 2, 1], ["50", "20", "10", "5", "2", "1"])
    left.set_xlabel("kernel weights remaining after one-shot pruning (%)")
    left.set_ylabel("test accuracy (%), mean ± std over seeds")
    left.set_title("LeNet-300-100 / MNIST, magnitude pruning without retraining", fontsize=9)
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("‖x‖₁ of the kernels")
    right.set_title("L1 norm during training (each seed)", fontsize=9)
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)     # < 200 KB for docs/figures
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
