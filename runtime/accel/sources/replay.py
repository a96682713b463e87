"""``replay:PATH``: any recording the readers of :mod:`edgelite.runtime.accel.io` support, as fast as
possible or in real time.
"""

from __future__ import annotations

import time

import numpy as np
from edgelite.runtime.accel.sources.base import Message, Source, SourceOptions
from edgelite.runtime.accel.stream import Batch, Counters
from edgelite.runtime.core.errors import DataError


class ReplaySource(Source):
    """Replays recordings (any format :func:`edgelite.runtime.accel.io.read_recordings` reads).

    Fast mode (default) yields batches of ``batch_samples`` as quickly as they are taken; ``realtime``
    paces them by the recording's timestamps. One device per recording (its name).
    """

    name = "replay"

    def __init__(self, path: str, opts: SourceOptions | None = None, counters: Counters | None = None,
                 fmt: str | None = None, recordings: list | None = None) -> None:
        super().__init__(opts, counters)
        self.path, self.fmt, self.recordings = path, fmt, recordings
        self._done = False
        self._pending: tuple[float, Message] | None = None
        self._wall0 = time.monotonic()

    def start(self) -> "ReplaySource":
        if self.recordings is None:
            try:
                from edgelite.runtime.accel.io import read_recordings
            except ImportError as e:
                raise DataError(f"replay:{self.path}: recording readers unavailable ({e})") from None
            self.recordings = read_recordings(self.path, fmt=self.fmt)
        if not self.recordings:
            raise DataError(f"replay:{self.path}: no recordings found")
        self._it = self._messages()
        return self

    def _messages(self):
        """Yield ``(due_s, message)``: ``due_s`` = seconds after the recording's start it is due (realtime)."""
        for rec in self.recordings:
            x = np.asarray(rec.data, np.float32)
            t = rec.t if rec.t is not None else np.arange(x.shape[0]) / float(rec.rate_hz)
            t = np.asarray(t, np.float64)
            n = max(1, self.opts.batch_samples)
            if self.opts.realtime:  # small batches so that the pace is smooth
                n = max(1, min(n, int(self.opts.batch_s * float(rec.rate_hz))))
            t0 = float(t[0]) if t.shape[0] else 0.0
            gravity = getattr(rec, "gravity", None)
            for a in range(0, x.shape[0], n):
                tb = t[a:a + n]
                msg = [Batch(str(rec.name), tb, x[a:a + n], gravity=gravity, session="replay",
                             units="m/s^2", kind="totalacceleration" if gravity else "accelerometer")]
                yield (float(tb[-1]) - t0, a == 0), msg

    def get(self, timeout: float = 0.2) -> Message | None:
        """Next message; in realtime mode waits at most ``timeout`` for it to be due (None if not yet)."""
        if self._done or self.stop_event.is_set():
            return None
        if self._pending is None:
            try:
                (due, first), msg = next(self._it)
            except StopIteration:
                self._done = True
                return None
            if first:
                self._wall0 = time.monotonic()
            self._pending = (due, msg)
        due, msg = self._pending
        if self.opts.realtime:
            wait = self._wall0 + due - time.monotonic()
            if wait > 0:
                if self.stop_event.wait(min(wait, timeout)) or wait > timeout:
                    return None
        self._pending = None
        self.messages += 1
        self.samples += sum(len(b) for b in msg)
        return msg

    @property
    def finished(self) -> bool:
        return self._done
