"""The source interface shared by every live accelerometer source: options, the :class:`Source` base class
(a thread handing messages of :class:`~edgelite.runtime.accel.stream.Batch` over a bounded queue;
a flood beyond it is dropped and counted) and :func:`pump`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from edgelite.runtime.accel.stream import Counters
from edgelite.runtime.core.limits import get_limits

log = logging.getLogger("edgelite.sources")


DEFAULT_URL = "ws://127.0.0.1:8080/sensor/connect?type=android.sensor.accelerometer"
DEFAULT_PORTS = {"sensorlogger": 8000, "udp": 5555}


Message = list  # list[Batch]


@dataclass
class SourceOptions:
    """Options shared by the sources.

    ``host``/``port``: where servers listen (127.0.0.1 by default; a LAN address must be given
    explicitly); ``url``: the SensorServer WebSocket URL; ``token``: if set, HTTP requests must carry
    it (``?token=…`` in the URL typed into the app, or ``Authorization: Bearer …``);
    ``max_message_bytes``: larger requests/frames/datagrams are refused; ``max_samples``: samples
    per message; ``queue_size``: messages waiting for the classifier; ``max_connections``: concurrent
    HTTP connections; ``realtime``: replay at the recording's pace; ``batch_samples``/``batch_s``:
    how the one-sample-per-message protocols are grouped into batches; ``units``: of the incoming values;
    ``invert``: negate x, y, z (iOS Sensor Logger without "Standardise Units & Frames" reports the
    opposite sign of Android, which is the convention edgelite's readers and models use).
    ``header_deadline_s``/``body_deadline_s``: whole-request deadlines for an HTTP request's line +
    headers and for its body (a slow client is cut off when they pass, whatever its pace);
    ``max_request_span_s``: seconds of device time one message may cover (bounds the resampling and
    inferences one message can cause); ``max_device_samples_per_s``: sustained samples per second per
    device (bursts up to ``max_samples``) and ``max_device_span_per_s``: sustained seconds of device time
    per second per device (bursts up to ``max_request_span_s``; bounds inferences per device and second),
    beyond them HTTP answers 429. Defaults: :func:`edgelite.runtime.core.limits.get_limits`
    (``EDGELITE_MAX_*`` environment variables apply).
    """

    host: str = "127.0.0.1"
    port: int | None = None
    url: str = DEFAULT_URL
    token: str | None = None
    max_message_bytes: int = field(default_factory=lambda: get_limits().max_request_bytes)
    max_samples: int = field(default_factory=lambda: get_limits().max_request_samples)
    queue_size: int = 256
    max_connections: int = field(default_factory=lambda: get_limits().max_connections)
    read_timeout_s: float = 10.0
    header_deadline_s: float = field(default_factory=lambda: get_limits().header_deadline_s)
    body_deadline_s: float = field(default_factory=lambda: get_limits().body_deadline_s)
    max_request_span_s: float = field(default_factory=lambda: get_limits().max_request_span_s)
    max_device_samples_per_s: float = field(default_factory=lambda: get_limits().max_device_samples_per_s)
    max_device_span_per_s: float = field(default_factory=lambda: get_limits().max_device_span_per_s)
    realtime: bool = False
    batch_samples: int = 64
    batch_s: float = 0.05
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 10.0
    units: str = "m/s^2"
    invert: bool = False


class Source:
    """Base: ``start()``, ``get(timeout) -> message | None``, ``finished``, ``close()``; a context manager."""

    name = "source"

    def __init__(self, opts: SourceOptions | None = None, counters: Counters | None = None) -> None:
        self.opts = opts or SourceOptions()
        self.counters = counters or Counters(self.name)
        self.queue: queue.Queue = queue.Queue(maxsize=self.opts.queue_size)
        self.stop_event = threading.Event()
        self.messages = 0
        self.samples = 0
        self.accepting = True
        self._intake = threading.Lock()

    def start(self) -> "Source":
        return self

    def offer(self, msg: Message) -> bool:
        """Queue a message for the classifier; False (counted as ``overflow``) if the queue is full."""
        if not msg:
            return True
        if self.opts.invert:
            for b in msg:
                b.xyz = -np.asarray(b.xyz, np.float32)
        with self._intake:
            if not self.accepting:
                self.counters.add("shutting_down", "message refused while shutting down")
                return False
            try:
                self.queue.put_nowait(msg)
            except queue.Full:
                self.counters.add("overflow", f"classifier queue full ({self.opts.queue_size} messages); dropping")
                return False
            self.messages += 1
            self.samples += sum(len(b) for b in msg)
        return True

    def stop_intake(self) -> None:
        """Refuse new messages from now on (servers answer 503): what was accepted stays queued."""
        with self._intake:
            self.accepting = False

    def drain(self) -> list[Message]:
        """Stop intake and return every message still queued (accepted = acknowledged, so never dropped)."""
        self.stop_intake()
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out

    def get(self, timeout: float = 0.2) -> Message | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def finished(self) -> bool:
        return False

    def close(self) -> None:
        self.stop_event.set()

    def __enter__(self) -> "Source":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


_NUM = (int, float)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _clean_id(v: Any, default: str) -> str:
    s = str(v) if isinstance(v, (str, int)) and not isinstance(v, bool) else default
    s = "".join(c if (c.isalnum() or c in "-_.:") else "_" for c in s)[:96]
    return s or default


def pump(source: Source, on_message: Callable[[Message], None], max_seconds: float | None = None,
         stop: threading.Event | None = None, max_messages: int | None = None, idle_s: float | None = None) -> int:
    """Feed messages from ``source`` to ``on_message`` until the source is finished, ``max_seconds``
    pass, ``max_messages`` arrive, nothing arrives for ``idle_s``, or ``stop`` is set. Returns messages fed.

    Graceful shutdown: when ``stop`` is set or ``max_seconds`` pass, the source stops taking new messages
    and every message it already accepted (for HTTP: answered 200) is still fed before returning."""
    stop = stop or threading.Event()
    t_end = time.monotonic() + max_seconds if max_seconds else None
    last = time.monotonic()
    n = 0
    while not stop.is_set():
        now = time.monotonic()
        if t_end is not None and now >= t_end:
            break
        if max_messages is not None and n >= max_messages:
            break
        msg = source.get(timeout=0.1 if t_end is None else max(0.0, min(0.1, t_end - now)))
        if msg is None:
            if source.finished or (idle_s is not None and time.monotonic() - last > idle_s):
                break
            continue
        last = time.monotonic()
        on_message(msg)
        n += 1
    if stop.is_set() or (t_end is not None and time.monotonic() >= t_end):
        for msg in source.drain():
            on_message(msg)
            n += 1
    return n
