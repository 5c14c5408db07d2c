"""Everything the engine keeps on disk: atomic IO, the one array-file format, run identity
and every path.

* :mod:`~lottery_core.store.io`: atomic writes (temporary sibling + ``os.replace``, the
  user's umask), JSON;
* :mod:`~lottery_core.store.keys`: ``'/'``-joined leaf names of pytrees (``flatten``);
* :mod:`~lottery_core.store.arrays`: the ``.npz`` format (``save_tree`` / ``load_tree`` /
  ``load_tree_like`` / ``load_extra``), readers of the legacy checkpoint keys included;
* :mod:`~lottery_core.store.identity`: canonical JSON and the one run hash;
* :mod:`~lottery_core.store.layout`: folder and file names of runs and experiments;
* :mod:`~lottery_core.store.runs`: opening a run folder (create or check its identity card),
  reading the finished levels of a folder (``collect_results``), an experiment's results;
* :mod:`~lottery_core.store.integrity`: manifests of finished folders, checked reads
  (``read_json``), the one-line ``CorruptRunError``, ``--redo-level``;
* :mod:`~lottery_core.store.lock`: one writer per run folder (``flock`` on ``run.lock``);
* :mod:`~lottery_core.store.provenance`: version, commit, command line, libraries, devices.
* :mod:`~lottery_core.store.writer`: which process writes (one; in a multi-process run, 0).
"""

from lottery_core.store import layout
from lottery_core.store.arrays import (EXTRA_KEY, load_extra, load_tree, load_tree_like,
                                       save_tree)
from lottery_core.store.identity import HASH_DIGITS, canonical_json, identity_hash
from lottery_core.store.integrity import read_json
from lottery_core.store.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from lottery_core.store.keys import flatten, leaf_keys, unflatten
from lottery_core.store.layout import level_directory, run_directory, seed_directory
from lottery_core.store.runs import collect_results, open_run_directory, write_results

__all__ = ["layout", "EXTRA_KEY", "load_extra", "load_tree", "load_tree_like", "save_tree",
           "HASH_DIGITS", "canonical_json", "identity_hash", "atomic_write_bytes",
           "atomic_write_json", "atomic_write_text", "read_json", "flatten", "leaf_keys",
           "unflatten", "level_directory", "run_directory", "seed_directory",
           "open_run_directory", "collect_results", "write_results"]
