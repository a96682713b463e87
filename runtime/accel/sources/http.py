"""``sensorlogger``: HTTP server for the Sensor Logger app's "HTTP push": POST JSON
``{messageId, sessionId, deviceId, payload: [{name, time (ns), values: {x, y, z}}, ...]}`` on any
path; ``name`` "accelerometer" = without gravity, "totalacceleration" = with gravity (m/s²).
Binds 127.0.0.1 unless told otherwise, can require a token, caps message sizes; malformed messages
are counted, logged once per kind and skipped: the server keeps serving.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
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
