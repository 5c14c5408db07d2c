"""Benchmark: the Trainer's step on 1 vs 2 devices (forced XLA:CPU host devices).

    python bench/devices_step.py [--lenet-steps 500] [--resnet-steps 8] [--repeats 3]

Runs each configuration in a fresh process, because the number of host devices is fixed when
jax starts (``XLA_FLAGS=--xla_force_host_platform_device_count=N``):

* ``1 host device``: the plain one-device Trainer (``devices=1``, plain ``jax.jit``);
* ``2 host devices, devices=1``: the same Trainer in a process that has two host devices;
* ``2 host devices, devices=2``: data parallel, each step's batch split over the two devices.

Models: LeNet-300-100 (batch 60, Adam with the schedule hook and the mask transforms, a
``lax.scan`` over the batches: the engine's IMP step) and a small ResNet (``resnet_cifar``
depth 8 on 32x32x3, batch 64, SGD with momentum and weight decay, the Python step loop the
level runner uses for conv nets on CPU). Random data of the real shapes (the step gathers its
batch from 10,000 device-resident examples). Every row: ms per step, best of ``--repeats``
timed calls after one compiling call, and the ratio to the first row.

On a CPU, host devices share the same cores: two of them split a batch into two half-size
matrix products that XLA runs on separate threads, so this measures the partitioning overhead
and the thread split, not a speed-up from more hardware (that needs GPUs).
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
from lottery_core import sparsity as masks
from lottery_core.models import get_model
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule

devices, lenet_steps, resnet_steps, repeats = map(int, sys.argv[1:5])

def best_ms(run, steps):
    jax.block_until_ready(run())                        # compile
    best = float("inf")
    for _ in range(repeats):
        clock = time.perf_counter()
        jax.block_until_ready(run())
        best = min(best, time.perf_counter() - clock)
    return 1e3 * best / steps

out = {"host_devices": len(jax.devices()), "devices": devices}
n = 10_000
# LeNet-300-100: the engine's IMP step (Adam, schedule hook, masks), lax.scan over batches
model = get_model("lenet300")
params, state = model.init(jax.random.PRNGKey(0))
trainer = Trainer(model.apply, make_optimizer("adam", learning_rate=1.2e-3),
                  schedule=make_schedule("constant", 1.2e-3, 50_000), last_step=49_999,
                  devices=devices)
x, y = trainer.put((np.random.default_rng(0).uniform(size=(n, 28, 28, 1)).astype(np.float32),
                    np.arange(n, dtype=np.int32) % 10))
s0 = trainer.init_state(params, state, masks.full_mask(params))
rows = jnp.asarray(epoch_batches((0, 0), n, 60, 0, lenet_steps))
out["lenet_ms"] = best_ms(lambda: trainer.run_steps(s0, x, y, rows), lenet_steps)
# ResNet-8 on 32x32x3 with BatchNorm: the level runner's Python step loop on CPU
model = get_model("resnet_cifar", depth=8)
params, state = model.init(jax.random.PRNGKey(0))
trainer = Trainer(model.apply, make_optimizer("sgd", momentum=0.9, weight_decay=1e-4,
                                              learning_rate=0.1),
                  schedule=make_schedule("constant", 0.1, 1000), last_step=999,
                  step_loop="python", devices=devices)
x, y = trainer.put((np.random.default_rng(1).uniform(size=(n, 32, 32, 3)).astype(np.float32),
                    np.arange(n, dtype=np.int32) % 10))
s0 = trainer.init_state(params, state, masks.full_mask(params))
rows = jnp.asarray(epoch_batches((0, 0), n, 64, 0, resnet_steps))
out["resnet_ms"] = best_ms(lambda: trainer.run_steps(s0, x, y, rows), resnet_steps)
print("RESULT" + json.dumps(out))
"""


def child(host_devices: int, devices: int, args) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                          if p))
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={host_devices}".strip()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(devices), str(args.lenet_steps),
                           str(args.resnet_steps), str(args.repeats)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenet-steps", type=int, default=500)
    parser.add_argument("--resnet-steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import jax

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start; jax {jax.__version__} (cpu); "
          f"{args.lenet_steps} LeNet steps, {args.resnet_steps} ResNet-8 steps, best of "
          f"{args.repeats}")
    rows = [("1 host device", child(1, 1, args)),
            ("2 host devices, devices=1", child(2, 1, args)),
            ("2 host devices, devices=2 (batch split)", child(2, 2, args))]
    base = rows[0][1]
    print("| configuration | LeNet-300-100 ms/step | ratio | ResNet-8 ms/step | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['lenet_ms']:.3f} | {r['lenet_ms'] / base['lenet_ms']:.2f} | "
              f"{r['resnet_ms']:.1f} | {r['resnet_ms'] / base['resnet_ms']:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
