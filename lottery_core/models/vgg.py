"""CIFAR VGG-11/13/16/19 with BatchNorm.

The authors' LRR code has no VGG (spec lrr.md §2.1), so we follow the CIFAR VGG of the
lottery-ticket literature, OpenLTH ``models/cifar_vgg.py`` (Frankle & Carbin 2019; Frankle
et al. 2020): the conv plans of Simonyan & Zisserman 2015 (configurations A, B, D, E), each
conv 3x3 (padding 1) -> BN -> ReLU, 2x2 max-pools between stages, the fifth max-pool replaced
by a 2x2 average pool (global on the 2x2 map of a 32x32 input), and one dense classifier
512 -> num_classes with a bias.

One deliberate difference from OpenLTH: our convs are bias-free (a bias before BN is exactly
cancelled by the batch mean, so it only adds parameters); OpenLTH's VGG-16 has 4,224 more
parameters (one bias per conv channel). Init: He normal (fan_in, ReLU) for every kernel,
as OpenLTH's default ``kaiming_normal``; BN scale 1, bias 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from . import Model, keyword_options, register_model
from .recipes import LRR_CIFAR, LRR_CIFAR_DATASETS
from .layers import batchnorm, conv, conv_spec, dense, dense_spec, init_batchnorm, materialize_kernels, resolve_compute_dtype

VGG_PLANS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512),
}


def _max_pool_2x2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def build_vgg(
    depth: int = 16,
    num_classes: int = 10,
    compute_dtype="float32",
    input_shape: tuple[int, int, int] = (32, 32, 3),
) -> Model:
    """VGG-``depth`` with BN for 32x32 inputs. Conv ``i`` is ``conv_{i}``/``bn_{i}``; the
    classifier is ``classifier`` (dense, with bias)."""
    if depth not in VGG_PLANS:
        raise ValueError(f"unknown VGG depth {depth!r}; allowed: {', '.join(map(str, VGG_PLANS))}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    dtype = resolve_compute_dtype(compute_dtype)
    plan = VGG_PLANS[depth]
    pools = plan.count("M")
    if len(input_shape) != 3 or any(side % 2**pools or side < 2**pools for side in input_shape[:2]):
        raise ValueError(
            f"VGG-{depth} needs input_shape (height, width, channels) with height and width "
            f"multiples of {2**pools} (it max-pools {pools} times), got {input_shape!r}"
        )
    conv_channels = [c for c in plan if c != "M"]

    def init(key):
        """All kernels He-normal from one draw of ``key`` (layers.materialize_kernels)."""
        params, state = {}, {}
        in_channels = input_shape[-1]
        for i, out_channels in enumerate(conv_channels):
            params[f"conv_{i}"] = conv_spec(3, in_channels, out_channels)
            params[f"bn_{i}"], state[f"bn_{i}"] = init_batchnorm(out_channels)
            in_channels = out_channels
        params["classifier"] = dense_spec(in_channels, num_classes, use_bias=True)
        return materialize_kernels(key, params), state

    def apply(params, state, x, train):
        new_state = {}
        out = x
        i = 0
        for item in plan:
            if item == "M":
                out = _max_pool_2x2(out)
                continue
            out = conv(params[f"conv_{i}"], out, 1, dtype)
            out, new_state[f"bn_{i}"] = batchnorm(params[f"bn_{i}"], state[f"bn_{i}"], out, train)
            out = jax.nn.relu(out)
            i += 1
        pooled = jnp.mean(out.astype(jnp.float32), axis=(1, 2))  # OpenLTH's AvgPool2d(2) on 2x2
        return dense(params["classifier"], pooled, dtype), new_state

    return Model(name=f"vgg{depth}", input_shape=tuple(input_shape), num_classes=num_classes, init=init, apply=apply)


def _register(depth: int) -> None:
    @register_model(f"vgg{depth}", defaults=LRR_CIFAR, dataset_defaults=LRR_CIFAR_DATASETS,
                    options=keyword_options(build_vgg, exclude=("depth",)))
    def builder(**options) -> Model:
        return build_vgg(depth=depth, **options)

    builder.__doc__ = f"VGG-{depth} with BN for CIFAR; options num_classes, compute_dtype."


for _depth in VGG_PLANS:
    _register(_depth)
