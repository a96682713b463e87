"""``browser``: a WebSocket server for the web site's "phone as a sensor" page (``sensor.html``), stdlib only.

The page streams DeviceMotion samples, one JSON text message every ~100 ms::

    {"device": "browser-ab12", "session": "ab12", "gravity": true, "units": "m/s^2",
     "t": [s, ...], "xyz": [[x, y, z], ...]}

(``t``: the page's event time in seconds, increasing; ``xyz``: ``accelerationIncludingGravity`` in m/s²).

Rules (those of the Sensor Logger server, stricter off loopback): binds 127.0.0.1 unless told otherwise;
when bound to any other address a token is required (``?token=`` in the WebSocket URL), and the server
speaks TLS (``wss://``) with the self-signed certificate of :mod:`edgelite.runtime.web.cert`, because a
page served over HTTPS (which DeviceMotion needs on a phone) may only open secure WebSockets. Messages over
``max_message_bytes`` close the connection; malformed ones are counted and skipped; at most
``max_connections`` connections; a GET without the WebSocket upgrade answers a short text page (open it once
on the phone to accept the certificate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import socketserver
import ssl
import struct
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from edgelite.runtime.accel.sources.base import Source, _clean_id
from edgelite.runtime.accel.stream import Batch
from edgelite.runtime.core.errors import EdgeliteError

log = logging.getLogger("edgelite.sources")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_browser(text: str | bytes, max_samples: int) -> list[Batch]:
    """One page message → ``[Batch]``; raises ``ValueError`` with a short reason when malformed."""
    try:
        m = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not_json") from None
    if not isinstance(m, dict):
        raise ValueError("not_object")
    t, xyz = m.get("t"), m.get("xyz")
    if not isinstance(t, list) or not isinstance(xyz, list) or len(t) != len(xyz):
        raise ValueError("bad_arrays")
    if len(t) > max_samples:
        raise ValueError("too_many_samples")
    try:
        ta = np.asarray(t, np.float64).reshape(-1)
        xa = np.asarray(xyz, np.float32).reshape(-1, 3) if len(t) else np.zeros((0, 3), np.float32)
    except (ValueError, TypeError):
        raise ValueError("bad_values") from None
    if xa.shape[0] != ta.shape[0]:
        raise ValueError("bad_values")
    g = m.get("gravity")
    units = m.get("units", "m/s^2")
    if units not in ("m/s^2", "g"):
        raise ValueError("bad_units")
    return [Batch(_clean_id(m.get("device"), "browser"), ta, xa, gravity=g if isinstance(g, bool) else None,
                  session=_clean_id(m.get("session"), ""), units=units)]


class _Conn(socketserver.BaseRequestHandler):
    """One WebSocket connection: handshake, then masked client frames (text; ping/close handled)."""

    def setup(self) -> None:
        self.request.settimeout(self.server.source.opts.read_timeout_s)
        self.buf = bytearray()

    def _recv(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.request.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return out

    def _send(self, op: int, data: bytes = b"") -> None:
        n = len(data)
        head = bytes([0x80 | op]) + (bytes([n]) if n < 126 else bytes([126]) + struct.pack(">H", n))
        self.request.sendall(head + data)

    def _handshake(self) -> dict[str, str] | None:
        src = self.server.source
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 16384:
                return None
            chunk = self.request.recv(4096)
            if not chunk:
                return None
            self.buf += chunk
        end = self.buf.index(b"\r\n\r\n")
        head, self.buf = bytes(self.buf[:end]).decode("latin-1"), self.buf[end + 4:]
        lines = head.split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        hdr = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if not src.authorized(path):
            src.counters.add("unauthorized", "connection without the right token")
            self.request.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 15\r\nConnection: close\r\n\r\ntoken required\n")
            return None
        if hdr.get("upgrade", "").lower() != "websocket" or "sec-websocket-key" not in hdr:
            body = b"edgelite browser source: open sensor.html of the web site and stream to this address\n"
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n%s" % (len(body), body))
            return None
        acc = base64.b64encode(hashlib.sha1((hdr["sec-websocket-key"] + WS_GUID).encode()).digest()).decode()
        self.request.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              f"Sec-WebSocket-Accept: {acc}\r\n\r\n").encode())
        return hdr

    def handle(self) -> None:
        src = self.server.source
        try:
            if self._handshake() is None:
                return
            frags: list[bytes] = []
            while not src.stop_event.is_set():
                b0, b1 = self._recv(2)
                op, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._recv(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._recv(8))[0]
                if not masked or n > src.opts.max_message_bytes or sum(map(len, frags)) + n > src.opts.max_message_bytes:
                    src.counters.add("too_large" if masked else "unmasked", "frame refused; connection closed")
                    self._send(8, struct.pack(">H", 1009 if masked else 1002))
                    return
                mask = self._recv(4)
                data = bytes(a ^ mask[i % 4] for i, a in enumerate(self._recv(n))) if n < 4096 else \
                    (np.frombuffer(self._recv(n), np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
                if op == 8:
                    self._send(8, data[:2])
                    return
                if op == 9:
                    self._send(10, data[:125])
                    continue
                if op in (1, 2, 0):
                    frags.append(data)
                    if b0 & 0x80:
                        self._message(b"".join(frags))
                        frags = []
        except (ConnectionError, TimeoutError, socket.timeout, OSError, ssl.SSLError):
            return

    def _message(self, payload: bytes) -> None:
        src = self.server.source
        try:
            msg = parse_browser(payload, src.opts.max_samples)
        except ValueError as e:
            src.counters.add(str(e), "browser message skipped")
            return
        src.offer(msg)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], source: "BrowserSource", ctx: ssl.SSLContext | None) -> None:
        self.source = source
        self.ctx = ctx
        self.slots = threading.BoundedSemaphore(source.opts.max_connections)
        super().__init__(addr, _Conn)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ctx is not None:
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.source.counters.add("too_many_connections", f"over {self.source.opts.max_connections}")
            request.close()
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class BrowserSource(Source):
    """WebSocket server for ``sensor.html`` on ``host:port`` (port 0 = any free port; default 8765)."""

    name = "browser"

    def __init__(self, *a: Any, certfile: str | None = None, keyfile: str | None = None, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.certfile, self.keyfile = certfile, keyfile

    @property
    def secure(self) -> bool:
        return self.opts.host not in LOOPBACK or self.certfile is not None

    def start(self) -> "BrowserSource":
        o = self.opts
        if o.host not in LOOPBACK and not o.token:
            raise EdgeliteError(f"browser source: listening on {o.host} (beyond this computer) needs a token; "
                                "set one and put it in the sensor page")
        ctx = None
        if self.secure:
            cert, key = self.certfile, self.keyfile
            if cert is None:
                from edgelite.runtime.web.cert import lan_address, self_signed_cert

                cert, key = self_signed_cert([n for n in (lan_address(), o.host) if n and n not in ("0.0.0.0", "::")])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
        port = DEFAULT_PORT if o.port is None else o.port
        try:
            self.server = _Server((o.host, port), self, ctx)
        except OSError as e:
            raise EdgeliteError(f"browser source: cannot listen on {o.host}:{port}: {e.strerror or e}") from None
        self.address = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="browser-ws", daemon=True)
        self.thread.start()
        log.info("browser: listening on %s", self.url)
        return self

    @property
    def url(self) -> str:
        host = self.address[0]
        if host in ("0.0.0.0", "::"):
            from edgelite.runtime.web.cert import lan_address

            host = lan_address() or "127.0.0.1"
        return f"{'wss' if self.secure else 'ws'}://{host}:{self.address[1]}/"

    def authorized(self, path: str) -> bool:
        tok = self.opts.token
        if not tok:
            return True
        given = (parse_qs(urlsplit(path).query).get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), tok.encode())

    def close(self) -> None:
        super().close()
        if hasattr(self, "server"):
            self.server.shutdown()
            self.server.server_close()


