"""Data-parallel step over a batch mesh equals the one-device step.

The two-device check runs in a subprocess: the number of host devices is fixed when jax
starts (``XLA_FLAGS=--xla_force_host_platform_device_count=2``), and the test process has
already started jax with one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lottery_core import sharding

REPO_ROOT = Path(__file__).resolve().parents[1]

TWO_DEVICE_SCRIPT = r"""
import json
import jax, jax.numpy as jnp, numpy as np, optax
from lottery_core import sharding
from lottery_core.models import get_model

out = {"devices": len(jax.devices())}
mesh = sharding.data_mesh()
out["mesh_size"] = int(mesh.devices.size)

def max_diff(a, b):
    return max(float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

# 1. ResNet-8 with BatchNorm (state = running statistics), SGD + momentum + weight decay
model = get_model("resnet_cifar", depth=8, input_shape=(8, 8, 3))
params, state = jax.jit(model.init)(jax.random.PRNGKey(0))
x = jax.random.normal(jax.random.PRNGKey(1), (16, 8, 8, 3))
y = jnp.arange(16) % 10

def loss_fn(p, s, batch):
    logits, new_s = model.apply(p, s, batch[0], True)
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean(), new_s

opt = optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1, momentum=0.9))
one = sharding.make_train_step(loss_fn, opt, donate=False)
dp = sharding.make_train_step(loss_fn, opt, mesh, donate=False)
a = (params, state, opt.init(params))
b = sharding.replicate((params, state, opt.init(params)), mesh)
batch = sharding.shard_batch((x, y), mesh)
out["batch_devices"] = len(batch[0].sharding.device_set)
out["shard_shape"] = list(batch[0].addressable_shards[0].data.shape)
losses_one, losses_dp = [], []
for _ in range(3):
    *a, l1 = one(*a, (x, y))
    *b, l2 = dp(*b, batch)
    losses_one.append(float(l1)); losses_dp.append(float(l2))
out["resnet_losses_one"] = losses_one
out["resnet_losses_dp"] = losses_dp
out["resnet_params_diff"] = max_diff(a[0], b[0])
out["resnet_state_diff"] = max_diff(a[1], b[1])
out["resnet_opt_diff"] = max_diff(a[2], b[2])
out["params_replicated"] = all(len(l.sharding.device_set) == 2 and l.sharding.is_fully_replicated for l in jax.tree.leaves(b[0]))
# the running mean moved, so the state really was updated through the sharded step
out["state_moved"] = max_diff(b[1], state) > 1e-4

# 2. a stateless MLP (has_state=False) with Adam and donated buffers
def mlp_init(key):
    k1, k2 = jax.random.split(key)
    return {"dense_0": {"kernel": jax.random.normal(k1, (20, 32)) * 0.3, "bias": jnp.zeros(32)},
            "dense_1": {"kernel": jax.random.normal(k2, (32, 3)) * 0.3, "bias": jnp.zeros(3)}}

def mlp_loss(p, s, batch):
    h = jnp.tanh(batch[0] @ p["dense_0"]["kernel"] + p["dense_0"]["bias"])
    logits = h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()

p0 = mlp_init(jax.random.PRNGKey(2))
xm = jax.random.normal(jax.random.PRNGKey(3), (32, 20)); ym = jnp.arange(32) % 3
adam = optax.adam(1e-2)
one = sharding.make_train_step(mlp_loss, adam, has_state=False)
dp = sharding.make_train_step(mlp_loss, adam, mesh, has_state=False)
a = (jax.tree.map(jnp.copy, p0), {}, adam.init(p0))
b = sharding.replicate((p0, {}, adam.init(p0)), mesh)
mb = sharding.shard_batch((xm, ym), mesh)
for _ in range(5):
    *a, l1 = one(*a, (xm, ym))
    *b, l2 = dp(*b, mb)
out["mlp_params_diff"] = max_diff(a[0], b[0])
out["mlp_loss_pair"] = [float(l1), float(l2)]

# 3. a batch that does not split evenly is refused with a clear message
try:
    sharding.shard_batch(jnp.ones((3, 4)), mesh)
    out["uneven_error"] = None
except ValueError as error:
    out["uneven_error"] = str(error)
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_device_result():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-c", TWO_DEVICE_SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_two_forced_host_devices_form_the_mesh(two_device_result):
    r = two_device_result
    assert r["devices"] == 2 and r["mesh_size"] == 2
    assert r["batch_devices"] == 2 and r["shard_shape"] == [8, 8, 8, 3]
    assert r["params_replicated"]


def test_sharded_resnet_step_equals_one_device_step(two_device_result):
    r = two_device_result
    np.testing.assert_allclose(r["resnet_losses_dp"], r["resnet_losses_one"], rtol=1e-5)
    assert r["resnet_losses_one"][-1] < r["resnet_losses_one"][0]
    # float32, 3 SGD steps: only the order of the cross-device sums differs
    assert r["resnet_params_diff"] < 1e-5
    assert r["resnet_state_diff"] < 1e-5  # BN statistics are over the global batch
    assert r["resnet_opt_diff"] < 1e-5
    assert r["state_moved"]


def test_sharded_stateless_step_equals_one_device_step(two_device_result):
    r = two_device_result
    assert r["mlp_params_diff"] < 1e-5
    assert r["mlp_loss_pair"][0] == pytest.approx(r["mlp_loss_pair"][1], rel=1e-5)


def test_uneven_batch_is_refused(two_device_result):
    assert "not divisible by the 2 devices" in two_device_result["uneven_error"]


def test_one_device_mesh_step_equals_plain_step():
    """In-process (one CPU device): the mesh path compiles and equals mesh=None."""
    mesh = sharding.data_mesh()
    assert mesh.axis_names == (sharding.BATCH_AXIS,) and mesh.devices.size == len(jax.devices())
    w = jnp.array([[1.0, -2.0], [0.5, 0.3]])
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    t = x @ jnp.array([[0.2, 0.1], [-0.3, 0.4]])

    def loss(p, s, batch):
        return jnp.mean((batch[0] @ p["kernel"] - batch[1]) ** 2)

    opt = optax.sgd(0.1)
    plain = sharding.make_train_step(loss, opt, has_state=False, donate=False)
    meshed = sharding.make_train_step(loss, opt, mesh, has_state=False, donate=False)
    params = {"kernel": w}
    a = plain(params, {}, opt.init(params), (x, t))
    b = meshed(sharding.replicate(params, mesh), {}, opt.init(params), sharding.shard_batch((x, t), mesh))
    np.testing.assert_allclose(a[0]["kernel"], b[0]["kernel"], rtol=1e-6)
    grad = jax.grad(lambda k: jnp.mean((x @ k - t) ** 2))(w)
    np.testing.assert_allclose(a[0]["kernel"], w - 0.1 * grad, rtol=1e-6)
    with pytest.raises(ValueError, match="scalar"):
        sharding.shard_batch(jnp.float32(1.0), mesh)
    with pytest.raises(ValueError, match="at least one device"):
        sharding.data_mesh([])
