"""Download, verify and unpack the official MNIST / CIFAR-10 / CIFAR-100 files
(``lottery data fetch``), and verify what a data folder holds (``lottery data check``).

Standard library only (``urllib``, ``hashlib``, ``gzip``, ``tarfile``).

* Where: ``--dir``, else ``$LOTTERY_DATA``, else ``$XDG_CACHE_HOME/lottery/data``
  (``~/.cache/lottery/data``): :func:`default_data_dir`. The files land in the layout
  :mod:`lottery_core.data` reads: ``mnist/*.gz``, ``cifar-10-batches-py/``,
  ``cifar-100-python/``.
* From: the official URLs of :data:`lottery_core.data_sources.SOURCES`, or a mirror
  (``--mirror URL`` or ``$LOTTERY_DATA_MIRROR``) that serves the same file names at its root
  (``http://``, ``https://`` or ``file://``).
* Resuming: a download goes to ``NAME.part``; an interrupted one (dropped connection, short
  body, timeout) is retried with an HTTP ``Range`` request from the ``.part``'s size, and a
  ``.part`` left by an earlier, killed fetch is resumed the same way. A server that ignores
  ``Range`` (status 200) sends the whole file again.
* Verifying: every file is checked against the table's MD5s (:func:`file_status`). A
  download whose checksum differs is refused with one line naming the file and the expected
  and actual MD5s, and is kept aside as ``NAME.corrupt`` (never read, replaced by the next
  bad one); the next fetch downloads afresh.
* A data set whose files are all present and verified is not downloaded again.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import os
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

from lottery_core.data_sources import SOURCES, DataFile, Download, Source
from lottery_core.errors import DataError
from lottery_core.store.io import atomic_write_bytes

MIRROR_ENV = "LOTTERY_DATA_MIRROR"
CHUNK = 1 << 20
#: tries per URL of one download (each one resumes from the ``.part``'s size)
ATTEMPTS = 3
TIMEOUT_SECONDS = 60


class ChecksumError(DataError):
    """A file's MD5 differs from the published one; the message names file and both MD5s."""


class DownloadError(DataError):
    """No URL delivered a complete file; the ``.part`` is kept for the next fetch."""


@dataclasses.dataclass(frozen=True)
class FileStatus:
    """``status``: ``"ok"``, ``"missing"`` or ``"corrupt"`` (``detail`` says why)."""

    path: Path
    status: str
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class DatasetStatus:
    """``status``: ``"ok"`` (every file present and verified), ``"missing"`` (none present),
    ``"incomplete"`` (some missing, the present ones verified) or ``"corrupt"``."""

    name: str
    status: str
    files: tuple[FileStatus, ...]


# ----------------------------------------------------------------------------- settings
def default_data_dir() -> Path:
    """``$LOTTERY_DATA`` if set, else ``$XDG_CACHE_HOME/lottery/data`` (XDG_CACHE_HOME
    defaults to ``~/.cache``)."""
    if os.environ.get("LOTTERY_DATA"):
        return Path(os.environ["LOTTERY_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path("~/.cache").expanduser()
    return Path(cache) / "lottery" / "data"


def check_mirror(mirror: str) -> str:
    """``mirror`` if it is an ``http``, ``https`` or ``file`` URL, else a ``DataError``."""
    scheme = urllib.parse.urlsplit(mirror).scheme
    if scheme not in ("http", "https", "file"):
        raise DataError(f"mirror {mirror!r} is not an http://, https:// or file:// URL")
    return mirror


def base_urls(source: Source, mirror: str | None) -> tuple[str, ...]:
    """The mirror (argument, else ``$LOTTERY_DATA_MIRROR``) alone, or the official URLs."""
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if mirror:
        return (check_mirror(mirror).rstrip("/") + "/",)
    return source.urls


def _source(name: str, sources: dict[str, Source]) -> Source:
    if name not in sources:
        raise DataError(f"unknown data set {name!r}; available: {', '.join(sources)}")
    return sources[name]


# ----------------------------------------------------------------------------- checksums
def md5_of_file(path: Path) -> str:
    digest = hashlib.md5()      # noqa: S324 - the published checksums are MD5 (integrity)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_of_gzip_payload(path: Path) -> str | None:
    """MD5 of the decompressed content of a gzip file, ``None`` if it is not valid gzip."""
    digest = hashlib.md5()      # noqa: S324
    try:
        with gzip.open(path, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def verify(path: Path, expected: DataFile, shown: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` holds ``expected``'s content.

    A ``.gz`` file passes if its own MD5 is the published one of the official archive
    (``gz_md5``) or if its decompressed payload has the published uncompressed MD5: the
    loader reads only the payload, and a re-compressed copy of the same bytes (as in
    ``../shared/data/mnist``) has another ``.gz`` MD5 (gzip headers hold a time stamp).
    ``shown``: the name the message gives the file (default: its path)."""
    shown = shown or str(path)
    actual = md5_of_file(path)
    if expected.gz_md5 is None:
        if actual != expected.md5:
            raise ChecksumError(f"checksum mismatch: {shown}: expected MD5 {expected.md5}, "
                                f"got {actual}")
        return
    if actual == expected.gz_md5:
        return
    payload = md5_of_gzip_payload(path)
    if payload != expected.md5:
        got = "not valid gzip" if payload is None else f"payload MD5 {payload}"
        raise ChecksumError(f"checksum mismatch: {shown}: expected MD5 {expected.gz_md5} "
                            f"(official .gz) or decompressed payload MD5 {expected.md5}, got "
                            f"file MD5 {actual}, {got}")


def file_status(root: Path, expected: DataFile) -> FileStatus:
    path = root / expected.path
    if not path.is_file():
        return FileStatus(path, "missing")
    try:
        verify(path, expected)
    except ChecksumError as exc:
        return FileStatus(path, "corrupt", str(exc))
    return FileStatus(path, "ok")


def check_dataset(name: str, root, *, sources: dict[str, Source] = SOURCES) -> DatasetStatus:
    """The status of data set ``name`` in folder ``root`` (nothing is changed)."""
    files = tuple(file_status(Path(root), f) for f in _source(name, sources).files)
    states = {f.status for f in files}
    if "corrupt" in states:
        status = "corrupt"
    elif states == {"ok"}:
        status = "ok"
    elif states == {"missing"}:
        status = "missing"
    else:
        status = "incomplete"
    return DatasetStatus(name, status, files)


# ----------------------------------------------------------------------------- download
class _ShortBody(Exception):
    pass


def _content_range_start(response) -> int | None:
    """The first byte of a 206 answer's ``Content-Range: bytes a-b/total``."""
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _fetch_once(url: str, part: Path, log: Callable[[str], None]) -> None:
    """One HTTP(S)/file request for ``url`` into ``part``, resuming from its size."""
    start = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:           # the .part already holds the whole file
            return
        raise
    with response:
        if start and getattr(response, "status", None) == 206:
            if _content_range_start(response) != start:
                part.unlink()                   # an unusable range: start again
                raise _ShortBody(f"asked for bytes {start}-, got "
                                 f"{response.headers.get('Content-Range')!r}")
            mode = "ab"
            log(f"resuming {part.name} at byte {start}")
        else:                                   # 200 (or file://): the whole file
            mode, start = "wb", 0
        length = response.headers.get("Content-Length")
        expected = start + int(length) if length is not None else None
        with open(part, mode) as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise _ShortBody(f"connection closed after {size} of {expected} bytes")


def download(urls: tuple[str, ...], part: Path, log: Callable[[str], None]) -> str:
    """Fill ``part`` from the first URL that delivers a complete file; returns that URL.

    A try that fails after receiving bytes (dropped connection, short body) is resumed from
    the same URL, up to :data:`ATTEMPTS` tries; one that fails before (HTTP error, no such
    host or file, refused) moves on to the next URL. Raises :class:`DownloadError`
    (``part`` kept) when no URL delivers."""
    part.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        for _ in range(ATTEMPTS):
            before = part.stat().st_size if part.is_file() else 0
            try:
                _fetch_once(url, part, log)
                return url
            except urllib.error.HTTPError as exc:
                errors.append(f"{url}: HTTP {exc.code} {exc.reason}")
                break
            except (urllib.error.URLError, http.client.HTTPException, OSError,
                    _ShortBody) as exc:
                reason = getattr(exc, "reason", None) or exc
                errors.append(f"{url}: {reason}")
                if not part.is_file() or part.stat().st_size <= before:
                    break
                log(f"interrupted: {url}: {reason}")
    kept = f"; {part} is kept and the next fetch resumes it" if part.is_file() else ""
    raise DownloadError(f"could not download {part.name.removesuffix('.part')} "
                        f"({errors[-1] if errors else 'no URL'}){kept}")


def _set_aside(path: Path, name: Path | None = None) -> Path:
    """Rename a file that failed its checksum to ``NAME.corrupt`` (``name`` defaults to
    ``path``; an older ``.corrupt`` is replaced)."""
    name = name or path
    aside = name.with_name(name.name + ".corrupt")
    os.replace(path, aside)
    return aside


# ----------------------------------------------------------------------------- unpack
def _unpack_tar(archive: Path, root: Path, item: Download) -> None:
    """Extract exactly the members named by ``item.files`` (regular files, by name: no
    path from the archive is used), verify each and write it atomically."""
    wanted = {f.path: f for f in item.files}
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name not in wanted or not member.isfile():
                    continue
                content = tar.extractfile(member).read()
                expected = wanted[member.name]
                actual = hashlib.md5(content).hexdigest()       # noqa: S324
                if actual != expected.md5:
                    raise ChecksumError(f"checksum mismatch: {member.name} in {archive}: "
                                        f"expected MD5 {expected.md5}, got {actual}")
                atomic_write_bytes(root / expected.path, content)
                found.add(member.name)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot unpack {archive}: {exc}") from exc
    missing = sorted(set(wanted) - found)
    if missing:
        raise DataError(f"{archive} lacks {', '.join(missing)}")


def _verify_download(path: Path, item: Download) -> None:
    if item.unpack == "none":
        verify(path, item.files[0], shown=item.filename)
        return
    actual = md5_of_file(path)
    if actual != item.md5:
        raise ChecksumError(f"checksum mismatch: {item.filename}: expected MD5 {item.md5}, "
                            f"got {actual}")


def _fetch_download(item: Download, root: Path, urls: tuple[str, ...],
                    log: Callable[[str], None]) -> None:
    """Download one file of a data set (unless a verified archive is already there),
    verify it, and put it (or its members) in place."""
    final = root / (item.files[0].path if item.unpack == "none" else item.filename)
    got = final
    if not final.is_file():
        got = final.with_name(final.name + ".part")
        url = download(tuple(u + item.filename for u in urls), got, log)
        log(f"downloaded {item.filename} from {url}")
    try:
        _verify_download(got, item)
    except ChecksumError as exc:
        aside = _set_aside(got, final)
        raise ChecksumError(f"{exc}; refused, kept aside as {aside}") from None
    os.replace(got, final)
    if item.unpack == "tar":
        _unpack_tar(final, root, item)
        final.unlink()
        log(f"unpacked {item.filename}")


def fetch(name: str, root=None, *, mirror: str | None = None,
          sources: dict[str, Source] = SOURCES,
          log: Callable[[str], None] | None = None) -> DatasetStatus:
    """Make data set ``name`` present and verified in ``root`` (default
    :func:`default_data_dir`); returns its final :class:`DatasetStatus` (``"ok"``).

    Files already present and verified are kept; a present file that fails its checksum is
    set aside as ``NAME.corrupt`` and downloaded again. ``sources``: the checksum table,
    :data:`~lottery_core.data_sources.SOURCES` unless a test serves its own archives."""
    log = log or (lambda message: print(message, file=sys.stderr))
    source = _source(name, sources)
    root = Path(root) if root is not None else default_data_dir()
    urls = base_urls(source, mirror)
    for item in source.downloads:
        states = [file_status(root, f) for f in item.files]
        if all(s.status == "ok" for s in states):
            continue
        for state in states:
            if state.status == "corrupt":
                log(f"{state.detail}; kept aside as {_set_aside(state.path)}")
        _fetch_download(item, root, urls, log)
    return check_dataset(name, root, sources=sources)
