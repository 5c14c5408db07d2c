"""Names of pytree leaves: ``'/'``-joined paths, the keys of every array file.

A leaf's key joins the parts of its path with ``'/'``: a dict key as ``str(key)``, a
tuple/list position as its index, a NamedTuple (or registered dataclass) field as its name.
``{"dense_0": {"kernel": k}}`` -> ``dense_0/kernel``; an optax Adam state inside a
``TrainState`` -> ``opt_state/0/mu/dense_0/kernel``. Leaves come in ``jax.tree_util``
order (dict keys sorted). :func:`flatten` / :func:`unflatten` are the same names as a flat
dict view of nested dicts (used by the mask code); :func:`leaf_keys` names the leaves of any
pytree (``jax.tree_util.tree_flatten_with_path``) and, for nested dicts, gives the same keys
in the same order.
"""

from __future__ import annotations

from typing import Any

SEPARATOR = "/"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a/b/c": leaf}`` (keys sorted, as ``jax.tree_util`` orders dicts).

    Tuples/lists are flattened with their integer index as the key part."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key in sorted(tree):
            if SEPARATOR in str(key):
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
        parts = path.split(SEPARATOR)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = leaf
    return tree


def _part(entry) -> str:
    from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

    if isinstance(entry, DictKey):
        part = str(entry.key)
    elif isinstance(entry, SequenceKey):
        part = str(entry.idx)
    elif isinstance(entry, GetAttrKey):
        part = entry.name
    elif isinstance(entry, FlattenedIndexKey):
        part = str(entry.key)
    else:
        raise TypeError(f"unsupported pytree path entry {entry!r}")
    if SEPARATOR in part:
        raise ValueError(f"pytree key {part!r} contains '/', which is the path separator")
    return part


def leaf_keys(tree: Any) -> tuple[list[str], list, Any]:
    """``(keys, leaves, treedef)`` of any pytree: the '/'-joined path of each leaf, the
    leaves and the structure (``jax.tree_util`` flatten order; ``None`` is no leaf)."""
    import jax

    paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    keys = [SEPARATOR.join(_part(entry) for entry in path) for path, _ in paths]
    if len(set(keys)) != len(keys):
        dup = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"two leaves share the key {dup!r}")
    return keys, [leaf for _, leaf in paths], treedef
