"""``--record DIR``: the received samples as CSV files per device / session / kind, written atomically.

Each file is ``DIR/<device>_<session>_<kind>_<part>.csv`` with rows ``t,x,y,z`` and no header
(``t`` = device time in seconds, ``x,y,z`` in m/s² as received, after unit conversion) — the
"continuous" layout the readers load (like the UCI walking files). Rows go to a hidden
``.<name>.csv.tmp`` file; a part is completed — flushed, fsynced and renamed into place — when it is
``flush_every_s`` seconds old (checked on every write and by a background timer, so also when a stream
goes quiet), holds ``rotate_rows`` rows, or on close. A killed process (even ``kill -9``) therefore
leaves only complete ``.csv`` files and loses at most the last ``flush_every_s`` seconds of each stream
(the one ``.tmp`` per stream, which readers ignore). ``rotate_s`` is an older name for the same bound.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, TextIO

import numpy as np

from edgelite.runtime.core.errors import EdgeliteError
from edgelite.runtime.accel.stream import UNIT_SCALE, Batch


def _safe(s: str) -> str:
    s = "".join(c if (c.isalnum() or c in "-.") else "-" for c in str(s))[:64].strip(".")
    return s or "x"


@dataclass
class _Writer:
    final: str
    tmp: str
    f: TextIO
    opened: float
    rows: int = 0


class Recorder:
    """Writes batches to per-stream CSV parts; ``close()`` (or the context manager) finishes the open parts."""

    def __init__(self, root: str | os.PathLike, rotate_s: float = 60.0, rotate_rows: int = 200_000,
                 max_open: int = 32, flush_every_s: float | None = 10.0) -> None:
        self.root = os.fspath(root)
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as e:
            raise EdgeliteError(f"{self.root}: cannot create the recording folder ({e.strerror or e})") from None
        if flush_every_s is not None and not flush_every_s > 0:
            raise EdgeliteError(f"flush interval must be > 0 seconds, got {flush_every_s!r}")
        self.rotate_s = min(rotate_s, flush_every_s) if flush_every_s else rotate_s
        self.rotate_rows, self.max_open = rotate_rows, max_open
        self.writers: OrderedDict[tuple[str, str, str], _Writer] = OrderedDict()
        self.parts: dict[tuple[str, str, str], int] = {}
        self.files: list[str] = []
        self.rows = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._timer = threading.Thread(target=self._tick_loop, name="recorder-flush", daemon=True)
        self._timer.start()

    def _tick_loop(self) -> None:
        period = max(0.05, self.rotate_s / 4)
        while not self._closed.wait(period):
            self.flush_due()

    def flush_due(self) -> None:
        """Complete every part older than the flush interval (called by the background timer)."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, w in self.writers.items() if now - w.opened >= self.rotate_s]:
                self._finish(key)

    def _open(self, key: tuple[str, str, str]) -> _Writer:
        dev, sess, kind = key
        stem = f"{_safe(dev)}_{_safe(sess) if sess else 'session'}_{_safe(kind)}"
        part = self.parts.get(key, 0)
        while True:
            name = f"{stem}_{part:04d}.csv"
            final = os.path.join(self.root, name)
            if not os.path.exists(final):
                break
            part += 1
        self.parts[key] = part + 1
        tmp = os.path.join(self.root, f".{name}.tmp")
        if len(self.writers) >= self.max_open:
            self._finish(next(iter(self.writers)))
        w = _Writer(final, tmp, open(tmp, "w", encoding="ascii", newline="\n"), time.monotonic())
        self.writers[key] = w
        return w

    def _finish(self, key: tuple[str, str, str]) -> None:
        w = self.writers.pop(key)
        w.f.flush()
        os.fsync(w.f.fileno())
        w.f.close()
        if w.rows:
            os.replace(w.tmp, w.final)
            self.files.append(w.final)
        else:
            os.remove(w.tmp)

    def write(self, b: Batch) -> None:
        """Append one batch (values converted to m/s²)."""
        if len(b) == 0:
            return
        key = (b.device, b.session, b.kind)
        x = np.asarray(b.xyz, np.float64).reshape(-1, 3) * UNIT_SCALE.get(b.units, 1.0)
        t = np.asarray(b.t, np.float64).reshape(-1)
        lines = "".join(f"{ti:.6f},{xi:.9g},{yi:.9g},{zi:.9g}\n" for ti, (xi, yi, zi) in zip(t.tolist(), x.tolist()))
        with self._lock:
            w = self.writers.get(key) or self._open(key)
            self.writers.move_to_end(key)
            w.f.write(lines)
            w.rows += t.shape[0]
            self.rows += t.shape[0]
            if w.rows >= self.rotate_rows or time.monotonic() - w.opened >= self.rotate_s:
                self._finish(key)

    def write_many(self, batches: Iterable[Batch]) -> None:
        for b in batches:
            self.write(b)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            for key in list(self.writers):
                self._finish(key)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
