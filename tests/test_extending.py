"""Extending is one file: a method defined outside the package reaches ``lottery run``.

The test writes a tiny distribution into a temporary folder (a module and its
``*.dist-info`` with an entry point in the ``lottery.methods`` group, as ``pip install``
would leave it) and runs ``lottery run <its method>`` in a fresh process with that folder on
``PYTHONPATH``: the method is found, trains through the same level loop, and its mask
criterion (Zhou et al.'s magnitude increase |w_f| − |w_i|, with weights rewound to θ_0) is
the one applied. docs/extending.md shows the same module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

PLUGIN = '''
"""A level method outside lottery_core: prune by magnitude increase, rewind to θ_0."""
import jax
import numpy as np

import lottery_core as lc


def next_mask(ctx):
    scores = jax.tree_util.tree_map(lambda f, i: np.abs(f) - np.abs(i),
                                    ctx.previous_params, ctx.init_params)
    return lc.prune(scores, ctx.previous_mask, ctx.fractions)


def start(ctx):
    return lc.LevelStart(ctx.init_params, ctx.init_state, 0, ctx.total_steps)


METHOD = lc.Method("magnitude-increase", start, next_mask=next_mask,
                   description="prune the smallest |w_f| - |w_0|, rewind to θ_0")
'''


def test_a_method_from_another_distribution_runs_through_lottery_run(tmp_path):
    site = tmp_path / "site"
    (site / "my_lottery_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "my_lottery_plugin.py").write_text(PLUGIN)
    (site / "my_lottery_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: my-lottery-plugin\nVersion: 0.1\n")
    (site / "my_lottery_plugin-0.1.dist-info" / "entry_points.txt").write_text(textwrap.dedent(
        """\
        [lottery.methods]
        magnitude-increase = my_lottery_plugin:METHOD
        """))
    out = tmp_path / "runs"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-m", "lottery_cli", "run", "magnitude-increase", "--model", "mlp",
         "--model-options", '{"widths": [32]}', "--dataset", "synthetic", "--iterations", "30",
         "--batch-size", "20", "--levels", "1", "--seeds", "1", "--no-progress", "--no-plot",
         "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (run_dir,) = out.glob("magnitude-increase-*")
    level0, level1 = run_dir / "seed_0" / "level_0", run_dir / "seed_0" / "level_1"
    assert json.loads((level1 / "metrics.json").read_text())["method"] == "magnitude-increase"
    with np.load(level0 / "params.npz", allow_pickle=False) as trained, \
            np.load(run_dir / "seed_0" / "init.npz", allow_pickle=False) as init, \
            np.load(level1 / "mask.npz", allow_pickle=False) as mask:
        score = np.abs(trained["dense_0/kernel"]) - np.abs(init["params/dense_0/kernel"])
        kept = mask["dense_0/kernel"]
    assert kept.sum() == kept.size - round(0.2 * kept.size)
    assert score[kept].min() >= score[~kept].max()


def test_an_unknown_method_lists_the_registered_ones():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "lottery_cli", "run", "magic"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "unknown method 'magic'; available: imp, wr, lrr" in result.stderr
    assert "Traceback" not in result.stderr
