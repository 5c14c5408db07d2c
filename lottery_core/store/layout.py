"""Every path of the run folders: folder functions and file names, decided here only.

In the spirit of OpenLTH's ``foundations/paths.py``: code that reads or writes a run file
names it through this module (``level_directory(run_dir, s, k) / layout.MASK``), so the
layout below is the whole story (documented in docs/engine.md, "Run directory layout")::

    OUT/
      accuracy_vs_density.png          ACCURACY_VS_DENSITY (lottery plot)
      oneshot_accuracy_vs_sparsity.png ONESHOT_FIGURE
      <method>-<hash>/                 run_directory(OUT, method, hash)
        config.json                    CONFIG: {"method", "hash", "identity", "provenance", ...}
        run.lock                       LOCK: held by the one process writing the run
        summary.json                   SUMMARY (one-shot runs)
        seed_<s>/                      seed_directory(run_dir, s)
          manifest.json                MANIFEST of the seed folder's files (sealed with level 0)
          init.npz                     INIT: θ_0 (params/..., model_state/...)
          rewind.npz  rewind_opt.npz   REWIND, REWIND_OPT: WR's θ_k (and optimizer state)
          warmup.npz  warmup_opt.npz   WARMUP, WARMUP_OPT: state after the dense warmup
          warmup.json                  WARMUP_RECORD
          level_<k>/                   level_directory(run_dir, s, k)
            mask.npz  params.npz       MASK, PARAMS
            model_state.npz            MODEL_STATE (models with state: BatchNorm)
            opt_state.npz              OPT_STATE (optimizer_state="carry")
            round_init.npz             ROUND_INIT (Zhou et al.'s generalized loop)
            checkpoint.npz             CHECKPOINT (while the level is in progress)
            metrics.json               METRICS: the level is finished
            manifest.json              MANIFEST, written after metrics.json: size and sha256
                                       of every file of the folder (store/integrity.py)
          (one-shot runs keep their seed's files in seed_<s>/ itself:)
          checkpoint.npz params.npz model_state.npz reparam.npz (REPARAM)
          trainable.npz (TRAINABLE: cs, str, powerprop, l1)
          training.json (TRAINING)  mask_<sparsity>.npz (sparsity_mask)  metrics.json
          manifest.json (sealed after every metrics.json)
      <experiment>-<hash>/             named experiments (lottery experiment NAME)
        experiment.json                EXPERIMENT: {"experiment", "hash", "identity", ...}
        run.lock                       LOCK
        results.json                   RESULTS (with "provenance")
        manifest.json                  MANIFEST of results.json
        runs/                          RUNS: level runs of the experiment
        seed_<s>.json                  seed_record(s) (zhou-learned-mask)
        seed_<s>.checkpoint.npz        seed_checkpoint(s)
        seed_<s>.lock                  seed_lock(s): held by the process training seed s
      sweep-<name>/                    sweep_directory(OUT, name): lottery sweep NAME.toml
        run.lock                       LOCK: held by the one sweep process running it
        state.json                     SWEEP_STATE: each run's last outcome (done, failed)
        logs/<run>.seed_<s>.log        sweep_log(sweep_dir, run folder name, s)

Figures drawn by one experiment only (``sign_flips.png``, ...) are named where they are drawn.
"""

from __future__ import annotations

from pathlib import Path

# ---------------------------------------------------------------------------- folders
SEED_PREFIX = "seed_"
LEVEL_PREFIX = "level_"


def run_directory(out: Path, name: str, digest: str) -> Path:
    """``OUT/<name>-<hash>``: ``name`` is the method (or the experiment's name)."""
    return Path(out) / f"{name}-{digest}"


def seed_directory(run_dir: Path, seed: int) -> Path:
    return Path(run_dir) / f"{SEED_PREFIX}{seed}"


def level_directory(run_dir: Path, seed: int, level: int) -> Path:
    return seed_directory(run_dir, seed) / f"{LEVEL_PREFIX}{level}"


def seed_of(seed_dir: Path) -> int:
    """``s`` of a ``seed_<s>`` folder."""
    return int(Path(seed_dir).name[len(SEED_PREFIX):])


def number_of(name: str, prefix: str) -> int | None:
    """``n`` of a folder name ``<prefix><n>`` (``seed_3``, ``level_2``), else ``None``."""
    digits = name[len(prefix):]
    return int(digits) if name.startswith(prefix) and digits.isdigit() else None


def level_directories(seed_dir: Path) -> dict[int, Path]:
    """``{k: level_<k>/}`` of the level folders present in ``seed_dir``."""
    found = {}
    for path in Path(seed_dir).glob(f"{LEVEL_PREFIX}*"):
        level = number_of(path.name, LEVEL_PREFIX)
        if level is not None and path.is_dir():
            found[level] = path
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------- run files
CONFIG = "config.json"
SUMMARY = "summary.json"
#: the writer's lock of a run or experiment folder (store/lock.py)
LOCK = "run.lock"
ACCURACY_VS_DENSITY = "accuracy_vs_density.png"
ONESHOT_FIGURE = "oneshot_accuracy_vs_sparsity.png"

# seed folder
INIT = "init.npz"
REWIND = "rewind.npz"
REWIND_OPT = "rewind_opt.npz"
WARMUP = "warmup.npz"
WARMUP_OPT = "warmup_opt.npz"
WARMUP_RECORD = "warmup.json"

# level folder (and a one-shot seed folder)
MASK = "mask.npz"
PARAMS = "params.npz"
MODEL_STATE = "model_state.npz"
OPT_STATE = "opt_state.npz"
ROUND_INIT = "round_init.npz"
CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"
#: size and sha256 of the files of a finished folder (level, seed, experiment results)
MANIFEST = "manifest.json"

# one-shot seed folder
REPARAM = "reparam.npz"
TRAINABLE = "trainable.npz"
TRAINING = "training.json"


def sparsity_mask(key: str) -> str:
    """``mask_<key>.npz``: the one-shot mask at sparsity ``key`` (``oneshot.sparsity_key``)."""
    return f"mask_{key}.npz"


# ---------------------------------------------------------------------------- experiments
EXPERIMENT = "experiment.json"
RESULTS = "results.json"
RUNS = "runs"
ACCURACY_VS_REMAINING = "accuracy_vs_remaining.png"


def seed_record(seed: int) -> str:
    """``seed_<s>.json``: a per-seed record beside ``experiment.json``."""
    return f"{SEED_PREFIX}{seed}.json"


def seed_checkpoint(seed: int) -> str:
    """``seed_<s>.checkpoint.npz``: the training state beside :func:`seed_record`."""
    return f"{SEED_PREFIX}{seed}.{CHECKPOINT}"


def seed_lock(seed: int) -> str:
    """``seed_<s>.lock``: the lock of :func:`seed_record` and :func:`seed_checkpoint`, so that
    processes training other seeds of one experiment (``--only-seed``) run beside it."""
    return f"{SEED_PREFIX}{seed}.lock"


# ---------------------------------------------------------------------------- sweeps
SWEEP_STATE = "state.json"


def sweep_directory(out: Path, name: str) -> Path:
    """``OUT/sweep-<name>``: the state and logs of ``lottery sweep <name>.toml``."""
    return Path(out) / f"sweep-{name}"


def sweep_log(sweep_dir: Path, run_name: str, seed: int) -> Path:
    """``logs/<method>-<hash>.seed_<s>.log``: the output of one run of a sweep."""
    return Path(sweep_dir) / "logs" / f"{run_name}.{SEED_PREFIX}{seed}.log"


# ---------------------------------------------------------------------------- globs
#: the record of every run under OUT
RUN_CONFIGS = f"*/{CONFIG}"
#: the finished levels of a level run
LEVEL_METRICS = f"{SEED_PREFIX}*/{LEVEL_PREFIX}*/{METRICS}"
#: the finished seeds of a one-shot run
SEED_METRICS = f"{SEED_PREFIX}*/{METRICS}"
