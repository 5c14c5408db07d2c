"""Benchmark: LeNet-300-100 training on real MNIST, 3 seeds vmapped vs one after another.

    python bench/imp_mnist.py [--data-dir ../shared/data] [--steps 2000] [--full-iterations N]

Prints seed-steps per second of both ways (the reference is the sequential run measured in the
same process) and their ratio, then the predicted wall time of the whole 12-level IMP run for
3 seeds (13 trainings of 50,000 steps each, evaluation excluded). With ``--full-iterations N``
it also times a real ``lottery run imp`` with N steps per level (levels 0..12, 3 seeds) in each
seed mode (sequential, vmap, and processes: single-threaded workers pinned to the cores). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from lottery_core import sparsity  # noqa: E402
from lottery_core.data import load_dataset  # noqa: E402
from lottery_core.config import ExperimentConfig  # noqa: E402
from lottery_core.loops.levels import Runner  # noqa: E402
from lottery_core.models import get_model  # noqa: E402
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule  # noqa


def steps_per_second(data, steps: int, seeds: int = 3, repeats: int = 2) -> dict:
    model = get_model("lenet300")
    trainer = Trainer(model.apply, make_optimizer("adam", learning_rate=1.2e-3),
                      schedule=make_schedule("constant", 1.2e-3, 50000), last_step=49999)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    states = []
    for s in range(seeds):
        p, st = model.init(jax.random.PRNGKey(s))
        states.append(trainer.init_state(p, st, sparsity.full_mask(p)))
    idx = np.stack([epoch_batches((s, 0), len(x), 60, 0, steps) for s in range(seeds)])
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
    out = {}
    # warm-up (compile) both
    jax.block_until_ready(trainer.run_steps(states[0], x, y, jnp.asarray(idx[0])))
    jax.block_until_ready(trainer.run_steps_seeds(stacked, x, y, jnp.asarray(idx)))
    for _ in range(repeats):
        t = time.perf_counter()
        for s in range(seeds):
            jax.block_until_ready(trainer.run_steps(states[s], x, y, jnp.asarray(idx[s])))
        out.setdefault("sequential", []).append(seeds * steps / (time.perf_counter() - t))
        t = time.perf_counter()
        jax.block_until_ready(trainer.run_steps_seeds(stacked, x, y, jnp.asarray(idx)))
        out.setdefault("vmap", []).append(seeds * steps / (time.perf_counter() - t))
    return {k: max(v) for k, v in out.items()}


def full_run(data, iterations: int, mode: str, data_dir: str) -> float:
    config = ExperimentConfig(method="imp", iterations=iterations, levels=12, seeds=3)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        Runner(config, Path(tmp), progress=False, seed_parallel=mode, log=lambda s: None,
               **({"data_dir": data_dir} if mode == "processes" else {"dataset": data})).run()
        return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.environ.get(
        "LOTTERY_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--full-iterations", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"jax {jax.__version__} backend {jax.default_backend()}")
    data = load_dataset("mnist", args.data_dir)
    rates = steps_per_second(data, args.steps)
    ratio = rates["vmap"] / rates["sequential"]
    print(f"seed-steps/s: sequential {rates['sequential']:.0f}, vmap(3) {rates['vmap']:.0f}, "
          f"ratio vmap/sequential {ratio:.2f} -> faster: "
          f"{'vmap' if ratio > 1 else 'sequential'}")
    total = 13 * 3 * 50000
    for mode in ("sequential", "vmap"):
        print(f"predicted full 12-level IMP, 3 seeds, 50k steps/level ({mode}): "
              f"{total / rates[mode] / 60:.1f} min (training steps only)")
    if args.full_iterations:
        modes = ("sequential", "vmap", "processes")
        times = {m: full_run(data, args.full_iterations, m, args.data_dir) for m in modes}
        for m, t in times.items():
            # not scaled: 10 evaluations, checkpoints and compilation per level weigh on short
            # runs, and worker start-up (import, data, compile: a few seconds) on processes
            print(f"measured 12-level IMP, 3 seeds, {args.full_iterations} steps/level ({m}): "
                  f"{t:.1f} s (incl. 10 evaluations per level); sequential / {m} = "
                  f"{times['sequential'] / t:.2f}")


if __name__ == "__main__":
    main()
