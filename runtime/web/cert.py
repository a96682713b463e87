"""A self-signed TLS certificate for serving the web site to a phone on the LAN (a secure context is what
motion sensors and the camera need). Made with the ``openssl`` command, else the ``cryptography`` package.

The key and certificate are kept in ``<cache>/web/tls/`` and reused while they cover the same host names
and have more than a day left; the key file is private to the user (0600).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError

DAYS = 30


def _san(names: list[str]) -> list[str]:
    out = []
    for n in names:
        try:
            ipaddress.ip_address(n)
            out.append(f"IP:{n}")
        except ValueError:
            out.append(f"DNS:{n}")
    return out


def self_signed_cert(names: list[str], folder: str | os.PathLike | None = None) -> tuple[str, str]:
    """``(certfile, keyfile)`` PEM paths for a certificate valid for ``names`` (host names / IPs)."""
    if folder is None:
        from edgelite.runtime.core.paths import cache_dir

        folder = cache_dir() / "web" / "tls"
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    cert, key, info = d / "cert.pem", d / "key.pem", d / "cert.json"
    names = sorted(set(names) | {"localhost", "127.0.0.1"})
    if cert.exists() and key.exists() and info.exists():
        meta = json.loads(info.read_text())
        if meta.get("names") == names and meta.get("expires", 0) > dt.datetime.now(dt.timezone.utc).timestamp() + 86400:
            return str(cert), str(key)
    if shutil.which("openssl"):
        _openssl(names, cert, key)
    else:
        _cryptography(names, cert, key)
    os.chmod(key, 0o600)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=DAYS)
    info.write_text(json.dumps({"names": names, "expires": expires.timestamp()}))
    return str(cert), str(key)


def _openssl(names: list[str], cert: Path, key: Path) -> None:
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key) + ".tmp", "-out",
           str(cert) + ".tmp", "-days", str(DAYS), "-subj", "/CN=edgelite", "-addext",
           "subjectAltName=" + ",".join(_san(names))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise EdgeliteError(f"openssl could not make a self-signed certificate: {r.stderr.strip().splitlines()[-1:]}")
    os.replace(str(key) + ".tmp", key)
    os.replace(str(cert) + ".tmp", cert)


def _cryptography(names: list[str], cert: Path, key: Path) -> None:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise EdgeliteError("HTTPS needs a self-signed certificate: install the openssl command or the "
                            "`cryptography` Python package") from None
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgelite")])
    alt = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    now = dt.datetime.now(dt.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=DAYS)).add_extension(x509.SubjectAlternativeName(alt), False)
         .sign(k, hashes.SHA256()))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))


def lan_address() -> str | None:
    """This machine's address on the LAN (the one a phone would reach), or None."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent; picks the outgoing interface
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()


def qr_text(url: str) -> str | None:
    """The URL as a terminal QR code (the optional ``qrcode`` package, extra ``web``), or None."""
    try:
        import io

        import qrcode
    except ImportError:
        return None
    q = qrcode.QRCode(border=2)
    q.add_data(url)
    q.make(fit=True)
    buf = io.StringIO()
    q.print_ascii(out=buf, invert=True)
    return buf.getvalue()
