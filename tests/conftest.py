"""Shared fixtures: float64 JAX, the real data sets beside the project, temporary folders."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _share_compiled_programs() -> None:
    """One JAX persistent compilation cache for the whole test run.

    Much of the suite's time is XLA compiling the same programs again: in each pytest-xdist
    worker, in every ``lottery`` subprocess a test starts, and through new closures over the
    same computation in one process. Set here, before jax is imported and before xdist starts its
    workers, the variables reach every worker and subprocess, which then load an identical
    program instead of compiling it: the same machine code, so the same numbers. Programs that
    compile in under 0.3 s are not stored (writing them cost more than it saved: measured in
    docs/engine.md#tests). A size limit turns on JAX's file lock (``jax._src.lru_cache``), so a
    worker never reads an entry another is still writing. The folder is removed when the run
    ends; a caller's own ``JAX_COMPILATION_CACHE_DIR`` is left alone, and
    ``LOTTERY_TEST_JAX_CACHE=0`` turns it off."""
    if ("JAX_COMPILATION_CACHE_DIR" in os.environ or os.environ.get("LOTTERY_TEST_JAX_CACHE") == "0"
            or importlib.util.find_spec("filelock") is None):     # JAX's lock needs filelock
        return
    folder = tempfile.mkdtemp(prefix="lottery-test-jax-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": folder,
                       "JAX_COMPILATION_CACHE_MAX_SIZE": str(4 << 30),
                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.3",
                       "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"})


_share_compiled_programs()

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
