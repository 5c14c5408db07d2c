"""Shared primitives for the convolutional models: conv, dense, BatchNorm, He init.

Layout: images NHWC, conv kernels HWIO (``lax.conv_general_dilated`` with
``("NHWC", "HWIO", "NHWC")``), dense kernels ``(in, out)``. Every conv/dense weight is a leaf
named ``kernel`` (prunable); BatchNorm affine parameters are ``scale`` (gamma) and ``bias``
(beta) in ``params``; its running statistics ``mean``/``var`` live in ``state``.

Mixed precision: ``compute_dtype`` casts inputs and weights to that dtype for the matmuls and
convolutions only; parameters stay float32 (master weights), BatchNorm statistics and the
normalisation are computed in float32, and logits are returned in float32.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax import lax

_CONV_DIMS = ("NHWC", "HWIO", "NHWC")
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}

# torch.nn.BatchNorm2d defaults, used by the authors' code [C].
BN_MOMENTUM = 0.1
BN_EPSILON = 1e-5


def resolve_compute_dtype(dtype) -> jnp.dtype:
    """Map ``"float32"``/``"bfloat16"`` (or the jnp dtypes) to a dtype; anything else is an error."""
    if isinstance(dtype, str):
        if dtype not in COMPUTE_DTYPES:
            raise ValueError(f"unknown compute dtype {dtype!r}; allowed: {', '.join(COMPUTE_DTYPES)}")
        return COMPUTE_DTYPES[dtype]
    for allowed in COMPUTE_DTYPES.values():
        if jnp.dtype(dtype) == jnp.dtype(allowed):
            return allowed
    raise ValueError(f"unknown compute dtype {dtype!r}; allowed: {', '.join(COMPUTE_DTYPES)}")


@dataclasses.dataclass(frozen=True)
class HeNormalKernel:
    """Placeholder for a He-normal kernel of ``shape`` with fan-in ``fan_in`` in a params tree
    under construction; :func:`materialize_kernels` replaces all of them in one draw."""

    shape: tuple[int, ...]
    fan_in: int


def materialize_kernels(key, tree):
    """Replace every :class:`HeNormalKernel` in ``tree`` by its He-normal draw
    w ~ N(0, 2 / fan_in): Kaiming normal, mode fan_in, ReLU gain, as
    ``torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")`` in the authors'
    builder (``args.init = kaiming_normal``, ``mode = fan_in``) [C]; He et al. 2015.

    All kernels come from one ``jax.random.normal(key, (total,))`` cut into consecutive slices
    in tree-flattening order (sorted dict keys). One draw instead of one per layer matters:
    XLA:CPU compiles each threefry draw separately, and a network's worth of them takes tens
    of seconds to compile, against well under a second for one draw.
    """
    leaves, treedef = jax.tree.flatten(tree)
    specs = [leaf for leaf in leaves if isinstance(leaf, HeNormalKernel)]
    total = sum(math.prod(spec.shape) for spec in specs)
    flat = jax.random.normal(key, (total,), jnp.float32)
    out, offset = [], 0
    for leaf in leaves:
        if isinstance(leaf, HeNormalKernel):
            size = math.prod(leaf.shape)
            out.append(math.sqrt(2.0 / leaf.fan_in) * flat[offset : offset + size].reshape(leaf.shape))
            offset += size
        else:
            out.append(leaf)
    return jax.tree.unflatten(treedef, out)


def conv_spec(kernel_size: int, in_channels: int, out_channels: int) -> dict:
    """A bias-free conv ``{"kernel": (k, k, in, out)}``, He-normal with fan_in = k*k*in
    (a placeholder for :func:`materialize_kernels`)."""
    shape = (kernel_size, kernel_size, in_channels, out_channels)
    return {"kernel": HeNormalKernel(shape, kernel_size * kernel_size * in_channels)}


def init_conv(key, kernel_size: int, in_channels: int, out_channels: int) -> dict:
    """A bias-free conv: ``{"kernel": (k, k, in, out)}`` with He-normal init (fan_in = k*k*in)."""
    return materialize_kernels(key, conv_spec(kernel_size, in_channels, out_channels))


def conv(params: dict, x: jax.Array, stride: int = 1, compute_dtype=jnp.float32) -> jax.Array:
    """2-D convolution, padding (k-1)//2 on each side (PyTorch ``padding=1`` for 3x3, 0 for 1x1).

    Explicit symmetric padding, not XLA's "SAME": for stride 2 on even sizes "SAME" pads only
    the bottom/right and would not match the reference networks.
    """
    kernel = params["kernel"]
    pad = (kernel.shape[0] - 1) // 2
    return lax.conv_general_dilated(
        x.astype(compute_dtype),
        kernel.astype(compute_dtype),
        window_strides=(stride, stride),
        padding=((pad, pad), (pad, pad)),
        dimension_numbers=_CONV_DIMS,
    )


def dense_spec(in_features: int, out_features: int, use_bias: bool = True) -> dict:
    """A dense layer with a He-normal kernel placeholder (see :func:`init_dense`)."""
    params = {"kernel": HeNormalKernel((in_features, out_features), in_features)}
    if use_bias:
        params["bias"] = jnp.zeros((out_features,), jnp.float32)
    return params


def init_dense(key, in_features: int, out_features: int, use_bias: bool = True) -> dict:
    """A dense layer. Kernel He-normal (fan_in); bias zero.

    Note: torch's ``nn.Linear`` default init differs (Kaiming-uniform with a=sqrt(5)); the
    authors' builder re-initialises only convs. We use He-normal for every kernel so the whole
    network follows one documented rule (docs/cifar.md).
    """
    return materialize_kernels(key, dense_spec(in_features, out_features, use_bias))


def dense(params: dict, x: jax.Array, compute_dtype=jnp.float32) -> jax.Array:
    y = jnp.dot(x.astype(compute_dtype), params["kernel"].astype(compute_dtype))
    y = y.astype(jnp.float32)
    if "bias" in params:
        y = y + params["bias"]
    return y


def init_batchnorm(channels: int) -> tuple[dict, dict]:
    """BatchNorm params (scale 1, bias 0) and state (running mean 0, running var 1), as torch."""
    params = {"scale": jnp.ones((channels,), jnp.float32), "bias": jnp.zeros((channels,), jnp.float32)}
    state = {"mean": jnp.zeros((channels,), jnp.float32), "var": jnp.ones((channels,), jnp.float32)}
    return params, state


def batchnorm(
    params: dict,
    state: dict,
    x: jax.Array,
    train: bool,
    momentum: float = BN_MOMENTUM,
    epsilon: float = BN_EPSILON,
) -> tuple[jax.Array, dict]:
    """BatchNorm over every axis but the last (channels), as ``torch.nn.BatchNorm2d``.

    train:  y = (x - mu_B) / sqrt(var_B + eps) * scale + bias, with the biased batch variance;
            running_mean <- (1 - m) running_mean + m mu_B,
            running_var  <- (1 - m) running_var + m var_B * n / (n - 1)   (unbiased, as torch).
    eval:   the running statistics replace the batch ones; state is returned unchanged.
    Statistics are computed in float32 whatever the input dtype; the output keeps x's dtype.
    """
    axes = tuple(range(x.ndim - 1))
    x32 = x.astype(jnp.float32)
    if train:
        mean = jnp.mean(x32, axis=axes)
        var = jnp.mean(jnp.square(x32 - mean), axis=axes)
        count = math.prod(x.shape[:-1])
        unbiased = var * (count / max(count - 1, 1))
        new_state = {
            "mean": (1.0 - momentum) * state["mean"] + momentum * lax.stop_gradient(mean),
            "var": (1.0 - momentum) * state["var"] + momentum * lax.stop_gradient(unbiased),
        }
    else:
        mean, var = state["mean"], state["var"]
        new_state = state
    inv = lax.rsqrt(var + epsilon) * params["scale"]
    y = (x32 - mean) * inv + params["bias"]
    return y.astype(x.dtype), new_state
