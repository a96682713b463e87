"""Serve an exported web site (`edgelite export MODEL --target web --out DIR`) to a browser.

Binds 127.0.0.1 by default (this computer only). For a phone on the same Wi-Fi use --host 0.0.0.0 and
--https: motion sensors and the camera only work on a secure page, so --https makes a self-signed
certificate (openssl, else the `cryptography` package); the phone shows a warning once, accept it.
The URL is printed with a QR code (with the optional `qrcode` package: pip install 'edgelite[web]').

examples:
  edgelite serve web sites/uci                              # http://127.0.0.1:8000/ on this computer
  edgelite serve web sites/uci --https --host 0.0.0.0       # scan the QR code with the phone
  edgelite serve web sites/signs --https --host 0.0.0.0 --port 8443
"""

from __future__ import annotations

import argparse

PATH = ("serve", "web")
HELP = "serve an exported web site (HTTPS with a self-signed certificate for phones)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("site", metavar="DIR", help="folder written by `edgelite export --target web`")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 = the LAN)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--https", action="store_true", help="serve over HTTPS with a self-signed certificate")
    p.add_argument("--cert", metavar="PEM", help="use this certificate (with --key) instead of a self-signed one")
    p.add_argument("--key", metavar="PEM", help="private key for --cert")


def run(args: argparse.Namespace) -> int:
    from edgelite.runtime.web.cert import lan_address, qr_text, self_signed_cert
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    if bool(args.cert) != bool(args.key):
        from edgelite.runtime.core.errors import EdgeliteError

        raise EdgeliteError("--cert and --key go together")
    cert, key = args.cert, args.key
    public = args.host in ("0.0.0.0", "::", "")
    lan = lan_address() if public else None
    if args.https and not cert:
        cert, key = self_signed_cert([n for n in (lan, args.host if not public else None) if n])
    srv = WebServer(WebServerOptions(args.site, host=args.host, port=args.port, certfile=cert, keyfile=key))
    scheme = "https" if cert else "http"
    url = f"{scheme}://{lan or ('127.0.0.1' if public else args.host)}:{srv.port}/"
    print(f"serving {args.site} at {url}  (Ctrl-C to stop)")
    if public and not cert:
        print("note: phones need --https for motion sensors and the camera")
    qr = qr_text(url)
    print(qr if qr else "(pip install 'edgelite[web]' to get a QR code here)")
    if cert and not args.cert:
        print("the certificate is self-signed: the browser warns once; choose 'advanced' → 'proceed'")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()
    return 0
