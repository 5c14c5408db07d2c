"""The public API (``import lottery_core as lc``): every documented name resolves, importing
the package costs no jax, and the quick-start example runs."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import lottery_core as lc

REPO = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_and_is_documented():
    doc = (REPO / "docs" / "api.md").read_text()
    for name in lc.__all__:
        assert getattr(lc, name) is not None
        assert f"`{name}" in doc, f"{name} is not in docs/api.md"


def test_importing_the_package_does_not_import_jax():
    code = "import sys, lottery_core, lottery_core.config; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert out == "False"


def test_quickstart_example_runs(tmp_path):
    example = runpy.run_path(str(REPO / "examples" / "quickstart.py"))
    densities = example["main"](tmp_path)
    assert set(densities) == {"imp", "lrr"}
