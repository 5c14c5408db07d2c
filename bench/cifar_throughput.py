"""Training throughput of the CIFAR models in lottery_core vs a PyTorch eager reference.

One training step = forward in train mode (BatchNorm batch statistics), softmax cross-entropy,
backward, SGD with momentum 0.9 and weight decay 1e-4, on a fixed random batch of 32x32x3
images (the input pipeline is not timed here). For each model and batch size it prints:

- JAX: the engine's Trainer step (``lottery_core.training``; the numbers in bench/RESULTS.md
  before the one-engine rebuild timed ``sharding.make_train_step``, the same math with
  donated buffers and no batch gather): compile time (lower + compile of the jitted step,
  once), images/s over ``--steps`` timed steps after ``--warmup`` untimed ones, peak memory;
- PyTorch eager (when ``torch`` is installed): the same network written with ``torch.nn``
  (parameters copied from the JAX init, logits checked equal first), same step, same
  batch, images/s; and the ratio JAX / PyTorch.

Peak memory: ``peak_bytes_in_use`` of the device on GPU; on CPU the process's peak resident
set size (``ru_maxrss``) after the row, which is cumulative over the rows run so far in this
process (both frameworks), so only its growth is informative.

    python bench/cifar_throughput.py                                # ResNet-20, VGG-16; 128, 512
    python bench/cifar_throughput.py --models resnet20 --batches 128 --steps 10 --threads 2

Threads: ``--threads`` sets ``torch.set_num_threads``; XLA:CPU uses one thread per visible
core (2 on the CI machine, so both run on 2 threads there; restrict JAX elsewhere with
``taskset``). Extra XLA flags are taken from the ``XLA_FLAGS`` environment variable.

CPU s/step: process CPU time (user + sys) per step, a measure of the work done that is less
sensitive to other processes than wall time (but torch's OpenMP threads spin while waiting,
which inflates its figure when cores are oversubscribed).

Timing: ``--rounds`` rounds, each ``--steps`` JAX steps then ``--steps`` torch steps, after
``--warmup`` untimed steps of each; the table gives medians over rounds (the ratio is the
median of per-round ratios), so that load from other processes hits both frameworks alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ("resnet20", "vgg16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names (default: %(default)s)")
    parser.add_argument("--batches", default="128,512", help="comma-separated batch sizes (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after compilation (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved JAX/torch rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both frameworks (default: %(default)s)")
    parser.add_argument("--compute-dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    if args.steps < 1 or args.rounds < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--steps, --rounds and --threads must be >= 1, --warmup >= 0")
    return args


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run, steps) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``run(steps)``."""
    cpu0 = process_cpu_seconds()
    wall = run(steps)
    return wall, process_cpu_seconds() - cpu0


def peak_memory_mb(jax) -> tuple[float, str]:
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20, "device peak"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


# ----------------------------------------------------------------------------- JAX


def jax_step_for(model_name, batch, compute_dtype):
    """The engine's Trainer (its one jitted ``step``, one device, no mask hooks) on one batch
    that stays on the device (the step gathers it with a row of indices: the whole batch)."""
    import jax
    import jax.numpy as jnp
    import optax

    from lottery_core.models import get_model
    from lottery_core.training import Trainer, unmasked

    model = get_model(model_name, compute_dtype=compute_dtype)
    params, state = model.init(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, 32, 32, 3), jnp.float32)
    y = jnp.arange(batch, dtype=jnp.int32) % model.num_classes
    optimizer = optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1, momentum=0.9))
    trainer = Trainer(model.apply, optimizer, grad_transform=unmasked, param_transform=unmasked,
                      devices=1)
    return model, params, state, trainer, (x, y)


def compile_jax(model_name, batch, compute_dtype):
    """Build the step, compile it (timed) and return a runner ``run(steps) -> seconds``."""
    import jax
    import jax.numpy as jnp

    model, params, state, trainer, data = jax_step_for(model_name, batch, compute_dtype)
    init_params = jax.tree.map(lambda a: a.copy(), params)
    init_state = jax.tree.map(lambda a: a.copy(), state)
    rows = jnp.arange(batch, dtype=jnp.int32)[None]
    carry = [trainer.init_state(params, state, ())]
    t0 = time.perf_counter()
    compiled = trainer.step.lower(carry[0], *data, rows).compile()
    compile_s = time.perf_counter() - t0

    def run(steps):
        t = time.perf_counter()
        for _ in range(steps):
            carry[0], metrics = compiled(carry[0], *data, rows)
        jax.block_until_ready(metrics)
        return time.perf_counter() - t

    return compile_s, run, (model, init_params, init_state, data)


# ----------------------------------------------------------------------------- PyTorch


def torch_modules():
    """The same networks in torch.nn (NCHW), parameters named after the JAX pytree."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.shortcut_conv = self.shortcut_bn = None
            if stride != 1 or c_in != c_out:
                self.shortcut_conv = nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False)
                self.shortcut_bn = nn.BatchNorm2d(c_out)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            residual = x if self.shortcut_conv is None else self.shortcut_bn(self.shortcut_conv(x))
            return F.relu(out + residual)

    class ResNet(nn.Module):
        def __init__(self, blocks, base, num_classes):
            super().__init__()
            widths = [base * 2**s for s in range(len(blocks))]
            self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.names = []
            c_in = widths[0]
            for s, (n, w) in enumerate(zip(blocks, widths)):
                for b in range(n):
                    name = f"layer{s + 1}_{b}"
                    self.add_module(name, Block(c_in, w, 2 if (s > 0 and b == 0) else 1))
                    self.names.append(name)
                    c_in = w
            self.classifier = nn.Conv2d(c_in, num_classes, 1, bias=False)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            for name in self.names:
                out = getattr(self, name)(out)
            out = F.adaptive_avg_pool2d(out, 1)
            return self.classifier(out).flatten(1)

    class VGG(nn.Module):
        def __init__(self, plan, num_classes):
            super().__init__()
            self.plan = plan
            c_in, i = 3, 0
            for item in plan:
                if item != "M":
                    self.add_module(f"conv_{i}", nn.Conv2d(c_in, item, 3, 1, 1, bias=False))
                    self.add_module(f"bn_{i}", nn.BatchNorm2d(item))
                    c_in, i = item, i + 1
            self.classifier = nn.Linear(c_in, num_classes)

        def forward(self, x):
            i = 0
            for item in self.plan:
                if item == "M":
                    x = F.max_pool2d(x, 2)
                else:
                    x = F.relu(getattr(self, f"bn_{i}")(getattr(self, f"conv_{i}")(x)))
                    i += 1
            return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return torch, ResNet, VGG


def torch_model_for(model_name, jax_params, jax_state, num_classes):
    """Build the torch twin of ``model_name`` and copy the JAX parameters and BN state into it."""
    import numpy as np

    from lottery_core.models.vgg import VGG_PLANS

    torch, ResNet, VGG = torch_modules()
    if model_name.startswith("vgg"):
        net = VGG(VGG_PLANS[int(model_name[3:])], num_classes)
    elif model_name == "resnet18":
        net = ResNet((2, 2, 2, 2), 64, num_classes)
    elif model_name.startswith("resnet"):
        n = (int(model_name[6:]) - 2) // 6
        net = ResNet((n, n, n), 16, num_classes)
    else:
        raise ValueError(f"no PyTorch reference for model {model_name!r}")

    def flat(tree, prefix=""):
        for key, value in tree.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                yield from flat(value, name + ".")
            else:
                yield name, np.asarray(value)

    torch_tensors = dict(net.named_parameters()) | dict(net.named_buffers())
    renames = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}
    copied = set()
    for name, value in list(flat(jax_params)) + list(flat(jax_state)):
        module, leaf = name.rsplit(".", 1)
        target = f"{module}.{renames[leaf]}"
        if value.ndim == 4:  # HWIO -> OIHW
            value = value.transpose(3, 2, 0, 1)
        elif value.ndim == 2:  # (in, out) -> (out, in)
            value = value.T
        with torch.no_grad():
            torch_tensors[target].copy_(torch.from_numpy(np.array(value, copy=True)))
        copied.add(target)
    missing = {k for k, v in torch_tensors.items() if v.dtype.is_floating_point} - copied
    if missing:
        raise RuntimeError(f"torch twin has tensors not copied from JAX: {sorted(missing)[:5]}")
    return torch, net


def check_twin(model, jax_params, jax_state, data, torch, net) -> float:
    """Max |logit difference| of JAX vs torch in train mode on the benchmark batch."""
    import numpy as np

    x, _ = data
    logits_jax, _ = model.apply(jax_params, jax_state, x, True)
    net.train()
    with torch.no_grad():
        logits_torch = net(torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy()))
    return float(np.max(np.abs(np.asarray(logits_jax) - logits_torch.numpy())))


def torch_runner(torch, net, data):
    """The torch training step on the benchmark batch: ``run(steps) -> seconds``."""
    import numpy as np

    x = torch.from_numpy(np.asarray(data[0]).transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(np.asarray(data[1]).astype(np.int64))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    net.train()

    def run(steps):
        t = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            optimizer.step()
        return time.perf_counter() - t

    return run


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    import jax
    import numpy as np

    have_torch = False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            have_torch = True
        except ImportError:
            print("torch not installed: PyTorch reference skipped (pip install torch)")
    backend = jax.default_backend()
    print(
        f"# cifar_throughput: jax {jax.__version__} on {backend} ({jax.devices()[0].device_kind}), "
        f"{os.cpu_count()} CPUs visible, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, "
        f"python {platform.python_version()}, compute dtype {args.compute_dtype}, "
        f"{args.rounds} rounds x {args.steps} steps (medians), load average {os.getloadavg()[0]:.1f} at start"
        + (f", torch {torch.__version__} eager (NCHW, {torch.get_num_threads()} threads)" if have_torch else "")
    )
    header = "| model | batch | JAX compile s | JAX img/s | JAX step ms | peak MB | torch img/s | JAX/torch | JAX CPU s/step | torch CPU s/step | max logit diff | load |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for model_name in args.models:
        for batch in args.batches:
            compile_s, run_jax, (model, p0, s0, data) = compile_jax(model_name, batch, args.compute_dtype)
            run_torch = None
            torch_cell = ratio_cell = diff_cell = "n/a"
            if have_torch and backend == "cpu":
                torch_mod, net = torch_model_for(model_name, p0, s0, model.num_classes)
                diff_cell = f"{check_twin(model, p0, s0, data, torch_mod, net):.1e}"
                run_torch = torch_runner(torch_mod, net, data)
            run_jax(args.warmup)
            if run_torch:
                run_torch(args.warmup)
            # Interleave the two frameworks round by round, so that load from other processes
            # on a shared machine hits both alike; report medians.
            jax_rates, torch_rates, jax_cpu, torch_cpu = [], [], [], []
            for _ in range(args.rounds):
                wall, cpu = timed(run_jax, args.steps)
                jax_rates.append(args.steps * batch / wall)
                jax_cpu.append(cpu / args.steps)
                if run_torch:
                    wall, cpu = timed(run_torch, args.steps)
                    torch_rates.append(args.steps * batch / wall)
                    torch_cpu.append(cpu / args.steps)
            jax_rate = float(np.median(jax_rates))
            torch_cpu_cell = "n/a"
            if run_torch:
                torch_cell = f"{np.median(torch_rates):.0f}"
                ratio_cell = f"{np.median(np.array(jax_rates) / np.array(torch_rates)):.2f}"
                torch_cpu_cell = f"{np.median(torch_cpu):.2f}"
            memory, memory_kind = peak_memory_mb(jax)
            print(
                f"| {model_name} | {batch} | {compile_s:.1f} | {jax_rate:.0f} | {1000 * batch / jax_rate:.0f} | "
                f"{memory:.0f} ({memory_kind}) | {torch_cell} | {ratio_cell} | {np.median(jax_cpu):.2f} | "
                f"{torch_cpu_cell} | {diff_cell} | {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
