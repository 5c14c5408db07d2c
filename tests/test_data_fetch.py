"""``lottery data fetch / check`` against a local HTTP server (127.0.0.1 only): the real MNIST
files of ../shared/data, small CIFAR-10/100 archives in the official layout with their own
checksum table, corrupted and interrupted downloads, resumes, and the loaders afterwards."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import pickle
import re
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from lottery_core import data as data_lib
from lottery_core import data_fetch
from lottery_core.data_sources import SOURCES, DataFile, Download, Source
from lottery_cli import main as cli

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every connection these tests open goes to 127.0.0.1 (the official URLs are never
    tried: each fetch gets a mirror, and this guard would refuse any other host)."""
    original = socket.create_connection

    def loopback_only(address, *args, **kwargs):
        assert address[0] == LOOPBACK, f"test tried to reach {address[0]}"
        return original(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)
    monkeypatch.delenv(data_fetch.MIRROR_ENV, raising=False)


# ----------------------------------------------------------------------------- the server
class _Handler(http.server.BaseHTTPRequestHandler):
    """GET with ``Range: bytes=N-`` (206 / 416) unless the server's ``ranges`` is off; a
    file in ``drop_once`` gets half its body and a closed connection, once."""

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        name = self.path.lstrip("/")
        wanted = self.headers.get("Range")
        server.requests.append((name, wanted))
        data = server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if wanted and server.ranges:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in server.drop_once:
            server.drop_once.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    httpd.files, httpd.requests, httpd.drop_once, httpd.ranges = {}, [], set(), True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    assert host == LOOPBACK
    httpd.url = f"http://{LOOPBACK}:{port}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def mnist_files(shared_data):
    return {name: (shared_data / "mnist" / name).read_bytes() for name in data_lib.MNIST_FILES}


# ----------------------------------------------------------------------------- archives
def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _pickle(obj) -> bytes:
    """A batch as the official archives hold them: protocol 2, bytes keys."""
    return pickle.dumps(obj, protocol=2)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _source(filename: str, archive: bytes, folder: str, members: dict[str, bytes]) -> Source:
    """The injectable checksum table for a home-made archive (not the official one)."""
    files = tuple(DataFile(f"{folder}/{name}", _md5(content))
                  for name, content in members.items())
    return Source(urls=("http://unused.invalid/",),
                  downloads=(Download(filename, _md5(archive), "tar", files),))


def cifar10_archive(n: int = 20):
    """A small CIFAR-10 archive in the official layout (20 images a batch) and its table."""
    rng = np.random.default_rng(0)
    members = {}
    for name in data_lib.CIFAR10_FILES:
        members[name] = _pickle({b"batch_label": name.encode(),
                                 b"labels": rng.integers(0, 10, n).tolist(),
                                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                 b"filenames": [b"%05d.png" % i for i in range(n)]})
    members["batches.meta"] = _pickle({b"label_names": [b"airplane"] * 10,
                                       b"num_cases_per_batch": n, b"num_vis": 3072})
    full = {f"cifar-10-batches-py/{k}": v for k, v in members.items()}
    # not in the table: ignored, never written (a path outside the folder included)
    archive = _tar_gz({**full, "cifar-10-batches-py/readme.html": b"<html/>",
                       "../escaped": b"x"})
    table = {"cifar10": _source("cifar-10-python.tar.gz", archive, "cifar-10-batches-py",
                                members)}
    return archive, table, members


def cifar100_archive():
    """A tiny CIFAR-100 archive in the official layout: ``cifar-100-python/{train, test,
    meta}`` with fine (0-99) and coarse (0-19) labels."""
    rng = np.random.default_rng(1)
    members = {}
    for name, n in (("train", 60), ("test", 30)):
        fine = rng.integers(0, 100, n)
        members[name] = _pickle({b"filenames": [b"x.png"] * n, b"batch_label": name.encode(),
                                 b"fine_labels": fine.tolist(),
                                 b"coarse_labels": (fine // 5).tolist(),
                                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)})
    members["meta"] = _pickle({b"fine_label_names": [b"apple"] * 100,
                               b"coarse_label_names": [b"fruit"] * 20})
    archive = _tar_gz({f"cifar-100-python/{k}": v for k, v in members.items()})
    table = {"cifar100": _source("cifar-100-python.tar.gz", archive, "cifar-100-python",
                                 members)}
    return archive, table, members


# ----------------------------------------------------------------------------- fetch
def test_fetch_mnist_then_the_loader_reads_it(server, mnist_files, tmp_path):
    server.files.update(mnist_files)
    root = tmp_path / "data"
    status = data_fetch.fetch("mnist", root, mirror=server.url, log=lambda m: None)
    assert status.status == "ok" and len(status.files) == 4
    # the repacked .gz files are accepted by their decompressed payload, not the .gz MD5
    official = SOURCES["mnist"].downloads[0]
    assert _md5(mnist_files[official.filename]) != official.md5
    d = data_lib.load_dataset("mnist", root)
    assert d.x_train.shape == (55000, 28, 28, 1) and d.x_test.shape == (10000, 28, 28, 1)
    _, y_train, _, y_test = data_lib.load_mnist_arrays(root)
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:3].tolist() == [7, 2, 1]
    # a finished fetch is not redone: no request at all
    count = len(server.requests)
    data_fetch.fetch("mnist", root, mirror=server.url, log=lambda m: None)
    assert len(server.requests) == count


def test_fetch_cifar10_with_an_injected_table_then_the_loader_reads_it(server, tmp_path):
    archive, table, members = cifar10_archive()
    server.files["cifar-10-python.tar.gz"] = archive
    root = tmp_path / "data"
    status = data_fetch.fetch("cifar10", root, mirror=server.url, sources=table,
                              log=lambda m: None)
    assert status.status == "ok"
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(members)   # readme not kept
    assert not (tmp_path / "escaped").exists() and not (root / "cifar-10-python.tar.gz").exists()
    d = data_lib.load_dataset("cifar10", root, validation_size=10)
    assert d.x_train.shape == (90, 32, 32, 3) and d.x_test.shape == (20, 32, 32, 3)
    test_batch = pickle.loads(members["test_batch"], encoding="bytes")
    assert d.y_test.tolist() == test_batch[b"labels"]
    # the official table refuses this home-made archive, naming both checksums
    (root / "cifar-10-batches-py" / "data_batch_1").unlink()
    with pytest.raises(data_fetch.ChecksumError) as info:
        data_fetch.fetch("cifar10", root, mirror=server.url, log=lambda m: None)
    assert (f"cifar-10-python.tar.gz: expected MD5 c58f30108f718f92721af3b95e74349a, got "
            f"{_md5(archive)}") in str(info.value)


def test_fetch_cifar100_archive_in_the_official_format(server, tmp_path):
    archive, table, members = cifar100_archive()
    server.files["cifar-100-python.tar.gz"] = archive
    root = tmp_path / "data"
    data_fetch.fetch("cifar100", root, mirror=server.url, sources=table, log=lambda m: None)
    assert (root / "cifar-100-python" / "meta").is_file()
    d = data_lib.load_dataset("cifar100", root, validation_size=10)
    assert d.num_classes == 100 and d.x_train.shape == (50, 32, 32, 3)
    test = pickle.loads(members["test"], encoding="bytes")
    assert d.y_test.tolist() == test[b"fine_labels"]             # fine labels, not coarse
    assert max(test[b"fine_labels"]) >= 20                        # which tells them apart
    raw = test[b"data"]
    assert d.x_test[3, 0, 0].tolist() == pytest.approx((raw[3, [0, 1024, 2048]] / 255).tolist())


def test_a_corrupted_download_is_refused_and_kept_aside(server, mnist_files, tmp_path):
    labels = bytearray(gzip.decompress(mnist_files["t10k-labels-idx1-ubyte.gz"]))
    labels[100] = (labels[100] + 1) % 10
    server.files.update(mnist_files)
    server.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(bytes(labels))
    root = tmp_path / "data"
    with pytest.raises(data_fetch.ChecksumError) as info:
        data_fetch.fetch("mnist", root, mirror=server.url, log=lambda m: None)
    message = str(info.value)
    assert "\n" not in message
    assert ("t10k-labels-idx1-ubyte.gz: expected MD5 ec29112dd5afa0611ce80d1b7f02629c "
            "(official .gz) or decompressed payload MD5 27ae3e4e09519cfbb04c329615203637") in message
    assert f"payload MD5 {_md5(bytes(labels))}" in message
    aside = root / "mnist" / "t10k-labels-idx1-ubyte.gz.corrupt"
    assert f"kept aside as {aside}" in message and aside.is_file()
    assert not (root / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not (root / "mnist" / "t10k-labels-idx1-ubyte.gz.part").exists()
    # the next fetch from a good server downloads it afresh (no Range) and succeeds
    server.files.update(mnist_files)
    data_fetch.fetch("mnist", root, mirror=server.url, log=lambda m: None)
    assert server.requests[-1] == ("t10k-labels-idx1-ubyte.gz", None)


def test_a_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    archive, table, _ = cifar10_archive()
    name = "cifar-10-python.tar.gz"
    server.files[name] = archive
    server.drop_once.add(name)
    messages = []
    status = data_fetch.fetch("cifar10", tmp_path, mirror=server.url, sources=table,
                              log=messages.append)
    assert status.status == "ok"
    assert server.requests == [(name, None), (name, f"bytes={len(archive) // 2}-")]
    assert any("resuming" in m for m in messages)


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "server-without-range"])
def test_a_partial_file_from_an_earlier_fetch_is_resumed(server, tmp_path, ranges):
    archive, table, _ = cifar10_archive()
    name = "cifar-10-python.tar.gz"
    server.files[name], server.ranges = archive, ranges
    (tmp_path / f"{name}.part").write_bytes(archive[:1000])
    status = data_fetch.fetch("cifar10", tmp_path, mirror=server.url, sources=table,
                              log=lambda m: None)
    assert status.status == "ok" and not (tmp_path / f"{name}.part").exists()
    assert server.requests == [(name, "bytes=1000-")]   # answered 206, or 200 (whole file)


def test_a_complete_part_or_archive_is_verified_without_downloading_again(server, tmp_path):
    archive, table, _ = cifar10_archive()
    name = "cifar-10-python.tar.gz"
    server.files[name] = archive
    (tmp_path / f"{name}.part").write_bytes(archive)
    data_fetch.fetch("cifar10", tmp_path, mirror=server.url, sources=table, log=lambda m: None)
    assert server.requests == [(name, f"bytes={len(archive)}-")]     # answered 416
    # an archive left by a fetch killed before unpacking: verified and unpacked, no request
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    (tmp_path / name).write_bytes(archive)
    data_fetch.fetch("cifar10", tmp_path, mirror=server.url, sources=table, log=lambda m: None)
    assert len(server.requests) == 1 and not (tmp_path / name).exists()
    assert data_fetch.check_dataset("cifar10", tmp_path, sources=table).status == "ok"


def test_a_failed_download_keeps_the_part_and_says_so(server, tmp_path, monkeypatch):
    archive, table, _ = cifar10_archive()
    name = "cifar-10-python.tar.gz"
    server.files[name] = archive
    server.drop_once.add(name)
    monkeypatch.setattr(data_fetch, "ATTEMPTS", 1)      # no second try this time
    with pytest.raises(data_fetch.DownloadError, match="next fetch resumes it"):
        data_fetch.fetch("cifar10", tmp_path, mirror=server.url, sources=table,
                         log=lambda m: None)
    assert (tmp_path / f"{name}.part").stat().st_size == len(archive) // 2
    with pytest.raises(data_fetch.DownloadError, match="HTTP 404"):
        data_fetch.fetch("cifar100", tmp_path, mirror=server.url, log=lambda m: None)


# ----------------------------------------------------------------------------- check, CLI
def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_data_check_reports_missing_incomplete_ok_and_corrupt(server, mnist_files, tmp_path,
                                                              capsys, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    code, out, _ = _cli(capsys, "data", "check", "--dir", str(root))
    assert code == 0 and re.search(r"^mnist +missing", out, re.M)
    assert re.search(r"^cifar100 +missing", out, re.M)
    monkeypatch.setenv(data_fetch.MIRROR_ENV, server.url)        # the mirror from the env
    server.files.update(mnist_files)
    code, out, _ = _cli(capsys, "data", "fetch", "mnist", "--dir", str(root))
    assert code == 0 and f"mnist: ok (4 files verified) in {root}" in out
    code, out, _ = _cli(capsys, "data", "check", "mnist", "--dir", str(root))
    assert code == 0 and re.search(r"^mnist +ok", out, re.M) and "cifar10" not in out
    (root / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    code, out, _ = _cli(capsys, "data", "check", "mnist", "--dir", str(root))
    assert code == 0 and re.search(r"^mnist +incomplete", out, re.M)
    assert f"missing: {root / 'mnist' / 'train-labels-idx1-ubyte.gz'}" in out
    (root / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    code, out, _ = _cli(capsys, "data", "check", "--dir", str(root))
    assert code == 1 and re.search(r"^mnist +corrupt", out, re.M)
    assert ("t10k-images-idx3-ubyte.gz: expected MD5 9fb629c4189551a2d022fa330f9573f3 "
            "(official .gz) or decompressed payload MD5 2646ac647ad5339dbf082846283269ea, got "
            f"file MD5 {_md5(b'not gzip')}, not valid gzip") in out
    # check changes nothing; fetch sets the corrupt file aside and downloads the two again
    assert (root / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes() == b"not gzip"
    code, out, err = _cli(capsys, "data", "fetch", "mnist", "--dir", str(root))
    assert code == 0 and "kept aside" in err
    assert (root / "mnist" / "t10k-images-idx3-ubyte.gz.corrupt").read_bytes() == b"not gzip"
    assert _cli(capsys, "data", "check", "mnist", "--dir", str(root))[0] == 0


def test_check_accepts_the_shared_data_folder(shared_data, capsys):
    code, out, _ = _cli(capsys, "data", "check", "mnist", "--dir", str(shared_data))
    assert code == 0 and re.search(r"^mnist +ok", out, re.M)


def test_bad_input_is_one_line(tmp_path, capsys):
    code, _, err = _cli(capsys, "data", "fetch", "svhn", "--dir", str(tmp_path))
    assert code == 2 and err.strip().splitlines() == [
        "lottery data: error: unknown data set 'svhn'; available: mnist, cifar10, cifar100"]
    code, _, err = _cli(capsys, "data", "fetch", "mnist", "--mirror", "ftp://x", "--dir",
                        str(tmp_path))
    assert code == 2 and "is not an http://, https:// or file:// URL" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = _cli(capsys, "data", "check", "--dir", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err


def test_fetch_fault_is_one_line_with_exit_1(server, mnist_files, tmp_path):
    """The console script end to end (a subprocess), the mirror from the environment."""
    server.files.update(mnist_files)
    server.files["train-labels-idx1-ubyte.gz"] = b"garbage"
    assert server.url.startswith(f"http://{LOOPBACK}:")
    env = {**os.environ, data_fetch.MIRROR_ENV: server.url, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "lottery_cli", "data", "fetch", "mnist",
                             "--dir", str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "train-labels-idx1-ubyte.gz: expected MD5" in errors[0]


# ----------------------------------------------------------------------------- settings
def test_the_table_names_every_file_the_loaders_read():
    paths = {f.path for s in SOURCES.values() for f in s.files}
    assert {f"mnist/{n}" for n in data_lib.MNIST_FILES} <= paths
    assert {f"cifar-10-batches-py/{n}" for n in data_lib.CIFAR10_FILES} <= paths
    assert {f"cifar-100-python/{n}" for n in data_lib.CIFAR100_FILES} <= paths
    assert set(SOURCES) == set(data_lib.DATASETS) - {"synthetic"}


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LOTTERY_DATA", str(tmp_path / "d"))
    assert data_fetch.default_data_dir() == tmp_path / "d"
    monkeypatch.delenv("LOTTERY_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_fetch.default_data_dir() == tmp_path / "cache" / "lottery" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_fetch.default_data_dir() == Path.home() / ".cache" / "lottery" / "data"
