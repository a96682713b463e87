"""``sensorlogger``: HTTP server for the Sensor Logger app's "HTTP push": POST JSON
``{messageId, sessionId, deviceId, payload: [{name, time (ns), values: {x, y, z}}, ...]}`` on any
path; ``name`` "accelerometer" = without gravity, "totalacceleration" = with gravity (m/s²).
Binds 127.0.0.1 unless told otherwise, can require a token (checked before the body is read), caps
message sizes, samples and device-time span per message and samples per second per device (429),
bounds connections (503 + Retry-After when full) and cuts off clients that do not complete the
headers / body within whole-request deadlines; every malformed request gets a 4xx answer, is counted,
logged once per kind and skipped: the server keeps serving.
"""

from __future__ import annotations

import hmac
import json
import math
import socket
import threading
import time
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from edgelite.runtime.accel.sources.base import (
    _NUM,
    DEFAULT_PORTS,
    Message,
    Source,
    _clean_id,
    log,
)
from edgelite.runtime.accel.stream import Batch, Counters
from edgelite.runtime.core.errors import EdgeliteError

SENSORLOGGER_KINDS = {"accelerometer": False, "totalacceleration": True}


# rejection kinds → (HTTP status, what the client is told)
_REJECT = {
    "bad_json": (400, "body is not JSON (or nested too deeply / numbers too large)"),
    "no_payload_list": (400, "expected a JSON object with a 'payload' list"),
    "too_many_samples": (413, "more payload entries than max_request_samples allows"),
    "bad_values": (400, "time or x/y/z values out of range"),
    "span_too_long": (413, "samples span more device time than max_request_span_s allows"),
}


def parse_sensorlogger(body: bytes, counters: Counters, max_samples: int = 20000, units: str = "m/s^2",
                       max_span_s: float | None = None) -> Message:
    """Sensor Logger push body → one batch per (device, kind). Raises ValueError(kind) if unusable.

    ``max_samples`` caps payload entries; ``max_span_s`` caps the device time one batch covers (the work a
    message causes downstream grows with it: resampling and one inference per stride)."""
    try:
        msg = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError, int too large, deep nesting
        raise ValueError("bad_json") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("payload"), list):
        raise ValueError("no_payload_list")
    payload = msg["payload"]
    if len(payload) > max_samples:
        raise ValueError("too_many_samples")
    device = _clean_id(msg.get("deviceId"), "sensorlogger")
    session = _clean_id(msg.get("sessionId"), "")
    cols, bad = _collect(payload)
    if bad:
        counters.add("bad_item", "payload entries without numeric time and values {x,y,z}", bad)
    out = []
    for name, (ts, xs) in cols.items():
        try:
            t = np.asarray(ts, np.float64) * 1e-9
            xyz = np.asarray(xs, np.float32)
        except (OverflowError, ValueError):
            raise ValueError("bad_values") from None
        if max_span_s is not None and _span_s(t) > max_span_s:
            raise ValueError("span_too_long")
        out.append(Batch(device, t, xyz, gravity=SENSORLOGGER_KINDS[name], session=session, units=units, kind=name))
    return out


def _collect(payload: list) -> tuple[dict[str, tuple[list, list]], int]:
    """Payload entries → ``{kind: (times, [(x, y, z)])}`` and the count of malformed entries."""
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
    return cols, bad


def _span_s(t: np.ndarray) -> float:
    """Seconds of device time a batch covers (finite timestamps only)."""
    fin = t[np.isfinite(t)]
    return float(fin.max() - fin.min()) if fin.size > 1 else 0.0


class _DeviceRates:
    """Token buckets: sustained ``rate`` samples/s per device, bursts up to ``burst``; bounded device count."""

    def __init__(self, rate: float, burst: float, max_devices: int = 4096) -> None:
        self.rate, self.burst, self.max_devices = rate, burst, max_devices
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, device: str, n: float) -> float:
        """Spend ``n`` (samples, or device seconds); 0 if allowed, else seconds until it would be."""
        now = time.monotonic()
        with self._lock:
            level, t = self.buckets.pop(device, (self.burst, now))
            level = min(self.burst, level + (now - t) * self.rate)
            wait = 0.0
            if n > level:
                wait = (n - level) / self.rate
            else:
                level -= n
            self.buckets[device] = (level, now)
            while len(self.buckets) > self.max_devices:
                self.buckets.popitem(last=False)
        return wait


class _SLServer(ThreadingHTTPServer):
    """Bounded: at most ``max_connections`` handler threads (then 503 + Retry-After), each connection under
    whole-request deadlines enforced by a watchdog thread (a slow client is cut off, whatever its pace)."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], handler: type, source: "SensorLoggerSource") -> None:
        self.source = source
        self._slots = threading.BoundedSemaphore(source.opts.max_connections)
        self._deadlines: dict[socket.socket, float] = {}
        self._cut: set[socket.socket] = set()  # connections the watchdog shut: their handler must not go on
        self._dl_lock = threading.Lock()
        self._stopping = threading.Event()
        super().__init__(addr, handler)
        self._watchdog = threading.Thread(target=self._watch_loop, name="sensorlogger-deadlines", daemon=True)
        self._watchdog.start()

    def watch(self, conn: socket.socket, seconds: float | None) -> None:
        """Cut ``conn`` off ``seconds`` from now (None: stop watching it)."""
        with self._dl_lock:
            if seconds is None:
                self._deadlines.pop(conn, None)
            else:
                self._deadlines[conn] = time.monotonic() + seconds

    def _watch_loop(self) -> None:
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            with self._dl_lock:
                late = [c for c, d in self._deadlines.items() if d <= now]
                for c in late:
                    del self._deadlines[c]
                    self._cut.add(c)
            for c in late:
                self.source.counters.add("deadline", "request not complete within its deadline; connection closed")
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.source.counters.add("too_many_connections",
                                     f"more than {self.source.opts.max_connections} at once; answered 503")
            _refuse(request, 503, "server busy: too many connections", retry_after=1)
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
            self.watch(request, None)
            with self._dl_lock:
                self._cut.discard(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.source.counters.add("connection_error", f"from {client_address[0]}")

    def server_close(self) -> None:
        self._stopping.set()
        super().server_close()


def _refuse(sock: socket.socket, code: int, text: str, retry_after: int | None = None) -> None:
    """Answer a connection we will not serve, without reading its request (best effort, never blocks long)."""
    body = json.dumps({"error": text}).encode()
    head = f"HTTP/1.1 {code} {HTTPStatus(code).phrase}\r\nContent-Type: application/json\r\n"
    if retry_after is not None:
        head += f"Retry-After: {retry_after}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        sock.settimeout(0.2)
        sock.sendall(head.encode() + body)
    except OSError:
        pass


_HEX = frozenset(b"0123456789abcdefABCDEF")


class _Reject(Exception):
    """A request refused with an HTTP status (counted under ``kind``)."""

    def __init__(self, code: int, kind: str, text: str, close: bool = True, retry_after: int | None = None):
        super().__init__(text)
        self.code, self.kind, self.text, self.close, self.retry_after = code, kind, text, close, retry_after


class _SLHandler(BaseHTTPRequestHandler):
    server_version = "edgelite"
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # a request line without a version still gets a status line back
    server: _SLServer

    def setup(self) -> None:
        self.timeout = self.server.source.opts.read_timeout_s
        super().setup()
        try:  # headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms a request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def handle_one_request(self) -> None:
        # the request line + headers (and the idle time before them on a kept-alive connection) must
        # arrive within header_deadline_s in total
        self.server.watch(self.connection, self.server.source.opts.header_deadline_s)
        try:
            super().handle_one_request()
        except OSError:  # the client reset the connection (or the deadline cut it) between requests
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: counters report problems
        pass

    def _reply(self, code: int, obj: dict[str, Any], close: bool = False, retry_after: int | None = None) -> None:
        data = json.dumps(obj).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
            if close:
                self._linger()
        except OSError:
            self.close_connection = True

    def _linger(self, max_bytes: int = 256 << 10, max_s: float = 0.25) -> None:
        """Before closing on an error, read (and drop) a little of what the client is still sending, so it
        does not get a reset before it reads our answer (bounded in bytes and time)."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)
        end = time.monotonic() + max_s
        got = 0
        while got < max_bytes and (left := end - time.monotonic()) > 0:
            self.connection.settimeout(left)
            chunk = self.connection.recv(65536)
            if not chunk:
                break
            got += len(chunk)

    def do_GET(self) -> None:
        src = self.server.source
        if not src.authorized(self.path, self.headers):
            return self._reply(401, {"error": "token required"})
        self._reply(200, {"edgelite": "sensorlogger", "messages": src.messages, "samples": src.samples})

    def _read_chunked(self, limit: int) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(66)
            size_s = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not size_s or len(size_s) > 16 or not set(size_s) <= _HEX:
                raise _Reject(400, "bad_chunked", "bad chunked encoding (chunk size must be hex digits)")
            size = int(size_s, 16)
            if size == 0:
                for _ in range(16):  # trailer lines up to the blank one
                    if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
                raise _Reject(400, "bad_chunked", "too many trailer lines in chunked body")
            total += size
            if total > limit:
                raise _Reject(413, "too_large", f"body over {limit} bytes (max_request_bytes)")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _Reject(400, "truncated", "client sent less than announced")
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _Reject(400, "bad_chunked", "chunk not followed by CRLF")
            parts.append(chunk)

    def _read_body(self) -> bytes:
        limit = self.server.source.opts.max_message_bytes
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te:
            if te.strip() != "chunked":
                raise _Reject(501, "bad_transfer_encoding", f"Transfer-Encoding {te[:40]!r} not supported")
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            raise _Reject(411, "no_length", "Content-Length required")
        if not length.strip().isdigit() or len(length.strip()) > 18:
            raise _Reject(400, "bad_length", "bad Content-Length")
        n = int(length)
        if n > limit:
            raise _Reject(413, "too_large", f"body over {limit} bytes (max_request_bytes)")
        body = self.rfile.read(n)
        if len(body) < n:
            raise _Reject(400, "truncated", "client sent less than announced")
        return body

    def do_POST(self) -> None:
        src = self.server.source
        try:
            self._handle_post(src)
        except _Reject as r:
            src.counters.add(r.kind, r.text)
            self._reply(r.code, {"error": r.text}, close=r.close, retry_after=r.retry_after)
        except OSError:  # timeout / reset / deadline mid-body
            src.counters.add("truncated", "client disconnected or stalled mid-message")
            self.close_connection = True
        finally:
            self.server.watch(self.connection, src.opts.header_deadline_s)

    def _handle_post(self, src: "SensorLoggerSource") -> None:
        if self.connection in self.server._cut:  # headers ended by the deadline cut, not by the client
            self.close_connection = True
            return
        if not src.authorized(self.path, self.headers):  # before reading a byte of the body
            raise _Reject(401, "unauthorized", "token required")
        if not src.accepting:
            raise _Reject(503, "shutting_down", "server shutting down", retry_after=5)
        self.server.watch(self.connection, src.opts.body_deadline_s)
        body = self._read_body()
        try:
            msg = parse_sensorlogger(body, src.counters, src.opts.max_samples, src.opts.units,
                                     max_span_s=src.opts.max_request_span_s)
        except ValueError as e:
            code, text = _REJECT.get(str(e), (400, str(e)))
            raise _Reject(code, str(e), text, close=False) from None
        for b in msg:
            wait = max(src.rates.take(b.device, len(b)), src.spans.take(b.device, _span_s(b.t)))
            if wait > 0:
                raise _Reject(429, "rate_limited", "device sends more samples or device time per second than "
                              "max_device_samples_per_s / max_device_span_per_s allow", close=False,
                              retry_after=max(1, math.ceil(wait)))
        if not src.offer(msg):
            raise _Reject(503, "busy", "busy", close=False, retry_after=1)
        self._reply(200, {"ok": True, "samples": sum(len(b) for b in msg)})


class SensorLoggerSource(Source):
    """HTTP server receiving Sensor Logger pushes (any path) on ``host:port`` (port 0 = any free port)."""

    name = "sensorlogger"

    def start(self) -> "SensorLoggerSource":
        self.rates = _DeviceRates(self.opts.max_device_samples_per_s,
                                  max(self.opts.max_samples, self.opts.max_device_samples_per_s))
        self.spans = _DeviceRates(self.opts.max_device_span_per_s,
                                  max(self.opts.max_request_span_s, self.opts.max_device_span_per_s))
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
        self.stop_intake()
        super().close()
        if hasattr(self, "httpd"):
            self.httpd.shutdown()
            self.httpd.server_close()
