"""MNIST with randomized labels for recipe R3 (spec nofreeprune.md §7), read with the
engine's loader (:mod:`lottery_core.data`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lottery_core.data import load_mnist_arrays
from sims.shared_data import mnist_dir


@functools.lru_cache(maxsize=1)
def load_mnist_train() -> tuple[np.ndarray, np.ndarray]:
    """The 60 000 training images as float32 in [0, 1], flattened to 784, and their labels
    (read by :func:`lottery_core.data.load_mnist_arrays`)."""
    x, y, _, _ = load_mnist_arrays(mnist_dir())
    return x.reshape(-1, 784).astype(np.float32) / 255.0, y.astype(np.int32)


def noisy_mnist_subset(key, n: int, fraction: float):
    """n random training images; a ``fraction`` of them get a label drawn uniformly from the
    10 classes (it may equal the true one). Returns x, noisy y and the corrupted indicator."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction of randomized labels must lie in [0, 1], got {fraction}")
    images, labels = load_mnist_train()
    k_pick, k_which, k_label = jax.random.split(key, 3)
    pick = np.asarray(jax.random.choice(k_pick, images.shape[0], (n,), replace=False))
    corrupted = np.asarray(jax.random.uniform(k_which, (n,)) < fraction)
    random_labels = np.asarray(jax.random.randint(k_label, (n,), 0, 10))
    y = np.where(corrupted, random_labels, labels[pick]).astype(np.int32)
    return jnp.asarray(images[pick]), jnp.asarray(y), jnp.asarray(corrupted)
