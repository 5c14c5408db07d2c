"""LeNet-300-100 on MNIST through the engine, for the network-scale claims of ``pai_net`` and
``pilot_net``: the level runs (IMP, LRR, pruning at initialization, iterative PILoT) and the
one-shot runs (PILoT and its baselines) are trained with ``lc.run_levels`` / ``lc.run_oneshot``
into the claim's run store (``ctx.runs()``), so a finished run is a cache hit and a full check
reads stored results instead of retraining; results are read back as test accuracy per level
(density) and seed.

The budgets are plain dicts of :class:`lottery_core.ExperimentConfig` fields per preset; a
claim's ``Budget`` text states them in words. The full budgets are also what
``lottery run ... --out DIR`` trains with the same options (docs/pai.md, docs/mirror.md), so
runs started from the command line are reused by ``lottery verify --runs DIR``.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from sims import shared_data

#: the recipe of every real-label level run (IMP, LRR, PaI, iterative PILoT) at quick and full:
#: SGD with momentum and a cosine schedule (so that LRR's learning-rate restart means something),
#: v1's weight decay 1e-4 (spec mirror.md §3.3 [P]); half of each hidden layer's survivors and a
#: quarter of the output layer's pruned per level (layerwise, the output at half the rate as in
#: Frankle & Carbin 2019) [R]
LEVEL_RECIPE = dict(model="lenet300", dataset="mnist", optimizer="sgd", learning_rate=0.1,
                    momentum=0.9, schedule="cosine", batch_size=128, weight_decay=1e-4,
                    prune_fraction=0.5, prune_fraction_output=0.25)
LEVEL_BUDGETS = {
    "quick": dict(LEVEL_RECIPE, train_subset=2000, validation_size=0, iterations=50,
                  eval_every=50, prune_fraction=0.9, prune_fraction_output=0.45, levels=1,
                  seeds=1),
    "full": dict(LEVEL_RECIPE, iterations=2000, levels=6, seeds=2),
}
LEVEL_BUDGET_TEXT = {
    "quick": "LeNet-300-100, the first 2,000 MNIST training images, SGD 0.1 momentum 0.9 "
             "cosine, batch 128, 50 steps per level, 1 level at 90% of hidden and 45% of "
             "output weights pruned (density 10.2%), 1 seed",
    "full": "LeNet-300-100 on MNIST (55,000 train / 5,000 validation / 10,000 test), SGD 0.1 "
            "momentum 0.9 cosine, weight decay 1e-4, batch 128, 2,000 steps (4.7 epochs) per "
            "level, 6 levels pruning 50% of each hidden layer and 25% of the output layer per "
            "level (densities 50.1, 25.1, 12.6, 6.4, 3.2, 1.6%), seeds 0-1",
}

#: the one-shot runs (PILoT and its baselines): the recipe of docs/mirror.md's MNIST smoke
#: result (SGD 0.1, momentum 0.9, cosine, batch 128), no weight decay (PILoT and spred refuse
#: it: their penalty is α(‖m‖² + ‖w‖²))
ONESHOT_RECIPE = dict(model="lenet300", dataset="mnist", optimizer="sgd", learning_rate=0.1,
                      momentum=0.9, schedule="cosine", batch_size=128)
ONESHOT_BUDGETS = {
    "quick": dict(ONESHOT_RECIPE, train_subset=2000, validation_size=500, epochs=1, seeds=1,
                  sparsities=(0.9, 0.95, 0.98)),
    "full": dict(ONESHOT_RECIPE, epochs=10, seeds=2,
                 sparsities=(0.5, 0.8, 0.9, 0.95, 0.98, 0.99)),
}


@functools.lru_cache(maxsize=4)
def _dataset(validation_size: int, train_subset: int | None):
    import lottery_core as lc

    return lc.load_dataset("mnist", shared_data.mnist_dir(), validation_size=validation_size,
                           train_subset=train_subset)


def mnist(budget: dict):
    """The MNIST split a budget trains on, loaded once per process (the engine's own split,
    so the run is the one ``lottery run`` would train)."""
    return _dataset(budget.get("validation_size", 5000), budget.get("train_subset"))


def seeds_of(ctx, budget: dict) -> list[int]:
    return list(range(ctx.seed, ctx.seed + budget["seeds"]))


def _quiet(*args, **kwargs):
    return None


def run_levels(ctx, method: str, budget: dict, *, dataset=None, store: Path | None = None,
               **overrides) -> Path:
    """Train (or find finished) ``method`` at ``budget`` in the run store; returns its folder.
    ``dataset`` replaces the budget's MNIST split (then ``store`` must keep its runs apart:
    the run hash names the data set, not its labels)."""
    import lottery_core as lc

    fields = {k: v for k, v in {**budget, **overrides}.items() if k != "sparsities"}
    config = lc.ExperimentConfig(method=method, first_seed=ctx.seed, **fields)
    return lc.run_levels(config, store or ctx.runs(), dataset=dataset or mnist(budget),
                         progress=False, log=_quiet)


def level_accuracy(run_dir: Path, seeds: list[int], levels: int) -> list[dict]:
    """Per level: density and final test accuracy per seed (from each level's metrics.json),
    with mean and sample std (ddof 1)."""
    from lottery_core.store import layout, level_directory, read_json

    rows = []
    for level in range(levels + 1):
        metrics = {s: read_json(level_directory(run_dir, s, level) / layout.METRICS)
                   for s in seeds}
        rows.append({"level": level, "density": metrics[seeds[0]]["density"],
                     **stats({s: m["test_accuracy"] for s, m in metrics.items()})})
    return rows


def run_oneshot(ctx, method: str, budget: dict, **settings) -> Path:
    """Train (or find finished) the one-shot ``method`` at ``budget``; returns its folder."""
    import lottery_core as lc

    fields = {k: v for k, v in budget.items() if k != "sparsities"}
    config = lc.ExperimentConfig(method=method, first_seed=ctx.seed, **fields)
    oneshot = lc.OneShotSettings(sparsities=tuple(budget["sparsities"]), **settings)
    return lc.run_oneshot(config, oneshot, ctx.runs(), dataset=mnist(budget), progress=False,
                          log=_quiet)


def oneshot_accuracy(run_dir: Path, seeds: list[int]) -> dict:
    """``{"dense": stats, sparsity (float): stats}`` of test accuracy after one-shot pruning."""
    from lottery_core.loops.oneshot import summarize_run

    summary = summarize_run(run_dir, seeds)
    out = {"dense": stats(summary["dense"]["test_accuracy"]["per_seed"])}
    for key, row in summary["sparsities"].items():
        out[float(key)] = {**stats(row["test_accuracy"]["per_seed"]),
                           "density": row["density"]["mean"]}
    return out


def stats(per_seed: dict) -> dict:
    """Mean and sample std (ddof 1; 0 for one seed) of ``{seed: value}``."""
    values = np.asarray(list(per_seed.values()), np.float64)
    return {"per_seed": {str(s): float(v) for s, v in per_seed.items()},
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if values.size > 1 else 0.0}


def pooled_std(a: dict, b: dict) -> float:
    """sqrt((s_a² + s_b²) / 2), the pooled seed std of spec nofreeprune.md §8.5."""
    return float(np.sqrt((a["std"] ** 2 + b["std"] ** 2) / 2))


def replace_labels(dataset, labels: np.ndarray):
    """``dataset`` with ``labels`` as its training labels and its training set as the test
    split: the engine's test accuracy is then the accuracy on the training labels."""
    return dataclasses.replace(dataset, y_train=labels, x_test=dataset.x_train,
                               y_test=labels, x_val=dataset.x_val[:0], y_val=dataset.y_val[:0])
