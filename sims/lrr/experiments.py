"""Run one of the LRR paper's ``lottery experiment``s (``lottery_core/experiments/lrr_*.py``)
for a claim, into the claim's run store, and return its ``results.json``.

The experiment is called exactly as ``lottery experiment NAME`` would call it (its own parser,
its ``run(args)``, the store's lock scope), with ``--out`` the run store of ``lottery verify``
(``--runs DIR``, ``ClaimContext.runs``): its level runs land in ``DIR/runs/`` (or
``DIR/runs-test<N>/``) named by method and config hash, so experiments share runs and a
finished run is read, not trained again; the same command line from ``lottery experiment
... --out DIR`` finds them too.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from pathlib import Path

from lottery_core.experiments import (lrr_mask_swap, lrr_random_masks, lrr_sign_perturbation,
                                      lrr_signs, lrr_vs_imp)
from lottery_core.experiments import _lrr_common as common
from lottery_core.store import layout, lock, read_json
from sims import shared_data
from sims.lrr import settings
from sims.registry import ClaimContext

MODULES = {m.NAME: m for m in (lrr_vs_imp, lrr_signs, lrr_mask_swap, lrr_random_masks,
                               lrr_sign_perturbation)}


def arguments(ctx: ClaimContext, name: str, extra: list[str] | None = None) -> argparse.Namespace:
    """The parsed options of experiment ``name`` at ``ctx``'s preset (``extra`` appended)."""
    parser = argparse.ArgumentParser(prog=f"lottery experiment {name}")
    MODULES[name].add_arguments(parser)
    args = parser.parse_args([*settings.argv(ctx), *(extra or []), "--data-dir",
                              str(shared_data.cifar10_dir()), "--out", str(ctx.runs()),
                              "--no-progress"])
    args.wait = True          # a run another process is writing: wait for it, then read it
    return args


def run(ctx: ClaimContext, name: str,
        extra: list[str] | None = None) -> tuple[dict, Path, Path]:
    """Train (or find finished) experiment ``name``; return its results, the folder of its
    level runs and its own folder (figures). Its progress lines go to stderr (stdout carries the verify table)."""
    args = arguments(ctx, name, extra)
    with contextlib.redirect_stdout(sys.stderr), lock.scope():
        code = MODULES[name].run(args)
    if code:
        raise RuntimeError(f"lottery experiment {name} exited with {code}")
    results = read_json(args.experiment_dir / layout.RESULTS)
    return results, common.runs_directory(args), args.experiment_dir


def copy_figure(ctx: ClaimContext, experiment_dir: Path, figure: str, name: str) -> str:
    """Copy the experiment's ``figure`` into the claim's figure folder as ``name``."""
    shutil.copyfile(experiment_dir / figure, ctx.figure_path(name))
    return name
