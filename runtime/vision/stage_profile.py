"""Per-stage wall and CPU time of a frame loop (the hand tracker's profile).

CPU time is ``time.process_time()`` (all threads of the process, so LiteRT/XNNPACK worker threads
count): on a shared or bigger machine it is the better proxy for a slower device such as a
Raspberry Pi, where the same work runs on fewer, slower cores. Wall time is ``time.perf_counter()``.
(The live loop's ``webcam.StageTimer`` keeps per-frame wall medians for its summary; this one
accumulates wall and CPU totals per stage inside the tracker.)

>>> t = StageProfile()
>>> with t.stage("detect"):
...     pass
>>> sorted(t.totals())
['detect']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageProfile:
    """Accumulates ``{stage: [wall_s, cpu_s, calls]}``; :meth:`frame_ms` splits per frame.

    ``enabled=False`` makes :meth:`stage` a no-op (two attribute lookups per call).
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._acc: dict[str, list[float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            a = self._acc.setdefault(name, [0.0, 0.0, 0])
            a[0] += time.perf_counter() - w0
            a[1] += time.process_time() - c0
            a[2] += 1

    def totals(self) -> dict[str, dict[str, float]]:
        """``{stage: {"wall_ms", "cpu_ms", "calls"}}`` summed since the last :meth:`reset`."""
        return {k: {"wall_ms": v[0] * 1e3, "cpu_ms": v[1] * 1e3, "calls": int(v[2])} for k, v in self._acc.items()}

    def frame_ms(self, frames: int) -> dict[str, dict[str, float]]:
        """Totals divided by ``frames``: mean wall/CPU ms per frame of each stage (and its calls per frame)."""
        n = max(1, int(frames))
        return {k: {"wall_ms": v["wall_ms"] / n, "cpu_ms": v["cpu_ms"] / n, "calls_per_frame": v["calls"] / n}
                for k, v in self.totals().items()}

    def reset(self) -> None:
        self._acc.clear()
