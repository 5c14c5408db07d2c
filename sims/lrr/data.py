"""The CIFAR-10 folder the ``lrr.*`` claims train on (real images, docs/data.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lottery_core.data import CIFAR10_FILES, DataError
from lottery_core.data_fetch import default_data_dir

#: ``../shared/data`` beside the repository: the CIFAR-10 JPEG archive and its writer
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _complete(root: Path) -> bool:
    return all((root / "cifar-10-batches-py" / name).is_file() for name in CIFAR10_FILES)


def cifar10_dir() -> Path:
    """The data folder holding ``cifar-10-batches-py/``: ``$LOTTERY_DATA``, else the cache that
    ``lottery data fetch`` fills (``lottery_core.data_fetch.default_data_dir``). If CIFAR-10 is
    not there, it is written there once from ``../shared/data/cifar10_jpeg.npz`` by
    ``make_cifar10.py`` (about 15 s), into a temporary folder first and then renamed, so an
    interrupted write leaves nothing half-done."""
    root = default_data_dir()
    if _complete(root):
        return root
    script = SHARED / "make_cifar10.py"
    if not script.is_file():
        raise DataError(f"CIFAR-10 not found in {root} and no {script} to write it from: run "
                        f"`lottery data fetch cifar10` or set LOTTERY_DATA")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".cifar10-") as tmp:
        subprocess.run([sys.executable, str(script), tmp], check=True, capture_output=True,
                       timeout=900)
        target = root / "cifar-10-batches-py"
        if target.exists() and not _complete(root):      # a leftover of a manual copy
            shutil.rmtree(target)
        if not target.exists():
            Path(tmp, "cifar-10-batches-py").rename(target)
    return root
