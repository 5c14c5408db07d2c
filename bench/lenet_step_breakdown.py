"""Benchmark: where one LeNet-300-100 training step spends its time, on one pinned CPU core.

    python bench/lenet_step_breakdown.py [--data-dir ../shared/data/mnist] [--steps 3000] [--core 0]

The reference is the engine's own step as `--seed-parallel processes` runs it (single-threaded
XLA, pinned to one core, Adam with the schedule hook and the mask transforms, a ``lax.scan``
over batches of 60 held on the device). The other rows take parts away, in the same process:
plain ``optax.adam`` (no schedule, no masks), SGD without masks (no optimizer state), the
forward and backward pass alone, the forward pass alone, and the step's eight matrix
products alone. Every row is ms per step (best of 3 repeats) and its ratio to the reference.

It then bounds the full 12-level IMP run for 3 seeds (39 trainings of 50,000 steps on 2
workers, so at least 19.5 trainings one after another on one core): with the reference step,
and with the matrix products alone (a floor no non-matmul optimisation can go below).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lottery_core.loops.workers import SINGLE_THREAD_XLA_FLAGS  # noqa: E402  (jax not started yet)

os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_XLA_FLAGS}".strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from lottery_core import sparsity  # noqa: E402
from lottery_core.data import load_dataset  # noqa: E402
from lottery_core.models import get_model  # noqa: E402
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule  # noqa

BATCH = 60
LAYERS = ((784, 300), (300, 100), (100, 10))


def matmul_flops_per_step() -> int:
    """Forward x·W for every layer, weight gradient xᵀ·g for every layer, input gradient
    g·Wᵀ for every layer but the first (the data needs no gradient)."""
    forward = sum(2 * BATCH * n_in * n_out for n_in, n_out in LAYERS)
    input_grads = sum(2 * BATCH * n_in * n_out for n_in, n_out in LAYERS[1:])
    return 2 * forward + input_grads


def best_ms_per_step(fn, args, steps: int, repeats: int = 3) -> float:
    jax.block_until_ready(fn(*args))                      # compile
    best = float("inf")
    for _ in range(repeats):
        clock = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - clock)
    return 1e3 * best / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2]
                                                  / "shared" / "data" / "mnist"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})

    data = load_dataset("mnist", args.data_dir)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    model = get_model("lenet300")
    params, model_state = model.init(jax.random.PRNGKey(0))
    mask = sparsity.full_mask(params)
    batches = jnp.asarray(epoch_batches((0, 0), len(x), BATCH, 0, args.steps))

    def trainer_row(optimizer, **kwargs):
        trainer = Trainer(model.apply, optimizer, **kwargs)
        state = trainer.init_state(params, model_state, mask)
        return trainer.run_steps, (state, x, y, batches)

    unmasked = dict(grad_transform=lambda g, s: g, param_transform=lambda p, s: p)

    def loss(p, xb, yb):
        logits, _ = model.apply(p, model_state, xb, True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def forward_backward(p, x, y, batches):
        def body(total, rows):
            grads = jax.grad(loss)(p, x[rows], y[rows])
            return total + sum(g.sum() for g in jax.tree_util.tree_leaves(grads)), None
        return jax.lax.scan(body, 0.0, batches)[0]

    @jax.jit
    def forward(p, x, y, batches):
        return jax.lax.scan(lambda t, rows: (t + loss(p, x[rows], y[rows]), None), 0.0,
                            batches)[0]

    kernels = [params[f"dense_{i}"]["kernel"] for i in range(len(LAYERS))]

    @jax.jit
    def matmuls_only(kernels, x, batches):
        """The step's products with no loss, no activation and no optimizer: forward, then
        backward from the logits as if they were the output gradient (weights move by 1e-9·g
        so that every product is used)."""
        def body(kernels, rows):
            activations = [x[rows]]
            for kernel in kernels:
                activations.append(activations[-1] @ kernel)
            grad, updated = activations[-1], list(kernels)
            for i in reversed(range(len(kernels))):
                updated[i] = kernels[i] - 1e-9 * (activations[i].T @ grad)
                if i > 0:
                    grad = grad @ kernels[i].T
            return updated, None
        return jax.lax.scan(body, kernels, batches)[0]

    engine = trainer_row(make_optimizer("adam", learning_rate=1.2e-3),
                         schedule=make_schedule("constant", 1.2e-3, 50_000), last_step=49_999)
    rows = [("engine step: Adam + schedule + masks (reference)", *engine),
            ("plain optax.adam, no schedule, no masks", *trainer_row(optax.adam(1.2e-3),
                                                                      **unmasked)),
            ("SGD, no masks", *trainer_row(optax.sgd(1e-3), **unmasked)),
            ("forward + backward only", forward_backward, (params, x, y, batches)),
            ("forward only", forward, (params, x, y, batches)),
            ("the eight matrix products only", matmuls_only,
             (kernels, x.reshape(len(x), -1), batches))]
    flops = matmul_flops_per_step()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"jax {jax.__version__}, {jax.default_backend()}; one single-threaded XLA process "
          f"pinned to core {args.core}; {args.steps} steps of batch {BATCH}")
    results = {}
    for name, fn, fn_args in rows:
        results[name] = best_ms_per_step(fn, fn_args, args.steps)
        reference = results[rows[0][0]]
        print(f"  {name:50s} {results[name]:6.3f} ms/step   {results[name] / reference:5.2f}",
              flush=True)
    matmul_ms = results[rows[-1][0]]
    print(f"matrix products: {flops / 1e6:.1f} MFLOP per step, "
          f"{flops / (matmul_ms * 1e-3) / 1e9:.0f} GFLOP/s on one core")
    per_core_steps = 19.5 * 50_000
    for label, ms in (("reference step", results[rows[0][0]]), ("matrix products only",
                                                                 matmul_ms)):
        print(f"12-level IMP, 3 seeds, 2 workers, {label}: >= "
              f"{per_core_steps * ms / 1e3 / 60:.1f} min of training (target < 15 min)")


if __name__ == "__main__":
    main()
