"""The experiment runs behind the Zhou et al. claims, one set per (run, preset, seed).

Each run is a named experiment of ``lottery_core.experiments`` called with the arguments of
``lottery experiment NAME ...`` (the ``ARGS`` rows below), into the claim context's run store
(``lottery verify --runs DIR``): the experiment's folder is named by the hash of its
identity, so a run already there (made by ``verify`` or by the same ``lottery experiment``
command with ``--out DIR``) is read back, not retrained. Several claims share one run (claims
5-7 read the criteria grid); a module-level cache keyed by (run, preset, seed) computes it once
per process. ``first_seed`` is the claim's seed: seeds ``seed .. seed + n - 1``.
"""

from __future__ import annotations

from pathlib import Path

from lottery_core.experiments.zhou_criteria import FIG3_CRITERIA
from sims import shared_data

_QUICK_MNIST = ["--train-subset", "600"]
_ALL_MASK1 = "rewind,reinit,signed_reinit,reshuffle,signed_reshuffle,constant,signed_constant"
_ALL_MASK0 = "zero,freeze_init,freeze_init_zero_mask,freeze_init_zero_all"
_DOCS_CRITERIA = ("large_final,magnitude_increase,movement,large_init_large_final,random,"
                  "small_final,small_init_small_final")
# quick: one evaluation per round (the 15,000 validation + test images cost more than the
# 20 training steps); claims 8 and 9 need a seed std, so two seeds; the grid one
_QUICK_LEVEL_LOOP = [*_QUICK_MNIST, "--iterations", "20", "--eval-every", "20"]
_FULL_LEVEL_LOOP = ["--seeds", "3", "--iterations", "2000", "--eval-every", "200"]
_PAPER_LEVEL_LOOP = ["--seeds", "5", "--levels", "24", "--eval-every", "100"]
_CIFAR_FULL_ITERATIONS = {"conv2": 1500, "conv4": 600, "conv6": 400}
_CIFAR_CRITERIA = "large_final,large_final_same_sign"

#: (experiment, {preset: argv}) per run; argv after ``lottery experiment NAME``
ARGS = {
    "criteria": ("zhou-criteria", {
        "quick": [*_QUICK_LEVEL_LOOP, "--seeds", "1", "--levels", "20", "--criteria",
                  "large_final,random,small_final"],
        "full": [*_FULL_LEVEL_LOOP, "--levels", "20", "--criteria", _DOCS_CRITERIA],
        "paper": [*_PAPER_LEVEL_LOOP, "--criteria", ",".join(FIG3_CRITERIA)]}),
    "mask1": ("zhou-criteria", {
        "quick": [*_QUICK_LEVEL_LOOP, "--seeds", "2", "--levels", "12", "--criteria",
                  "large_final", "--mask1", "rewind,reinit,signed_reinit"],
        "full": [*_FULL_LEVEL_LOOP, "--levels", "12", "--criteria", "large_final",
                 "--mask1", _ALL_MASK1],
        "paper": [*_PAPER_LEVEL_LOOP, "--criteria", "large_final", "--mask1", _ALL_MASK1]}),
    "mask0": ("zhou-criteria", {
        "quick": [*_QUICK_LEVEL_LOOP, "--seeds", "2", "--levels", "12", "--criteria",
                  "large_final", "--mask0", "zero,freeze_init"],
        "full": [*_FULL_LEVEL_LOOP, "--levels", "12", "--criteria", "large_final",
                 "--mask0", _ALL_MASK0],
        "paper": [*_PAPER_LEVEL_LOOP, "--criteria", "large_final", "--mask0", _ALL_MASK0]}),
    "supermask_fc": ("zhou-supermask", {
        "quick": [*_QUICK_MNIST, "--seeds", "1", "--iterations", "300", "--eval-every",
                  "300", "--criteria", "large_final,large_final_same_sign", "--powers",
                  "0,4,8"],
        "full": ["--seeds", "3"],
        "paper": ["--seeds", "5", "--eval-every", "100"]}),
    "learned_plain": ("zhou-learned-mask", {
        "quick": [*_QUICK_MNIST, "--seeds", "1", "--epochs", "2", "--eval-every", "2",
                  "--batch-size", "50", "--eval-samples", "2"],
        "full": ["--seeds", "3", "--epochs", "2000", "--eval-every", "25"],
        "paper": ["--seeds", "5", "--epochs", "2000", "--eval-every", "25"]}),
    "learned_signed_dwr": ("zhou-learned-mask", {
        "quick": [*_QUICK_MNIST, "--seeds", "1", "--epochs", "2", "--eval-every", "2",
                  "--batch-size", "50", "--eval-samples", "2", "--signed-constant",
                  "--rescale"],
        "full": ["--seeds", "3", "--epochs", "200", "--eval-every", "10", "--signed-constant",
                 "--rescale"],
        "paper": ["--seeds", "5", "--epochs", "2000", "--eval-every", "25",
                  "--signed-constant", "--rescale"]}),
}
for _net, _iterations in _CIFAR_FULL_ITERATIONS.items():
    ARGS[f"supermask_{_net}"] = ("zhou-supermask", {
        "full": ["--model", _net, "--dataset", "cifar10", "--seeds", "1", "--iterations",
                 str(_iterations), "--eval-every", str(_iterations), "--criteria",
                 _CIFAR_CRITERIA, "--powers", "0,2,4,6,8,12,16,20", "--test-subset", "2000"],
        "paper": ["--model", _net, "--dataset", "cifar10", "--seeds", "5", "--criteria",
                  _CIFAR_CRITERIA]})

_CACHE: dict[tuple, Path] = {}


def argv(run: str, preset: str, seed: int, runs_dir: Path) -> list[str]:
    """The full argument list of ``run`` at ``preset`` (data folder and output included)."""
    name, presets = ARGS[run]
    if preset not in presets:
        raise KeyError(f"run {run!r} has no {preset!r} preset")
    dataset = "cifar10" if "cifar10" in presets[preset] else "mnist"
    data = shared_data.cifar10_dir() if dataset == "cifar10" else shared_data.mnist_dir()
    extra = ["--no-progress"] if name != "zhou-learned-mask" else []
    return [*presets[preset], "--data-dir", str(data), "--first-seed", str(seed),
            "--out", str(runs_dir), *extra]


def folder(run: str, preset: str, seed: int, runs_dir: Path) -> Path:
    """The experiment folder of ``run`` (trained on first use, then read back)."""
    from lottery_core import experiments
    from lottery_core.store import lock

    key = (run, preset, seed, str(runs_dir))
    if key not in _CACHE:
        name = ARGS[run][0]
        args = experiments.namespace(name, argv(run, preset, seed, runs_dir))
        with lock.scope():
            _CACHE[key] = experiments.available()[name].execute(args)
    return _CACHE[key]


def results(run: str, preset: str, seed: int, runs_dir: Path) -> dict:
    """``results.json`` of ``run``."""
    from lottery_core.store import layout, read_json

    return read_json(folder(run, preset, seed, runs_dir) / layout.RESULTS)


def budget_line(run: str, preset: str) -> str:
    """``lottery experiment NAME ARGS`` of ``run`` at ``preset`` (for budgets and docs)."""
    name, presets = ARGS[run]
    return f"lottery experiment {name} {' '.join(presets[preset])}"
