"""Where a result came from: toolkit version and commit, command line, library versions,
backend and devices, recorded beside every result (``"provenance"`` of ``config.json``,
``experiment.json``, each level's and one-shot seed's ``metrics.json``, one-shot
``training.json`` and experiments' ``results.json``).

Provenance is bookkeeping, not identity: it is kept outside a run's ``identity``, so the run
hash (the folder name) does not change with the version or the command line.

The version is :data:`lottery_core.__version__` (pyproject.toml reads it from there). The commit
is asked of ``git`` only when the package's own folder is the top of a git checkout (a copy
installed inside some other repository reports none); ``dirty`` says whether tracked files
differ from that commit. Without git, or outside a checkout, both are ``None``, silently.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from pathlib import Path

#: the folder that holds lottery_core/ (a checkout's top level when run from one)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
#: the command line being executed, set by the ``lottery`` console script (``None``: sys.argv)
_COMMAND: list[str] | None = None


def set_command(argv: list[str] | None) -> None:
    """Record ``argv`` as the command this process executes (``lottery_cli.main`` sets
    ``["lottery", ...]``, also when called in-process; ``None`` falls back to sys.argv)."""
    global _COMMAND
    _COMMAND = None if argv is None else [str(a) for a in argv]


def command() -> list[str]:
    return list(sys.argv if _COMMAND is None else _COMMAND)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(PACKAGE_ROOT), *args], capture_output=True,
                              text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def git_state() -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout the package runs from, ``(None, None)`` if none."""
    if not (PACKAGE_ROOT / ".git").exists():          # a folder (clone) or file (worktree)
        return None, None
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != PACKAGE_ROOT:
        return None, None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else bool(status))


def version() -> str:
    from lottery_core import __version__

    return __version__


def version_line() -> str:
    """``lottery 0.1.0 (commit abc1234)`` (``, modified`` when the checkout is dirty)."""
    commit, dirty = git_state()
    if commit is None:
        return f"lottery {version()}"
    return f"lottery {version()} (commit {commit[:7]}{', modified' if dirty else ''})"


@functools.lru_cache(maxsize=None)
def _library_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions = {}
    for name in ("numpy", "jax", "jaxlib", "optax"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(argv: list[str] | None = None) -> dict:
    """``{"toolkit": {"version", "commit", "dirty"}, "command", "python", "platform",
    "libraries", "backend", "devices", "device_count"}``; the command is ``argv``, by default
    :func:`command`. The backend and device kinds are jax's (imported here: results come
    from jax)."""
    import jax

    commit, dirty = git_state()
    devices = jax.devices()
    return {"toolkit": {"version": version(), "commit": commit, "dirty": dirty},
            "command": command() if argv is None else list(argv),
            "python": platform.python_version(), "platform": platform.platform(),
            "libraries": dict(_library_versions()), "backend": jax.default_backend(),
            "devices": sorted({d.device_kind for d in devices}), "device_count": len(devices)}
