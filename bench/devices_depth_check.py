"""Diagnostic: one training step of CIFAR ResNets on 1 vs 2 forced host devices, by depth.

    XLA_FLAGS=--xla_force_host_platform_device_count=2 python bench/devices_depth_check.py

For each depth: the same initial weights and batch (the synthetic set, batch 20, SGD momentum
0.9, weight decay 1e-4, lr 0.05, the engine's Python step loop), one step through the
engine's ``Trainer`` with ``devices=1`` and ``devices=2``; prints the largest absolute
difference of the parameters, of the BatchNorm statistics and of the loss, and, as a yardstick
for float summation order, the difference on one device between the batch and the same batch
in reversed order (the loss is a mean over examples, so only the order of the sums changes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from lottery_core import sparsity  # noqa: E402
from lottery_core.data import synthetic  # noqa: E402
from lottery_core.models import get_model  # noqa: E402
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule  # noqa


def max_diff(a, b) -> float:
    return max(float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a),
                                                              jax.tree.leaves(b)))


def one_step(model, params, state, data, devices, reverse=False):
    trainer = Trainer(model.apply, make_optimizer("sgd", momentum=0.9, weight_decay=1e-4,
                                                  learning_rate=0.05),
                      schedule=make_schedule("constant", 0.05, 10), last_step=9,
                      step_loop="python", devices=devices)
    x, y = trainer.put((data.x_train, data.y_train))
    rows = jnp.asarray(epoch_batches((0, 0), len(data.x_train), 20, 0, 1))
    rows = rows[:, ::-1] if reverse else rows
    start = trainer.init_state(params, state, sparsity.full_mask(params))
    end, metrics = trainer.run_steps(start, x, y, rows)
    return end, float(metrics["loss"][0])


def main() -> None:
    data = synthetic()
    print(f"jax {jax.__version__}, {len(jax.devices())} devices ({jax.default_backend()})")
    print("| depth | params 2 vs 1 device | BN statistics | loss | params, reversed batch "
          "(1 device) |")
    print("|---:|---:|---:|---:|---:|")
    for depth in (8, 14, 20):
        model = get_model("resnet_cifar", depth=depth, input_shape=(28, 28, 1), num_classes=10)
        params, state = model.init(jax.random.PRNGKey(0))
        one, loss1 = one_step(model, params, state, data, 1)
        two, loss2 = one_step(model, params, state, data, 2)
        rev, _ = one_step(model, params, state, data, 1, reverse=True)
        print(f"| {depth} | {max_diff(one.params, two.params):.2e} | "
              f"{max_diff(one.model_state, two.model_state):.2e} | {abs(loss1 - loss2):.2e} | "
              f"{max_diff(one.params, rev.params):.2e} |", flush=True)


if __name__ == "__main__":
    main()
