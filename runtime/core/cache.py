"""What lives in the edgelite cache (:func:`edgelite.runtime.core.paths.cache_dir`) and how to clear it.

Each kind of cached data has a name (used by ``edgelite cache clean --what NAME``), the cache
entries that hold it, and a description. Everything here is rebuilt on demand; nothing is precious.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError


@dataclass(frozen=True)
class CacheKind:
    """One kind of cached data: ``entries`` are glob patterns under the cache folder."""

    name: str
    entries: tuple[str, ...]
    description: str


KINDS: tuple[CacheKind, ...] = (
    CacheKind("archives", ("archives",), "dataset archives (.tar.xz …) unpacked once by the readers"),
    CacheKind("signs", ("signs",), "decoded sign sequences (sharded .npy) reused by `train signs`"),
    CacheKind("compat-env", ("venv-tflite214",),
              "python3.11 venv with tflite-runtime 2.14 + numpy<2 for the compatibility checks (built with pip, uses the network)"),
    CacheKind("models", ("*.task",), "MediaPipe hand/pose .task bundles"),
    CacheKind("pi", ("pi-root", "pi-wheels"), "aarch64 Debian root and wheels for the Raspberry Pi bundle checks"),
    CacheKind("web", ("web",), "npm packages (LiteRT.js, MediaPipe tasks-vision) for the browser checks"),
)
KIND_NAMES = tuple(k.name for k in KINDS)


@dataclass(frozen=True)
class CacheEntry:
    """One file or folder in the cache; ``kind`` is ``"other"`` when no :data:`KINDS` claims it."""

    path: Path
    kind: str
    bytes: int


def size_of(path: Path) -> int:
    """Bytes used by a file or a folder tree (links are not followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _kind_of(name: str) -> str:
    for k in KINDS:
        if any(Path(name).match(pat) for pat in k.entries):
            return k.name
    return "other"


def cache_entries(root: Path | None = None) -> list[CacheEntry]:
    """Top-level entries of the cache folder (default :func:`cache_dir`), largest first."""
    if root is None:
        from edgelite.runtime.core.paths import cache_dir

        root = cache_dir()
    if not root.is_dir():
        return []
    out = [CacheEntry(p, _kind_of(p.name), size_of(p)) for p in root.iterdir()]
    return sorted(out, key=lambda e: -e.bytes)


def human_size(n: int) -> str:
    """``1536`` → ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def clean_cache(what: str = "all", root: Path | None = None, dry_run: bool = False) -> list[CacheEntry]:
    """Remove the entries of one kind (a :data:`KIND_NAMES` name, ``"other"``) or ``"all"``; return them."""
    if what not in (*KIND_NAMES, "other", "all"):
        raise EdgeliteError(f"cache kind {what!r} unknown; expected one of {', '.join((*KIND_NAMES, 'other', 'all'))}")
    gone = [e for e in cache_entries(root) if what == "all" or e.kind == what]
    if not dry_run:
        for e in gone:
            if e.path.is_dir() and not e.path.is_symlink():
                shutil.rmtree(e.path)
            else:
                e.path.unlink()
    return gone
