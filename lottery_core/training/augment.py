"""On-device CIFAR input pipeline: per-epoch shuffling, random crop + flip, normalisation.

Everything here is a pure, jit-compatible function of an explicit PRNG key and device arrays;
there are no Python loops over examples. The standard CIFAR recipe used by the authors' code
(``data/cifar10.py``, spec lrr.md §2.1) [C]:

    RandomCrop(32, padding=4) -> RandomHorizontalFlip() -> ToTensor() -> Normalize(mean, std)

i.e. crop and flip act on the raw image (zero padding in pixel space, so a padded pixel becomes
-mean/std after normalisation), then each channel is normalised. Use :func:`augment_batch` on
raw ``uint8`` (or [0, 1] float) images and :func:`normalize` afterwards, or
:func:`augment_and_normalize` for both.

Typical use inside an epoch compiled as one ``lax.scan``::

    idx = shuffled_batch_indices(k_perm, num_examples, batch_size)   # (num_batches, batch)
    def step(carry, batch_idx_and_key):
        batch_idx, k = batch_idx_and_key
        x = augment_and_normalize(k, images[batch_idx], CIFAR10_MEAN, CIFAR10_STD)
        ...
    lax.scan(step, carry, (idx, jax.random.split(k_aug, idx.shape[0])))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

# Per-channel statistics of the authors' code, data/cifar10.py [C] (RGB, images in [0, 1]):
# classes CIFAR10 and CIFAR100 of AdvaitGadhikar/imp-lrr-lts. The CIFAR-100 values agree to
# three decimals with the training-set statistics CIFAR100_TRAIN_MEAN / _STD (0.50708,
# 0.48655, 0.44092 / 0.26733, 0.25644, 0.27615) of weiaicunzai/pytorch-cifar100,
# conf/global_settings.py.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN = (0.507, 0.487, 0.441)
CIFAR100_STD = (0.267, 0.256, 0.276)


def _check_batch(images) -> None:
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (batch, height, width, channels), got shape {images.shape}")


def random_crop(key, images: jax.Array, padding: int = 4) -> jax.Array:
    """Per-example random crop after zero-padding by ``padding`` pixels on every side.

    For example i, offsets (dy_i, dx_i) are uniform on {0, ..., 2*padding}; the output is
    ``pad(x_i)[dy_i : dy_i + H, dx_i : dx_i + W]`` (torchvision ``RandomCrop(H, padding)``).
    Vectorised with ``vmap`` over ``lax.dynamic_slice``; dtype is preserved.
    """
    _check_batch(images)
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    n, h, w, c = images.shape
    offsets = crop_offsets(key, n, padding)
    padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))

    def crop_one(image, offset):
        return lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop_one)(padded, offsets)


def crop_offsets(key, batch_size: int, padding: int = 4) -> jax.Array:
    """The (dy, dx) offsets :func:`random_crop` draws from ``key``: int32, shape (batch, 2)."""
    return jax.random.randint(key, (batch_size, 2), 0, 2 * padding + 1, dtype=jnp.int32)


def flip_decisions(key, batch_size: int) -> jax.Array:
    """The per-example booleans :func:`random_flip` draws from ``key`` (True = flip, p = 1/2)."""
    return jax.random.bernoulli(key, 0.5, (batch_size,))


def random_flip(key, images: jax.Array) -> jax.Array:
    """Mirror each example left-right with probability 1/2 (torchvision RandomHorizontalFlip)."""
    _check_batch(images)
    flip = flip_decisions(key, images.shape[0])
    return jnp.where(flip[:, None, None, None], images[:, :, ::-1, :], images)


def augment_batch(key, images: jax.Array, padding: int = 4) -> jax.Array:
    """Random crop with ``padding`` then horizontal flip, with independent sub-keys:
    ``k_crop, k_flip = jax.random.split(key)``."""
    k_crop, k_flip = jax.random.split(key)
    return random_flip(k_flip, random_crop(k_crop, images, padding))


def normalize(images: jax.Array, mean, std, scale: float | None = None) -> jax.Array:
    """Per-channel normalisation ``(x * scale - mean) / std`` in float32.

    ``scale`` defaults to 1/255 for integer images (``ToTensor``) and 1 for float images.
    """
    mean = jnp.asarray(mean, jnp.float32)
    std = jnp.asarray(std, jnp.float32)
    if mean.shape != (images.shape[-1],) or std.shape != (images.shape[-1],):
        raise ValueError(
            f"mean and std need one value per channel ({images.shape[-1]}), got {mean.shape} and {std.shape}"
        )
    if scale is None:
        scale = 1.0 / 255.0 if jnp.issubdtype(images.dtype, jnp.integer) else 1.0
    return (images.astype(jnp.float32) * scale - mean) / std


def augment_and_normalize(key, images: jax.Array, mean=CIFAR10_MEAN, std=CIFAR10_STD, padding: int = 4) -> jax.Array:
    """:func:`augment_batch` then :func:`normalize` (the order of the torchvision pipeline)."""
    return normalize(augment_batch(key, images, padding), mean, std)


def channel_statistics(images: jax.Array, scale: float | None = None) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and (population) standard deviation of a data set, in float32,
    after the same ``scale`` as :func:`normalize`."""
    _check_batch(images)
    if scale is None:
        scale = 1.0 / 255.0 if jnp.issubdtype(images.dtype, jnp.integer) else 1.0
    x = images.astype(jnp.float32) * scale
    return jnp.mean(x, axis=(0, 1, 2)), jnp.std(x, axis=(0, 1, 2))


def shuffled_batch_indices(key, num_examples: int, batch_size: int, drop_remainder: bool = True) -> jax.Array:
    """A fresh permutation of ``range(num_examples)`` cut into batches: int32, shape
    ``(num_batches, batch_size)``, ready to be the ``xs`` of a ``lax.scan`` over one epoch.

    With ``drop_remainder`` (the default) the last ``num_examples % batch_size`` examples of
    the permutation are dropped, so every step has the same shape (they differ per epoch).
    Without it, the batch count is rounded up and the last batch is filled with the first
    indices of the same permutation (a few examples are seen twice in that epoch).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > num_examples:
        raise ValueError(f"batch_size {batch_size} exceeds the number of examples {num_examples}")
    perm = jax.random.permutation(key, num_examples).astype(jnp.int32)
    if drop_remainder:
        num_batches = num_examples // batch_size
        return perm[: num_batches * batch_size].reshape(num_batches, batch_size)
    num_batches = -(-num_examples // batch_size)
    fill = num_batches * batch_size - num_examples
    return jnp.concatenate([perm, perm[:fill]]).reshape(num_batches, batch_size)


def shuffle_into_batches(key, images: jax.Array, labels: jax.Array, batch_size: int, drop_remainder: bool = True):
    """Gather a whole shuffled epoch: ``(images, labels)`` of shapes
    ``(num_batches, batch, H, W, C)`` and ``(num_batches, batch)``.

    This materialises a permuted copy of the data set; for large data sets prefer
    :func:`shuffled_batch_indices` and gather each batch inside the scan.
    """
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"images ({images.shape[0]}) and labels ({labels.shape[0]}) differ in length")
    idx = shuffled_batch_indices(key, images.shape[0], batch_size, drop_remainder)
    return images[idx], labels[idx]
