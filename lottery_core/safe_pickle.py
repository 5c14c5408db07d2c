"""A restricted unpickler for the official CIFAR-10/100 python batches.

A pickle can name any importable callable and call it while loading (``__reduce__``), so a
crafted ``data_batch_1`` would run code as soon as it is opened. The CIFAR batches are plain
dicts of bytes, ints, lists and one uint8 array; :class:`CifarUnpickler` resolves only the
globals such files reference and refuses every other one before anything is called.

What the files reference (logged with a recording ``find_class``): the batches written by
``../shared/data/make_cifar10.py`` (protocol 4, numpy 2) use ``numpy._core.multiarray.
_reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``; the official archive (Python 2,
protocol 2, numpy 1) the same under ``numpy.core.multiarray``. Protocol 5 arrays use
``numpy._core.numeric._frombuffer``; Python 3 protocols 0-2 write ``bytes`` as
``_codecs.encode(text, "latin1")`` (allowed for latin1 only) and ``bytes()`` as
``__builtin__.bytes``. Numpy scalars (``list(labels)``) use ``numpy._core.multiarray.scalar``.

This module is the only place in lottery_core, sims and theory that unpickles; no reader of
a user-supplied file calls ``pickle.load`` (tests/test_untrusted_files.py checks the source).
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import numpy as np

from lottery_core.errors import DataError


class UntrustedFileError(DataError):
    """A data file references something its format never contains; nothing was run."""


def _numpy_attr(submodule: str, name: str):
    for package in ("numpy._core", "numpy.core"):          # numpy >= 2, numpy 1.x
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    return None


def _latin1_encode(text, encoding):
    """``_codecs.encode`` as Python 3 protocols 0-2 use it for bytes, and nothing else."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode is allowed for latin1 text only, got "
                                     f"encoding {encoding!r}")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], object]:
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for submodule, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                            ("numeric", "_frombuffer")):
        obj = _numpy_attr(submodule, name)
        if obj is not None:
            for package in ("numpy._core", "numpy.core"):
                allowed[(f"{package}.{submodule}", name)] = obj
    for module in ("builtins", "__builtin__"):              # Python 3 and Python 2 names
        for kind in (dict, list, bytes, str, int):
            allowed[(module, kind.__name__)] = kind
    return allowed


ALLOWED_GLOBALS = _allowed_globals()


class CifarUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`; ``encoding='bytes'``
    by default, as the official Python 2 batches need (their str keys become bytes)."""

    def __init__(self, file, path, *, encoding: str = "bytes"):
        super().__init__(file, encoding=encoding)
        self.path = path

    def find_class(self, module: str, name: str):
        obj = ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise UntrustedFileError(f"refusing to load {self.path}: it references "
                                     f"{module}.{name}, which a CIFAR batch never contains")
        return obj

    def persistent_load(self, pid):
        raise UntrustedFileError(f"refusing to load {self.path}: it references a persistent "
                                 f"object, which a CIFAR batch never contains")


def load_cifar_batch(path) -> object:
    """Unpickle one CIFAR batch file through :class:`CifarUnpickler`. Raises
    :class:`UntrustedFileError` for a forbidden global, :class:`DataError` for anything else
    that goes wrong (missing, truncated or malformed file)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return CifarUnpickler(handle, path).load()
    except DataError:
        raise
    except Exception as exc:        # any failure to parse a user's file is a data error
        raise DataError(f"cannot read CIFAR batch {path}: {exc}") from exc
