"""Load / soak benchmark of the Sensor Logger push server (loopback only, bounded in time).

The server runs in a subprocess (``SensorLoggerSource`` with its default limits, feeding a
``StreamClassifier`` whose model is a NumPy stand-in, so the whole receive → resample → window path runs).
Phases, each ``--phase-s`` seconds, valid clients measured while attackers run:

* ``baseline``     4 valid clients;
* ``flood``        16 valid clients as fast as they can;
* ``slowloris``    40 connections dribbling header bytes (reconnecting when cut off) + 4 valid clients;
* ``bodies``       oversized Content-Length, negative / invalid chunk sizes, a stalled chunked body + 4 valid;
* ``devices``      4 valid clients spreading their pushes over 3,000 device ids;
* ``soak``         everything at once for ``--soak-s`` seconds, server RSS sampled every second.

Valid requests push 50 samples (0.5 s of a device clock) per request; served = answered 200.
Records requests/s, p50/p99 latency of valid requests, the served fraction (target ≥ 95 %) and the
server's RSS over time → ``benchmarks/results/server_load.{md,json}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

SERVER_CODE = r"""
import sys, threading, numpy as np
from edgelite.runtime.accel.sources import SourceOptions, pump
from edgelite.runtime.accel.sources.http import SensorLoggerSource
from edgelite.runtime.accel.stream import StreamClassifier, StreamOptions
import logging; logging.disable(logging.WARNING)
src = SensorLoggerSource(SourceOptions(port=0)).start()
clf = StreamClassifier(lambda w: np.full(3, 1 / 3, np.float32), ["a", "b", "c"],
                       StreamOptions(rate_hz=50.0, window_samples=100, stride=50, gravity=True, max_devices=4096))
print(src.address[1], flush=True)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
pump(src, clf.push_many, stop=stop)
src.close()
import json; print(json.dumps({"counters": src.counters.as_dict(), "windows": clf.windows_out}), flush=True)
"""


def _body(device: str, t0_ns: int, n: int = 50) -> bytes:
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": device, "payload": [
        {"name": "totalacceleration", "time": t0_ns + i * 10_000_000,
         "values": {"x": 0.1 * (i % 7), "y": 9.8, "z": 0.2}} for i in range(n)]}).encode()


class Valid(threading.Thread):
    """A valid client: keep-alive POSTs, each device's clock advancing 0.5 s per push."""

    def __init__(self, port: int, name: str, stop: threading.Event, devices: int = 20, pause_s: float = 0.0):
        super().__init__(daemon=True)
        self.port, self.stop, self.pause = port, stop, pause_s
        self.devices = [f"{name}-{i}" for i in range(devices)]
        self.clock = {d: 1_000_000_000 for d in self.devices}
        self.lat: list[float] = []
        self.codes: dict[int, int] = {}
        self.failed = 0

    def run(self) -> None:
        conn = None
        k = 0
        while not self.stop.is_set():
            d = self.devices[k % len(self.devices)]
            k += 1
            body = _body(d, self.clock[d])
            self.clock[d] += 500_000_000
            t = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                conn.request("POST", "/push", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                code = r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                code = 0
                self.failed += 1
                if conn is not None:
                    conn.close()
                conn = None
            self.lat.append(time.perf_counter() - t)
            self.codes[code] = self.codes.get(code, 0) + 1
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()


class Slowloris(threading.Thread):
    """Holds a connection by dribbling header bytes; reconnects when the server cuts it off."""

    def __init__(self, port: int, stop: threading.Event, every_s: float = 1.0):
        super().__init__(daemon=True)
        self.port, self.stop, self.every = port, stop, every_s
        self.cut = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                s.sendall(b"POST /push HTTP/1.1\r\nHost: x\r\n")
                while not self.stop.wait(self.every):
                    s.sendall(b"X-Slow: y\r\n")
                s.close()
            except OSError:
                self.cut += 1
                time.sleep(0.05)


class BadBodies(threading.Thread):
    """Oversized Content-Length, negative / junk chunk sizes, and a chunked body that stalls."""

    REQS = [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 600000000\r\n\r\n" + b"x" * 65536,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-10\r\n" + b"x" * 65536,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n" + b"x" * 4096,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + b"[" * 40,
    ]

    def __init__(self, port: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.sent = 0
        self.codes: dict[int, int] = {}

    def run(self) -> None:
        k = 0
        while not self.stop.is_set():
            req = self.REQS[k % len(self.REQS)]
            k += 1
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                try:
                    s.sendall(req)
                except OSError:
                    pass
                resp = s.recv(64)
                code = int(resp.split(b" ")[1]) if resp.startswith(b"HTTP/") else 0
                s.close()
            except (OSError, ValueError, IndexError):
                code = 0
            self.sent += 1
            self.codes[code] = self.codes.get(code, 0) + 1
            time.sleep(0.01)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_phase(name: str, port: int, pid: int, seconds: float, valid: int = 4, slow: int = 0, bad: int = 0,
              devices: int = 20, pause_s: float = 0.02) -> dict:
    stop = threading.Event()
    attackers = [Slowloris(port, stop) for _ in range(slow)] + [BadBodies(port, stop) for _ in range(bad)]
    for a in attackers:
        a.start()
    if slow:
        time.sleep(1.0)  # let the slow connections take their slots first
    clients = [Valid(port, f"{name}{i}", stop, devices=devices, pause_s=pause_s) for i in range(valid)]
    rss = []
    t0 = time.monotonic()
    for c in clients:
        c.start()
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        rss.append(round(_rss_mb(pid), 1))
    stop.set()
    for t in clients + attackers:
        t.join(10)
    dt = time.monotonic() - t0
    lat = np.asarray([x for c in clients for x in c.lat]) * 1000
    codes: dict[int, int] = {}
    for c in clients:
        for k, v in c.codes.items():
            codes[k] = codes.get(k, 0) + v
    total = int(sum(codes.values()))
    served = codes.get(200, 0)
    row = {
        "phase": name, "seconds": round(dt, 1), "valid_clients": valid, "slowloris": slow, "bad_body_clients": bad,
        "devices": valid * devices, "valid_requests": total, "served": served,
        "served_fraction": round(served / total, 4) if total else None,
        "valid_req_per_s": round(served / dt, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "codes": {str(k): v for k, v in sorted(codes.items())},
        "attack_requests": sum(a.sent for a in attackers if isinstance(a, BadBodies)),
        "slowloris_cut_offs": sum(a.cut for a in attackers if isinstance(a, Slowloris)),
        "rss_mb": rss,
    }
    print(f"{name:10s} served {served}/{total} ({row['served_fraction']}) {row['valid_req_per_s']} req/s "
          f"p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms RSS {rss[:1]}→{rss[-1:]} MB codes {row['codes']}",
          flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase-s", type=float, default=10.0, help="seconds per attack phase (default 10)")
    ap.add_argument("--soak-s", type=float, default=600.0, help="seconds of the combined soak (default 600)")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench_common import machine

    proc = subprocess.Popen([sys.executable, "-c", SERVER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    port = int(proc.stdout.readline())
    rows = []
    try:
        rss0 = _rss_mb(proc.pid)
        rows.append(run_phase("baseline", port, proc.pid, args.phase_s))
        rows.append(run_phase("flood", port, proc.pid, args.phase_s, valid=16, pause_s=0.0))
        rows.append(run_phase("slowloris", port, proc.pid, args.phase_s, slow=40))
        rows.append(run_phase("bodies", port, proc.pid, args.phase_s, bad=4))
        rows.append(run_phase("devices", port, proc.pid, args.phase_s, devices=750))
        rows.append(run_phase("soak", port, proc.pid, args.soak_s, valid=8, slow=40, bad=2, devices=250))
    finally:
        proc.stdin.close()
        try:
            tail = proc.stdout.read()
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            tail = ""
    server = json.loads(tail.strip().splitlines()[-1]) if tail.strip() else {}
    save(rows, server, rss0, args, machine())
    return 0


def save(rows: list[dict], server: dict, rss0: float, args: argparse.Namespace, m: dict) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/server_load.py " + " ".join(sys.argv[1:])
    soak = rows[-1]["rss_mb"]
    warm = soak[min(len(soak) - 1, 10):]
    data = {"command": cmd, "machine": m, "server_rss_start_mb": rss0, "phases": rows, "server": server,
            "soak_rss_after_10s_mb": warm[:1], "soak_rss_end_mb": soak[-1:], "soak_rss_max_mb": max(soak, default=None)}
    (out / "server_load.json").write_text(json.dumps(data, indent=2))
    from bench_common import header

    from edgelite.runtime.core.limits import get_limits

    lim = get_limits()
    lines = [
        header("Sensor Logger push server under load and attack (loopback)", m, cmd),
        f"Server: default limits ({lim.max_connections} connections, {lim.header_deadline_s:g} s header / "
        f"{lim.body_deadline_s:g} s body deadlines, {lim.max_request_bytes >> 10} KiB bodies, "
        f"{lim.max_request_span_s:g} s span per request, {lim.max_device_samples_per_s:g} samples/s and "
        f"{lim.max_device_span_per_s:g} device-s/s per device), stand-in NumPy model behind the real StreamClassifier. "
        "Served = valid requests answered 200 while the attackers of the phase run.",
        "",
        "| phase | s | valid clients | slowloris | bad-body clients | valid requests | served | served % | req/s | p50 ms | p99 ms | RSS start→end MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        frac = f"{100 * r['served_fraction']:.1f}" if r["served_fraction"] is not None else "-"
        rs = r["rss_mb"]
        lines.append(f"| {r['phase']} | {r['seconds']} | {r['valid_clients']} | {r['slowloris']} | {r['bad_body_clients']} "
                     f"| {r['valid_requests']} | {r['served']} | {frac} | {r['valid_req_per_s']} | {r['p50_ms']} "
                     f"| {r['p99_ms']} | {rs[0] if rs else '-'}→{rs[-1] if rs else '-'} |")
    lines += ["", f"Soak RSS (MB, every second): {soak}", "",
              f"Server counters at the end: `{json.dumps(server.get('counters', {}))}`"]
    (out / "server_load.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
