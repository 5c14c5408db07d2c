"""Which process writes: in a multi-process run (``jax.distributed``, docs/multihost.md) every
process computes the same results, and only process 0 touches the run folder.

The other processes call :func:`follow` once, before any run folder is opened; from then on
the store's mutating functions do nothing in them: atomic writes (:mod:`.io`), manifests
(:func:`.integrity.seal` / ``unseal`` / ``redo_levels``), the run lock (:mod:`.lock`) and the
runner's checkpoint removal. They still read the folder (the checkpoint to resume from, the
previous level), so the processes must see one file system (on one machine they do; across
machines ``--out`` must be on a shared one), and must wait for process 0's writes before
reading them (:func:`lottery_core.training.hosts.sync`).
"""

from __future__ import annotations

_FOLLOWER = False


def follow() -> None:
    """Make this process a follower: from now on the store writes nothing in it."""
    global _FOLLOWER
    _FOLLOWER = True


def writes() -> bool:
    """Does this process write results (a single process, or process 0 of several)?"""
    return not _FOLLOWER
