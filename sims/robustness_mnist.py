"""MNIST with randomized labels for recipe R3 (spec nofreeprune.md §7): a small private
IDX reader. On merge this reader belongs in ``lottery_core/data.py`` (engine)."""

from __future__ import annotations

import functools
import gzip
import os
import struct
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def mnist_dir() -> Path:
    """``$LOTTERY_DATA/mnist`` (or ``$LOTTERY_SHARED_DATA/mnist``) if set, else
    ``../shared/data/mnist`` beside the repository."""
    root = os.environ.get("LOTTERY_DATA") or os.environ.get("LOTTERY_SHARED_DATA")
    return Path(root) / "mnist" if root else _DEFAULT_DIR


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes: magic 0x0000 08 <ndim>, then big-endian
    uint32 dimensions, then the data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} values")
    return data.reshape(shape)


@functools.lru_cache(maxsize=1)
def load_mnist_train() -> tuple[np.ndarray, np.ndarray]:
    """The 60 000 training images as float32 in [0, 1], flattened to 784, and their labels."""
    folder = mnist_dir()
    images = folder / "train-images-idx3-ubyte.gz"
    labels = folder / "train-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise FileNotFoundError(f"MNIST training files not found in {folder} (set LOTTERY_DATA)")
    x = read_idx(images).reshape(-1, 784).astype(np.float32) / 255.0
    return x, read_idx(labels).astype(np.int32)


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
