"""Benchmark: K vmapped seeds on 2 devices, batch split (data parallel) vs one seed per device.

    python bench/devices_seeds.py [--lenet-steps 200] [--resnet-steps 6] [--repeats 3]

One child process with two forced XLA:CPU host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``) times the vmapped training of K = 2
seeds (``Trainer.run_steps_seeds``, what ``lottery run --seed-parallel vmap`` calls) three ways:

* ``one device``: ``Trainer(devices=1)``; both seeds on device 0;
* ``data parallel``: ``Trainer(devices=2)``; every seed's batch split over the two devices,
  gradients and BatchNorm statistics all-reduced (the engine's multi-device mode);
* ``seed per device``: the same vmapped one-device function jitted with the *seed* axis split
  over the two devices (``NamedSharding(mesh, P("seed"))`` on the stacked state and batch
  indices; data replicated): each device trains one whole seed and nothing is exchanged.

Models as in ``bench/devices_step.py``: LeNet-300-100 (batch 60, Adam, ``lax.scan`` over the
batches) and ResNet-8 (32x32x3, batch 64, SGD momentum, the Python step loop). Every row: ms
per step (both seeds), best of ``--repeats`` after a compiling call, and the largest parameter
difference from ``one device``. Host devices share the machine's cores, so this measures the
thread split and the partitioning overhead, not more hardware.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from lottery_core import sparsity as masks
from lottery_core.models import get_model
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule, sharding

lenet_steps, resnet_steps, repeats = map(int, sys.argv[1:4])
K = 2
mesh = sharding.data_mesh(jax.local_devices()[:2], axis_name="seed")
by_seed = NamedSharding(mesh, PartitionSpec("seed"))
replicated = NamedSharding(mesh, PartitionSpec())

def best_ms(run, steps):
    out = jax.block_until_ready(run())                  # compile
    best = float("inf")
    for _ in range(repeats):
        clock = time.perf_counter()
        jax.block_until_ready(run())
        best = min(best, time.perf_counter() - clock)
    return 1e3 * best / steps, out

def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

def stacked_state(trainer, model):
    states = []
    for seed in range(K):
        params, state = model.init(jax.random.PRNGKey(seed))
        states.append(trainer.init_state(params, state, masks.full_mask(params)))
    return jax.tree.map(lambda *a: jnp.stack(a), *states)

def seed_per_device(trainer, loop):
    # the one-device vmapped function, seed axis split over the two devices
    fn = jax.jit(jax.vmap(loop, in_axes=(0, None, None, 0)),
                 in_shardings=(by_seed, replicated, replicated, by_seed))
    def run(state, x, y, idx):
        return fn(*jax.device_put((state, x, y, idx), (by_seed, replicated, replicated,
                                                      by_seed)))
    return run

def python_loop(fn, state, x, y, idx):
    for i in range(idx.shape[1]):
        state, _ = fn(state, x, y, idx[:, i:i + 1])
    return state

def measure(name, build, batch, steps, n, shape, loop_kind):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n,) + shape).astype(np.float32)
    y = np.arange(n, dtype=np.int32) % 10
    idx = jnp.asarray(np.stack([epoch_batches((0, s), n, batch, 0, steps) for s in range(K)]))
    rows, reference = {}, None
    for mode in ("one device", "data parallel", "seed per device"):
        model, trainer = build(2 if mode == "data parallel" else 1)
        s0 = stacked_state(trainer, model)
        xs, ys = trainer.put((x, y))
        if mode == "seed per device":
            one = trainer._run_steps if loop_kind == "scan" else trainer._single_step
            fn = seed_per_device(trainer, one)
            run = ((lambda: fn(s0, xs, ys, idx)[0]) if loop_kind == "scan" else
                   (lambda: python_loop(fn, s0, xs, ys, idx)))
        else:
            run = lambda: trainer.run_steps_seeds(s0, xs, ys, idx)[0]
        ms, end = best_ms(run, steps)
        reference = end.params if reference is None else reference
        rows[mode] = {"ms_per_step": ms, "params_vs_one_device": max_diff(end.params, reference)}
    return rows

def lenet(devices):
    model = get_model("lenet300")
    return model, Trainer(model.apply, make_optimizer("adam", learning_rate=1.2e-3),
                          schedule=make_schedule("constant", 1.2e-3, 50_000), last_step=49_999,
                          devices=devices)

def resnet(devices):
    model = get_model("resnet_cifar", depth=8)
    return model, Trainer(model.apply, make_optimizer("sgd", momentum=0.9, weight_decay=1e-4,
                                                      learning_rate=0.1),
                          schedule=make_schedule("constant", 0.1, 1000), last_step=999,
                          step_loop="python", devices=devices)

out = {"host_devices": len(jax.devices()), "seeds": K,
       "lenet": measure("lenet", lenet, 60, lenet_steps, 10_000, (28, 28, 1), "scan"),
       "resnet8": measure("resnet8", resnet, 64, resnet_steps, 2_000, (32, 32, 3), "python")}
print("RESULT" + json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenet-steps", type=int, default=200)
    parser.add_argument("--resnet-steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(args.lenet_steps),
                           str(args.resnet_steps), str(args.repeats)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    result = json.loads(next(line for line in proc.stdout.splitlines()
                             if line.startswith("RESULT"))[len("RESULT"):])
    import jax

    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__}, "
          f"load {os.getloadavg()[0]:.1f}; {result['seeds']} seeds vmapped, "
          f"{result['host_devices']} host devices")
    print("| model | mode | ms/step (both seeds) | ratio to one device | max param diff |")
    print("|---|---|---:|---:|---:|")
    for model in ("lenet", "resnet8"):
        rows = result[model]
        base = rows["one device"]["ms_per_step"]
        for mode, row in rows.items():
            print(f"| {model} | {mode} | {row['ms_per_step']:.2f} | "
                  f"{row['ms_per_step'] / base:.2f} | {row['params_vs_one_device']:.1e} |")


if __name__ == "__main__":
    main()
