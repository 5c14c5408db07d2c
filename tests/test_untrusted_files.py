"""Untrusted files never run code: the restricted CIFAR unpickler, no pickle in any reader of a
user's file (checked on the source), and a private, pickle-free data file for seed workers."""

from __future__ import annotations

import ast
import builtins
import collections
import json
import os
import pickle
import stat
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lottery_core import data as data_lib
from lottery_core import safe_pickle
from lottery_core.config import ExperimentConfig
from lottery_core.store import level_directory

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("lottery_core", "sims", "theory")


# ----------------------------------------------------------------------------- crafted files
class _Payload:
    """Unpickling this calls ``func(*args)``: the classic ``__reduce__`` attack."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _valid_batch(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"a batch", b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [b"%05d.png" % i for i in range(n)]}


def write_cifar10(root: Path, first_batch) -> Path:
    """``root/cifar-10-batches-py`` with ``first_batch`` as ``data_batch_1``, valid others."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate(data_lib.CIFAR10_FILES):
        with open(folder / name, "wb") as handle:
            pickle.dump(first_batch if i == 0 else _valid_batch(seed=i), handle)
    return folder


PAYLOADS = {
    "os.system": lambda marker: _Payload(os.system, f"touch '{marker}'"),
    "builtins.exec": lambda marker: _Payload(builtins.exec, f"open({str(marker)!r}, 'w')"),
    "subprocess.call": lambda marker: _Payload(subprocess.call, ["touch", str(marker)]),
}


def _module_name(kind):
    return {"os.system": f"{os.system.__module__}.system", "builtins.exec": "builtins.exec",
            "subprocess.call": "subprocess.call"}[kind]


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_crafted_batch_is_refused_by_the_python_loader(tmp_path, kind):
    marker = tmp_path / "MARKER"
    folder = write_cifar10(tmp_path / "data", {b"data": PAYLOADS[kind](marker), b"labels": []})
    # the payload works: a plain pickle.load of the file would create the marker
    expected = (f"refusing to load {folder / 'data_batch_1'}: it references "
                f"{_module_name(kind)}, which a CIFAR batch never contains")
    for load in (lambda: data_lib.load_cifar_arrays(tmp_path / "data"),
                 lambda: data_lib.load_dataset("cifar10", tmp_path / "data",
                                               validation_size=10)):
        with pytest.raises(safe_pickle.UntrustedFileError) as info:
            load()
        assert str(info.value) == expected
        assert isinstance(info.value, data_lib.DataError)     # reported like any data error
    assert not marker.exists()


def test_the_payload_is_real(tmp_path):
    """Control: the same file does create the marker under a plain ``pickle.load``."""
    marker = tmp_path / "MARKER"
    folder = write_cifar10(tmp_path / "data", {b"data": PAYLOADS["os.system"](marker)})
    with open(folder / "data_batch_1", "rb") as handle:
        pickle.load(handle, encoding="bytes")
    assert marker.exists()


def _lottery(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "lottery_cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [
    ["run", "imp", "--model", "conv2", "--levels", "0", "--seeds", "1", "--iterations", "1",
     "--no-progress", "--no-plot"],
    ["experiment", "zhou-learned-mask", "--model", "conv2", "--epochs", "1", "--seeds", "1"],
], ids=["run", "experiment"])
def test_crafted_batch_is_refused_by_the_cli(tmp_path, command):
    marker = tmp_path / "MARKER"
    folder = write_cifar10(tmp_path / "data", {b"data": PAYLOADS["os.system"](marker)})
    result = _lottery(*command, "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"),
                      "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].endswith(f"error: refusing to load {folder / 'data_batch_1'}: it references "
                             f"{os.system.__module__}.system, which a CIFAR batch never contains")
    assert not marker.exists()


def test_malformed_batches_are_data_errors(tmp_path):
    folder = write_cifar10(tmp_path / "data", _valid_batch())
    (folder / "data_batch_1").write_bytes(b"\x80\x04garbage")
    with pytest.raises(data_lib.DataError, match="cannot read CIFAR batch .*data_batch_1"):
        data_lib.load_cifar_arrays(tmp_path / "data")
    (folder / "data_batch_1").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(data_lib.DataError, match="data_batch_1 is not a CIFAR batch"):
        data_lib.load_cifar_arrays(tmp_path / "data")
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"x": collections.OrderedDict()}))
    with pytest.raises(safe_pickle.UntrustedFileError, match="references collections.Ordered"):
        data_lib.load_cifar_arrays(tmp_path / "data")


# ----------------------------------------------------------------------------- real files
def _py2_batch(data: np.ndarray, labels) -> bytes:
    """The official archive's format: a Python 2 / numpy 1.x protocol-2 pickle (str keys,
    ``numpy.core.multiarray._reconstruct``), written opcode by opcode."""
    def s(b):
        return (b"U" + bytes([len(b)]) + b if len(b) < 256
                else b"T" + struct.pack("<i", len(b)) + b)

    def i(n):
        return b"J" + struct.pack("<i", n)

    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + i(0) + b"\x85"
             + s(b"b") + b"\x87R"
             + b"(" + i(1) + i(data.shape[0]) + i(3072) + b"\x86"
             + b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R"
             + b"(" + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1) + i(0) + b"tb"
             + b"\x89" + s(data.tobytes()) + b"tb")
    return (b"\x80\x02}(" + s(b"batch_label") + s(b"training batch") + s(b"data") + array
            + s(b"labels") + b"](" + b"".join(i(int(x)) for x in labels) + b"eu.")


def test_real_cifar10_through_the_restricted_loader(cifar10_dir):
    folder = cifar10_dir / "cifar-10-batches-py"
    x_train, y_train, x_test, y_test = data_lib.load_cifar_arrays(cifar10_dir)
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.shape == (50000,) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    for index, name in ((0, "data_batch_1"), (4, "data_batch_5"), (None, "test_batch")):
        with open(folder / name, "rb") as handle:
            plain = pickle.load(handle, encoding="bytes")           # the reference load
        restricted = safe_pickle.load_cifar_batch(folder / name)
        assert restricted.keys() == plain.keys()
        assert restricted[b"labels"] == plain[b"labels"]
        assert restricted[b"filenames"] == plain[b"filenames"]
        np.testing.assert_array_equal(restricted[b"data"], plain[b"data"])
        images, labels = (x_test, y_test) if index is None else (
            x_train[index * 10000:(index + 1) * 10000], y_train[index * 10000:(index + 1) * 10000])
        # the first image's bytes: row of 3072 channel-first bytes -> NHWC
        assert images[0].transpose(2, 0, 1).tobytes() == plain[b"data"][0].tobytes()
        assert labels.tolist() == plain[b"labels"]
    meta = safe_pickle.load_cifar_batch(folder / "batches.meta")
    assert meta[b"label_names"][0] == b"airplane"


@pytest.mark.parametrize("protocol", ["py2"] + list(range(pickle.HIGHEST_PROTOCOL + 1)))
def test_every_pickle_protocol_of_a_batch_loads(tmp_path, protocol):
    """The official archive (Python 2, numpy 1.x names) and a batch re-pickled by Python 3 at
    any protocol load the same as with plain pickle."""
    batch = _valid_batch(n=5)
    raw = (_py2_batch(batch[b"data"], batch[b"labels"]) if protocol == "py2"
           else pickle.dumps({**batch, b"empty": b"", b"np_labels": list(np.arange(3))},
                             protocol=protocol))
    (tmp_path / "batch").write_bytes(raw)
    plain = pickle.loads(raw, encoding="bytes")
    restricted = safe_pickle.load_cifar_batch(tmp_path / "batch")
    assert restricted.keys() == plain.keys()
    np.testing.assert_array_equal(restricted[b"data"], batch[b"data"])
    assert restricted[b"labels"] == batch[b"labels"]
    assert restricted[b"data"].dtype == np.uint8


def test_codecs_encode_only_for_latin1(tmp_path):
    import _codecs

    raw = pickle.dumps({b"data": _Payload(_codecs.encode, "x", "rot13")}, protocol=2)
    (tmp_path / "batch").write_bytes(raw)
    with pytest.raises(data_lib.DataError, match="latin1"):
        safe_pickle.load_cifar_batch(tmp_path / "batch")


# ----------------------------------------------------------------------------- source rule
_PICKLE_MODULES = ("pickle", "_pickle", "cPickle", "dill", "cloudpickle")
_FORBIDDEN_CALLS = {f"{m}.{f}" for m in _PICKLE_MODULES for f in ("load", "loads")} | {
    "joblib.load", "pandas.read_pickle", "shelve.open", "marshal.load", "marshal.loads"}
_UNPICKLERS = {f"{m}.Unpickler" for m in _PICKLE_MODULES}
_NUMPY_LOADS = {"numpy.load", "jax.numpy.load"}
#: the one module allowed to subclass pickle.Unpickler (with its allow-list find_class)
UNPICKLER_MODULE = "lottery_core/safe_pickle.py"


def pickle_violations(source: str, filename: str) -> list[str]:
    """Where ``source`` unpickles: pickle-family ``load``/``loads``, ``np.load`` without
    ``allow_pickle=False``, or ``pickle.Unpickler`` outside :data:`UNPICKLER_MODULE`."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def dotted(node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in aliases:
            return None
        return ".".join([aliases[node.id]] + parts[::-1])

    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            name = dotted(node)
            if name in _UNPICKLERS and filename != UNPICKLER_MODULE:
                found.append(f"{filename}:{node.lineno}: {name}")
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        if name in _FORBIDDEN_CALLS:
            found.append(f"{filename}:{node.lineno}: {name}(...)")
        elif name in _NUMPY_LOADS:
            safe = any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                       and k.value.value is False for k in node.keywords)
            if not safe:
                found.append(f"{filename}:{node.lineno}: {name}(...) without allow_pickle=False")
    return found


def test_the_source_check_catches_unpickling():
    bad = ["import pickle\npickle.load(f)\n", "import pickle as p\np.loads(b)\n",
           "from pickle import load\nload(f)\n", "import numpy as np\nnp.load(path)\n",
           "import numpy\nnumpy.load(path, allow_pickle=True)\n",
           "from numpy import load as L\nL(path)\n", "import jax.numpy as jnp\njnp.load(p)\n",
           "import pickle\nclass U(pickle.Unpickler): pass\n",
           "import numpy as np\nnp.load(path, **options)\n"]
    for source in bad:
        assert pickle_violations(source, "x.py"), source
    good = ["import numpy as np\nnp.load(path, allow_pickle=False)\n",
            "import json\njson.load(f)\n", "import pickle\npickle.dump(obj, f)\n",
            "import pickle\nclass U(pickle.Unpickler): pass\n"]
    for source in good[:3]:
        assert not pickle_violations(source, "x.py"), source
    assert not pickle_violations(good[3], UNPICKLER_MODULE)


def test_no_reader_of_user_files_unpickles():
    files = sorted(p for folder in SCANNED for p in (REPO / folder).rglob("*.py"))
    assert len(files) > 20 and (REPO / UNPICKLER_MODULE) in files
    found = [v for p in files
             for v in pickle_violations(p.read_text(), p.relative_to(REPO).as_posix())]
    assert not found, ("no reader of a user-supplied file may unpickle it (CIFAR batches go "
                       "through lottery_core/safe_pickle.py):\n" + "\n".join(found))


# ----------------------------------------------------------------------------- seed workers
DATA = data_lib.synthetic(n_train=200, n_test=60, input_shape=(8, 8, 1), validation_size=40,
                          noise=1.5)
CONFIG = dict(model="mlp", model_options={"widths": [32]}, dataset="synthetic", iterations=30,
              batch_size=20, eval_every=10, levels=1, seeds=2, optimizer="sgd", momentum=0.9,
              learning_rate=0.05, weight_decay=1e-4, method="imp")


def test_dataset_file_round_trip_without_pickle(tmp_path):
    data_lib.save_dataset_npz(DATA, tmp_path / "d.npz")
    back = data_lib.load_dataset_npz(tmp_path / "d.npz")
    assert back.name == DATA.name and back.num_classes == DATA.num_classes
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(back, field), getattr(DATA, field))
        assert getattr(back, field).dtype == getattr(DATA, field).dtype


def test_worker_data_file_is_private_and_results_match_sequential(tmp_path, monkeypatch):
    import lottery_core.loops.workers as workers_module
    from lottery_core.loops.levels import Runner

    seen = {}
    original = workers_module.write_worker_job

    def spy(folder, *args):
        job = original(folder, *args)
        dataset_file = Path(json.loads(job.read_text())["dataset_file"])
        seen.update(folder=stat.S_IMODE(os.stat(folder).st_mode),
                    job=stat.S_IMODE(os.stat(job).st_mode),
                    data=stat.S_IMODE(os.stat(dataset_file).st_mode),
                    data_parent=dataset_file.parent == Path(folder),
                    files=sorted(p.name for p in Path(folder).iterdir()),
                    magic=dataset_file.read_bytes()[:2])
        return job

    monkeypatch.setattr(workers_module, "write_worker_job", spy)
    monkeypatch.setattr(workers_module, "usable_core_ids", lambda: [0, 0])
    config = ExperimentConfig(**CONFIG)
    seq = Runner(config, tmp_path / "a", progress=False, dataset=DATA, log=lambda s: None,
                 seed_parallel="sequential")
    seq.run()
    par = Runner(config, tmp_path / "b", progress=False, dataset=DATA, log=lambda s: None,
                 seed_parallel="processes")
    par.run()
    assert seen["folder"] == 0o700 and seen["job"] == 0o600 and seen["data"] == 0o600
    assert seen["data_parent"] and seen["magic"] == b"PK"          # a zip (.npz), not a pickle
    assert not any(name.endswith(".pkl") for name in seen["files"])
    assert "dataset.pkl" not in seen["files"] and "job.json" not in seen["files"]
    for seed in (0, 1):
        for level in (0, 1):
            a = json.loads((level_directory(seq.run_dir, seed, level) / "metrics.json")
                           .read_text())
            b = json.loads((level_directory(par.run_dir, seed, level) / "metrics.json")
                           .read_text())
            assert a["kept_weights"] == b["kept_weights"]
            assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1 / 60 + 1e-9)
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-3)
