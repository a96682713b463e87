"""Fuzz every reader, the model reader and the stream parsers with mutated REAL files from ../shared.

One engine, two drivers:

* ``tests/test_fuzz_*.py`` (pytest + hypothesis, derandomized): a few hundred cases per target in-process;
* ``make fuzz`` / ``python benchmarks/fuzz.py --cases 1000``: each case runs in a forked child with
  ``resource.setrlimit`` memory (address space) and CPU caps and a wall-clock time-out; the table
  (target, cases, ok, clean errors, other exceptions, time-outs, crashes, max RSS) is printed and saved to
  ``benchmarks/results/fuzz.{md,json}``.

Outcomes: ``ok`` (the reader returned), ``clean`` (the project's own error: ``EdgeliteError`` and its
subclasses; for the wire parsers their documented rejection: ``ValueError`` kinds / ``WebSocketError``),
``other`` (any other exception: a traceback for a user), ``timeout``, ``crash`` (the child died, e.g. out
of memory). Targets: 0 other, 0 time-outs, max RSS ≤ 512 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tarfile
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def shared_dir() -> Path:
    env = os.environ.get("EDGELITE_SHARED")
    return Path(env) if env else REPO.parent / "shared"


# ------------------------------------------------------------------------------------------ mutation

_INTERESTING = [b"0", b"-1", b"nan", b"inf", b"-inf", b"1e999", b"", b",", b"\r", b"\n", b"\r\n", b"\x00",
                b"\xff\xfe", b"-,-,-", b'"', b"9" * 400, b"-" * 3, b"\xef\xbb\xbf", b"\x1b[0m", b";",
                b"1" + b"0" * 400, b"9" * 5000, b"[" * 3000]


def mutate(data: bytes, rng: random.Random, max_ops: int = 4) -> bytes:
    """1..max_ops random edits: bit flips, interesting tokens, deletions, duplications (growth), splices,
    truncation, line edits and CR-only line endings. Deterministic for a given ``rng`` state."""
    b = bytearray(data)
    for _ in range(rng.randint(1, max_ops)):
        op = rng.randrange(10)
        n = len(b)
        if n == 0:
            b += rng.choice(_INTERESTING)
            continue
        i = rng.randrange(n)
        if op == 0:  # bit flips
            for _ in range(rng.randint(1, 8)):
                j = rng.randrange(n)
                b[j] ^= 1 << rng.randrange(8)
        elif op == 1:  # random bytes overwrite
            k = rng.randint(1, 16)
            b[i:i + k] = bytes(rng.randrange(256) for _ in range(k))
        elif op == 2:  # interesting token insert
            b[i:i] = rng.choice(_INTERESTING)
        elif op == 3:  # delete a range
            del b[i:i + rng.randint(1, max(1, n // 8))]
        elif op == 4:  # duplicate a range (growth, up to 4x)
            k = rng.randint(1, max(1, n // 4))
            b[i:i] = b[i:i + k] * rng.randint(1, 3)
        elif op == 5:  # truncate
            del b[rng.randrange(n):]
        elif op == 6:  # splice a chunk elsewhere
            k = rng.randint(1, 64)
            j = rng.randrange(n)
            b[j:j] = b[i:i + k]
        elif op == 7:  # line-level: drop / duplicate / reorder lines
            lines = bytes(b).split(b"\n")
            a = rng.randrange(len(lines))
            choice = rng.randrange(3)
            if choice == 0:
                del lines[a]
            elif choice == 1:
                lines[a:a] = [lines[a]] * rng.randint(1, 20)
            else:
                c = rng.randrange(len(lines))
                lines[a], lines[c] = lines[c], lines[a]
            b = bytearray(b"\n".join(lines))
        elif op == 8:  # CR-only line endings or stripped newlines
            b = bytearray(bytes(b).replace(b"\n", rng.choice([b"\r", b"", b"\n\n", b"\r\r\n"])))
        else:  # numbers: replace a digit run by an extreme value
            j = i
            while j < n and 48 <= b[j] <= 57:
                j += 1
            b[i:j] = rng.choice([b"1e308", b"-0", b"99999999999999999999999", b"0x10", b"1_000", b"NaN"])
    return bytes(b)


# -------------------------------------------------------------------------------------------- seeds


def _head_lines(path: Path, max_bytes: int) -> bytes:
    data = path.read_bytes()[:max_bytes]
    return data[: data.rfind(b"\n") + 1] if b"\n" in data else data


def _mp_seq_frames(shared: Path, n_members: int = 60) -> list[tuple[str, bytes]]:
    """The first members (npy frames) of the real MP_Data archive, read without unpacking it all."""
    arch = shared / "data" / "mp-data" / "traduttore" / "LETTER_Data.tar.xz"
    out = []
    with tarfile.open(arch, "r|xz") as tf:
        for m in tf:
            if m.isreg() and m.name.endswith(".npy"):
                out.append((m.name, tf.extractfile(m).read()))
                if len(out) >= n_members:
                    break
    return out


@dataclass
class Seeds:
    """Real seed files, loaded once (small heads of the shared files keep each case fast)."""

    shared: Path
    model: Path | None = None

    def __post_init__(self) -> None:
        d = self.shared / "data"
        acc = d / "accel"
        self.uci = _head_lines(acc / "uci-walking" / "Dataset" / "7.csv", 12_000)
        self.wand = _head_lines(acc / "magic-wand" / "wing" / sorted(os.listdir(acc / "magic-wand" / "wing"))[0], 12_000)
        zips = sorted((acc / "sensorlogger-wand").rglob("*.zip"))
        self.sl_zip = zips[0].read_bytes()
        import zipfile

        with zipfile.ZipFile(zips[0]) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            self.sl_acc = zf.read(names["Accelerometer.csv"])[:12_000]
            self.sl_acc = self.sl_acc[: self.sl_acc.rfind(b"\n") + 1]
            self.sl_meta = zf.read(names["Metadata.csv"]) if "Metadata.csv" in names else b"platform,device name\nandroid,x\n"
        parquets = sorted((d / "asl-signs" / "train_landmark_files").rglob("*.parquet"))
        self.parquet = min(parquets[:20], key=lambda p: p.stat().st_size).read_bytes()
        self.train_csv = _head_lines(d / "asl-signs" / "train.csv", 6_000)
        frames = _mp_seq_frames(self.shared)
        first_seq = str(Path(frames[0][0]).parent)
        self.mp_frames = [(Path(n).name, b) for n, b in frames if str(Path(n).parent) == first_seq][:12]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as tf:
            for name, data in frames[:24]:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        self.mp_tar = buf.getvalue()  # real frames, re-packed small
        self.sl_push = _sl_push_body(self.sl_acc)
        self.model_bytes = self.model.read_bytes() if self.model is not None else None


def _sl_push_body(acc_csv: bytes) -> bytes:
    """A Sensor Logger HTTP push body built from the rows of a real Accelerometer.csv."""
    lines = acc_csv.decode().splitlines()
    head = [h.strip() for h in lines[0].split(",")]
    payload = []
    for ln in lines[1:60]:
        c = dict(zip(head, ln.split(",")))
        payload.append({"name": "totalacceleration", "time": int(c["time"]),
                        "values": {"x": float(c["x"]), "y": float(c["y"]), "z": float(c["z"])}})
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": "phone", "payload": payload}).encode()


# ------------------------------------------------------------------------------------------- targets


def _w(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def t_continuous(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    return read_recordings(_w(tmp / "7.csv", mutate(s.uci, rng)), fmt="continuous")


def t_unibuc_labels(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    rows = [ln.split(b",") for ln in s.uci.splitlines()[:30]]
    for i in (1, 2):
        _w(tmp / "train" / f"{i}.csv", b"\n".join(b",".join(r[1:]) for r in rows) + b"\n")
    labels = b"id,class\n1,walk\n2,run\n"
    _w(tmp / "train" / "train_labels.csv", mutate(labels, rng))
    return read_recordings(tmp / "train", fmt="unibuc")


def t_magic_wand(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    return read_recordings(_w(tmp / "wing" / "output_wing_x.txt", mutate(s.wand, rng)), fmt="magic-wand")


def t_sensorlogger_zip(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    return read_recordings(_w(tmp / "walk" / "r.zip", mutate(s.sl_zip, rng, 6)), fmt="sensorlogger")


def t_sensorlogger_csv(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    rec = tmp / "walk" / "r1"
    which = rng.randrange(2)
    _w(rec / "Accelerometer.csv", mutate(s.sl_acc, rng) if which == 0 else s.sl_acc)
    _w(rec / "Metadata.csv", mutate(s.sl_meta, rng) if which == 1 else s.sl_meta)
    return read_recordings(rec, fmt="sensorlogger")


def t_detect(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.io import read_recordings

    seed = rng.choice([s.uci, s.wand, s.sl_acc])
    return read_recordings(_w(tmp / rng.choice(["a.csv", "output_x.txt", "Accelerometer.csv"]), mutate(seed, rng)))


def t_parquet(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.signs.io import read_parquet_sequence

    return read_parquet_sequence(_w(tmp / "a.parquet", mutate(s.parquet, rng, 6)))


def t_mp_npy(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.signs.io import read_mp_sequence, read_npy_sequence

    k = rng.randrange(len(s.mp_frames))
    for i, (name, data) in enumerate(s.mp_frames):
        _w(tmp / "seq" / name, mutate(data, rng) if i == k else data)
    if rng.random() < 0.3:
        return read_npy_sequence(_w(tmp / "one.npy", mutate(s.mp_frames[k][1], rng)))
    return read_mp_sequence(tmp / "seq")


def t_mp_tar(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.signs.io import list_mp_data, read_mp_sequence

    samples = list_mp_data(_w(tmp / "d.tar.xz", mutate(s.mp_tar, rng)), cache=tmp / "cache")
    return [read_mp_sequence(x.path) for x in samples[:3]]


def t_asl_train_csv(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.signs.io import list_asl_signs

    _w(tmp / "train.csv", mutate(s.train_csv, rng))
    rows = (tmp / "train.csv").read_bytes().split(b"\n")[1:3]
    for r in rows:  # make a few listed files exist so rows are really parsed
        p = r.split(b",")[0].decode("utf-8", "replace")
        if p and "\x00" not in p and ".." not in p and not p.startswith("/"):
            try:
                _w(tmp / p, b"")
            except (OSError, ValueError):
                pass
    return list_asl_signs(tmp, missing="skip")


def t_model(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.core.metadata import load_model_metadata
    from edgelite.runtime.core.modelfile import read_model_info

    path = _w(tmp / "m.tflite", mutate(s.model_bytes, rng, 6))
    info = read_model_info(path)
    if info.metadata is not None:
        load_model_metadata(path)
    return info


def t_model_invoke(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    """Open a mutated model with LiteRT and run one window: ModelError (or another project error) only."""
    import numpy as np

    from edgelite.runtime.core.model import EdgeModel

    path = _w(tmp / "m.tflite", mutate(s.model_bytes, rng, 3))
    m = EdgeModel.open(path)
    n = int((m.metadata.get("input") or {}).get("window_samples") or 48)
    return m.predict(np.zeros((max(2, min(n, 10_000)), 3), np.float32))


def t_http_body(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    """The push parser alone: returns batches or raises ValueError(kind) (answered 4xx by the server)."""
    from edgelite.runtime.accel.sources.http import _REJECT, parse_sensorlogger
    from edgelite.runtime.accel.stream import Counters

    try:
        return parse_sensorlogger(mutate(s.sl_push, rng), Counters("fuzz"), 20000, max_span_s=600.0)
    except ValueError as e:
        if str(e) in _REJECT:
            raise _Clean(str(e)) from None
        raise


_HTTP_SERVER: list = []


def t_http_request(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    """Whole mutated HTTP requests (request line, headers, chunked or not, body) against a live loopback
    server: every one must get an HTTP answer (no silent close), and the server must not hit an unexpected error."""
    import socket

    from edgelite.runtime.accel.sources import SourceOptions
    from edgelite.runtime.accel.sources.http import SensorLoggerSource

    if not _HTTP_SERVER:
        _HTTP_SERVER.append(SensorLoggerSource(SourceOptions(port=0, queue_size=100_000, header_deadline_s=2.0,
                                                             body_deadline_s=2.0)).start())
    src = _HTTP_SERVER[0]
    body = s.sl_push
    if rng.random() < 0.4:
        chunks = [body[i:i + 500] for i in range(0, len(body), 500)]
        wire = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
        req = b"POST /push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + wire
    else:
        req = f"POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    req = mutate(req, rng, 3)
    before = src.counters["connection_error"]
    sock = socket.create_connection(("127.0.0.1", src.address[1]), timeout=5)
    resp = b""
    try:
        try:
            sock.sendall(req)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered early (e.g. 413 from the headers) and closed: read what it said
        try:
            while chunk := sock.recv(65536):
                resp += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # reset after we sent more than the server read: it answered (kept in resp) and closed
    finally:
        sock.close()
    if src.counters["connection_error"] != before:
        raise AssertionError("server hit an unexpected error handling the request")
    if not resp.startswith(b"HTTP/1."):
        if req.startswith(b"POST") and b"\r\n\r\n" in req:
            raise AssertionError(f"no HTTP answer to a complete request (got {resp[:40]!r})")
        raise _Clean("incomplete request closed")
    code = int(resp.split(b" ", 2)[1])
    if code >= 500 and code not in (501, 503, 505):
        raise AssertionError(f"server error {code}")
    if code >= 400:
        raise _Clean(str(code))
    return code


def _ws_frame(payload: bytes, op: int = 1) -> bytes:
    n = len(payload)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


class _FakeSock:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, n: int) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out

    def sendall(self, b: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def t_websocket(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    """Mutated server→client frames through the client's frame parser and the SensorServer message parser."""
    from edgelite.runtime.accel.sources.websocket import WebSocketClient, WebSocketError, parse_sensorserver
    from edgelite.runtime.accel.stream import Counters

    msgs = [json.dumps({"values": [0.1 * i, 9.8, -0.2], "timestamp": 10**9 + i * 10**7, "accuracy": 3}).encode()
            for i in range(5)]
    stream = b"".join(_ws_frame(m) for m in msgs) + _ws_frame(b"ping", 9) + _ws_frame(b"\x03\xe8", 8)
    cl = WebSocketClient("ws://127.0.0.1:1/x", max_message_bytes=1 << 16)
    cl.sock = _FakeSock(mutate(stream, rng))
    out = []
    try:
        while (m := cl.recv()) is not None:
            out.append(parse_sensorserver(m, True, Counters("fuzz")))
    except (WebSocketError, ConnectionError) as e:
        raise _Clean(type(e).__name__) from None
    return out


def t_udp(s: Seeds, rng: random.Random, tmp: Path) -> Any:
    from edgelite.runtime.accel.sources.udp import parse_sensorstream

    line = b"1234.567, 3, 0.12, 9.81, -0.30, 4, 0.01, 0.02, 0.03, 5, 20.1, 3.2, 40.0"
    data = mutate(line, rng)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise _Clean("bad_encoding") from None
    out = []
    for ln in text.splitlines():
        try:
            out.append(parse_sensorstream(ln))
        except ValueError:
            out.append("bad_line")
    return out


class _Clean(Exception):
    """A wire parser's documented rejection (counted as a clean error)."""


TARGETS: dict[str, Callable[[Seeds, random.Random, Path], Any]] = {
    "accel_continuous": t_continuous,
    "accel_unibuc_labels": t_unibuc_labels,
    "accel_magic_wand": t_magic_wand,
    "accel_sensorlogger_zip": t_sensorlogger_zip,
    "accel_sensorlogger_csv": t_sensorlogger_csv,
    "accel_detect": t_detect,
    "signs_parquet": t_parquet,
    "signs_mp_npy": t_mp_npy,
    "signs_mp_tar": t_mp_tar,
    "signs_train_csv": t_asl_train_csv,
    "model_tflite": t_model,
    "model_invoke": t_model_invoke,
    "http_body": t_http_body,
    "http_request": t_http_request,
    "websocket": t_websocket,
    "udp": t_udp,
}


def run_case(name: str, seeds: Seeds, seed: int, tmp_root: Path | None = None) -> tuple[str, str]:
    """Run one case in-process → ``(outcome, detail)``; outcome is ok / clean / other."""
    import logging
    import warnings

    from edgelite.runtime.core.errors import EdgeliteError

    logging.getLogger("edgelite").setLevel(logging.ERROR)  # counters log the first of each kind: noise here
    rng = random.Random(f"{name}:{seed}")
    tmp = Path(tempfile.mkdtemp(prefix="fz-", dir=tmp_root))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TARGETS[name](seeds, rng, tmp)
        return "ok", ""
    except (EdgeliteError, _Clean) as e:
        return "clean", f"{type(e).__name__}: {str(e)[:160]}"
    except Exception as e:  # noqa: BLE001 - that is what we count
        tb = traceback.format_exc(limit=-3)
        return "other", f"{type(e).__name__}: {str(e)[:200]}\n{tb}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- forked, capped runner


def _run_forked(name: str, seeds: Seeds, seed: int, mem_mb: int, time_s: float) -> tuple[str, str, float]:
    """One case in a forked child under RLIMIT_AS / RLIMIT_CPU caps → (outcome, detail, child max RSS MB)."""
    import resource
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            base = _vm_size_bytes()
            resource.setrlimit(resource.RLIMIT_AS, (base + mem_mb * (1 << 20),) * 2)
            resource.setrlimit(resource.RLIMIT_CPU, (int(time_s) + 1, int(time_s) + 1))
            out, detail = run_case(name, seeds, seed)
        except MemoryError:
            out, detail = "crash", "MemoryError (over the memory cap)"
        except BaseException as e:  # noqa: BLE001
            out, detail = "other", repr(e)
        os.write(w, json.dumps([out, detail[:2000]]).encode())
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + time_s
    status = None
    while time.monotonic() < deadline:
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got:
            break
        time.sleep(0.002)
    else:
        os.kill(pid, signal.SIGKILL)
        _, status, ru = os.wait4(pid, 0)
        os.close(r)
        return "timeout", f"over {time_s} s", ru.ru_maxrss / 1024
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    if not data:
        return "crash", f"child died (status {status})", ru.ru_maxrss / 1024
    out, detail = json.loads(data)
    return out, detail, ru.ru_maxrss / 1024


def _preimport() -> None:
    """Import the readers once in the parent so forked children start warm (no per-case import cost).
    Nothing that starts threads (the HTTP server) runs here: threads do not survive a fork."""
    import pyarrow.parquet  # noqa: F401

    import edgelite.runtime.accel.io  # noqa: F401
    import edgelite.runtime.accel.sources.http  # noqa: F401
    import edgelite.runtime.accel.sources.udp  # noqa: F401
    import edgelite.runtime.accel.sources.websocket  # noqa: F401
    import edgelite.runtime.core.metadata  # noqa: F401
    import edgelite.runtime.core.modelfile  # noqa: F401
    import edgelite.runtime.signs.io  # noqa: F401

    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:  # pragma: no cover
        pass


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as f:
        for ln in f:
            if ln.startswith("VmSize:"):
                return int(ln.split()[1]) * 1024
    return 0


def build_model(cache: Path) -> Path:
    """The same small accel model the test fixture builds (real export path), cached for fuzzing."""
    out = cache / "fuzz_model.tflite"
    if out.is_file():
        return out
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, 'tests')\n"
        "from edgelite.convert.export import export_tflite\n"
        "from edgelite.runtime.core.metadata import make_metadata\n"
        "from edgelite.train.accel.model import build_model, serving_fn\n"
        "from edgelite.runtime.accel.features import feature_names\n"
        "n = 48; f = len(feature_names())\n"
        "m = build_model(n, 3, (np.zeros(f), np.ones(f)), (np.zeros(4), np.ones(4)))\n"
        "meta = make_metadata('accel', ['a', 'b', 'c'], {'name': 'accel', 'dtype': 'float32', 'shape': [-1, 3],"
        " 'units': 'm/s^2', 'sample_rate_hz': 32.0, 'window_s': 1.5, 'window_samples': n, 'gravity': True},"
        " {'name': 'probabilities', 'kind': 'probabilities'}, {'n': n, 'n_windows': 3})\n"
        f"export_tflite(m, serving_fn(m, n), 'accel', [None, 3], 'probabilities', meta, {str(out)!r})\n"
    )
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000, help="cases per target (default 1000)")
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    ap.add_argument("--mem-mb", type=int, default=512, help="address-space cap per case above the parent's (MB)")
    ap.add_argument("--time-s", type=float, default=20.0, help="wall-clock cap per case (s)")
    ap.add_argument("--model", default=None, help="seed .tflite (default: build the test fixture's model once)")
    ap.add_argument("--out", default=str(HERE / "results"), help="results folder")
    ap.add_argument("--name", default="fuzz", help="results file name (default fuzz → fuzz.md/fuzz.json)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench_common import machine

    from edgelite.runtime.core.paths import cache_dir

    model = Path(args.model) if args.model else build_model(cache_dir() / "fuzz")
    seeds = Seeds(shared_dir(), model)
    _preimport()
    rows = []
    for name in args.targets.split(","):
        counts = {"ok": 0, "clean": 0, "other": 0, "timeout": 0, "crash": 0}
        examples: dict[str, str] = {}
        max_rss = 0.0
        t0 = time.monotonic()
        for seed in range(args.cases):
            out, detail, rss = _run_forked(name, seeds, seed, args.mem_mb, args.time_s)
            counts[out] += 1
            max_rss = max(max_rss, rss)
            if out in ("other", "timeout", "crash") and out not in examples:
                examples[out] = f"seed {seed}: {detail}"
        dt = time.monotonic() - t0
        row = {"target": name, "cases": args.cases, **counts, "max_rss_mb": round(max_rss, 1),
               "seconds": round(dt, 1), "examples": examples}
        rows.append(row)
        print(f"{name:24s} cases {args.cases:5d} ok {counts['ok']:5d} clean {counts['clean']:5d} "
              f"other {counts['other']:3d} timeout {counts['timeout']:3d} crash {counts['crash']:3d} "
              f"maxRSS {max_rss:7.1f} MB  {dt:6.1f} s", flush=True)
        for k, v in examples.items():
            print(f"    {k}: {v.splitlines()[0][:300]}", flush=True)
        save(rows, args, machine())  # after every target: a long run interrupted still leaves its table
    bad = sum(r["other"] + r["timeout"] + r["crash"] for r in rows)
    return 1 if bad else 0


def header_line(m: dict) -> str:
    sys.path.insert(0, str(HERE))
    from bench_common import load_note

    from edgelite.runtime.bench import machine_line

    return f"Machine: {machine_line(m)}. {load_note(m)}"


def save(rows: list[dict], args: argparse.Namespace, m: dict) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/fuzz.py " + " ".join(sys.argv[1:])
    data = {"command": cmd, "machine": m, "mem_cap_mb": args.mem_mb, "time_cap_s": args.time_s, "targets": rows}
    (out / f"{args.name}.json").write_text(json.dumps(data, indent=2))
    lines = [
        "# Fuzz: mutated real files per reader / parser",
        "",
        f"Command: `{cmd}` (each case in a forked child: address space capped at parent + {args.mem_mb} MB, "
        f"wall clock {args.time_s:g} s; max RSS = the largest ru_maxrss of a case's child, from wait4).",
        "",
        header_line(m),
        "",
        "| target | cases | ok | clean errors | other exceptions | time-outs | crashes | max RSS (MB) | s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['target']} | {r['cases']} | {r['ok']} | {r['clean']} | {r['other']} | {r['timeout']} "
                     f"| {r['crash']} | {r['max_rss_mb']} | {r['seconds']} |")
    lines.append("")
    for r in rows:
        for k, v in r["examples"].items():
            lines.append(f"- {r['target']} {k}: `{v.splitlines()[0][:200]}`")
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
