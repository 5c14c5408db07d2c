"""Diagnostic: one training step of CIFAR ResNets on 1 vs 2 forced host devices, by depth, with a
float64 reference.

    XLA_FLAGS=--xla_force_host_platform_device_count=2 python bench/devices_depth_check.py
    ... bench/devices_depth_check.py --depths 20 --json    # one JSON line (tests/test_sharding.py)

For each depth: the same initial weights and batch (the synthetic set, batch 20, SGD momentum
0.9, weight decay 1e-4, lr 0.05, the engine's Python step loop), one step through the engine's
``Trainer`` with ``devices=1`` and ``devices=2`` in float32, and the same step computed in
float64 (a child process with ``jax_enable_x64`` and the model's compute dtype set to float64)
as the reference. Prints the largest absolute parameter difference of each float32 step from
the reference and between the two, plus the BatchNorm-statistics and loss differences.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_step(depth: int, devices: int, float64: bool = False):
    """``(params leaves, model-state leaves, loss)`` after one step, as float64 numpy."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lottery_core import sparsity
    from lottery_core.data import synthetic
    from lottery_core.models import get_model, layers
    from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule

    data = synthetic()
    options = {}
    if float64:
        layers.COMPUTE_DTYPES["float64"] = jnp.float64      # reference only: not a user option
        options["compute_dtype"] = "float64"
    build = dict(depth=depth, input_shape=(28, 28, 1), num_classes=10)
    params, state = get_model("resnet_cifar", **build).init(jax.random.PRNGKey(0))
    x = data.x_train
    if float64:
        params, state = (jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), t)
                         for t in (params, state))
        x = np.asarray(x, np.float64)
    model = get_model("resnet_cifar", **build, **options)
    trainer = Trainer(model.apply, make_optimizer("sgd", momentum=0.9, weight_decay=1e-4,
                                                  learning_rate=0.05),
                      schedule=make_schedule("constant", 0.05, 10), last_step=9,
                      step_loop="python", devices=devices)
    x, y = trainer.put((x, data.y_train))
    rows = jnp.asarray(epoch_batches((0, 0), len(data.x_train), 20, 0, 1))
    end, metrics = trainer.run_steps(trainer.init_state(params, state,
                                                        sparsity.full_mask(params)), x, y, rows)
    as64 = lambda tree: [np.asarray(a, np.float64) for a in jax.tree.leaves(tree)]  # noqa: E731
    return as64(end.params), as64(end.model_state), float(metrics["loss"][0])


def max_diff(a, b) -> float:
    import numpy as np

    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


def float64_reference(depth: int) -> list:
    """The step's parameters computed in float64, in a child process with ``jax_enable_x64``."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.npz"
        env = {**os.environ, "JAX_ENABLE_X64": "1", "XLA_FLAGS": ""}
        subprocess.run([sys.executable, __file__, "--reference", str(depth), str(path)],
                       env=env, check=True)
        with np.load(path) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files) - 1)]


def compare(depth: int) -> dict:
    """Largest differences of the 1- and 2-device float32 steps from float64 and each other."""
    reference = float64_reference(depth)
    p1, s1, l1 = one_step(depth, 1)
    p2, s2, l2 = one_step(depth, 2)
    return {"depth": depth, "one_vs_float64": max_diff(p1, reference),
            "two_vs_float64": max_diff(p2, reference), "two_vs_one": max_diff(p1, p2),
            "bn_two_vs_one": max_diff(s1, s2), "loss_two_vs_one": abs(l1 - l2)}


def main() -> None:
    import argparse
    import json

    import jax
    import numpy as np

    if len(sys.argv) == 4 and sys.argv[1] == "--reference":
        params, _, loss = one_step(int(sys.argv[2]), 1, float64=True)
        np.savez(sys.argv[3], loss=loss, *params)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[8, 14, 20])
    parser.add_argument("--json", action="store_true", help="one JSON line per depth")
    args = parser.parse_args()
    if len(jax.devices()) < 2:
        sys.exit("needs XLA_FLAGS=--xla_force_host_platform_device_count=2")
    if not args.json:
        print(f"jax {jax.__version__}, {len(jax.devices())} devices ({jax.default_backend()})")
        print("| depth | 1 device vs float64 | 2 devices vs float64 | 2 vs 1 device | "
              "BN statistics 2 vs 1 | loss 2 vs 1 |")
        print("|---:|---:|---:|---:|---:|---:|")
    for depth in args.depths:
        row = compare(depth)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"| {depth} | {row['one_vs_float64']:.2e} | {row['two_vs_float64']:.2e} | "
                  f"{row['two_vs_one']:.2e} | {row['bn_two_vs_one']:.2e} | "
                  f"{row['loss_two_vs_one']:.2e} |", flush=True)


if __name__ == "__main__":
    main()
