"""What each preset of the ``lrr.*`` claims trains: the ``lottery experiment`` options and the
budgets in words (spec lrr.md §2.2 for the paper's recipe).

quick and full are CPU sizes and are **not the paper's setting**: an MLP without BatchNorm on a
CIFAR-10 subset, with the recipe's options (SGD with momentum, a cosine schedule restarted every
level, a dense warmup whose end is WR's rewind point, global magnitude pruning of 20% per level,
momentum carried by LRR, the CIFAR augmentation). The learning rate is 0.01 → 0.001, not the
recipe's 0.1 → 0.01: at 0.1 this MLP diverged (chance accuracy after one level, measured
2026-12-07). paper is the authors' recipe on ResNet-18 (the model defaults of
``lottery_core/models/recipes.py``), meant for a GPU.
"""

from __future__ import annotations

import json

from sims.registry import Budget, ClaimContext

#: the recipe's options given explicitly to the MLP (the CIFAR ResNets have them as defaults)
_MLP_RECIPE = ["--optimizer", "sgd", "--schedule", "cosine", "--learning-rate", "0.01",
               "--final-learning-rate", "0.001", "--momentum", "0.9", "--weight-decay", "1e-4",
               "--allocation", "global", "--prune-fraction-output", "0.2",
               "--input-pipeline", "cifar", "--optimizer-state", "carry"]

#: per preset: the experiments' common options, seeds per run, the sign perturbation's
#: period (epochs) and the random-mask kinds
PRESETS = {
    # the CI size of tests/test_lrr_experiments.py (128 real images, 2 levels), with 2 epochs
    # of 2 steps so that a sign perturbation happens inside a level (before epoch 1)
    "quick": dict(argv=["--model", "mlp", "--model-options", json.dumps({"widths": [32]}),
                        "--train-subset", "128", "--validation-size", "64", "--test-subset",
                        "64", "--epochs", "2", "--warmup-epochs", "1", "--levels", "2",
                        "--batch-size", "64", *_MLP_RECIPE],
                  seeds=1, every=1, kinds=["balanced"]),
    # 78 steps per epoch; one evaluation per epoch on the 2,000 validation and 10,000 test images
    "full": dict(argv=["--model", "mlp", "--model-options", json.dumps({"widths": [300, 100]}),
                       "--train-subset", "10000", "--validation-size", "2000", "--epochs", "4",
                       "--warmup-epochs", "1", "--levels", "7", "--batch-size", "128",
                       *_MLP_RECIPE, "--eval-every", "78"],
                 seeds=3, every=1, kinds=["balanced"]),
    # the authors' recipe: the model's defaults; all 50,000 training images [C]
    "paper": dict(argv=["--model", "resnet18", "--dataset", "cifar10", "--validation-size", "0",
                        "--levels", "10", "--epochs", "150", "--warmup-epochs", "10"],
                  seeds=3, every=30, kinds=["balanced", "erk", "uniform", "global"]),
}


def preset(ctx: ClaimContext) -> dict:
    return PRESETS[ctx.preset]


def argv(ctx: ClaimContext) -> list[str]:
    """The experiments' options at ``ctx``'s preset; seed ``s`` of ``lottery verify`` trains
    the seeds ``s·n .. s·n + n − 1`` (n seeds per run), so a sweep's seeds do not overlap."""
    p = preset(ctx)
    return [*p["argv"], "--seeds", str(p["seeds"]), "--first-seed", str(ctx.seed * p["seeds"])]


_QUICK = ("CI size, not the paper's setting: MLP 3072-32-10 with the recipe's options (SGD, "
          "momentum 0.9, cosine 0.01→0.001 restarted per level, 1 warmup epoch = WR's rewind "
          "point, global magnitude pruning 20%/level, carried momentum, CIFAR augmentation) on "
          "128 real CIFAR-10 training images (64 validation, 64 test), 2 levels × 2 epochs of "
          "2 steps, 1 seed")
_FULL = ("CPU budget, not the paper's setting: MLP 3072-300-100-10 (no BatchNorm) with the "
         "recipe's options (SGD, momentum 0.9, cosine 0.01→0.001 restarted per level (0.1 "
         "diverged), wd 1e-4, 1 warmup epoch = WR's rewind point, global magnitude pruning "
         "20%/level, carried momentum, CIFAR augmentation) on 10,000 real CIFAR-10 training "
         "images (2,000 validation, all 10,000 test images), 7 levels (to 21% of the weights) "
         "× 4 epochs of 78 steps (batch 128), 3 seeds")
_PAPER = ("the authors' recipe (spec lrr.md §2.2 [C]): ResNet-18 (CIFAR) on CIFAR-10, all 50,000 "
          "training images, SGD lr 0.1 cosine to 0.01 per level, momentum 0.9, wd 1e-4, batch "
          "256, 10 warmup epochs (WR's rewind point), global magnitude pruning 20%/level, 10 "
          "levels × 150 epochs, 3 seeds (levels and seeds [R]); meant for a GPU")


def budget(quick: str = "", full: str = "", paper: str = "") -> Budget:
    """The common budget texts, each followed by a claim's own addition (e.g. the sign
    perturbation's period)."""
    return Budget(quick=_QUICK + quick, full=_FULL + full, paper=_PAPER + paper)
