"""CIFAR ResNets: the 6n+2 family (ResNet-20/32/44/56/110) and ResNet-18/34 with a CIFAR stem.

Architecture as in the authors' code ``AdvaitGadhikar/imp-lrr-lts`` (spec lrr.md §2.1) [C]:

- stem: 3x3 conv (stride 1, no max-pool) -> BN -> ReLU;
- BasicBlocks: conv3x3(stride s) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, -> ReLU;
  the shortcut is the identity, or 1x1 conv (stride s) -> BN when the shape changes
  (``shortcut="projection"``, [C] ``models/resnet20.py`` and ``models/resnet18.py``);
  ``shortcut="pad"`` gives He et al. 2016's option A (subsample + zero channels, no params);
- stages: ResNet-(6n+2): n blocks at widths 16k/32k/64k, strides 1/2/2;
  ResNet-18: [2,2,2,2] blocks at 64k/128k/256k/512k, strides 1/2/2/2 (k = width_multiplier);
- global average pooling (the code's ``avg_pool2d(out, 4)`` on the final 4x4 map of a 32x32
  input, resp. over the whole map for ResNet-20, is the global mean);
- classifier: a bias-free 1x1 conv (``builder.conv1x1(C, num_classes)``) [C], stored as a
  ``(1, 1, C, num_classes)`` kernel, prunable like every conv;
- every conv bias-free, Kaiming-normal (fan_in, ReLU) init; BN = torch ``BatchNorm2d`` [C].

Parameter names follow the torch modules: ``conv1``, ``bn1``, ``layer{s}_{b}`` with
``conv1``/``bn1``/``conv2``/``bn2``/``shortcut_conv``/``shortcut_bn``, and ``classifier``.
Every BatchNorm name contains ``bn`` (the spec's BN-rewinding selects BN by name).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import Model, keyword_options, register_model
from .recipes import LRR_CIFAR, LRR_CIFAR_DATASETS
from .layers import batchnorm, conv, conv_spec, init_batchnorm, materialize_kernels, resolve_compute_dtype

SHORTCUTS = ("projection", "pad")


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _block_needs_projection(in_channels: int, out_channels: int, stride: int) -> bool:
    return stride != 1 or in_channels != out_channels


def _block_spec(in_channels, out_channels, stride, shortcut):
    params, state = {}, {}
    params["conv1"] = conv_spec(3, in_channels, out_channels)
    params["bn1"], state["bn1"] = init_batchnorm(out_channels)
    params["conv2"] = conv_spec(3, out_channels, out_channels)
    params["bn2"], state["bn2"] = init_batchnorm(out_channels)
    if shortcut == "projection" and _block_needs_projection(in_channels, out_channels, stride):
        params["shortcut_conv"] = conv_spec(1, in_channels, out_channels)
        params["shortcut_bn"], state["shortcut_bn"] = init_batchnorm(out_channels)
    return params, state


def _pad_shortcut(x, out_channels, stride):
    """He et al. 2016 option A: spatial subsampling and zero-padded extra channels."""
    x = x[:, ::stride, ::stride, :]
    extra = out_channels - x.shape[-1]
    return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))


def _apply_block(params, state, x, stride, train, dtype):
    new_state = {}
    out = conv(params["conv1"], x, stride, dtype)
    out, new_state["bn1"] = batchnorm(params["bn1"], state["bn1"], out, train)
    out = jax.nn.relu(out)
    out = conv(params["conv2"], out, 1, dtype)
    out, new_state["bn2"] = batchnorm(params["bn2"], state["bn2"], out, train)
    out_channels = out.shape[-1]
    if "shortcut_conv" in params:
        residual = conv(params["shortcut_conv"], x, stride, dtype)
        residual, new_state["shortcut_bn"] = batchnorm(params["shortcut_bn"], state["shortcut_bn"], residual, train)
    elif _block_needs_projection(x.shape[-1], out_channels, stride):
        residual = _pad_shortcut(x, out_channels, stride)
    else:
        residual = x
    return jax.nn.relu(out + residual.astype(out.dtype)), new_state


def build_cifar_resnet(
    name: str,
    blocks_per_stage: tuple[int, ...],
    base_width: int,
    num_classes: int = 10,
    width_multiplier: int = 1,
    shortcut: str = "projection",
    compute_dtype="float32",
    input_shape: tuple[int, int, int] = (32, 32, 3),
) -> Model:
    """A CIFAR ResNet of BasicBlocks; stage s has width base_width * width_multiplier * 2**s."""
    _check_positive_int("num_classes", num_classes)
    _check_positive_int("width_multiplier", width_multiplier)
    if shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {shortcut!r}; allowed: {', '.join(SHORTCUTS)}")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    dtype = resolve_compute_dtype(compute_dtype)
    widths = [base_width * width_multiplier * 2**s for s in range(len(blocks_per_stage))]
    layout = []  # (param name, in channels, out channels, stride)
    in_channels = widths[0]
    for s, (n_blocks, width) in enumerate(zip(blocks_per_stage, widths)):
        for b in range(n_blocks):
            stride = 2 if (s > 0 and b == 0) else 1
            layout.append((f"layer{s + 1}_{b}", in_channels, width, stride))
            in_channels = width
    final_channels = widths[-1]
    in_image_channels = input_shape[-1]

    def init(key):
        """All kernels He-normal from one draw of ``key`` (layers.materialize_kernels)."""
        params, state = {}, {}
        params["conv1"] = conv_spec(3, in_image_channels, widths[0])
        params["bn1"], state["bn1"] = init_batchnorm(widths[0])
        for block_name, c_in, c_out, stride in layout:
            params[block_name], state[block_name] = _block_spec(c_in, c_out, stride, shortcut)
        params["classifier"] = conv_spec(1, final_channels, num_classes)
        return materialize_kernels(key, params), state

    def apply(params, state, x, train):
        new_state = {}
        out = conv(params["conv1"], x, 1, dtype)
        out, new_state["bn1"] = batchnorm(params["bn1"], state["bn1"], out, train)
        out = jax.nn.relu(out)
        for block_name, _c_in, _c_out, stride in layout:
            out, new_state[block_name] = _apply_block(params[block_name], state[block_name], out, stride, train, dtype)
        pooled = jnp.mean(out.astype(jnp.float32), axis=(1, 2))
        kernel = params["classifier"]["kernel"].reshape(final_channels, num_classes)
        logits = jnp.dot(pooled.astype(dtype), kernel.astype(dtype)).astype(jnp.float32)
        return logits, new_state

    return Model(name=name, input_shape=tuple(input_shape), num_classes=num_classes, init=init, apply=apply)


@register_model("resnet_cifar", defaults=LRR_CIFAR, dataset_defaults=LRR_CIFAR_DATASETS,
                options={"depth": 20, **keyword_options(build_cifar_resnet)})
def resnet_cifar(depth: int = 20, **options) -> Model:
    """ResNet-(6n+2) for CIFAR (He et al. 2016, §4.2): three stages of n BasicBlocks at
    widths 16/32/64 (times ``width_multiplier``). Options: ``num_classes``,
    ``width_multiplier``, ``shortcut`` ("projection" [C] or "pad"), ``compute_dtype``."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 56, ...), got {depth!r}")
    n = (depth - 2) // 6
    return build_cifar_resnet(f"resnet{depth}", (n, n, n), 16, **options)


def _register_depth(depth: int) -> None:
    @register_model(f"resnet{depth}", defaults=LRR_CIFAR, dataset_defaults=LRR_CIFAR_DATASETS,
                    options=keyword_options(build_cifar_resnet))
    def builder(**options) -> Model:
        return resnet_cifar(depth=depth, **options)

    builder.__doc__ = f"ResNet-{depth} for CIFAR; see :func:`resnet_cifar` for the options."


for _depth in (20, 32, 44, 56, 110):
    _register_depth(_depth)


@register_model("resnet18", defaults=LRR_CIFAR, dataset_defaults=LRR_CIFAR_DATASETS,
                options=keyword_options(build_cifar_resnet))
def resnet18(**options) -> Model:
    """ResNet-18 with the CIFAR stem [C] ``models/resnet18.py``: [2,2,2,2] BasicBlocks at
    64/128/256/512 (times ``width_multiplier``), 1x1-conv classifier. Same options as
    :func:`resnet_cifar`."""
    return build_cifar_resnet("resnet18", (2, 2, 2, 2), 64, **options)


@register_model("resnet34", defaults=LRR_CIFAR, dataset_defaults=LRR_CIFAR_DATASETS,
                options=keyword_options(build_cifar_resnet))
def resnet34(**options) -> Model:
    """ResNet-34 with the CIFAR stem [C] ``models/resnet18.py``: [3,4,6,3] BasicBlocks."""
    return build_cifar_resnet("resnet34", (3, 4, 6, 3), 64, **options)
