"""``sensorserver``: WebSocket client of the SensorServer Android app
(``ws://PHONE:8080/sensor/connect?type=android.sensor.accelerometer``, messages
``{"values": [x, y, z], "timestamp": ns, "accuracy": n}``), reconnecting with back-off.
A minimal RFC 6455 client (socket + base64 + hashlib), so a Raspberry Pi needs no extra package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import socket
import struct
import threading
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
from edgelite.runtime.accel.sources.base import Source, _is_num
from edgelite.runtime.accel.stream import Batch, Counters
from edgelite.runtime.core.errors import EdgeliteError

ANDROID_TYPES = {"android.sensor.accelerometer": True, "android.sensor.linear_acceleration": False,
                 "android.sensor.accelerometer_uncalibrated": True}


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketError(Exception):
    pass


class WebSocketClient:
    """Minimal RFC 6455 client: handshake, text/binary messages (fragmented too), ping/pong, close.

    ``recv()`` returns a ``str``/``bytes`` message, ``None`` when the server closed, and raises
    ``TimeoutError`` when nothing arrived within ``timeout`` (the partial frame is kept).
    """

    def __init__(self, url: str, timeout: float = 5.0, max_message_bytes: int = 1 << 20) -> None:
        u = urlsplit(url)
        if u.scheme not in ("ws", "wss"):
            raise EdgeliteError(f"url {url!r}: expected ws://HOST:PORT/path")
        self.url, self.scheme, self.host = url, u.scheme, u.hostname or "127.0.0.1"
        self.port = u.port or (443 if u.scheme == "wss" else 80)
        self.resource = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.timeout, self.max_bytes = timeout, max_message_bytes
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self._frags: list[bytes] = []
        self._frag_op = 0

    def connect(self, connect_timeout: float = 5.0) -> "WebSocketClient":
        sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        if self.scheme == "wss":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {self.resource} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock.sendall(req.encode())
        self.sock, self.buf = sock, bytearray()
        head = bytearray()
        deadline = time.monotonic() + connect_timeout
        while b"\r\n\r\n" not in head:
            if len(head) > 16384 or time.monotonic() > deadline:
                self.close()
                raise WebSocketError("handshake response too long or too slow")
            chunk = sock.recv(4096)
            if not chunk:
                self.close()
                raise WebSocketError("connection closed during handshake")
            head += chunk
        end = head.index(b"\r\n\r\n")
        self.buf = bytearray(head[end + 4:])
        lines = head[:end].decode("latin-1").split("\r\n")
        if len(lines[0].split()) < 2 or lines[0].split()[1] != "101":
            self.close()
            raise WebSocketError(f"server refused the upgrade: {lines[0]!r}")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            self.close()
            raise WebSocketError("bad Sec-WebSocket-Accept in the handshake")
        sock.settimeout(self.timeout)
        return self

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)  # raises TimeoutError; buffer is kept
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        return bytes(self.buf[:n])

    def _frame(self) -> tuple[bool, int, bytes]:
        h = self._need(2)
        fin, op = bool(h[0] & 0x80), h[0] & 0x0F
        masked, ln = bool(h[1] & 0x80), h[1] & 0x7F
        pos = 2
        if ln == 126:
            ln = struct.unpack(">H", self._need(4)[2:4])[0]
            pos = 4
        elif ln == 127:
            ln = struct.unpack(">Q", self._need(10)[2:10])[0]
            pos = 10
        if ln + sum(map(len, self._frags)) > self.max_bytes:
            raise WebSocketError(f"message over {self.max_bytes} bytes")
        mask = b""
        if masked:
            mask = self._need(pos + 4)[pos:pos + 4]
            pos += 4
        data = self._need(pos + ln)[pos:]
        del self.buf[:pos + ln]
        if masked:
            m = np.frombuffer((mask * (ln // 4 + 1))[:ln], np.uint8)
            data = (np.frombuffer(data, np.uint8) ^ m).tobytes()
        return fin, op, data

    def send_frame(self, op: int, data: bytes = b"") -> None:
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | op])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        m = np.frombuffer((mask * (n // 4 + 1))[:n], np.uint8)
        body = (np.frombuffer(data, np.uint8) ^ m).tobytes() if n else b""
        self.sock.sendall(head + mask + body)

    def recv(self) -> str | bytes | None:
        while True:
            fin, op, data = self._frame()
            if op == 0x8:
                try:
                    self.send_frame(0x8, data[:2])
                except OSError:
                    pass
                return None
            if op == 0x9:
                self.send_frame(0xA, data)
                continue
            if op == 0xA:
                continue
            if op in (0x1, 0x2):
                if self._frags:
                    raise WebSocketError("new message inside a fragmented one")
                self._frag_op = op
            elif op == 0x0:
                if not self._frags:
                    raise WebSocketError("continuation frame without a first fragment")
            else:
                raise WebSocketError(f"unexpected opcode {op}")
            self._frags.append(data)
            if not fin:
                continue
            msg, op0 = b"".join(self._frags), self._frag_op
            self._frags, self._frag_op = [], 0
            if op0 == 0x1:
                try:
                    return msg.decode("utf-8")
                except UnicodeDecodeError:
                    raise WebSocketError("text message is not UTF-8") from None
            return msg

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def parse_sensorserver(text: str | bytes, default_gravity: bool | None, counters: Counters
                       ) -> tuple[float, tuple[float, float, float], bool | None] | None:
    """One SensorServer message → ``(t_s, (x, y, z), gravity)``; None (counted) if malformed."""
    try:
        msg = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError, int too large, deep nesting
        counters.add("bad_json", "SensorServer message is not JSON")
        return None
    if not isinstance(msg, dict):
        counters.add("bad_message", "SensorServer message is not an object")
        return None
    vals, ts = msg.get("values"), msg.get("timestamp")
    if not (isinstance(vals, list) and len(vals) >= 3 and all(_is_num(v) for v in vals[:3]) and _is_num(ts)):
        counters.add("bad_message", "expected {values: [x, y, z], timestamp: ns}")
        return None
    gravity = default_gravity
    if "type" in msg:
        if msg["type"] not in ANDROID_TYPES:
            return None
        gravity = ANDROID_TYPES[msg["type"]]
    try:  # ints too large for a float (e.g. 10**400) are malformed, not a crash of the source thread
        return float(ts) * 1e-9, (float(vals[0]), float(vals[1]), float(vals[2])), gravity
    except OverflowError:
        counters.add("bad_message", "timestamp or values out of range")
        return None


class _Accumulator:
    """Groups single samples into batches per (device, gravity): flush at ``n`` samples or ``dt`` seconds."""

    def __init__(self, source: Source, n: int, dt: float, session: str = "") -> None:
        self.source, self.n, self.dt, self.session = source, max(1, n), dt, session
        self.bufs: dict[tuple[str, bool | None], tuple[list, list, float]] = {}

    def add(self, device: str, t: float, xyz: tuple, gravity: bool | None) -> None:
        key = (device, gravity)
        if key not in self.bufs:
            self.bufs[key] = ([], [], time.monotonic())
        ts, xs, _ = self.bufs[key]
        ts.append(t)
        xs.append(xyz)
        if len(ts) >= self.n:
            self.flush(key)

    def flush(self, key: tuple[str, bool | None] | None = None, only_old: bool = False) -> None:
        keys = [key] if key is not None else list(self.bufs)
        now = time.monotonic()
        for k in keys:
            ts, xs, t0 = self.bufs[k]
            if only_old and now - t0 < self.dt:
                continue
            del self.bufs[k]
            self.source.offer([Batch(k[0], np.asarray(ts, np.float64), np.asarray(xs, np.float32), gravity=k[1],
                                     session=self.session, units=self.source.opts.units,
                                     kind="accelerometer" if k[1] is not False else "linear_acceleration")])


class SensorServerSource(Source):
    """WebSocket client of the SensorServer app; reconnects with exponential back-off (with jitter)."""

    name = "sensorserver"

    def start(self) -> "SensorServerSource":
        u = urlsplit(self.opts.url)
        if u.scheme not in ("ws", "wss"):
            raise EdgeliteError(f"url {self.opts.url!r}: expected ws://HOST:8080/sensor/connect?type=...")
        typ = (parse_qs(u.query).get("type") or [""])[0]
        self.default_gravity = ANDROID_TYPES.get(typ, True)
        self.device = f"{u.hostname}:{u.port or 80}"
        self.connections = 0
        self.thread = threading.Thread(target=self._loop, name="sensorserver-ws", daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        delay = self.opts.reconnect_min_s
        while not self.stop_event.is_set():
            ws = WebSocketClient(self.opts.url, timeout=min(self.opts.batch_s, 0.1) or 0.1,
                                 max_message_bytes=self.opts.max_message_bytes)
            got = False
            acc = _Accumulator(self, self.opts.batch_samples, self.opts.batch_s, session="")
            try:
                ws.connect()
                self.connections += 1
                while not self.stop_event.is_set():
                    try:
                        text = ws.recv()
                    except (TimeoutError, socket.timeout):
                        acc.flush(only_old=True)
                        continue
                    if text is None:
                        break
                    s = parse_sensorserver(text, self.default_gravity, self.counters)
                    if s is not None:
                        got = True
                        acc.add(self.device, s[0], s[1], s[2])
            except (OSError, WebSocketError) as e:
                if isinstance(e, WebSocketError):
                    self.counters.add("protocol_error", str(e))
                else:
                    self.counters.add("connect_failed", f"{self.opts.url}: {e}", level=logging.INFO)
            finally:
                acc.flush()  # samples received before a disconnect are kept
                ws.close()
            if got:
                delay = self.opts.reconnect_min_s
            if self.stop_event.is_set():
                break
            self.stop_event.wait(delay * (0.75 + 0.5 * random.random()))
            delay = min(delay * 2, self.opts.reconnect_max_s)

    def close(self) -> None:
        super().close()
        if hasattr(self, "thread"):
            self.thread.join(timeout=2)
