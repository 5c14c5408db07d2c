"""Where the network-scale claims find the real data sets (docs/data.md).

Two places are looked in: the data folder of ``lottery data fetch``
(``$LOTTERY_DATA``, else the user's cache, :func:`lottery_core.data_fetch.default_data_dir`)
and the shared copy beside the repository (``$LOTTERY_SHARED_DATA``, else ``../shared/data``).
CIFAR-10, kept there as ``cifar10_jpeg.npz`` with its writer ``make_cifar10.py``, is written
once into the data folder in the official layout the loader reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lottery_core.data import CIFAR10_FILES, MNIST_FILES, DataError
from lottery_core.data_fetch import default_data_dir

#: ``../shared/data`` beside the repository
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR10_FOLDER = "cifar-10-batches-py"


def shared_root() -> Path:
    """The shared copy: ``$LOTTERY_SHARED_DATA``, else ``../shared/data``."""
    return Path(os.environ.get("LOTTERY_SHARED_DATA") or SHARED).expanduser()


def mnist_dir() -> Path:
    """The folder holding the four gzipped MNIST IDX files: ``mnist/`` of the data folder if
    it has them, else of the shared copy."""
    roots = [default_data_dir(), shared_root()]
    for root in roots:
        if all((root / "mnist" / name).is_file() for name in MNIST_FILES):
            return root / "mnist"
    raise DataError(f"MNIST not found in {' or '.join(str(r / 'mnist') for r in roots)}: run "
                    f"`lottery data fetch mnist` or set LOTTERY_DATA")


def _has_cifar10(root: Path) -> bool:
    return all((root / CIFAR10_FOLDER / name).is_file() for name in CIFAR10_FILES)


def cifar10_dir() -> Path:
    """A folder holding ``cifar-10-batches-py/``: the data folder, else the shared copy; if
    neither has it, it is written into the data folder once from the shared
    ``cifar10_jpeg.npz`` by ``make_cifar10.py`` (about 15 s), into a temporary folder first
    and then renamed, so an interrupted write leaves nothing half-done."""
    root, shared = default_data_dir(), shared_root()
    for candidate in (root, shared):
        if _has_cifar10(candidate):
            return candidate
    script = shared / "make_cifar10.py"
    if not script.is_file():
        raise DataError(f"CIFAR-10 not found in {root} and no {script} to write it from: run "
                        f"`lottery data fetch cifar10` or set LOTTERY_DATA")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".cifar10-") as tmp:
        subprocess.run([sys.executable, str(script), tmp], check=True, capture_output=True,
                       timeout=900)
        target = root / CIFAR10_FOLDER
        if target.exists():                 # an incomplete leftover (a complete one returned)
            shutil.rmtree(target)
        Path(tmp, CIFAR10_FOLDER).rename(target)
    return root
