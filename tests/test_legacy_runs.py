"""Run folders written by the pre-rebuild engine (commit 287f355) resume and extend unchanged.

``tests/fixtures/legacy_runs/`` was written by that commit's ``lottery run`` (tiny MLP on the
synthetic set): an ``lrr`` run (optimizer state carried) with levels 0-1 finished and level 2
interrupted after two of its four evaluation chunks (``checkpoint.npz`` in the old leaf
format), a ``wr`` run with levels 0-1 and its rewind point, a ``pilot`` run interrupted
after epoch 2 of 3, and a ``oneshot`` run finished at sparsity 0.5 only.
``tests/fixtures/legacy_reference.json`` holds the same runs done uninterrupted by that
commit to the sizes asked for here: masks and parameters (sha256 per array) and metrics.
Continuing the old folders with today's code must give exactly those numbers, train nothing
that was finished, and keep the run folder names (the run hashes).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

import lottery_cli.main as cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"

COMMON = ["--model", "mlp", "--model-options", '{"widths": [8]}', "--dataset", "synthetic",
          "--batch-size", "20", "--seeds", "1", "--optimizer", "sgd", "--momentum", "0.9",
          "--learning-rate", "0.05", "--seed-parallel", "sequential", "--no-progress",
          "--no-plot"]
LEVEL = COMMON + ["--iterations", "40", "--eval-every", "10", "--optimizer-state", "carry"]
ONESHOT = COMMON + ["--epochs", "3"]
#: the commands that continue the old runs (the reference made them uninterrupted)
COMMANDS = [["lrr"] + LEVEL + ["--levels", "3"],
            ["wr", "--rewind-step", "10"] + LEVEL + ["--levels", "2"],
            ["pilot"] + ONESHOT + ["--sparsities", "0.5,0.8"],
            ["oneshot"] + ONESHOT + ["--sparsities", "0.5,0.8"]]
METRICS = ("test_accuracy", "val_accuracy", "test_loss", "val_loss", "kept_weights",
           "alpha_final", "kernel_l1")


def digest(root: Path) -> dict:
    """Masks and parameters (sha256 per array) and the metrics the reference recorded."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.suffix == ".npz" and path.name.startswith(("params", "mask")):
            with np.load(path, allow_pickle=False) as arrays:
                out[rel] = {k: hashlib.sha256(np.ascontiguousarray(arrays[k]).tobytes())
                            .hexdigest() for k in sorted(arrays.files)}
        elif path.name in ("metrics.json", "training.json"):
            record = json.loads(path.read_text())
            kept = {k: record[k] for k in METRICS if k in record}
            if "sparsities" in record:
                kept["sparsities"] = {
                    s: {k: v[k] for k in ("test_accuracy", "val_loss", "kept_weights")}
                    for s, v in record["sparsities"].items()}
            out[rel] = kept
    return out


def test_old_run_folders_resume_and_extend_to_the_old_numbers(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "legacy_runs", runs)
    finished = {p: p.read_bytes() for p in runs.rglob("level_*/*")
                if p.name in ("metrics.json", "params.npz", "mask.npz")}
    for command in COMMANDS:
        assert cli.main(["run", *command, "--out", str(runs)]) == 0
    # finished levels are not redone, and no new run folder appears (same hashes)
    for path, data in finished.items():
        assert path.read_bytes() == data, f"{path} was rewritten"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        p.name for p in (FIXTURES / "legacy_runs").iterdir())
    expected = json.loads((FIXTURES / "legacy_reference.json").read_text())
    got = digest(runs)
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
    assert not list(runs.rglob("checkpoint.npz"))      # interrupted work was finished
