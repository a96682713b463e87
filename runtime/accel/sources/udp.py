"""``udp``: datagrams of the "Sensorstream IMU+GPS" app, CSV ``time_s, 3, ax, ay, az, 4, gx, gy, gz, ...``
(sensor id 3 = accelerometer with gravity, m/s²); one device per sender address.
"""

from __future__ import annotations

import logging
import socket
import threading

from edgelite.runtime.accel.sources.base import DEFAULT_PORTS, Source
from edgelite.runtime.accel.sources.websocket import _Accumulator
from edgelite.runtime.core.errors import EdgeliteError


def parse_sensorstream(line: str) -> tuple[float, tuple[float, float, float]] | None:
    """``"t, 3, ax, ay, az, 4, gx, gy, gz, ..."`` → ``(t, (ax, ay, az))``; None if no accelerometer entry.

    Raises ValueError if the line is not of that form.
    """
    if len(line) > 4096:
        raise ValueError("line too long")
    f = [p.strip() for p in line.split(",")]
    if len(f) < 5:
        raise ValueError("too few fields")
    try:
        t = float(f[0])
        i = 1
        while i + 3 < len(f):
            sid = int(float(f[i]))
            if sid == 3:
                x, y, z = float(f[i + 1]), float(f[i + 2]), float(f[i + 3])
                return t, (x, y, z)
            i += 4
    except OverflowError:  # int(float("inf"))
        raise ValueError("sensor id is not a finite number") from None
    return None


class UDPSource(Source):
    """UDP listener for Sensorstream IMU+GPS datagrams; one device per sender ``ip:port``."""

    name = "udp"

    def start(self) -> "UDPSource":
        port = self.opts.port if self.opts.port is not None else DEFAULT_PORTS["udp"]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # absorb bursts (the kernel caps this at net.core.rmem_max)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        try:
            self.sock.bind((self.opts.host, port))
        except OSError as e:
            self.sock.close()
            raise EdgeliteError(f"udp: cannot listen on {self.opts.host}:{port}: {e.strerror or e}") from None
        self.sock.settimeout(min(self.opts.batch_s, 0.1) or 0.1)
        self.address = self.sock.getsockname()[:2]
        self.thread = threading.Thread(target=self._loop, name="udp", daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        acc = _Accumulator(self, self.opts.batch_samples, self.opts.batch_s, session="")
        limit = min(self.opts.max_message_bytes, 65535)
        while not self.stop_event.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                acc.flush(only_old=True)
                continue
            except OSError:
                break
            if len(data) > limit:
                self.counters.add("too_large", f"datagram over {limit} bytes")
                continue
            device = f"{addr[0]}:{addr[1]}"
            try:
                text = data.decode("ascii")
            except UnicodeDecodeError:
                self.counters.add("bad_encoding", "datagram is not ASCII text")
                continue
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    s = parse_sensorstream(line)
                except ValueError:
                    self.counters.add("bad_line", f"expected 'time, 3, ax, ay, az, ...', got {line[:60]!r}")
                    continue
                if s is None:
                    self.counters.add("no_accelerometer", "datagram without sensor id 3", level=logging.INFO)
                    continue
                acc.add(device, s[0], s[1], True)
        acc.flush()

    def close(self) -> None:
        super().close()
        if hasattr(self, "thread"):
            self.thread.join(timeout=2)
            self.sock.close()
