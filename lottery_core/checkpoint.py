"""Atomic file IO and flat ``'/'``-joined views of dict pytrees.

Every file the engine writes goes through a temporary file in the same folder followed by
``os.replace``, so a reader (or a run restarted after SIGKILL) sees either the old file or the
complete new one, never a torn write. Arrays are stored in ``.npz`` files whose keys are the
``'/'``-joined pytree paths (``dense_0/kernel``), the layout documented in ``docs/engine.md``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling file, fsync and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (atomically)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a/b/c": leaf}`` (keys sorted, as ``jax.tree_util`` orders dicts).

    Tuples/lists are flattened with their integer index as the key part."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key in sorted(tree):
            if "/" in str(key):
                raise ValueError(f"pytree key {key!r} contains '/', which is the path separator")
            out.update(flatten(tree[key], f"{prefix}{key}/"))
    elif isinstance(tree, (tuple, list)):
        for index, item in enumerate(tree):
            out.update(flatten(item, f"{prefix}{index}/"))
    else:
        out[prefix[:-1]] = tree
    return out


def unflatten(flat: dict[str, Any]) -> dict:
    """Inverse of :func:`flatten` for dict-only trees."""
    tree: dict = {}
    for path, leaf in flat.items():
        node = tree
        parts = path.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = leaf
    return tree


def save_tree(path: Path, tree: Any) -> None:
    """Save a dict pytree of arrays as ``.npz`` keyed by '/'-joined paths (atomic)."""
    flat = {key: np.asarray(value) for key, value in flatten(tree).items()}
    buffer = io.BytesIO()
    np.savez(buffer, **flat)
    atomic_write_bytes(path, buffer.getvalue())


def load_tree(path: Path) -> dict:
    """Load an ``.npz`` written by :func:`save_tree` back into nested dicts of numpy arrays."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return unflatten({key: data[key] for key in data.files})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"cannot read array file {path}: {exc}") from exc
