"""Where the network-scale claims find the real data sets: ``$LOTTERY_DATA`` (or
``$LOTTERY_SHARED_DATA``) if set, else ``../shared/data`` beside the repository
(``../shared/data/README.md``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR10_FOLDER = "cifar-10-batches-py"


def root() -> Path:
    """The data folder: ``$LOTTERY_DATA``, ``$LOTTERY_SHARED_DATA``, else ``../shared/data``."""
    env = os.environ.get("LOTTERY_DATA") or os.environ.get("LOTTERY_SHARED_DATA")
    return Path(env) if env else _DEFAULT_ROOT


def mnist_dir() -> Path:
    """The folder holding the four gzipped MNIST IDX files."""
    return root() / "mnist"


def cifar10_dir(cache: Path) -> Path:
    """A folder holding ``cifar-10-batches-py/`` (the official layout the loader reads):
    :func:`root` if it has one, else ``cache/cifar10``, written once from the shared
    ``cifar10_jpeg.npz`` by its ``make_cifar10.py`` (about 10-30 s), into a temporary folder
    renamed when complete."""
    if (root() / CIFAR10_FOLDER / "test_batch").is_file():
        return root()
    target = Path(cache) / "cifar10"
    if (target / CIFAR10_FOLDER / "test_batch").is_file():
        return target
    script = root() / "make_cifar10.py"
    if not script.is_file():
        raise FileNotFoundError(f"no CIFAR-10 in {root()} ({CIFAR10_FOLDER}/ or "
                                f"make_cifar10.py with cifar10_jpeg.npz)")
    partial = Path(cache) / f"cifar10.partial-{os.getpid()}"
    subprocess.run([sys.executable, str(script), str(partial)], check=True,
                   capture_output=True, timeout=600)
    partial.rename(target)
    return target
