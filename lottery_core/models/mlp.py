"""Fully connected networks: LeNet-300-100 and MLPs of any widths.

LeNet-300-100 (784-300-100-10, ReLU, no bias pruning) is the MNIST network of Frankle &
Carbin 2019 (§2, Fig. 2) and Zhou et al. 2019 (spec zhou.md §2.2 [C]): kernels use Keras
``glorot_normal`` (truncated normal, variance 2/(fan_in + fan_out)), biases start at 0;
266,200 prunable weights.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from lottery_core.models import Model, register_model
from lottery_core.models.recipes import LENET_MNIST

glorot_normal = jax.nn.initializers.glorot_normal()


def _dense_init(key, fan_in: int, fan_out: int) -> dict:
    return {"kernel": glorot_normal(key, (fan_in, fan_out), jnp.float32),
            "bias": jnp.zeros((fan_out,), jnp.float32)}


def dense_stack(params: dict, h, n_layers: int):
    """``dense_0 .. dense_{n-1}``: h ↦ h·W + b, ReLU after every layer but the last."""
    for i in range(n_layers):
        layer = params[f"dense_{i}"]
        h = h @ layer["kernel"] + layer["bias"]
        if i < n_layers - 1:
            h = jax.nn.relu(h)
    return h


def mlp_model(widths=(300, 100), input_shape=(28, 28, 1), num_classes: int = 10,
              name: str = "mlp") -> Model:
    """ReLU MLP ``prod(input_shape) -> widths... -> num_classes``; layers ``dense_0..``."""
    widths = tuple(int(w) for w in widths)
    if any(w <= 0 for w in widths):
        raise ValueError(f"MLP widths must be positive integers, got {widths}")
    input_shape = tuple(int(d) for d in input_shape)
    sizes = (math.prod(input_shape),) + widths + (int(num_classes),)

    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        params = {f"dense_{i}": _dense_init(keys[i], sizes[i], sizes[i + 1])
                  for i in range(len(sizes) - 1)}
        return params, {}

    def apply(params, state, x, train=False):
        return dense_stack(params, x.reshape((x.shape[0], -1)), len(sizes) - 1), state

    return Model(name, input_shape, int(num_classes), init, apply)


@register_model("mlp", defaults=LENET_MNIST)
def mlp(widths=(300, 100), input_shape=(28, 28, 1), num_classes: int = 10) -> Model:
    return mlp_model(widths, input_shape, num_classes, name="mlp")


@register_model("lenet300", defaults=LENET_MNIST)
def lenet300(input_shape=(28, 28, 1), num_classes: int = 10) -> Model:
    """LeNet-300-100 (Frankle & Carbin 2019; Zhou et al. 2019 [C])."""
    return mlp_model((300, 100), input_shape, num_classes, name="lenet300")
