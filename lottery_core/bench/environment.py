"""Where a benchmark ran: the device, the libraries and the machine (the environment phase)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries the numbers depend on (None: not installed)."""
    out = {}
    for name in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt", "jax-cuda13-plugin",
                 "jax-cuda13-pjrt", "optax", "numpy", "scipy", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_summary() -> dict:
    """The default backend and its devices (kind, memory limit when the device reports it)."""
    import jax

    devices = jax.devices()
    stats = _memory_stats(devices[0])
    return {"backend": jax.default_backend(),
            "device_kind": devices[0].device_kind,
            "devices": [f"{d.platform}:{d.id} {d.device_kind}" for d in devices],
            "device_count": len(devices),
            "memory_limit_bytes": stats.get("bytes_limit")}


def _memory_stats(device) -> dict:
    try:
        return device.memory_stats() or {}
    except Exception:      # not every backend implements it
        return {}


def peak_device_bytes() -> int | None:
    """Peak bytes in use on the default device so far in this process (None where the
    device does not report it, as on CPU)."""
    import jax

    return _memory_stats(jax.devices()[0]).get("peak_bytes_in_use")


def nvidia_smi() -> str | None:
    """``nvidia-smi``'s name, driver and memory line(s), if the tool is there."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                               "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return proc.stdout.strip() or proc.stderr.strip()


def describe() -> dict:
    """Everything the environment phase records."""
    import jax

    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "libraries": library_versions(),
            **device_summary(), "nvidia_smi": nvidia_smi(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "jax_environment": jax.print_environment_info(return_string=True)}


def run_phase(ctx) -> None:
    """The environment phase (no deadline: it takes a second)."""
    ctx.result.update(describe())
    ctx.log(f"environment: jax {ctx.result['libraries']['jax']} on "
            f"{ctx.result['backend']} ({ctx.result['device_kind']}), "
            f"{ctx.result['device_count']} device(s), python {ctx.result['python']}")

