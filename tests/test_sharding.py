"""Data parallelism in the Trainer's one step: two devices compute what one device computes.

The two-device checks run in a subprocess: the number of host devices is fixed when jax
starts (``XLA_FLAGS=--xla_force_host_platform_device_count=2``), and the test process has
already started jax with one. They compare, on 1 and on 2 devices: the Trainer's step for a
ResNet-8 with BatchNorm, and whole ``lottery run`` runs (``imp`` on a LeNet-300-100-like MLP
with two vmapped seeds, ``imp`` on a ResNet-8 with the Python step loop, ``pilot`` on an MLP).
Tolerance: float32 with only the order of the cross-device sums changed: parameters within
1e-5 (measured: at most 3.6e-7), recorded losses within 1e-4 relative (measured: 4.9e-6).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from lottery_core.training import Trainer, make_optimizer, sharding

REPO_ROOT = Path(__file__).resolve().parents[1]

TWO_DEVICE_SCRIPT = r"""
import json, sys, tempfile, time
clock0 = time.time()
from pathlib import Path
import jax, jax.numpy as jnp, numpy as np
import lottery_cli.main as cli
from lottery_core import sparsity as masks
from lottery_core.store import flatten, load_tree
from lottery_core.models import get_model
from lottery_core.training import Trainer, epoch_batches, make_optimizer, make_schedule, sharding

out = {"devices": len(jax.devices())}

def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
               for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

# 1. the Trainer's step: ResNet-8 with BatchNorm, SGD + momentum + weight decay + masks
model = get_model("resnet_cifar", depth=8, input_shape=(8, 8, 3))
params, state = jax.jit(model.init)(jax.random.PRNGKey(0))
mask = masks.prune_by_magnitude(params, masks.full_mask(params),
                                masks.layer_fractions(params, 10, dense=0.5, conv=0.5))
x = jax.random.uniform(jax.random.PRNGKey(1), (64, 8, 8, 3))
y = jnp.arange(64) % 10
idx = jnp.asarray(epoch_batches((0,), 64, 16, 0, 4))

def trainer(devices, loop):
    return Trainer(model.apply, make_optimizer("sgd", momentum=0.9, weight_decay=1e-4,
                                               learning_rate=0.1),
                   schedule=make_schedule("constant", 0.1, 4), last_step=3, step_loop=loop,
                   devices=devices)

runs = {}
for devices in (1, 2):
    t = trainer(devices, "scan")
    xs, ys = t.put((x, y))
    s, m = t.run_steps(t.init_state(params, state, mask), xs, ys, idx)
    runs[devices] = (t, s, m, t.evaluate(s.params, s.model_state, xs, ys))
(t1, a, ma, ea), (t2, b, mb, eb) = runs[1], runs[2]
out["step"] = {"params": max_diff(a.params, b.params),
               "model_state": max_diff(a.model_state, b.model_state),
               "opt_state": max_diff(a.opt_state, b.opt_state),
               "loss": max_diff(ma, mb), "evaluate": max_diff(ea, eb),
               "losses": np.asarray(ma["loss"]).tolist(),
               "pruned_zero": all(bool(jnp.all(p[~m] == 0)) for p, m in
                                  zip(jax.tree.leaves(b.params), jax.tree.leaves(mask))),
               "state_moved": max_diff(b.model_state, state) > 1e-4,
               "mesh": [t1.mesh is None, t2.n_devices],
               "replicated": all(leaf.sharding.is_fully_replicated
                                 and len(leaf.sharding.device_set) == 2
                                 for leaf in jax.tree.leaves(b.params))}
hlo = t2.run_steps.jitted.lower(t2.init_state(params, state, mask), x, y,
                                idx).compile().as_text()
out["all_reduce"] = "all-reduce" in hlo
out["half_batch"] = "f32[8,8,8,3]" in hlo       # each device gathers 8 of the 16 images
try:
    t2.run_steps(t2.init_state(params, state, mask), x, y, jnp.zeros((2, 15), jnp.int32))
    out["odd_batch_error"] = None
except ValueError as error:
    out["odd_batch_error"] = str(error)
try:
    sharding.shard_batch(jnp.ones((3, 4)), sharding.data_mesh())
    out["uneven_error"] = None
except ValueError as error:
    out["uneven_error"] = str(error)

out["trainer_seconds"] = time.time() - clock0

# 2. lottery run on 1 and on 2 devices
def run(args, devices, root):
    rc = cli.main(["run", *args, "--devices", str(devices), "--out", str(root / str(devices)),
                   "--no-progress", "--no-plot"])
    assert rc == 0, rc
    (run_dir,) = (root / str(devices)).glob("*-*")
    return run_dir

def compare(run_dir_1, run_dir_2, pattern):
    diffs = {"params": 0.0, "loss_rel": 0.0, "accuracy": 0.0}
    for f1 in sorted(run_dir_1.glob(pattern)):
        f2 = run_dir_2 / f1.relative_to(run_dir_1)
        a, b = flatten(load_tree(f1)), flatten(load_tree(f2))
        diffs["params"] = max(diffs["params"], max_diff(a, b))
        m1, m2 = (json.loads((f.parent / "metrics.json").read_text()) for f in (f1, f2))
        for key in ("test_loss", "val_loss"):
            diffs["loss_rel"] = max(diffs["loss_rel"], abs(m1[key] - m2[key]) / abs(m1[key]))
        for key in ("test_accuracy", "val_accuracy"):
            diffs["accuracy"] = max(diffs["accuracy"], abs(m1[key] - m2[key]))
    diffs["files"] = len(list(run_dir_1.glob(pattern)))
    return diffs

common = ["--dataset", "synthetic", "--optimizer", "sgd", "--learning-rate", "0.05",
          "--momentum", "0.9", "--batch-size", "20"]
cases = {
    "lenet_imp": ["imp", "--model", "mlp", "--model-options", '{"widths": [300, 100]}',
                  *common, "--iterations", "20", "--levels", "1", "--seeds", "2",
                  "--seed-parallel", "vmap"],
    "resnet_imp": ["imp", "--model", "resnet_cifar", "--model-options", '{"depth": 8}',
                   *common, "--iterations", "4", "--levels", "0", "--seeds", "1",
                   "--input-pipeline", "none", "--warmup-epochs", "0"],
    "mlp_pilot": ["pilot", "--model", "mlp", "--model-options", '{"widths": [32]}', *common,
                  "--epochs", "2", "--seeds", "1", "--alpha-init", "1e-3", "--target-l1", "1",
                  "--sparsities", "0.5"],
}
with tempfile.TemporaryDirectory() as tmp:
    for name, args in cases.items():
        clock = time.time()
        root = Path(tmp) / name
        dirs = [run(args, devices, root) for devices in (1, 2)]
        pattern = "seed_*/params.npz" if args[0] == "pilot" else "seed_*/level_*/params.npz"
        out[name] = compare(*dirs, pattern)
        out[name]["seconds"] = time.time() - clock
    bad = ["imp", "--model", "mlp", "--model-options", '{"widths": [8]}', "--dataset",
           "synthetic", "--iterations", "2", "--levels", "0", "--seeds", "1", "--no-progress",
           "--no-plot", "--out", str(Path(tmp) / "bad")]
    out["cli_odd_batch"] = cli.main(["run", *bad, "--batch-size", "15"])
    out["cli_three_devices"] = cli.main(["run", *bad, "--batch-size", "16", "--devices", "3"])
    out["bad_left_nothing"] = not (Path(tmp) / "bad").exists()
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-c", TWO_DEVICE_SCRIPT], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):]), proc.stdout + proc.stderr


def test_two_devices_form_the_mesh_and_split_the_batch(two_devices):
    r, _ = two_devices
    assert r["devices"] == 2
    assert r["step"]["mesh"] == [True, 2] and r["step"]["replicated"]
    assert r["all_reduce"] and r["half_batch"]


def test_two_device_step_equals_one_device_step(two_devices):
    """ResNet-8 (``lax.scan`` loop): weights, BatchNorm statistics (over the global batch),
    momentum, step losses and evaluation agree; pruned weights stay exactly 0."""
    r = two_devices[0]["step"]
    assert r["params"] < 1e-5 and r["model_state"] < 1e-5 and r["opt_state"] < 1e-5
    assert r["loss"] < 1e-5 and r["evaluate"] < 1e-5
    assert r["losses"][-1] < r["losses"][0] and r["pruned_zero"] and r["state_moved"]


@pytest.mark.parametrize("case", ["lenet_imp", "resnet_imp", "mlp_pilot"])
def test_lottery_run_on_two_devices_matches_one(two_devices, case):
    """Whole runs: ``lenet_imp`` (2 levels, 2 seeds vmapped, each seed's batch split),
    ``resnet_imp`` (Python step loop, BatchNorm), ``mlp_pilot`` (m ⊙ w, α hook)."""
    r = two_devices[0][case]
    assert r["files"] >= 1
    assert r["params"] < 1e-5 and r["loss_rel"] < 1e-4
    assert r["accuracy"] <= 0.01          # at most one borderline example of the ~100 flips


def test_bad_device_counts_are_refused(two_devices):
    r, output = two_devices
    assert "batch size 15 is not divisible by the 2 devices" in r["odd_batch_error"]
    assert "not divisible by the 2 devices" in r["uneven_error"]
    assert r["cli_odd_batch"] == 2 and r["cli_three_devices"] == 2 and r["bad_left_nothing"]
    assert "error: batch size 15 is not divisible by the 2 devices" in output
    assert "error: asked for 3 devices, but this process has 2" in output


def test_one_device_is_the_plain_jit():
    """In-process (one CPU device): no mesh, and a clear error for a device count too large."""
    trainer = Trainer(lambda p, s, x, train: (x @ p, s), make_optimizer("sgd"))
    assert trainer.mesh is None and trainer.n_devices == len(jax.devices()) == 1
    assert hasattr(trainer.run_steps, "lower")               # jax.jit's own function
    mesh = sharding.data_mesh()
    assert mesh.axis_names == (sharding.BATCH_AXIS,) and mesh.devices.size == 1
    with pytest.raises(sharding.DeviceError, match="asked for 2 devices, but this process has 1"):
        Trainer(lambda p, s, x, train: (x @ p, s), make_optimizer("sgd"), devices=2)
    with pytest.raises(ValueError, match="positive integer"):
        sharding.local_devices(0)
    with pytest.raises(ValueError, match="scalar"):
        sharding.shard_batch(np.float32(1.0), mesh)
    with pytest.raises(ValueError, match="at least one device"):
        sharding.data_mesh([])


def test_resnet20_two_device_step_is_as_accurate_as_one_device():
    """ResNet-20 (the LRR paper's CIFAR network), one training step on 1 and 2 forced host
    devices, each compared with the same step in float64 (``bench/devices_depth_check.py``).

    1 vs 2 devices differ by ~1e-5 here, not the ~1e-7 of ResNet-8, because the float32 step
    itself is that inaccurate on XLA:CPU at this depth (bench/RESULTS.md, "one step by depth"):
    so the tolerance is the float32 error of the one-device step, measured in the same run. A
    partitioning fault (BatchNorm statistics of each half-batch, a gradient not summed over
    devices) moves the parameters by 1e-3 or more and fails this."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "devices_depth_check.py"),
                           "--depths", "20", "--json"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row["depth"] == 20
    assert row["one_vs_float64"] < 1e-3                      # float32 sanity of the step itself
    assert row["two_vs_float64"] <= 3 * row["one_vs_float64"] + 1e-6
    assert row["bn_two_vs_one"] < 1e-6                       # statistics over the global batch
    assert row["loss_two_vs_one"] < 1e-5
