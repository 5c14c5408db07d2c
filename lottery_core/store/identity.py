"""Run identity: canonical JSON and the one hash that names every run folder.

OpenLTH's scheme (DESIGN.md): a run is named by a hash of what defines it, so equal
experiments share a folder and a resumed run finds its files. The hash is the first
:data:`HASH_DIGITS` hex digits of SHA-256 of the canonical JSON (sorted keys, no spaces,
finite numbers only) of the identity dict. Named experiments hash ``"<name>:<canonical
JSON>"`` (``namespace=name``), level and one-shot runs the canonical JSON alone (the method
is in the folder name, so IMP / LRR / random pruning of one config share a hash). What goes
into an identity is decided by its owner (``ExperimentConfig.identity``,
``oneshot_config.run_identity``, each experiment's settings); how it is hashed, only here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

HASH_DIGITS = 12


def canonical_json(obj: Any) -> str:
    """Sorted keys, ``","`` and ``":"`` separators, no NaN / infinity."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def identity_hash(identity: Any, namespace: str | None = None) -> str:
    """sha256(canonical_json(identity)) (prefixed ``"<namespace>:"`` when given), first
    :data:`HASH_DIGITS` hex digits."""
    text = canonical_json(identity)
    if namespace is not None:
        text = f"{namespace}:{text}"
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]
