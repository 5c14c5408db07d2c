"""The one array-file format: ``.npz`` with one array per pytree leaf.

Keys are the leaves' ``'/'``-joined paths (:mod:`lottery_core.store.keys`): ``dense_0/kernel``
for parameters and masks, ``params/dense_0/kernel`` and ``opt_state/0/mu/dense_0/kernel`` for
a ``TrainState``. A file may carry one JSON-able ``extra`` value (a checkpoint's training
record) as UTF-8 bytes under the reserved key ``__extra__``, so a checkpoint is one file,
replaced atomically. Every write is atomic (:func:`store.io.atomic_write_bytes`).

Reading: :func:`load_tree` gives nested dicts of numpy arrays (any file; a non-dict tree
reads back as the dicts of its key paths); :func:`load_tree_like` rebuilds any pytree from a
template of the same structure (leaves cast to the template's dtypes, as ``jax`` arrays);
:func:`load_extra` reads the ``extra`` value.

An unreadable file (missing, truncated, a damaged member whose CRC-32 does not match) raises
:class:`~lottery_core.errors.CorruptRunError` naming it, with the remedy
(:func:`store.integrity.corrupt`); a file that does not fit its template is a ``ValueError``.

Legacy files (written before ``store`` existed) stay readable, by :func:`load_tree_like` and
:func:`load_extra` only: checkpoints (``levels.save_state``: keys ``leaf_00000``, ... in
``jax.tree_util`` leaf order plus the JSON ``extra_json``) and optimizer states
(``lrr_recipe.save_leaves``: ``leaf_00000``, ...). Dict trees (``save_tree``) were already
written in today's format.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lottery_core.store.integrity import corrupt
from lottery_core.store.io import atomic_write_bytes
from lottery_core.store.keys import leaf_keys, unflatten

#: key of the optional JSON value (``extra``) of a file
EXTRA_KEY = "__extra__"
#: legacy files: the JSON value of a checkpoint, and the leaf-order key of each leaf
LEGACY_EXTRA_KEY = "extra_json"
_LEGACY_LEAF = re.compile(r"leaf_\d{5}")


def _legacy_leaf_key(index: int) -> str:
    return f"leaf_{index:05d}"


def save_tree(path: Path, tree: Any, extra: Any = None) -> None:
    """Save the leaves of any pytree as ``.npz`` keyed by '/'-joined paths, with an optional
    JSON-able ``extra`` under :data:`EXTRA_KEY` (atomic)."""
    keys, leaves, _ = leaf_keys(tree)
    arrays = {key: np.asarray(leaf) for key, leaf in zip(keys, leaves)}
    if EXTRA_KEY in arrays:
        raise ValueError(f"the key {EXTRA_KEY!r} is reserved for the extra JSON value")
    if extra is not None:
        arrays[EXTRA_KEY] = np.frombuffer(json.dumps(extra).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


#: what numpy and zipfile raise on a damaged array file
_READ_ERRORS = (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error)


@contextmanager
def _open(path: Path):
    """``np.load`` of an array file; an unreadable file raises ``CorruptRunError``."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise corrupt(path, "missing") from None
    except _READ_ERRORS as exc:
        raise corrupt(path, f"not a readable array file ({exc})") from None
    with data:
        yield data


def _member(path: Path, data, key: str) -> np.ndarray:
    """Array ``key`` of the open file ``data`` (a damaged member: ``CorruptRunError``)."""
    try:
        return data[key]
    except _READ_ERRORS as exc:
        raise corrupt(path, f"array {key} cannot be read ({exc})") from None


def _array_names(data) -> list[str]:
    return [name for name in data.files if name not in (EXTRA_KEY, LEGACY_EXTRA_KEY)]


def load_tree(path: Path) -> dict:
    """Load an array file into nested dicts of numpy arrays (the extra value left out)."""
    with _open(path) as data:
        return unflatten({key: _member(path, data, key) for key in _array_names(data)})


def load_tree_like(path: Path, template: Any) -> Any:
    """The pytree of ``template``'s structure stored in ``path``: each leaf read by its key
    (legacy ``leaf_<i>`` files: by leaf index) and cast to the template leaf's dtype."""
    import jax
    import jax.numpy as jnp

    keys, leaves, treedef = leaf_keys(template)
    with _open(path) as data:
        names = _array_names(data)
        if names and set(names) != set(keys) and all(_LEGACY_LEAF.fullmatch(n) for n in names):
            keys = [_legacy_leaf_key(i) for i in range(len(leaves))]
        if set(names) != set(keys):
            missing, unexpected = sorted(set(keys) - set(names)), sorted(set(names) - set(keys))
            raise ValueError(f"{path} does not match the template: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]} ({len(names)} arrays in the file, "
                             f"{len(keys)} leaves in the template)")
        loaded = []
        for key, leaf in zip(keys, leaves):
            array = _member(path, data, key)
            if array.shape != np.shape(leaf):
                raise ValueError(f"{path}: {key} has shape {array.shape}, the template "
                                 f"{np.shape(leaf)}")
            loaded.append(jnp.asarray(array, dtype=jnp.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(treedef, loaded)


def load_extra(path: Path) -> Any:
    """The JSON ``extra`` value saved with the arrays (legacy key ``extra_json`` too), or
    ``None`` when the file has none."""
    with _open(path) as data:
        for key in (EXTRA_KEY, LEGACY_EXTRA_KEY):
            if key in data.files:
                try:
                    return json.loads(bytes(_member(path, data, key)).decode())
                except (ValueError, UnicodeDecodeError) as exc:
                    raise corrupt(path, f"its {key} record is not valid JSON ({exc})") from None
    return None
