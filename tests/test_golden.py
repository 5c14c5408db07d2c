"""Golden outputs: every method and experiment of ``lottery`` at CI size, compared bit for bit.

Each case runs one or more ``lottery`` command lines (through :func:`run_cli` only) into a
fresh folder, reads what they wrote (through :func:`read_outputs` only) and compares it with
``tests/golden/<case>.json``:

* the run / experiment folder names (``imp-<hash>``, ...): run identities must stay stable so
  that old runs keep resuming;
* every ``.npz`` of masks, params, model state, reparameterization and init / rewind / warmup
  / round-init values (optimizer states and checkpoints are skipped): per array
  ``[dtype, shape, SHA-256 of the raw bytes, float64 sum, float64 L2 norm]``; the sum and
  the norm only say how large a difference is;
* every number, bool, string and null of every ``.json`` (metrics, summary, results, training,
  warmup, config, experiment, ...), floats exactly, except wall-clock timings (keys
  containing "seconds", "time" or "wall": they differ from run to run), absolute paths
  (none are written today), bookkeeping that is not a result: ``manifest.json`` files
  (sizes and SHA-256 of the files beside them, which are compared themselves) and the
  ``"provenance"`` key (version, commit, command line, library versions, devices: they
  differ between checkouts and machines, not between correct and wrong numbers), and config
  fields added after recording while they hold their defaults (:data:`ADDED_CONFIG_DEFAULTS`).

Nothing is tolerated: a refactoring (the "one engine" rebuild) must reproduce these numbers.
A failure names the case, the file and the key, with the float or sum / L2 difference.

Recording (only when asked)::

    LOTTERY_RECORD_GOLDEN=1 python -m pytest tests/test_golden.py

RULE: re-recording changes what "the same numbers" means. A commit that re-records golden
files must say in its message which cases changed and why (a deliberate change of behaviour,
a new case, ...); a refactoring that only moves code must never need it.

When the code moves: update :func:`run_cli` (where the CLI lives) and :func:`read_outputs`
(the folder layout: it must map a new layout onto the recorded keys), nothing else.

How the cases run: in one worker process for the module (:class:`Worker`), pinned to a
single CPU core with ``JAX_PLATFORMS=cpu`` and no inherited ``JAX_*`` / ``XLA_*`` settings.
XLA:CPU splits convolutions and large reductions over as many threads as the process has
cores, so with more cores the conv / BatchNorm case and the learned-mask case differ in the
last bits; on one core the numbers do not depend on the machine's core count. They may still
depend on the CPU's instruction set (recorded on x86-64 with AVX-512) and certainly do on the
backend: on a GPU, or with seeds trained together (vmap), the floats differ. And they depend on
the jax / jaxlib release: ``golden/versions.txt`` names the one they were recorded under, and
:func:`test_golden_files_match_this_jax` fails under any other (the test extra pins it; under
jax 0.11.2 four cases differ, docs/engine.md "JAX versions"). The worker
keeps JAX's persistent compilation cache in a temporary folder, so that the many runs of
the same small programs compile once (recording, or ``LOTTERY_GOLDEN_NO_CACHE=1``, compiles
every program afresh; both give the recorded bits).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
#: ``name version`` lines: the jax and jaxlib the golden files were recorded under
VERSIONS_FILE = GOLDEN_DIR / "versions.txt"
RECORD = os.environ.get("LOTTERY_RECORD_GOLDEN", "") not in ("", "0")


def jax_versions() -> dict[str, str]:
    """The running jax and jaxlib (the worker runs the same interpreter)."""
    import jax
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


def recorded_versions() -> dict[str, str]:
    lines = VERSIONS_FILE.read_text().splitlines()
    return dict(line.split() for line in lines if line.strip() and not line.startswith("#"))


def _version_note() -> str:
    """Empty under the recorded jax / jaxlib, else a sentence saying they differ."""
    recorded, running = recorded_versions(), jax_versions()
    if recorded == running:
        return ""
    return (f" (recorded under {_pairs(recorded)}, running {_pairs(running)}: bit-identity is "
            f"expected only under the recorded versions)")


def _pairs(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))


# ----------------------------------------------------------------------------- the CLI
def run_cli(argv: list[str]) -> int:
    """The one place that knows where the ``lottery`` command line lives."""
    from lottery_cli import main

    return main.main(argv)


# ----------------------------------------------------------------------------- the layout
#: ``.npz`` files that hold optimizer states or resumable checkpoints: not recorded
SKIPPED_NPZ = re.compile(r"(^|_)opt(_state)?\.npz$|checkpoint\.npz$")
#: a run or experiment folder: ``<name>-<12 hex digits>``
RUN_FOLDER = re.compile(r".+-[0-9a-f]{12}$")
#: JSON keys of wall-clock timings (they differ run to run)
TIMING_KEY_PARTS = ("seconds", "time", "wall")
#: bookkeeping written beside the results, not results (recorded before it existed): the
#: manifests of finished folders hold sizes and SHA-256 of files compared here anyway, and
#: "provenance" (version, git commit, command line with its temporary --out, libraries,
#: devices) changes with the checkout and the machine, never with the numbers
BOOKKEEPING_FILES = ("manifest.json",)
BOOKKEEPING_KEYS = ("provenance",)
ABSENT = object()


def _added_config_defaults() -> dict:
    """Config fields added after the golden files were recorded, with their defaults: the
    pruning-at-initialization options (the ``pai`` concern, docs/pai.md, 2026-12). Every
    config record (``config.json``'s "resolved", the experiments' "config") lists them, and
    no recorded case uses them, so they are left out of the comparison while they hold their
    defaults; a case that set one would still be compared."""
    from lottery_core.config import ExperimentConfig, names_in

    added = set(names_in(ExperimentConfig, "pai"))
    return {f.name: f.default for f in dataclasses.fields(ExperimentConfig) if f.name in added}


ADDED_CONFIG_DEFAULTS = _added_config_defaults()


def read_outputs(out: Path) -> dict:
    """Everything recorded of the folder ``out``: ``{"runs": [run folders], "files":
    {relative path: summary}}``. The one place that knows the output layout."""
    out = Path(out)
    runs = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.is_dir() and RUN_FOLDER.match(p.name))
    files = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(out))
        if path.suffix == ".npz" and not SKIPPED_NPZ.search(path.name):
            files[rel] = summarize_npz(path)
        elif path.suffix == ".json" and path.name not in BOOKKEEPING_FILES:
            files[rel] = scrub(json.loads(path.read_text()), str(out))
    return {"runs": runs, "files": files}


def summarize_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in sorted(data.files)}
    return {key: array_summary(a) for key, a in arrays.items()}


def array_summary(a: np.ndarray) -> list:
    """``[dtype, shape, SHA-256 of the raw bytes, float64 sum, float64 L2 norm]``."""
    a = np.ascontiguousarray(a)
    wide = a.astype(np.float64)
    return [str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest(),
            float(wide.sum()), float(np.sqrt(np.sum(wide * wide)))]


def scrub(value, out_root: str):
    """JSON values without timings, bookkeeping keys, absolute paths (dropped from dicts,
    ``"<path>"`` in lists) and config fields added after recording at their defaults."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if any(part in key.lower() for part in TIMING_KEY_PARTS) or key in BOOKKEEPING_KEYS:
                continue
            if key in ADDED_CONFIG_DEFAULTS and item == ADDED_CONFIG_DEFAULTS[key]:
                continue
            item = scrub(item, out_root)
            if item is not ABSENT:
                kept[key] = item
        return kept
    if isinstance(value, list):
        return [("<path>" if item is ABSENT else item)
                for item in (scrub(v, out_root) for v in value)]
    if isinstance(value, str) and (value.startswith("/") or out_root in value):
        return ABSENT
    return value


# ----------------------------------------------------------------------------- comparison
def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def compare(expected, actual, where: str, problems: list[str]) -> None:
    """Append one line per difference of the recorded ``expected`` and ``actual`` values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                problems.append(f"{where}/{key}: missing (recorded {_short(expected[key])})")
        for key in actual:
            # a config field added after the recording, at its "off" default None: it enters
            # neither the run hash nor the training, only the listings of the whole config
            # (config.json's "resolved", an experiment's results.json "config"; e.g.
            # reparam_alpha of the m ⊙ w level methods); any other new key is a difference
            if key not in expected and not (actual[key] is None
                                            and where.endswith(("/resolved", "/config"))):
                problems.append(f"{where}/{key}: not recorded (now {_short(actual[key])})")
        for key in expected:
            if key in actual:
                compare(expected[key], actual[key], f"{where}/{key}", problems)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            problems.append(f"{where}: length {len(expected)} recorded, {len(actual)} now")
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, f"{where}[{i}]", problems)
        return
    if isinstance(expected, float) and isinstance(actual, float):
        if not _same_float(expected, actual):
            problems.append(f"{where}: recorded {expected!r}, now {actual!r} "
                            f"(|difference| {abs(expected - actual):.3g})")
        return
    if type(expected) is not type(actual) or expected != actual:
        problems.append(f"{where}: recorded {expected!r}, now {actual!r}")


def compare_arrays(expected: dict, actual: dict, where: str, problems: list[str]) -> None:
    for key in expected:
        if key not in actual:
            problems.append(f"{where}[{key}]: array missing")
    for key in actual:
        if key not in expected:
            problems.append(f"{where}[{key}]: array not recorded")
    for key in sorted(set(expected) & set(actual)):
        (e_dtype, e_shape, e_sha, e_sum, e_l2) = expected[key]
        (a_dtype, a_shape, a_sha, a_sum, a_l2) = actual[key]
        if (e_dtype, e_shape) != (a_dtype, a_shape):
            problems.append(f"{where}[{key}]: recorded {e_dtype}{e_shape}, now "
                            f"{a_dtype}{a_shape}")
        elif e_sha != a_sha:
            problems.append(f"{where}[{key}]: values differ: sum {e_sum!r} -> {a_sum!r} "
                            f"(difference {a_sum - e_sum:.3g}), L2 {e_l2!r} -> {a_l2!r} "
                            f"(difference {a_l2 - e_l2:.3g})")


def dump_golden(value) -> str:
    """Readable, compact JSON: containers of scalars on one line (an array's summary, a
    metrics history entry), everything else indented."""
    def scalar(v):
        return not isinstance(v, (dict, list))

    def flat(v):
        return scalar(v) or (isinstance(v, list) and all(scalar(x) for x in v))

    def dump(v, depth):
        pad, inner = " " * depth, " " * (depth + 1)
        if isinstance(v, list) and all(flat(x) for x in v):
            return json.dumps(v)
        if isinstance(v, dict) and all(flat(x) for x in v.values()):
            line = json.dumps(v, sort_keys=True)
            if len(line) + depth <= 100 or not v:
                return line
        if isinstance(v, dict):
            items = [f"{inner}{json.dumps(k)}: {dump(v[k], depth + 1)}" for k in sorted(v)]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list):
            items = [f"{inner}{dump(x, depth + 1)}" for x in v]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(v)

    return dump(value, 0) + "\n"


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ----------------------------------------------------------------------------- the cases
def options(base: list[str], **changes: str) -> list[str]:
    """``base`` with the values of some ``--name value`` options replaced
    (``train_subset="64"`` replaces ``--train-subset``'s value)."""
    args = list(base)
    for name, value in changes.items():
        flag = "--" + name.replace("_", "-")
        args[args.index(flag) + 1] = value
    return args


#: level-method runs: a tiny MLP on the synthetic set, SGD with a cosine schedule (so that
#: each method's schedule window shows), 2 seeds, 2 levels
MLP = ["--model", "mlp", "--model-options", '{"widths": [16, 16]}', "--dataset", "synthetic",
       "--train-subset", "200", "--iterations", "20", "--eval-every", "10", "--batch-size", "20",
       "--optimizer", "sgd", "--learning-rate", "0.05", "--momentum", "0.9", "--weight-decay",
       "1e-4", "--schedule", "cosine", "--levels", "2", "--seeds", "2",
       "--seed-parallel", "sequential", "--no-progress", "--no-plot"]
#: the LRR recipe on a BatchNorm network: ResNet-8 with the resnet_cifar defaults (SGD 0.1,
#: cosine to lr_min 0.01, weight decay, global pruning, carried optimizer state) and a dense
#: warmup epoch; synthetic 28x28x1 images, so without the CIFAR input pipeline (the LRR
#: experiments below run it on real CIFAR-10)
BN = ["--model", "resnet_cifar", "--model-options", '{"depth": 8}', "--dataset", "synthetic",
      "--train-subset", "32", "--validation-size", "16", "--epochs", "1", "--batch-size", "16",
      "--warmup-epochs", "1", "--optimizer-state", "carry", "--input-pipeline", "none",
      "--levels", "2", "--seeds", "1", "--seed-parallel", "sequential", "--no-progress",
      "--no-plot"]
#: one-shot runs (pilot, oneshot): the same MLP, 2 epochs, pruned at two sparsities
ONESHOT = ["--model", "mlp", "--model-options", '{"widths": [16, 16]}', "--dataset",
           "synthetic", "--train-subset", "200", "--epochs", "2", "--batch-size", "20",
           "--optimizer", "sgd", "--learning-rate", "0.02", "--momentum", "0.9", "--seeds", "2",
           "--sparsities", "0.5,0.9", "--seed-parallel", "sequential", "--no-progress",
           "--no-plot"]
#: the LRR paper's experiments: every recipe option of the CIFAR models (warmup, cosine to
#: lr_min, global pruning, carried optimizer state, CIFAR input pipeline) on an MLP and a
#: real CIFAR-10 subset, as tests/test_lrr_experiments.py but smaller
LRR = ["--model", "mlp", "--model-options", '{"widths": [16]}', "--data-dir", "{cifar10}",
       "--train-subset", "64", "--validation-size", "32", "--test-subset", "32", "--epochs", "1",
       "--warmup-epochs", "1", "--levels", "2", "--seeds", "1", "--batch-size", "32",
       "--optimizer", "sgd", "--schedule", "cosine", "--learning-rate", "0.01",
       "--final-learning-rate", "0.001", "--momentum", "0.9", "--weight-decay", "1e-4",
       "--allocation", "global", "--prune-fraction-output", "0.2", "--input-pipeline", "cifar",
       "--optimizer-state", "carry", "--no-progress"]
#: Zhou et al.'s experiments (their default network, LeNet-300-100)
ZHOU_SYNTHETIC = ["--dataset", "synthetic", "--train-subset", "300", "--no-progress"]
ZHOU_MNIST = ["--dataset", "mnist", "--data-dir", "{mnist}", "--train-subset", "600"]

#: today's mask criteria of the level loop (lottery_core.sparsity.LEVEL_CRITERIA), mask-1
#: and mask-0 actions (lottery_core.sparsity.mask_actions), as of recording
LEVEL_CRITERIA = ("large_final", "small_final", "large_init", "small_init",
                  "magnitude_increase", "movement", "random", "large_final_same_sign",
                  "large_final_diff_sign", "magnitude_increase_same_sign",
                  "magnitude_increase_diff_sign", "large_init_large_final",
                  "small_init_small_final", "same_sign_single", "diff_sign_single")
MASK1_ACTIONS = ("rewind", "reinit", "reshuffle", "constant", "signed_reinit",
                 "signed_reshuffle", "signed_constant")
MASK0_ACTIONS = ("zero", "freeze_init", "freeze_init_zero_mask", "freeze_init_zero_all",
                 "freeze_init_zero_reshuffle", "freeze_init_zero_rev")


def zhou_cases() -> list[tuple[str, list[list[str]]]]:
    """``run imp --criterion C --mask1 A --mask0 Z``, round-robin over the three lists so
    that every value is used at least once (15 runs); ``--rescale`` once; 2 seeds in the
    first run, 1 in the others."""
    n = max(len(LEVEL_CRITERIA), len(MASK1_ACTIONS), len(MASK0_ACTIONS))
    cases = []
    for i in range(n):
        criterion = LEVEL_CRITERIA[i % len(LEVEL_CRITERIA)]
        args = ["run", "imp", "--criterion", criterion,
                "--mask1", MASK1_ACTIONS[i % len(MASK1_ACTIONS)],
                "--mask0", MASK0_ACTIONS[i % len(MASK0_ACTIONS)],
                *(MLP if i == 0 else options(MLP, seeds="1"))]
        if i == 1:
            args.append("--rescale")
        cases.append((f"zhou-{i:02d}-{criterion}", [args]))
    # a criterion on another base method: LRR's start, Zhou's mask
    cases.append(("zhou-lrr-magnitude_increase",
                  [["run", "lrr", "--criterion", "magnitude_increase",
                    *options(MLP, seeds="1")]]))
    return cases


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    commands: tuple[tuple[str, ...], ...]    # command lines run one after another, same --out

    @property
    def data(self) -> set[str]:
        """The data folders (``{cifar10}``, ``{mnist}`` placeholders) the commands need."""
        return {m for c in self.commands for a in c for m in re.findall(r"\{(\w+)\}", a)}


def _cases() -> list[Case]:
    raw = [
        # the level loop's methods (layerwise pruning; imp once more with global pruning)
        ("run-imp", [["run", "imp", *MLP]]),
        ("run-wr", [["run", "wr", "--rewind-step", "5", *MLP]]),
        ("run-lrr", [["run", "lrr", *MLP]]),
        ("run-finetune", [["run", "finetune", *MLP]]),
        ("run-random-prune", [["run", "random-prune", *MLP]]),
        ("run-imp-global", [["run", "imp", "--allocation", "global", "--prune-fraction-output",
                             "0.2", *MLP]]),
        # the LRR paper's methods (lottery_core/loops/lrr_methods.py) and recipe
        ("run-bn-recipe", [["run", "wr", *BN], ["run", "lrr-bn-rewind", *BN]]),
        ("run-lrr-random-balanced", [["run", "lrr+random-balanced", *MLP]]),
        ("run-wr-random-erk", [["run", "wr+random-erk", "--rewind-step", "5", *MLP]]),
        # Zhou et al.'s generalized loop
        *zhou_cases(),
        # one-shot pruning
        ("run-pilot", [["run", "pilot", *ONESHOT, "--alpha-init", "1e-3", "--delta", "2",
                        "--target-l1", "1.0"]]),
        ("run-oneshot", [["run", "oneshot", *ONESHOT, "--scope", "layerwise"]]),
        # the LRR paper's experiments (their other methods: lrr-bn-rewind, the four random
        # ones, mask swap, sign perturbation, here with 2 epochs so that it flips mid-level)
        ("experiment-lrr-vs-imp", [["experiment", "lrr-vs-imp", *LRR]]),
        ("experiment-lrr-signs", [["experiment", "lrr-signs", *LRR]]),
        ("experiment-mask-swap", [["experiment", "mask-swap", *LRR]]),
        ("experiment-random-masks", [["experiment", "random-masks", *LRR]]),
        ("experiment-sign-perturbation", [["experiment", "sign-perturbation",
                                           *options(LRR, epochs="2"), "--every", "1"]]),
        ("experiment-lmc", [["experiment", "lmc", *LRR, "--alphas", "0,0.5,1"]]),
        # Zhou et al.'s experiments
        ("experiment-zhou-criteria", [["experiment", "zhou-criteria", *ZHOU_SYNTHETIC,
                                       "--criteria", "large_final,magnitude_increase",
                                       "--mask1", "signed_reshuffle", "--mask0", "freeze_init",
                                       "--levels", "2", "--seeds", "2", "--iterations", "20",
                                       "--eval-every", "10"]]),
        ("experiment-zhou-supermask", [["experiment", "zhou-supermask", *ZHOU_SYNTHETIC,
                                        "--criteria",
                                        "large_final,large_final_same_sign,random,snip,grad",
                                        "--powers", "0,4,8", "--seeds", "2", "--iterations",
                                        "20", "--eval-every", "10", "--test-subset", "150"]]),
        ("experiment-zhou-learned-mask", [["experiment", "zhou-learned-mask", *ZHOU_MNIST,
                                           "--epochs", "2", "--seeds", "1", "--batch-size", "50",
                                           "--signed-constant", "--rescale", "--eval-samples",
                                           "3", "--test-subset", "500"]]),
    ]
    return [Case(name, tuple(tuple(c) for c in commands)) for name, commands in raw]


CASES = _cases()


# ----------------------------------------------------------------------------- the worker
#: environment variables that change XLA's numerics or backend: not passed to the worker
NUMERICS_ENV = re.compile(r"^(JAX|XLA)_")


def worker_main(cache_dir: str = "") -> None:
    """Body of the worker process (pinned to one core before numpy and jax start, see
    :class:`Worker`): it reads one JSON request per line on stdin (``{"commands": [argv,
    ...]}``), runs the command lines one after another with :func:`run_cli` and answers
    ``{"code": ..., "log": ...}`` on its original stdout.

    Why a worker: XLA:CPU splits some reductions (convolutions, large sums) over as many
    threads as the process may use cores, so those results depend on the core count; on one
    core they do not. A fresh process also keeps the cases clear of what other tests in the
    session compiled or registered."""
    import contextlib
    import io
    import sys
    import traceback

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                       # anything printed goes to the log, not the replies
    import jax

    if cache_dir:
        # compiled programs (every run's jitted model.init, the trainers) are reused by
        # later cases instead of compiled again: the same machine code, so the same numbers
        # (the golden files were recorded without the cache)
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    for line in sys.stdin:
        request = json.loads(line)
        log, code = io.StringIO(), 0
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                for argv in request["commands"]:
                    code = run_cli(argv)
                    if code != 0:
                        print(f"exit status {code}: {' '.join(argv)}")
                        break
        except BaseException:                # noqa: BLE001 - reported to the test
            log.write(traceback.format_exc())
            code = -1
        replies.write(json.dumps({"code": code, "log": log.getvalue()[-4000:]}) + "\n")
        replies.flush()


class Worker:
    """The parent's side of :func:`worker_main` (one worker for the whole module)."""

    def __init__(self, tmp: Path):
        import subprocess
        import sys

        no_cache = RECORD or os.environ.get("LOTTERY_GOLDEN_NO_CACHE", "") not in ("", "0")
        cache = "" if no_cache else str(tmp / "jax_cache")
        env = {k: v for k, v in os.environ.items() if not NUMERICS_ENV.match(k)}
        repo = str(Path(__file__).resolve().parents[1])
        env.update(JAX_PLATFORMS="cpu",
                   PYTHONPATH=os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p))
        self.log_path = tmp / "worker.log"
        self.log = open(self.log_path, "w")
        # one core before anything (numpy's BLAS, XLA) sizes its thread pools
        script = ("import os, sys\n"
                  "if hasattr(os, 'sched_setaffinity'):\n"
                  "    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
                  f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                  f"import test_golden\ntest_golden.worker_main({cache!r})\n")
        self.process = subprocess.Popen([sys.executable, "-c", script], cwd=repo, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, bufsize=1)

    def run(self, commands: list[list[str]]) -> dict:
        self.process.stdin.write(json.dumps({"commands": commands}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.log.flush()
            tail = self.log_path.read_text()[-4000:]
            raise RuntimeError(f"the golden worker died:\n{tail}")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except Exception:                   # noqa: BLE001
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("golden_worker"))
    yield w
    w.close()


def _fill(arg: str, folders: dict[str, str]) -> str:
    """``{cifar10}`` / ``{mnist}`` placeholders -> the data folders of this session."""
    return re.sub(r"\{(\w+)\}", lambda m: folders[m.group(1)], arg)


# ----------------------------------------------------------------------------- the test
def _golden_path(case: Case) -> Path:
    return GOLDEN_DIR / f"{case.name}.json"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case, worker, tmp_path, request):
    folders = {"out": str(tmp_path / "out")}
    if "cifar10" in case.data:
        folders["cifar10"] = str(request.getfixturevalue("cifar10_dir"))
    if "mnist" in case.data:
        folders["mnist"] = str(request.getfixturevalue("shared_data") / "mnist")
    commands = [[_fill(a, folders) for a in c] + ["--out", folders["out"]]
                for c in case.commands]
    reply = worker.run(commands)
    assert reply["code"] == 0, f"{case.name} failed:\n{reply['log']}"
    actual = {"case": case.name, "commands": [list(c) for c in case.commands],
              **read_outputs(Path(folders["out"]))}
    path = _golden_path(case)
    if RECORD:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(dump_golden(actual))
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; record it with LOTTERY_RECORD_GOLDEN=1 (and say "
                    f"why in the commit message)")
    expected = json.loads(path.read_text())
    assert expected["commands"] == actual["commands"], (
        f"{case.name}: the case's command lines changed since recording; re-record")
    problems: list[str] = []
    compare(expected["runs"], actual["runs"], f"{case.name}: run folders", problems)
    for rel in expected["files"]:
        if rel not in actual["files"]:
            problems.append(f"{case.name}: {rel}: file missing")
    for rel in actual["files"]:
        if rel not in expected["files"]:
            problems.append(f"{case.name}: {rel}: file not recorded")
    for rel in sorted(set(expected["files"]) & set(actual["files"])):
        where = f"{case.name}: {rel}"
        if rel.endswith(".npz"):
            compare_arrays(expected["files"][rel], actual["files"][rel], where, problems)
        else:
            compare(expected["files"][rel], actual["files"][rel], where, problems)
    if problems:
        shown = "\n".join(problems[:60])
        more = f"\n... and {len(problems) - 60} more" if len(problems) > 60 else ""
        pytest.fail(f"{case.name}: {len(problems)} differences from {path.name}"
                    f"{_version_note()}:\n{shown}{more}")


def test_golden_files_match_this_jax():
    """The golden numbers hold bit for bit only under the jax / jaxlib they were recorded with:
    XLA's float32 rounding changes between releases (measured: under 0.11.2, 32 of the 36
    cases are bit-identical, 4 differ, docs/engine.md "JAX versions"). No float tolerance
    is applied instead: a last-bit difference moves a weight across the pruning threshold
    and the later levels differ by whole test examples. The ``test`` extra pins that jax;
    recording writes the running versions."""
    if RECORD:
        VERSIONS_FILE.write_text("# jax and jaxlib the golden files were recorded under "
                                 "(written by LOTTERY_RECORD_GOLDEN=1)\n" +
                                 "".join(f"{k} {v}\n" for k, v in sorted(jax_versions().items())))
        return
    assert not _version_note(), (
        f"golden files{_version_note()}; install the test extra (pip install -e '.[test]'), "
        f"which pins that jax")


def test_every_golden_file_belongs_to_a_case():
    """A renamed or removed case must not leave a stale golden file behind."""
    names = {f"{c.name}.json" for c in CASES}
    stale = sorted(p.name for p in GOLDEN_DIR.glob("*.json") if p.name not in names)
    assert not stale, f"golden files without a case: {stale}"
