"""Sources of streamed accelerometer samples, each speaking a real phone app's protocol (stdlib only).

- ``sensorlogger``: HTTP server for the Sensor Logger app's "HTTP push": POST JSON
  ``{messageId, sessionId, deviceId, payload: [{name, time (ns), values: {x, y, z}}, ...]}`` on any
  path; ``name`` "accelerometer" = without gravity, "totalacceleration" = with gravity (m/s²).
- ``sensorserver``: WebSocket client of the SensorServer Android app
  (``ws://PHONE:8080/sensor/connect?type=android.sensor.accelerometer``, messages
  ``{"values": [x, y, z], "timestamp": ns, "accuracy": n}``), reconnecting with back-off.
  A minimal RFC 6455 client (socket + base64 + hashlib), so a Raspberry Pi needs no extra package.
- ``udp``: datagrams of the "Sensorstream IMU+GPS" app, CSV ``time_s, 3, ax, ay, az, 4, gx, gy, gz, ...``
  (sensor id 3 = accelerometer with gravity, m/s²); one device per sender address.
- ``replay:PATH``: any recording the readers of :mod:`edgelite.runtime.accel_io` support, as fast as
  possible or in real time.

Every source yields *messages*: lists of :class:`edgelite.runtime.stream.Batch`. Network sources run a
thread and hand messages over through a bounded queue (a flood beyond it is dropped and counted).
Servers bind 127.0.0.1 unless told otherwise and can require a token; message sizes are capped;
malformed messages are counted, logged once per kind and skipped — the server keeps serving.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import queue
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from edgelite.runtime.errors import DataError, EdgeliteError
from edgelite.runtime.stream import Batch, Counters

log = logging.getLogger("edgelite.sources")

DEFAULT_PORTS = {"sensorlogger": 8000, "udp": 5555}
DEFAULT_URL = "ws://127.0.0.1:8080/sensor/connect?type=android.sensor.accelerometer"
SENSORLOGGER_KINDS = {"accelerometer": False, "totalacceleration": True}
ANDROID_TYPES = {"android.sensor.accelerometer": True, "android.sensor.linear_acceleration": False,
                 "android.sensor.accelerometer_uncalibrated": True}
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
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
    """

    host: str = "127.0.0.1"
    port: int | None = None
    url: str = DEFAULT_URL
    token: str | None = None
    max_message_bytes: int = 1 << 20
    max_samples: int = 20000
    queue_size: int = 256
    max_connections: int = 16
    read_timeout_s: float = 10.0
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

    def start(self) -> "Source":
        return self

    def offer(self, msg: Message) -> bool:
        """Queue a message for the classifier; False (counted as ``overflow``) if the queue is full."""
        if not msg:
            return True
        if self.opts.invert:
            for b in msg:
                b.xyz = -np.asarray(b.xyz, np.float32)
        try:
            self.queue.put_nowait(msg)
        except queue.Full:
            self.counters.add("overflow", f"classifier queue full ({self.opts.queue_size} messages); dropping")
            return False
        self.messages += 1
        self.samples += sum(len(b) for b in msg)
        return True

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


# ----------------------------------------------------------------------------------------- Sensor Logger


def parse_sensorlogger(body: bytes, counters: Counters, max_samples: int = 20000, units: str = "m/s^2") -> Message:
    """Sensor Logger push body → one batch per (device, kind). Raises ValueError(kind) if unusable."""
    try:
        msg = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("bad_json") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("payload"), list):
        raise ValueError("no_payload_list")
    payload = msg["payload"]
    if len(payload) > max_samples:
        raise ValueError("too_many_samples")
    device = _clean_id(msg.get("deviceId"), "sensorlogger")
    session = _clean_id(msg.get("sessionId"), "")
    cols: dict[str, tuple[list, list]] = {}
    bad = 0
    num = _NUM
    kinds = SENSORLOGGER_KINDS
    for item in payload:  # hot loop: EAFP and exact type checks (bool is not a number here)
        try:
            name = item["name"]
            if name not in kinds:
                continue  # other sensors (gyroscope, location, ...) are not ours
            tm = item["time"]
            v = item["values"]
            x, y, z = v["x"], v["y"], v["z"]
        except (TypeError, KeyError, IndexError):
            bad += 1
            continue
        if type(tm) not in num or type(x) not in num or type(y) not in num or type(z) not in num:
            bad += 1
            continue
        col = cols.get(name)
        if col is None:
            col = cols[name] = ([], [])
        col[0].append(tm)
        col[1].append((x, y, z))
    if bad:
        counters.add("bad_item", "payload entries without numeric time and values {x,y,z}", bad)
    out = []
    for name, (ts, xs) in cols.items():
        t = np.asarray(ts, np.float64) * 1e-9
        out.append(Batch(device, t, np.asarray(xs, np.float32), gravity=SENSORLOGGER_KINDS[name],
                         session=session, units=units, kind=name))
    return out


class _SLServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, source: "SensorLoggerSource") -> None:
        self.source = source
        self._slots = threading.BoundedSemaphore(source.opts.max_connections)
        super().__init__(addr, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.source.counters.add("too_many_connections",
                                     f"more than {self.source.opts.max_connections} at once; refused")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.source.counters.add("connection_error", f"from {client_address[0]}")


class _SLHandler(BaseHTTPRequestHandler):
    server_version = "edgelite"
    protocol_version = "HTTP/1.1"
    server: _SLServer

    def setup(self) -> None:
        self.timeout = self.server.source.opts.read_timeout_s
        super().setup()
        try:  # headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms a request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # quiet: counters report problems
        pass

    def _reply(self, code: int, obj: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(obj).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        src = self.server.source
        if not src.authorized(self.path, self.headers):
            return self._reply(401, {"error": "token required"})
        self._reply(200, {"edgelite": "sensorlogger", "messages": src.messages, "samples": src.samples})

    def _read_body(self) -> bytes | None:
        src = self.server.source
        limit = src.opts.max_message_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(64)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    src.counters.add("bad_chunked", "malformed chunked body")
                    self._reply(400, {"error": "bad chunked encoding"}, close=True)
                    return None
                if size == 0:
                    self.rfile.readline(64)
                    return b"".join(parts)
                total += size
                if total > limit:
                    src.counters.add("too_large", f"body over {limit} bytes")
                    self._reply(413, {"error": f"body over {limit} bytes"}, close=True)
                    return None
                chunk = self.rfile.read(size)
                self.rfile.readline(64)
                if len(chunk) < size:
                    src.counters.add("truncated", "client sent less than announced")
                    self.close_connection = True
                    return None
                parts.append(chunk)
        length = self.headers.get("Content-Length")
        if length is None:
            src.counters.add("no_length", "POST without Content-Length")
            self._reply(411, {"error": "Content-Length required"}, close=True)
            return None
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            src.counters.add("bad_length", f"Content-Length {length!r}")
            self._reply(400, {"error": "bad Content-Length"}, close=True)
            return None
        if n > limit:
            src.counters.add("too_large", f"body over {limit} bytes")
            self._reply(413, {"error": f"body over {limit} bytes"}, close=True)
            return None
        body = self.rfile.read(n)
        if len(body) < n:
            src.counters.add("truncated", "client sent less than announced")
            self.close_connection = True
            return None
        return body

    def do_POST(self) -> None:
        src = self.server.source
        if not src.authorized(self.path, self.headers):
            src.counters.add("unauthorized", "request without the right token")
            return self._reply(401, {"error": "token required"}, close=True)
        try:
            body = self._read_body()
        except OSError:  # timeout / reset mid-body
            src.counters.add("truncated", "client disconnected or stalled mid-message")
            self.close_connection = True
            return
        if body is None:
            return
        try:
            msg = parse_sensorlogger(body, src.counters, src.opts.max_samples, src.opts.units)
        except ValueError as e:
            src.counters.add(str(e), "Sensor Logger message skipped")
            return self._reply(400, {"error": str(e)})
        if not src.offer(msg):
            return self._reply(503, {"error": "busy"})
        self._reply(200, {"ok": True, "samples": sum(len(b) for b in msg)})


class SensorLoggerSource(Source):
    """HTTP server receiving Sensor Logger pushes (any path) on ``host:port`` (port 0 = any free port)."""

    name = "sensorlogger"

    def start(self) -> "SensorLoggerSource":
        port = self.opts.port if self.opts.port is not None else DEFAULT_PORTS["sensorlogger"]
        try:
            self.httpd = _SLServer((self.opts.host, port), _SLHandler, self)
        except OSError as e:
            raise EdgeliteError(f"sensorlogger: cannot listen on {self.opts.host}:{port}: {e.strerror or e}") from None
        self.address = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="sensorlogger-http", daemon=True)
        self.thread.start()
        log.info("sensorlogger: listening on http://%s:%d/", *self.address)
        return self

    def authorized(self, path: str, headers: Any) -> bool:
        tok = self.opts.token
        if not tok:
            return True
        given = (parse_qs(urlsplit(path).query).get("token") or [""])[0]
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        given = given or (headers.get("X-Edgelite-Token") or "")
        return hmac.compare_digest(given.encode(), tok.encode())

    def close(self) -> None:
        super().close()
        if hasattr(self, "httpd"):
            self.httpd.shutdown()
            self.httpd.server_close()


# ------------------------------------------------------------------------------------ WebSocket client


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
            raise EdgeliteError(f"--url {url!r}: expected ws://HOST:PORT/path")
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
    except (UnicodeDecodeError, json.JSONDecodeError):
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
    return ts * 1e-9, (vals[0], vals[1], vals[2]), gravity


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
            raise EdgeliteError(f"--url {self.opts.url!r}: expected ws://HOST:8080/sensor/connect?type=...")
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


# ------------------------------------------------------------------------------------------------ UDP


def parse_sensorstream(line: str) -> tuple[float, tuple[float, float, float]] | None:
    """``"t, 3, ax, ay, az, 4, gx, gy, gz, ..."`` → ``(t, (ax, ay, az))``; None if no accelerometer entry.

    Raises ValueError if the line is not of that form.
    """
    f = [p.strip() for p in line.split(",")]
    if len(f) < 5:
        raise ValueError("too few fields")
    t = float(f[0])
    i = 1
    while i + 3 < len(f):
        sid = int(float(f[i]))
        if sid == 3:
            x, y, z = float(f[i + 1]), float(f[i + 2]), float(f[i + 3])
            return t, (x, y, z)
        i += 4
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


# --------------------------------------------------------------------------------------------- replay


class ReplaySource(Source):
    """Replays recordings (any format :func:`edgelite.runtime.accel_io.read_recordings` reads).

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
                from edgelite.runtime.accel_io import read_recordings
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


def make_source(spec: str, opts: SourceOptions, counters: Counters | None = None) -> Source:
    """``sensorlogger`` | ``sensorserver`` | ``udp`` | ``replay:PATH`` → an unstarted source."""
    if spec.startswith("replay:"):
        path = spec[len("replay:"):]
        if not path:
            raise EdgeliteError("--source replay:PATH needs a recording file or folder")
        return ReplaySource(path, opts, counters or Counters("replay"))
    classes = {"sensorlogger": SensorLoggerSource, "sensorserver": SensorServerSource, "udp": UDPSource}
    if spec not in classes:
        raise EdgeliteError(f"--source {spec!r}: expected sensorlogger, sensorserver, udp or replay:PATH")
    return classes[spec](opts, counters or Counters(spec))


def pump(source: Source, on_message: Callable[[Message], None], max_seconds: float | None = None,
         stop: threading.Event | None = None, max_messages: int | None = None, idle_s: float | None = None) -> int:
    """Feed messages from ``source`` to ``on_message`` until the source is finished, ``max_seconds``
    pass, ``max_messages`` arrive, nothing arrives for ``idle_s``, or ``stop`` is set. Returns messages fed."""
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
    return n
