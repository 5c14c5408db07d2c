"""Data loaders on the real files in ../shared/data, splits, synthetic data, clear errors."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from lottery_core import data as data_lib
from lottery_core.errors import CorruptFileError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_real_files(shared_data):
    d = data_lib.load_dataset("mnist", shared_data)
    assert d.x_train.shape == (55000, 28, 28, 1) and d.x_val.shape == (5000, 28, 28, 1)
    assert d.x_test.shape == (10000, 28, 28, 1) and d.x_train.dtype == np.float32
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    all_train = np.concatenate([d.y_train, d.y_val])
    assert np.bincount(all_train, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(d.y_test, minlength=10).tolist() == MNIST_TEST_COUNTS
    raw_x, raw_y, _, test_y = data_lib.load_mnist_arrays(shared_data)
    assert raw_y[:5].tolist() == [5, 0, 4, 1, 9] and test_y[:3].tolist() == [7, 2, 1]
    # Zhou et al.'s validation split: np.random.seed(0); np.random.choice(60000, 5000, False)
    np.random.seed(0)
    zhou = np.random.choice(60000, 5000, replace=False)
    np.testing.assert_array_equal(d.y_val, raw_y[zhou])
    np.testing.assert_array_equal(d.x_val[..., 0], raw_x[zhou] / np.float32(255))


def test_data_dir_from_environment(shared_data, monkeypatch):
    monkeypatch.setenv("LOTTERY_DATA", str(shared_data))
    assert data_lib.resolve_data_dir(None) == shared_data
    monkeypatch.delenv("LOTTERY_DATA")
    with pytest.raises(data_lib.DataError, match="--data-dir"):
        data_lib.resolve_data_dir(None)


def test_cifar10_official_layout(cifar10_dir):
    d = data_lib.load_dataset("cifar10", cifar10_dir)
    assert d.x_train.shape == (45000, 32, 32, 3) and d.x_val.shape == (5000, 32, 32, 3)
    assert d.x_test.shape == (10000, 32, 32, 3) and d.num_classes == 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10
    assert np.bincount(np.concatenate([d.y_train, d.y_val])).tolist() == [5000] * 10
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    # natural images: neighbouring pixels are strongly correlated (a wrong reshape is not)
    x = d.x_test[:200]
    corr = np.corrcoef(x[:, :, :-1].ravel(), x[:, :, 1:].ravel())[0, 1]
    assert corr > 0.8


def test_cifar100_official_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 300), ("test", 50)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"fine_labels": rng.integers(0, 100, n).tolist(),
                 b"coarse_labels": rng.integers(0, 20, n).tolist()}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    d = data_lib.load_dataset("cifar100", tmp_path, validation_size=50)
    assert d.x_train.shape == (250, 32, 32, 3) and d.num_classes == 100
    # channel-first rows become NHWC: pixel (0, 0) of image 0 has R, G, B at 0, 1024, 2048
    with open(folder / "test", "rb") as handle:
        raw = pickle.load(handle)[b"data"]
    assert d.x_test[0, 0, 0].tolist() == pytest.approx((raw[0, [0, 1024, 2048]] / 255).tolist())


def test_missing_and_corrupt_files_name_the_path(tmp_path):
    with pytest.raises(data_lib.DataError, match="does not exist"):
        data_lib.load_dataset("mnist", tmp_path / "nowhere")
    with pytest.raises(data_lib.DataError, match="train-images-idx3-ubyte.gz"):
        data_lib.load_dataset("mnist", tmp_path)
    with pytest.raises(data_lib.DataError, match="cifar-10-batches-py lacks data_batch_1"):
        data_lib.load_dataset("cifar10", tmp_path)
    for name in data_lib.MNIST_FILES:
        with gzip.open(tmp_path / name, "wb") as handle:
            handle.write(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"\x01" * 10)
    # a damaged file is a fault (CorruptFileError, exit status 1), not bad input
    with pytest.raises(CorruptFileError, match="truncated") as info:
        data_lib.load_dataset("mnist", tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match="corrupt data file .*train-images-idx3-ubyte.gz"):
        data_lib.load_dataset("mnist", tmp_path)
    intact = gzip.compress(b"\x00\x00\x08\x01" + (4).to_bytes(4, "big") + b"\x01" * 4)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(intact[:-6])      # cut short
    with pytest.raises(CorruptFileError, match="corrupt data file .*train-images-idx3"):
        data_lib.load_dataset("mnist", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        data_lib.load_dataset("svhn", tmp_path)


def test_synthetic_is_deterministic_and_learnable():
    a = data_lib.synthetic(seed=1)
    b = data_lib.synthetic(seed=1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.x_train.shape == (600, 28, 28, 1) and a.x_val.shape == (100, 28, 28, 1)
    # nearest class mean classifies well above chance (10%)
    means = np.stack([a.x_train[a.y_train == c].mean(0) for c in range(10)])
    pred = np.argmin(((a.x_test[:, None] - means[None]) ** 2).sum((2, 3, 4)), 1)
    assert np.mean(pred == a.y_test) > 0.9
