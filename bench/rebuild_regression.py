"""Benchmark: the engine's training step now against a base commit, in one command.

    python bench/rebuild_regression.py [--base 287f355] [--rounds 3] [--lenet-steps 2000]
                                       [--resnet-steps 6] [--out bench/rebuild_regression.json]

Checks out ``--base`` (default: the last commit before the "one engine" rebuild) into a
temporary git worktree and times, alternately in fresh processes (base, current, base,
current, current, base, ...: each tree first in half the rounds, so that load from other
processes and any first-in-pair effect hit both alike), the step each tree's own
``Trainer`` compiles:

* LeNet-300-100 on MNIST: batch 60, Adam 1.2e-3 with the schedule hook and the mask transforms,
  a ``lax.scan`` over device-resident batches, one single-threaded XLA process pinned to one
  core (how ``--seed-parallel processes`` trains);
* ResNet-20 on CIFAR-10-shaped data: batch 128, SGD momentum 0.9, weight decay 1e-4, cosine
  schedule, the masked step, XLA on all cores (the Python loop over single compiled steps that
  the engine uses for conv nets on CPU).

Each row is the best of 3 repeats in a process (ms per step); the table gives the median over
rounds of each tree and the median of the per-round ratios current / base.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def child(what: str, steps: int) -> float:
    """ms per step of ``what`` with the tree on ``sys.path`` (best of 3)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    try:                                            # the rebuilt tree
        from lottery_core.sparsity import masks
        from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule
    except ImportError:                             # before the rebuild
        from lottery_core import masks
        from lottery_core.train import Trainer, epoch_batches, make_optimizer, make_schedule
    from lottery_core.models import get_model

    if what == "lenet":
        model = get_model("lenet300")
        n, batch = 6000, 60
        x = jnp.asarray(np.random.default_rng(0).uniform(size=(n, 28, 28, 1)), jnp.float32)
        optimizer = make_optimizer("adam", learning_rate=1.2e-3)
        schedule = make_schedule("constant", 1.2e-3, 50_000)
        loop = "scan"
    else:
        model = get_model("resnet20", input_shape=(32, 32, 3), num_classes=10)
        n, batch = 1280, 128
        x = jnp.asarray(np.random.default_rng(0).uniform(size=(n, 32, 32, 3)), jnp.float32)
        optimizer = make_optimizer("sgd", momentum=0.9, weight_decay=1e-4, learning_rate=0.1)
        schedule = make_schedule("cosine", 0.1, 10_000, final_learning_rate=0.01)
        loop = "python"
    y = jnp.asarray(np.random.default_rng(1).integers(0, 10, n), jnp.int32)
    params, model_state = model.init(jax.random.PRNGKey(0))
    trainer = Trainer(model.apply, optimizer, schedule=schedule, last_step=9_999,
                      step_loop=loop)
    state = trainer.init_state(params, model_state, masks.full_mask(params))
    batches = jnp.asarray(epoch_batches((0, 0), n, batch, 0, steps))
    state, losses = trainer.run_steps(state, x, y, batches[:2])      # compile
    jax.block_until_ready(losses)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        state, losses = trainer.run_steps(state, x, y, batches)
        jax.block_until_ready(losses)
        best = min(best, time.perf_counter() - start)
    return 1e3 * best / steps


def measure(tree: Path, what: str, steps: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", what,
               "--steps", str(steps)]
    if what == "lenet":
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {SINGLE_THREAD}".strip()
        command = ["taskset", "-c", "0", *command]
    out = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="287f355")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lenet-steps", type=int, default=2000)
    parser.add_argument("--resnet-steps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "rebuild_regression.json")
    parser.add_argument("--child", choices=("lenet", "resnet20"), help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(child(args.child, args.steps))
        return
    base_tree = Path(tempfile.mkdtemp(prefix="lottery-base-"))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(base_tree),
                    args.base], check=True)
    try:
        rows = {}
        for what, steps in (("lenet", args.lenet_steps), ("resnet20", args.resnet_steps)):
            times = {"base": [], "current": []}
            for round_ in range(args.rounds):       # ABBA order: no tree is always first
                order = ("base", "current") if round_ % 2 == 0 else ("current", "base")
                for tree in order:
                    times[tree].append(measure(base_tree if tree == "base" else REPO, what,
                                               steps))
            ratios = [c / b for b, c in zip(times["base"], times["current"])]
            rows[what] = {"ms_per_step": times, "median_base": statistics.median(times["base"]),
                          "median_current": statistics.median(times["current"]),
                          "median_ratio": statistics.median(ratios), "steps": steps}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                        str(base_tree)], check=False)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    record = {"base": args.base, "current": head, "machine": machine,
              "load_average_at_end": os.getloadavg(), "rows": rows}
    args.out.write_text(json.dumps(record, indent=1))
    print(f"machine: {machine}; base {args.base}, current {head} (+ working tree); "
          f"{args.rounds} alternating rounds")
    print("| step | base ms/step | current ms/step | current / base |")
    print("|---|---:|---:|---:|")
    for what, row in rows.items():
        print(f"| {what} | {row['median_base']:.3f} | {row['median_current']:.3f} | "
              f"{row['median_ratio']:.3f} |")


if __name__ == "__main__":
    main()
