"""Static file server for an exported web site (stdlib ``http.server``), optionally over HTTPS.

- Binds ``127.0.0.1`` unless another host is asked for (a phone on the LAN needs ``0.0.0.0`` and, for
  motion sensors and the camera, a secure context: HTTPS).
- Serves only files under the site folder (no directory listings, no paths outside it); GET/HEAD only.
- Sends ``Cross-Origin-Opener-Policy: same-origin`` + ``Cross-Origin-Embedder-Policy: require-corp`` so
  the page is cross-origin isolated (LiteRT.js's threaded wasm needs ``SharedArrayBuffer``), the right
  MIME types for ``.mjs``/``.wasm``, and ``Cache-Control: no-cache``.
- Bounded: a thread per connection with at most ``max_connections`` at once, a socket timeout.
"""

from __future__ import annotations

import http.server
import os
import socketserver
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from edgelite.runtime.core.errors import EdgeliteError

MIME = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
        ".tflite": "application/octet-stream", ".task": "application/octet-stream", ".css": "text/css",
        ".html": "text/html; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


@dataclass
class WebServerOptions:
    """``root``: site folder; ``host``/``port`` (0 = any free port); ``certfile``/``keyfile``: PEM for HTTPS;
    ``max_connections``: concurrent connections; ``timeout_s``: per-socket timeout (s)."""

    root: str
    host: str = "127.0.0.1"
    port: int = 8000
    certfile: str | None = None
    keyfile: str | None = None
    max_connections: int = 32
    timeout_s: float = 30.0
    quiet: bool = True


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "edgelite-web"
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME}

    def __init__(self, *a: Any, directory: str, quiet: bool, **kw: Any) -> None:
        self._quiet = quiet
        super().__init__(*a, directory=directory, **kw)

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        # the pages talk to this server and WebSockets only (MediaPipe's usage-log POST is refused too)
        self.send_header("Content-Security-Policy", "connect-src 'self' ws: wss: blob: data:")
        super().end_headers()

    def list_directory(self, path: str):  # no listings
        self.send_error(404, "not found")
        return None

    def log_message(self, fmt: str, *args: Any) -> None:
        if not self._quiet:
            super().log_message(fmt, *args)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: Any, max_connections: int, timeout_s: float) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self._timeout_s = timeout_s
        self.ssl_context: ssl.SSLContext | None = None
        super().__init__(addr, handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:  # the TLS handshake happens in the connection's thread, not here
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            request.close()  # over the connection limit: drop
            return
        request.settimeout(self._timeout_s)
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


class WebServer:
    """Serve a site folder; ``start()`` runs in a background thread, ``serve_forever()`` blocks; context manager."""

    def __init__(self, options: WebServerOptions) -> None:
        self.o = options
        root = os.path.abspath(options.root)
        if not os.path.isfile(os.path.join(root, "index.html")):
            raise EdgeliteError(f"{root}: no index.html: not an exported web site (export one with the web target)")

        def handler(*a: Any, **kw: Any) -> _Handler:
            return _Handler(*a, directory=root, quiet=options.quiet, **kw)

        try:
            self.httpd = _Server((options.host, int(options.port)), handler, options.max_connections, options.timeout_s)
        except OSError as e:
            raise EdgeliteError(f"cannot listen on {options.host}:{options.port}: {e.strerror or e}") from None
        if options.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(options.certfile, options.keyfile)
            self.httpd.ssl_context = ctx
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.o.certfile else "http"
        host = self.o.host if self.o.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/"

    def start(self) -> "WebServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="edgelite-web", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown() if self._thread else None
        self.httpd.server_close()

    def __enter__(self) -> "WebServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
