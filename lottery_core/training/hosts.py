"""Several processes training one run data-parallel: ``jax.distributed`` (docs/multihost.md).

Every process runs the same ``lottery run`` command with its own process id. :func:`join`
connects them (``jax.distributed.initialize``; on CPU the cross-process collectives are gloo's,
jax's default) before anything else uses jax; then ``jax.devices()`` lists the devices of all
processes and the Trainer's mesh spans them (:func:`.sharding.data_devices`). Every process
loads the same data and draws the same batch indices; each global batch is split over all
devices, so the step computes the same function as on one device (equal up to the order of
float sums). Only process 0 writes (:mod:`lottery_core.store.writer`); the others read the
run folder, after :func:`sync` has waited for process 0's writes.

Where the settings come from (:func:`resolve`): the options, else the environment variables of
the JAX documentation (``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``),
else SLURM's (``SLURM_NTASKS``, ``SLURM_PROCID``; SLURM names no coordinator, so it comes from
``--coordinator`` or ``JAX_COORDINATOR_ADDRESS``). Without a coordinator the run is one process.

A coordinator that cannot be reached makes jax's client abort the process (a C++ fatal error,
not a Python exception) after its timeout, so :func:`check_coordinator` tries first with a plain
TCP connection: process 0 (which runs the coordinator) checks that it can bind the address,
the others that they can connect to it within ``timeout`` seconds.

A process that stops on a fault must not wait in jax's orderly shutdown (a barrier that all
processes reach: the others never do, so it would wait ``shutdown_timeout``, 300 s, then abort):
:func:`abandon` makes it exit at once with its status (after its one line is printed); the
coordination service then stops the others (measured: docs/multihost.md).
"""

from __future__ import annotations

import atexit
import dataclasses
import errno
import math
import os
import socket
import sys
import time
from typing import Callable, Mapping

import jax
from jax.experimental import multihost_utils

from lottery_core.errors import ClusterError, UsageError
from lottery_core.store import writer

#: (coordinator, process count, process id) environment variables, in order of precedence
COORDINATOR_ENV = ("JAX_COORDINATOR_ADDRESS",)
COUNT_ENV = ("JAX_NUM_PROCESSES", "SLURM_NTASKS")
ID_ENV = ("JAX_PROCESS_ID", "SLURM_PROCID")
#: seconds a process waits for the coordinator (and the coordinator for all processes)
DEFAULT_TIMEOUT = 30.0
#: the exit status of a process that stops on a fault (:func:`abandon`), None while it runs
_ABANDONED: list[int] = []


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One process's place in a multi-process run."""

    coordinator: str           # HOST:PORT of process 0's coordination service
    num_processes: int
    process_id: int
    timeout: float = DEFAULT_TIMEOUT


def _from_env(names, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(value, variable)`` of the first of ``names`` set in ``environ``."""
    for name in names:
        if environ.get(name, "") != "":
            return environ[name], name
    return None, None


def _integer(value, source: str, low: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{source} must be an integer, got {value!r}") from None
    if number < low:
        raise UsageError(f"{source} must be at least {low}, got {number}")
    return number


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as ``(host, port)``; a ``UsageError`` otherwise."""
    host, sep, port = str(address).rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"the coordinator must be HOST:PORT with a port in 1..65535, "
                         f"got {address!r}")
    return host, int(port)


def resolve(coordinator: str | None = None, num_processes: int | None = None,
            process_id: int | None = None, timeout: float = DEFAULT_TIMEOUT,
            environ: Mapping[str, str] = os.environ) -> Cluster | None:
    """The :class:`Cluster` of the options (``None``: unset) and the environment; ``None``
    for a one-process run (no coordinator anywhere). Bad or missing values: ``UsageError``."""
    env_coordinator, _ = _from_env(COORDINATOR_ENV, environ)
    coordinator = coordinator or env_coordinator
    if coordinator is None:
        if num_processes is not None or process_id is not None:
            raise UsageError("--num-processes and --process-id need --coordinator HOST:PORT "
                             "(or JAX_COORDINATOR_ADDRESS)")
        return None
    split_address(coordinator)
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--coordinator-timeout must be a positive number of seconds, "
                         f"got {timeout!r}")
    values = []
    for given, option, names, low in ((num_processes, "--num-processes", COUNT_ENV, 1),
                                      (process_id, "--process-id", ID_ENV, 0)):
        if given is not None:
            values.append(_integer(given, option, low))
            continue
        value, name = _from_env(names, environ)
        if value is None:
            raise UsageError(f"a multi-process run (--coordinator {coordinator}) needs "
                             f"{option} (or {' or '.join(names)})")
        values.append(_integer(value, name, low))
    count, pid = values
    if pid >= count:
        raise UsageError(f"the process id must be below the process count {count}, got {pid}")
    return Cluster(coordinator, count, pid, float(timeout))


def check_coordinator(cluster: Cluster) -> None:
    """``ClusterError`` unless the coordinator can start (process 0: the address is this
    machine's and the port is free) or be reached within ``cluster.timeout`` (the others)."""
    host, port = split_address(cluster.coordinator)
    address, timeout = cluster.coordinator, cluster.timeout
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port,
                                                              type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ClusterError(f"cannot resolve the coordinator host {host!r} ({exc.strerror}); "
                           f"check --coordinator") from None
    if cluster.process_id == 0:
        with socket.socket(family, kind, proto) as probe:
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                why = (f"port {port} is in use; choose another" if exc.errno == errno.EADDRINUSE
                       else f"{host} is not an address of this machine ({exc.strerror}); "
                            f"process 0 runs the coordinator, so --coordinator must name "
                            f"process 0's machine")
                raise ClusterError(f"cannot start the coordinator {address}: {why}") from None
        return
    deadline = time.monotonic() + timeout
    reason = "timed out"
    while (left := deadline - time.monotonic()) > 0:
        try:
            with socket.create_connection(sockaddr[:2], timeout=min(left, 1.0)):
                return
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    raise ClusterError(f"cannot reach the coordinator {address} within {timeout:g} s "
                       f"({reason.lower()}); start process 0 there (it runs the coordinator), "
                       f"or check --coordinator and the network")


def join(cluster: Cluster, log: Callable[[str], None] = print) -> None:
    """Connect this process to the others (before any other use of jax); a process other
    than 0 becomes a follower that writes nothing (:mod:`lottery_core.store.writer`)."""
    check_coordinator(cluster)
    if cluster.process_id > 0:
        writer.follow()
    log(f"process {cluster.process_id} of {cluster.num_processes}: joining the coordinator "
        f"{cluster.coordinator} (waiting up to {cluster.timeout:g} s for all processes)")
    jax.distributed.initialize(coordinator_address=cluster.coordinator,
                               num_processes=cluster.num_processes,
                               process_id=cluster.process_id,
                               initialization_timeout=max(1, math.ceil(cluster.timeout)))
    atexit.register(_exit_if_abandoned)   # runs before jax's shutdown, registered at import


def abandon(status: int) -> None:
    """This process stops on a fault: at exit, skip jax's shutdown barrier and end with
    ``status`` (output flushed first)."""
    _ABANDONED.append(status)


def peer_failure(exc: BaseException) -> BaseException:
    """A ``ClusterError`` for a jax runtime error of a multi-process run (a collective whose
    peer stopped: its own output says why), else ``exc``."""
    if not isinstance(exc, jax.errors.JaxRuntimeError) or jax.process_count() == 1:
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    error = ClusterError(f"process {jax.process_index()} of {jax.process_count()} stopped: "
                         f"another process of the run ended (its output says why): {first}")
    error.__cause__ = exc
    return error


def _exit_if_abandoned() -> None:
    if _ABANDONED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_ABANDONED[-1])


def sync(name: str) -> None:
    """Wait until every process reaches ``sync(name)`` (a no-op in a one-process run): the
    followers wait for process 0's writes before reading them."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
