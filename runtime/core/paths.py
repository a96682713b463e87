"""Where edgelite finds shared data and caches."""

from __future__ import annotations

import os
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError


def repo_root() -> Path:
    """The source checkout's root (folder holding pyproject.toml), or the current folder."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def shared_dir(required: bool = True) -> Path | None:
    """``$EDGELITE_SHARED``, else ``../shared`` relative to the repository root (or the cwd)."""
    env = os.environ.get("EDGELITE_SHARED")
    candidates = [Path(env)] if env else [repo_root().parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return c.resolve()
    if required:
        raise EdgeliteError(
            f"shared data not found (looked in {', '.join(str(c) for c in candidates)}); set EDGELITE_SHARED"
        )
    return None


def cache_dir() -> Path:
    """``$EDGELITE_CACHE``, else ``$XDG_CACHE_HOME/edgelite``, else ``~/.cache/edgelite``."""
    env = os.environ.get("EDGELITE_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgelite"
    base.mkdir(parents=True, exist_ok=True)
    return base
