"""Data sets as numpy arrays: MNIST (gzipped IDX), CIFAR-10/100 (official pickle layout),
synthetic data for tests.

The folder comes from ``--data-dir`` or the ``LOTTERY_DATA`` environment variable:

* MNIST: ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` in ``DIR/`` or ``DIR/mnist/``;
* CIFAR-10: ``DIR/cifar-10-batches-py/{data_batch_1..5, test_batch}``;
* CIFAR-100: ``DIR/cifar-100-python/{train, test}`` (fine labels).

The CIFAR batches are read with the restricted unpickler of ``safe_pickle`` (never
``pickle.load``): a batch that references anything else than the builtins and numpy
reconstructors such files contain is refused with an ``UntrustedFileError`` (a
``DataError``) before any of it runs.

Images become NHWC float32 in [0, 1] (pixels / 255, no normalization, no augmentation: the
preprocessing of Zhou et al. 2019, spec zhou.md §2.1 [C]). The validation split takes
``validation_size`` training images chosen by ``np.random.RandomState(split_seed).choice(
n_train, validation_size, replace=False)``, which with seed 0 and 5,000 is exactly Zhou et
al.'s split (``np.random.seed(0); np.random.choice(60000, 5000, replace=False)``) [C].
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import zlib
from pathlib import Path

import numpy as np

from lottery_core.errors import CorruptFileError, DataError, os_error_naming

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR100_FILES = ("train", "test")
DATASETS = ("mnist", "cifar10", "cifar100", "synthetic")


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def save_dataset_npz(dataset: Dataset, file) -> None:
    """``dataset`` without pickle: its arrays as ``.npz`` members, its other fields (name,
    number of classes) as JSON in the member ``fields_json``. Read with
    :func:`load_dataset_npz`."""
    arrays, fields = {}, {}
    for field in dataclasses.fields(dataset):
        value = getattr(dataset, field.name)
        if value is None or isinstance(value, (str, int, float, bool)):
            fields[field.name] = value
        else:
            arrays[field.name] = np.asarray(value)
            if arrays[field.name].dtype.hasobject:
                raise ValueError(f"dataset field {field.name!r} is an object array")
    arrays["fields_json"] = np.frombuffer(json.dumps(fields).encode(), dtype=np.uint8)
    np.savez(file, **arrays)


def load_dataset_npz(path) -> Dataset:
    """Inverse of :func:`save_dataset_npz` (``allow_pickle=False``: no code runs)."""
    with np.load(path, allow_pickle=False) as data:
        fields = json.loads(bytes(data["fields_json"]).decode())
        arrays = {name: data[name] for name in data.files if name != "fields_json"}
    return Dataset(**fields, **arrays)


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` if given, else ``$LOTTERY_DATA``; it must be an existing folder."""
    if data_dir is None:
        data_dir = os.environ.get("LOTTERY_DATA")
        if not data_dir:
            raise DataError("no data folder: pass --data-dir DIR or set LOTTERY_DATA")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"data folder {path} does not exist")
    return path


# ----------------------------------------------------------------------------- MNIST
def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file: magic ``0 0 0x08 ndim``, big-endian int32 dims, uint8 data.

    A file whose gzip stream or IDX header is damaged raises ``CorruptFileError`` naming it;
    a file that cannot be opened raises the ``OSError`` (it names the file too)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        try:
            raw = handle.read()
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise CorruptFileError(f"corrupt data file {path}: {exc} (replace it with a fresh "
                                   f"copy)") from exc
        except OSError as exc:
            raise os_error_naming(exc, path) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise CorruptFileError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise CorruptFileError(f"{path} is truncated: header says {dims}, found {data.size} "
                               f"bytes")
    return data.reshape(dims)


def _find_mnist(root: Path) -> Path:
    for folder in (root, root / "mnist", root / "MNIST" / "raw"):
        if all((folder / name).is_file() for name in MNIST_FILES):
            return folder
    raise DataError(f"MNIST not found in {root} (or {root / 'mnist'}): expected "
                    f"{', '.join(MNIST_FILES)}")


def load_mnist_arrays(data_dir) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw MNIST: train images ``[60000, 28, 28]`` uint8, labels, test images, labels."""
    folder = _find_mnist(resolve_data_dir(data_dir))
    arrays = [read_idx(folder / name) for name in MNIST_FILES]
    x_train, y_train, x_test, y_test = arrays
    if x_train.shape[0] != y_train.shape[0] or x_test.shape[0] != y_test.shape[0]:
        raise DataError(f"MNIST image and label counts differ in {folder}")
    return x_train, y_train, x_test, y_test


# ----------------------------------------------------------------------------- CIFAR
def _unpickle(path: Path) -> dict:
    """One official CIFAR batch, through the restricted unpickler (``safe_pickle``): a file
    that references anything but the builtins and numpy reconstructors a batch uses is
    refused (``UntrustedFileError``, a ``DataError``) before any of it is called."""
    from lottery_core.safe_pickle import load_cifar_batch

    batch = load_cifar_batch(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path} is not a CIFAR batch (a dict), it holds a "
                        f"{type(batch).__name__}")
    return batch


def _cifar_images(batch: dict, path: Path) -> np.ndarray:
    data = np.asarray(batch.get(b"data"))
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path} has no [N, 3072] 'data' array")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def load_cifar_arrays(data_dir, classes: int = 10):
    """Raw CIFAR-10/100 from the official python-pickle layout (uint8 NHWC, int labels)."""
    root = resolve_data_dir(data_dir)
    if classes == 10:
        folder, names, key = root / "cifar-10-batches-py", CIFAR10_FILES, b"labels"
    elif classes == 100:
        folder, names, key = root / "cifar-100-python", CIFAR100_FILES, b"fine_labels"
    else:
        raise ValueError(f"CIFAR has 10 or 100 classes, got {classes}")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(f"CIFAR-{classes} not found: {folder} lacks {', '.join(missing)} "
                        f"(expected {', '.join(names)})")
    parts = []
    for name in names:
        batch = _unpickle(folder / name)
        if key not in batch:
            raise DataError(f"{folder / name} has no {key.decode()!r} entry")
        parts.append((_cifar_images(batch, folder / name), np.asarray(batch[key], np.int64)))
    x_train = np.concatenate([p[0] for p in parts[:-1]])
    y_train = np.concatenate([p[1] for p in parts[:-1]])
    return x_train, y_train, parts[-1][0], parts[-1][1]


# ----------------------------------------------------------------------------- splits
def validation_indices(n_train: int, validation_size: int, split_seed: int = 0) -> np.ndarray:
    """Zhou et al.'s split: ``RandomState(split_seed).choice(n_train, size, replace=False)``."""
    if not 0 <= validation_size < n_train:
        raise ValueError(f"validation size must be in [0, {n_train}), got {validation_size}")
    return np.random.RandomState(split_seed).choice(n_train, validation_size, replace=False)


def split(name, x_train, y_train, x_test, y_test, num_classes, validation_size, split_seed,
          train_subset=None) -> Dataset:
    """Scale to float32 [0, 1] NHWC, hold out the validation set, optionally keep only the
    first ``train_subset`` remaining training examples (for quick runs and tests)."""
    val = validation_indices(len(x_train), validation_size, split_seed)
    keep = np.setdiff1d(np.arange(len(x_train)), val)       # sorted, original order
    if train_subset is not None:
        if not 0 < train_subset <= len(keep):
            raise ValueError(f"train subset must be in [1, {len(keep)}], got {train_subset}")
        keep = keep[:train_subset]

    def scale(x):
        x = np.asarray(x, np.float32) / np.float32(255.0)
        return x[..., None] if x.ndim == 3 else x

    return Dataset(name, scale(x_train[keep]), np.asarray(y_train[keep], np.int32),
                   scale(x_train[val]), np.asarray(y_train[val], np.int32),
                   scale(x_test), np.asarray(y_test, np.int32), num_classes)


def synthetic(n_train: int = 600, n_test: int = 200, input_shape=(28, 28, 1),
              num_classes: int = 10, validation_size: int = 100, seed: int = 0,
              noise: float = 0.5) -> Dataset:
    """A learnable synthetic set: class ``c`` is a fixed random prototype in [0, 1] plus
    Gaussian noise (std ``noise``), clipped to [0, 1]. For tests and smoke runs."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 1, (num_classes,) + tuple(input_shape))

    def draw(n):
        y = rng.integers(0, num_classes, n)
        x = np.clip(prototypes[y] + noise * rng.standard_normal((n,) + tuple(input_shape)), 0, 1)
        return (x * 255).astype(np.uint8), y

    x_tr, y_tr = draw(n_train + validation_size)
    x_te, y_te = draw(n_test)
    return split("synthetic", x_tr, y_tr, x_te, y_te, num_classes, validation_size, seed)


def load_dataset(name: str, data_dir=None, *, validation_size: int = 5000, split_seed: int = 0,
                 train_subset: int | None = None) -> Dataset:
    """``mnist``, ``cifar10``, ``cifar100`` (files) or ``synthetic`` (no files needed)."""
    if name == "mnist":
        arrays, classes = load_mnist_arrays(data_dir), 10
    elif name in ("cifar10", "cifar100"):
        classes = 10 if name == "cifar10" else 100
        arrays = load_cifar_arrays(data_dir, classes)
    elif name == "synthetic":
        data = synthetic(validation_size=min(validation_size, 100), seed=split_seed)
        if train_subset is not None:
            data = dataclasses.replace(data, x_train=data.x_train[:train_subset],
                                       y_train=data.y_train[:train_subset])
        return data
    else:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return split(name, *arrays, classes, validation_size, split_seed, train_subset)
