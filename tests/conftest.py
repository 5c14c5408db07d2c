"""Shared fixtures: float64 JAX, the real data sets beside the project, temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LOTTERY_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real MNIST / CIFAR-10 files kept beside the project (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the real data sets are expected in {SHARED_DATA} (see README)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cifar10_dir(shared_data, tmp_path_factory):
    """The official CIFAR-10 pickle layout written by ../shared/data/make_cifar10.py."""
    out = tmp_path_factory.mktemp("cifar10")
    subprocess.run([sys.executable, str(shared_data / "make_cifar10.py"), str(out)], check=True,
                   capture_output=True, timeout=300)
    return out
