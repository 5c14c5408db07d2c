"""The sizes of ``lottery bench gpu``: the full run (one accelerator) and the tiny run (CPU,
CI), plus the experiment options every training phase builds its config from.

Both runs go through the same code; only these numbers differ. The full run times the
issue's setting (ResNet-20 on CIFAR-10, batch 128 and 256, float32 and bfloat16, K = 1, 2,
4, 8 tickets, the LRR paper's recipe); the tiny run is ResNet-8 on 128 training images,
one batch size, small enough for a CI test on two cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

FULL, TINY = "full", "tiny"


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    mode: str
    model: str
    model_options: dict | None
    #: batch sizes timed; the first is the recipe's (the LRR runs' and the tickets' batch)
    batches: tuple[int, ...]
    dtypes: tuple[str, ...]
    tickets: tuple[int, ...]
    train_subset: int | None
    validation_size: int
    test_subset: int | None
    #: caps of the reduced LRR vs WR run (the recipe's full values: 10, 10, 150)
    max_warmup_epochs: int
    max_levels: int
    max_epochs: int
    #: the estimate of a first training row before anything was measured (compile + 2
    #: epochs + evaluation): a guess, used only to decide whether to start it
    first_row_prior_s: float
    #: each budgeted phase's share of the budget (budget.run_phases): the full run spends
    #: most on the LRR run; the tiny run's costs are mostly compilation, spread evenly
    phase_weights: dict
    seed: int = 0

    @property
    def recipe_batch(self) -> int:
        return self.batches[0]

    @property
    def model_label(self) -> str:
        options = ", ".join(f"{k}={v}" for k, v in (self.model_options or {}).items())
        return f"{self.model} ({options})" if options else self.model

    def identity(self) -> dict:
        return dataclasses.asdict(self)


SETTINGS = {
    FULL: BenchSettings(mode=FULL, model="resnet20", model_options=None, batches=(256, 128),
                        dtypes=("float32", "bfloat16"), tickets=(1, 2, 4, 8), train_subset=None,
                        validation_size=5000, test_subset=None, max_warmup_epochs=10,
                        max_levels=10, max_epochs=150, first_row_prior_s=40.0,
                        phase_weights={"epoch_time": 0.3, "sims": 0.08, "tickets": 0.17,
                                       "lrr": 0.45}),
    TINY: BenchSettings(mode=TINY, model="resnet_cifar", model_options={"depth": 8},
                        batches=(32,), dtypes=("float32", "bfloat16"), tickets=(1, 2),
                        train_subset=128, validation_size=64, test_subset=64,
                        max_warmup_epochs=1, max_levels=2, max_epochs=1,
                        first_row_prior_s=10.0,
                        phase_weights={"epoch_time": 0.3, "sims": 0.2, "tickets": 0.2,
                                       "lrr": 0.3}),
}


def experiment_args(settings: BenchSettings, data_dir, out: Path, *, batch: int,
                    dtype: str = "float32", epochs: int = 1, warmup_epochs: int = 1,
                    levels: int = 1, eval_every: int | None = None) -> argparse.Namespace:
    """The options of ``lottery experiment lrr-vs-imp`` for these settings, parsed by that
    experiment's own parser: every phase builds its configs and loads its data from them
    (``_lrr_common.make_config`` / ``load_data``), so the LRR runs are the ones that command
    would train. ``dtype`` other than float32 sets the model's ``compute_dtype``."""
    from lottery_core.experiments import lrr_vs_imp

    options = dict(settings.model_options or {})
    if dtype != "float32":
        options["compute_dtype"] = dtype
    argv = ["--model", settings.model, "--dataset", "cifar10", "--batch-size", str(batch),
            "--epochs", str(epochs), "--warmup-epochs", str(warmup_epochs),
            "--levels", str(levels), "--seeds", "1", "--first-seed", str(settings.seed),
            "--validation-size", str(settings.validation_size), "--methods", "wr,lrr",
            "--out", str(out), "--no-progress"]
    if options:
        argv += ["--model-options", json.dumps(options, sort_keys=True)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if settings.train_subset is not None:
        argv += ["--train-subset", str(settings.train_subset)]
    if settings.test_subset is not None:
        argv += ["--test-subset", str(settings.test_subset)]
    if eval_every is not None:
        argv += ["--eval-every", str(eval_every)]
    parser = argparse.ArgumentParser(prog="lottery experiment lrr-vs-imp")
    lrr_vs_imp.add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = argv
    return args
