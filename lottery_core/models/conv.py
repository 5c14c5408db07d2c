"""Conv-2 / Conv-4 / Conv-6 of Frankle & Carbin 2019 (Fig. 2), as in Zhou et al. 2019.

Spec zhou.md §2.2 [C]: 3x3 convolutions, stride 1, ``same`` padding, ReLU; 2x2 max-pool with
stride 2 after every pair of convolutions; then fc256, fc256, fc10; no BatchNorm, no dropout;
Keras ``glorot_normal`` kernels, zero biases. Prunable weights (kernels) for 32x32x3 inputs:
Conv-2 4,300,992; Conv-4 2,425,024; Conv-6 2,261,184.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from lottery_core.models import Model, register_model
from lottery_core.models.recipes import conv_recipe
from lottery_core.models.mlp import dense_stack

glorot_normal = jax.nn.initializers.glorot_normal()

#: filters per conv pair; a max-pool follows each pair
CONV_PLANS = {"conv2": (64,), "conv4": (64, 128), "conv6": (64, 128, 256)}


def conv_net(name: str, input_shape=(32, 32, 3), num_classes: int = 10,
             dense_widths=(256, 256)) -> Model:
    if name not in CONV_PLANS:
        raise ValueError(f"unknown conv net {name!r}; available: {', '.join(CONV_PLANS)}")
    plan = CONV_PLANS[name]
    height, width, channels = (int(d) for d in input_shape)
    pooled = 2 ** len(plan)
    if height % pooled or width % pooled:
        raise ValueError(f"{name} needs height and width divisible by {pooled}, got {input_shape}")
    flat = (height // pooled) * (width // pooled) * plan[-1]
    dense_sizes = (flat,) + tuple(dense_widths) + (int(num_classes),)

    def init(key):
        keys = iter(jax.random.split(key, 2 * len(plan) + len(dense_sizes) - 1))
        params, cin = {}, channels
        for i, filters in enumerate(plan):
            for j in range(2):
                params[f"conv_{2 * i + j}"] = {
                    "kernel": glorot_normal(next(keys), (3, 3, cin, filters), jnp.float32),
                    "bias": jnp.zeros((filters,), jnp.float32)}
                cin = filters
        for i in range(len(dense_sizes) - 1):
            params[f"dense_{i}"] = {
                "kernel": glorot_normal(next(keys), (dense_sizes[i], dense_sizes[i + 1]),
                                        jnp.float32),
                "bias": jnp.zeros((dense_sizes[i + 1],), jnp.float32)}
        return params, {}

    def apply(params, state, x, train=False):
        h = x
        for i in range(2 * len(plan)):
            layer = params[f"conv_{i}"]
            h = lax.conv_general_dilated(h, layer["kernel"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            h = jax.nn.relu(h + layer["bias"])
            if i % 2 == 1:
                h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return dense_stack(params, h.reshape((h.shape[0], -1)), len(dense_sizes) - 1), state

    return Model(name, (height, width, channels), int(num_classes), init, apply)


def _register(name):
    @register_model(name, defaults=conv_recipe(name))
    def build(input_shape=(32, 32, 3), num_classes: int = 10) -> Model:
        return conv_net(name, input_shape, num_classes)

    build.__doc__ = f"{name} of Frankle & Carbin 2019 / Zhou et al. 2019 [C]."
    return build


conv2 = _register("conv2")
conv4 = _register("conv4")
conv6 = _register("conv6")
