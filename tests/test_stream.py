"""Streaming accelerometer runtime: resampling/windowing, the three phone protocols over loopback,
malformed input, floods, disconnects, atomic recording, and the `run accel` command.

Every network test speaks the real protocol on 127.0.0.1 only; every loop is bounded in count and time.
The reference for "same labels" is the model run offline on windows cut by ``np.interp`` of the whole
recording (written out here independently of :mod:`edgelite.runtime.accel.stream`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.client
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.accel.recording import Recorder
from edgelite.runtime.accel.sources import (
    ReplaySource,
    SensorLoggerSource,
    SensorServerSource,
    SourceOptions,
    UDPSource,
    parse_sensorstream,
    pump,
)
from edgelite.runtime.accel.sources.websocket import WS_GUID
from edgelite.runtime.accel.stream import (
    Batch,
    Counters,
    DeviceStream,
    StreamClassifier,
    StreamOptions,
    options_from_metadata,
)

G = 9.80665
RATE, WIN_S, STRIDE_S = 50.0, 1.5, 0.25
N, STRIDE = int(RATE * WIN_S), int(RATE * STRIDE_S)
LABELS = ["a", "b", "c"]


# ------------------------------------------------------------------------------------------ helpers


def reference_windows(t, x, rate=RATE, n=N, stride=STRIDE, gap=WIN_S):
    """Offline windows: clean (finite, strictly increasing), split at gaps > ``gap``, interpolate each
    segment onto ``t0 + k/rate``, windows ending at n, n+stride, ... → (t_end [W], windows [W,n,3])."""
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float32)
    ok = np.isfinite(t) & np.isfinite(x).all(1)
    t, x = t[ok], x[ok]
    keep = np.ones(len(t), bool)
    run = -np.inf
    for i, ti in enumerate(t):
        keep[i] = ti > run
        run = max(run, ti)
    t, x = t[keep], x[keep]
    cuts = [0, *(np.flatnonzero(np.diff(t) > gap) + 1).tolist(), len(t)]
    ends_t, wins = [], []
    for a, b in zip(cuts[:-1], cuts[1:]):
        ts, xs = t[a:b], x[a:b]
        m = int(np.floor((ts[-1] - ts[0]) / (1.0 / rate) + 1e-9)) + 1
        tg = ts[0] + np.arange(m) * (1.0 / rate)
        xg = np.stack([np.interp(tg, ts, xs[:, j]) for j in range(3)], 1).astype(np.float32)
        for e in range(n, m + 1, stride):
            ends_t.append(tg[e - 1])
            wins.append(xg[e - n:e])
    return np.array(ends_t), np.array(wins, np.float32).reshape(-1, n, 3)


def load_uci(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    with open(path) as f:
        for line in f:
            p = line.strip().split(",")
            try:
                v = [float(c) for c in p]
            except ValueError:
                continue
            if len(v) == 4 and np.isfinite(v).all():
                rows.append(v)
    a = np.array(rows)
    return a[:, 0], a[:, 1:].astype(np.float32)


def load_sensorlogger_zip(path: Path, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(time ns int64 [T], xyz [T,3] in g as exported by iOS without standardisation; columns z,y,x)."""
    with zipfile.ZipFile(path) as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open(member), encoding="utf-8")))
    t = np.array([int(r["time"]) for r in rows], np.int64)
    x = np.array([[float(r["x"]), float(r["y"]), float(r["z"])] for r in rows], np.float32)
    return t, x


def wait_until(cond, timeout=10.0, step=0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


@pytest.fixture(scope="module")
def accel_model(tmp_path_factory):
    """A tiny accel .tflite with the real interface: ``accel`` [None,3] m/s² at 50 Hz → ``probabilities`` [3].

    In-graph preprocessing: per-axis and magnitude mean/std (any length) → Dense softmax (seeded)."""
    if os.environ.get("CI") != "true":  # under CI a missing tool is a failure (the import below raises)
        pytest.importorskip("tensorflow")
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.core.metadata import make_metadata

    keras.utils.set_random_seed(7)
    inp = keras.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="tanh")(inp)))

    def serve(x):
        mag = tf.norm(x, axis=1, keepdims=True)
        xm = tf.concat([x, mag], axis=1)
        f = tf.concat([tf.reduce_mean(xm, 0) / 5.0, tf.math.reduce_std(xm, 0)], 0)
        return model(f[None])[0]

    meta = make_metadata(
        "accel", LABELS,
        {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": RATE,
         "window_s": WIN_S, "window_samples": N, "gravity": True, "axes": ["x", "y", "z"]},
        {"name": "probabilities", "kind": "probabilities"}, {"features": "mean/std test model"})
    path = tmp_path_factory.mktemp("model") / "accel.tflite"
    export_tflite(model, serve, "accel", [None, 3], "probabilities", meta, path)
    return EdgeModel.open(path)


def _j(r):
    """A stream result as its JSON object (results read back from JSON lines already are)."""
    return r.to_json() if hasattr(r, "to_json") else r


def offline_results(model, t, x, **kw):
    te, W = reference_windows(t, x, **kw)
    probs = np.stack([model.predict(w) for w in W]) if len(W) else np.empty((0, 3))
    return te, probs


def assert_same(results, te, probs, device=None):
    rs = [_j(r) for r in results]
    rs = [r for r in rs if device is None or r["device"] == device]
    assert len(rs) == len(te) > 0, (len(rs), len(te))
    got_t = np.array([r["t_end"] for r in rs]) - 1.0 / RATE  # t_end = last sample + one period
    np.testing.assert_allclose(got_t, te, atol=2e-6)
    labels = [LABELS[i] for i in probs.argmax(1)]
    assert [r["label"] for r in rs] == labels
    np.testing.assert_allclose([r["score"] for r in rs], probs.max(1), atol=2e-6)


# ------------------------------------------------------------------------- resampling and windowing


def _fake_predict(w):
    return np.array([w[:, 0].mean(), w[:, 1].mean(), w[:, 2].std()], np.float32)


def test_resampler_matches_offline_with_jitter_duplicates_out_of_order_and_gaps():
    rng = np.random.default_rng(0)
    T = 3000
    t = np.cumsum(rng.uniform(0.005, 0.035, T))
    t[1500:] += 2.0  # a gap longer than a window: the window restarts
    t[2200:] += 0.9  # a gap shorter than a window: interpolated across
    x = rng.normal(0, 3, (T, 3)).astype(np.float32)
    te, W = reference_windows(t, x)
    opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE)
    counters = Counters()
    dev = DeviceStream("d", opts, counters)
    got = []
    a = 0
    while a < T:
        k = int(rng.integers(1, 90))
        tb, xb = t[a:a + k].copy(), x[a:a + k].copy()
        if len(tb) > 3:  # shuffle inside the batch and add a duplicate and a stale sample
            p = rng.permutation(len(tb))
            tb, xb = tb[p], xb[p]
            tb = np.concatenate([tb, tb[:1], [t[max(0, a - 5)]]])
            xb = np.concatenate([xb, xb[:1], xb[:1]])
        got += dev.accept(Batch("d", tb, xb))
        a += k
    assert len(got) == len(W)
    np.testing.assert_allclose([g[0] for g in got], te, atol=1e-9)
    np.testing.assert_array_equal(np.stack([g[1] for g in got]), W)
    assert counters["duplicate"] > 0 and counters["late"] > 0 and counters["gap_reset"] == 1
    assert dev.windower.tail.shape[0] <= N  # bounded


def test_non_finite_units_and_bounded_devices():
    opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE, max_devices=4)
    out = []
    clf = StreamClassifier(_fake_predict, LABELS, opts, emit=out.append)
    t = np.arange(200) / 100.0
    x = np.ones((200, 3), np.float32)
    x[10] = np.nan
    r_g = clf.push(Batch("g", t, x, units="g"))
    r_m = clf.push(Batch("m", t, x * np.float32(G)))
    assert len(r_g) == len(r_m) > 0 and clf.counters["non_finite"] == 2
    assert [r.score for r in r_g] == [r.score for r in r_m]
    for i in range(10):
        clf.push(Batch(f"dev{i}", t[:5], x[:5]))
    assert len(clf.devices) == 4 and clf.counters["device_evicted"] == 8
    j = out[0].to_json()
    assert set(j) == {"input", "device", "t_start", "t_end", "label", "score", "top"} and len(j["top"]) == 3
    assert set(j["top"][0]) == {"label", "score"} and j["input"] == j["device"] == "g"


def test_gravity_choice_and_smoothing():
    rng = np.random.default_rng(1)
    t = np.arange(400) / 100.0
    lin = rng.normal(0, 1, (400, 3)).astype(np.float32)
    tot = lin + np.array([0, 0, G], np.float32)
    for want, expect in ((True, tot), (False, lin)):
        opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE, gravity=want)
        clf = StreamClassifier(_fake_predict, LABELS, opts)
        res = clf.push_many([Batch("d", t, lin, gravity=False), Batch("d", t, tot, gravity=True)])
        te, W = reference_windows(t, expect)
        assert len(res) == len(W)
        np.testing.assert_allclose([r.categories[0].score for r in res],
                                   [np.max(_fake_predict(w)) for w in W], rtol=1e-5, atol=1e-5)
    # only gravity-included samples for a gravity-free model: gravity is filtered out (mean ≈ 0 after settling)
    opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE, gravity=False)
    seen = []
    clf = StreamClassifier(lambda w: (seen.append(w.copy()), np.ones(3, np.float32) / 3)[1], LABELS, opts)
    t2 = np.arange(2000) / 100.0
    clf.push(Batch("d", t2, np.tile(np.array([[0, 0, G]], np.float32), (2000, 1)), gravity=True))
    assert clf.counters["gravity_mismatch"] == 1 and abs(seen[-1][:, 2].mean()) < 0.01
    # smoothing: mean of the last K probabilities
    opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE, smooth=3)
    probs = iter([np.array(p, np.float32) for p in ([1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1])])
    clf = StreamClassifier(lambda w: next(probs), LABELS, opts)
    res = clf.push(Batch("d", np.arange(N + 3 * STRIDE) / RATE, np.zeros((N + 3 * STRIDE, 3), np.float32)))
    assert [r.label for r in res] == ["a", "a", "b", "b"]
    assert res[1].score == pytest.approx(0.5) and res[3].score == pytest.approx(2 / 3, abs=1e-6)


def test_options_from_metadata():
    meta = {"task": "accel", "input": {"sample_rate_hz": 32, "window_s": 1.5, "gravity": False, "units": "m/s^2"}}
    o = options_from_metadata(meta, stride_s=0.5)
    assert (o.window_samples, o.stride, o.gravity, o.reset_gap_s) == (48, 16, False, 1.5)
    from edgelite.runtime.core.errors import ModelError

    with pytest.raises(ModelError, match="sample_rate_hz"):
        options_from_metadata({"task": "accel", "input": {"window_samples": 10}})
    with pytest.raises(ModelError, match="accel"):
        options_from_metadata({"task": "signs", "input": {}})


# ------------------------------------------------------------------------------- Sensor Logger HTTP


def _post(port, body: bytes, path="/data", headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def _sl_messages(device, session, t_ns, lin_g, tot_g, per=50):
    """Sensor Logger push bodies: both kinds interleaved, ``per`` samples of each per message (values in m/s²)."""
    mid = 0
    for a in range(0, len(t_ns), per):
        payload = []
        for i in range(a, min(a + per, len(t_ns))):
            payload.append({"name": "accelerometer", "time": int(t_ns[i]),
                            "values": dict(zip("xyz", (lin_g[i] * G).tolist()))})
            payload.append({"name": "totalacceleration", "time": int(t_ns[i]),
                            "values": dict(zip("xyz", (tot_g[i] * G).tolist()))})
            payload.append({"name": "gyroscope", "time": int(t_ns[i]), "values": {"x": 0, "y": 0, "z": 0}})
        yield json.dumps({"messageId": mid, "sessionId": session, "deviceId": device, "payload": payload}).encode()
        mid += 1


def _run_source(source, clf, timeout=20.0):
    """Pump ``source`` into ``clf`` in a thread until the returned event is set or ``timeout`` seconds pass."""
    stop = threading.Event()
    th = threading.Thread(target=pump, args=(source, clf.push_many), kwargs={"stop": stop, "max_seconds": timeout})
    th.start()
    return stop, th


def test_sensorlogger_http_replays_real_zips_with_offline_labels(accel_model, accel_dir):
    zips = sorted((accel_dir / "sensorlogger-wand" / "training" / "square").glob("*.zip"))[:3]
    zips += sorted((accel_dir / "sensorlogger-wand" / "training" / "triangle").glob("*.zip"))[:3]
    results = []
    clf = StreamClassifier.for_model(accel_model, stride_s=STRIDE_S, emit=results.append)
    assert clf.opts.gravity is True
    src = SensorLoggerSource(SourceOptions(port=0)).start()
    stop, th = _run_source(src, clf)
    expected = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", src.address[1], timeout=5)  # keep-alive, like the app
        for k, z in enumerate(zips):
            t, lin = load_sensorlogger_zip(z, "Accelerometer.csv")
            t2, tot = load_sensorlogger_zip(z, "AccelerometerUncalibrated.csv")
            m = min(len(t), len(t2))
            t, lin, tot = t2[:m], lin[:m], tot[:m]  # one clock for both kinds
            for body in _sl_messages("iphone", f"s{k}", t, lin, tot):
                assert _post(src.address[1], body, path="/any/path?x=1", conn=conn)[0] == 200
            expected.append((t * 1e-9, tot * np.float32(G)))
        conn.close()
        n_exp = sum(len(reference_windows(t, x)[0]) for t, x in expected)
        assert wait_until(lambda: len(results) >= n_exp, 20)
    finally:
        stop.set()
        th.join(10)
        src.close()
    expected = [offline_results(accel_model, t, x) for t, x in expected]
    te = np.concatenate([e[0] for e in expected])
    probs = np.concatenate([e[1] for e in expected])
    assert_same(results, te, probs)
    assert clf.counters["session_change"] == len(zips) - 1
    assert src.counters.as_dict().get("bad_item", 0) == 0


def test_sensorlogger_server_survives_malformed_huge_flood_and_disconnects(accel_dir):
    opts = SourceOptions(port=0, max_message_bytes=4096, queue_size=8, token="tok", max_connections=4,
                         read_timeout_s=1.0)
    src = SensorLoggerSource(opts).start()
    port = src.address[1]
    good = json.dumps({"deviceId": "d", "sessionId": "s", "payload": [
        {"name": "totalacceleration", "time": 1_000_000_000 + i * 10_000_000, "values": {"x": 0.0, "y": 0.0, "z": G}}
        for i in range(5)]}).encode()
    auth = {"Authorization": "Bearer tok"}
    try:
        assert _post(port, good)[0] == 401  # no token
        assert _post(port, good, path="/push?token=wrong")[0] == 401
        assert _post(port, good, path="/push?token=tok")[0] == 200
        assert _post(port, b"{not json", headers=auth)[0] == 400
        assert _post(port, b"\xff\xfe\x00", headers=auth)[0] == 400
        assert _post(port, b"[1,2,3]", headers=auth)[0] == 400
        assert _post(port, json.dumps({"payload": "nope"}).encode(), headers=auth)[0] == 400
        # wrong types inside the payload: those items are skipped, the rest is used
        mixed = {"deviceId": "d", "sessionId": "s", "payload": [
            {"name": "totalacceleration", "time": "soon", "values": {"x": 1, "y": 2, "z": 3}},
            {"name": "totalacceleration", "time": 2_000_000_000, "values": {"x": "1", "y": 2, "z": 3}},
            {"name": "totalacceleration", "time": 2_000_000_000, "values": [1, 2, 3]},
            {"name": "totalacceleration", "time": True, "values": {"x": 1, "y": 2, "z": 3}},
            7, None,
            {"name": "totalacceleration", "time": 2_100_000_000, "values": {"x": 1, "y": 2, "z": 3}}]}
        st, body = _post(port, json.dumps(mixed).encode(), headers=auth)
        assert st == 200 and json.loads(body)["samples"] == 1
        assert src.counters["bad_item"] == 6
        # huge: refused by Content-Length before reading
        assert _post(port, b"x" * 10000, headers=auth)[0] == 413
        # a client that announces a body and disconnects mid-message
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Length: 500\r\n\r\n{\"pay")
            s.close()
        # a client that stalls mid-message (read timeout 1 s) while others are served
        stall = socket.create_connection(("127.0.0.1", port), timeout=5)
        stall.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Length: 500\r\n\r\n{")
        assert _post(port, good, headers=auth)[0] == 200
        # garbage that is not HTTP at all
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        s.recv(1000)
        s.close()
        # a flood: nobody consumes, the queue is bounded (8); later messages get 503 and are counted
        codes = [_post(port, good, headers=auth)[0] for _ in range(30)]
        assert codes.count(200) + src.queue.qsize() >= 8 and 503 in codes and src.queue.qsize() <= 8
        assert src.counters["overflow"] == codes.count(503)
        # concurrent connection flood: bounded, then the server still serves
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
        for s in socks:
            s.close()
        stall.close()
        while src.get(timeout=0.01) is not None:
            pass
        assert wait_until(lambda: _post(port, good, headers=auth)[0] == 200, 5)
        assert src.counters["truncated"] >= 3 and src.counters["too_large"] == 1 and src.counters["bad_json"] == 2
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/?token=tok")
        assert json.loads(conn.getresponse().read())["edgelite"] == "sensorlogger"
        conn.close()
    finally:
        src.close()


# ------------------------------------------------------------------------------- SensorServer (WS)


class MiniWSServer:
    """Stdlib RFC 6455 server for tests: each accepted connection runs the next scenario function."""

    def __init__(self, scenarios):
        self.scenarios = list(scenarios)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(15)
        self.port = self.sock.getsockname()[1]
        self.paths: list[str] = []
        self.pongs = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for sc in self.scenarios:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(10)
            try:
                sc(self, conn)
            except OSError:
                pass
            finally:
                conn.close()
        self.sock.close()

    def handshake(self, conn, accept=True):
        req = b""
        while b"\r\n\r\n" not in req:
            req += conn.recv(4096)
        lines = req.decode().split("\r\n")
        self.paths.append(lines[0].split()[1])
        key = [ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("sec-websocket-key")][0]
        if not accept:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        acc = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        conn.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Accept: {acc}\r\n\r\n".encode())

    @staticmethod
    def frame(op, data: bytes, fin=True):
        n = len(data)
        h = bytes([(0x80 if fin else 0) | op])
        h += bytes([n]) if n < 126 else (bytes([126]) + struct.pack(">H", n) if n < 65536 else bytes([127]) + struct.pack(">Q", n))
        return h + data

    def read_client_frame(self, conn):
        h = conn.recv(2)
        n = h[1] & 0x7F
        mask = conn.recv(4)
        data = b""
        while len(data) < n:
            data += conn.recv(n - len(data))
        return h[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _ss_msg(t_ns, v):
    return json.dumps({"values": [float(v[0]), float(v[1]), float(v[2])], "timestamp": int(t_ns), "accuracy": 3})


def test_sensorserver_ws_replays_uci_with_reconnects_and_offline_labels(accel_model, accel_dir):
    t_s, x = load_uci(accel_dir / "uci-walking" / "Dataset" / "8.csv")
    t_ns = np.round(t_s * 1e9).astype(np.int64)
    half = len(t_ns) // 2
    big = 70_000

    def first(srv, conn):  # half of the data + ping, fragments, malformed, then dies mid-frame
        srv.handshake(conn)
        out = bytearray()
        for i in range(half):
            out += srv.frame(1, _ss_msg(t_ns[i], x[i]).encode())
            if i == 10:
                out += srv.frame(9, b"hi")
                out += srv.frame(1, b"{bad json")
                out += srv.frame(1, json.dumps({"values": "xyz", "timestamp": 1}).encode())
                out += srv.frame(1, json.dumps({"values": [1, 2], "timestamp": 1}).encode())
        conn.sendall(bytes(out))
        op, data = srv.read_client_frame(conn)
        srv.pongs += op == 0xA and data == b"hi"
        conn.sendall(srv.frame(1, b'{"values": [1,', fin=True)[:5])  # cut mid-frame, then close

    def refuse(srv, conn):
        srv.handshake(conn, accept=False)

    def oversize(srv, conn):
        srv.handshake(conn)
        conn.sendall(srv.frame(1, b" " * big))  # over the client's limit: protocol error, reconnect

    def rest(srv, conn):
        srv.handshake(conn)
        out = bytearray()
        for i in range(half, len(t_ns)):
            m = _ss_msg(t_ns[i], x[i]).encode()
            if i == half + 5:  # fragmented message: text frame without FIN + continuation
                out += srv.frame(1, m[:7], fin=False) + srv.frame(0, m[7:])
            else:
                out += srv.frame(1, m)
        out += srv.frame(8, struct.pack(">H", 1000))
        conn.sendall(bytes(out))
        time.sleep(0.5)

    srv = MiniWSServer([first, refuse, oversize, rest])
    results = []
    clf = StreamClassifier.for_model(accel_model, stride_s=STRIDE_S, emit=results.append)
    url = f"ws://127.0.0.1:{srv.port}/sensor/connect?type=android.sensor.accelerometer"
    src = SensorServerSource(SourceOptions(url=url, reconnect_min_s=0.05, reconnect_max_s=0.2,
                                           max_message_bytes=65536)).start()
    te, probs = offline_results(accel_model, t_ns * 1e-9, x)
    stop, th = _run_source(src, clf, timeout=30)
    try:
        assert wait_until(lambda: len(results) >= len(te), 25)
    finally:
        stop.set()
        th.join(10)
        src.close()
    assert_same(results, te, probs)
    assert src.connections >= 3 and srv.pongs == 1
    assert srv.paths[0] == "/sensor/connect?type=android.sensor.accelerometer"
    c = src.counters
    assert c["bad_json"] == 1 and c["bad_message"] == 2 and c["protocol_error"] >= 1
    assert len({r.label for r in results}) >= 1


# ------------------------------------------------------------------------------------------ UDP


def test_parse_sensorstream():
    assert parse_sensorstream("890.71558, 3,   0.076,  9.809,  0.565, 4,  -0.001, 0.002, 0.003") == (
        890.71558, (0.076, 9.809, 0.565))
    assert parse_sensorstream("1.0, 4, 0, 0, 0, 5, 1, 2, 3") is None
    with pytest.raises(ValueError):
        parse_sensorstream("hello")
    with pytest.raises(ValueError):
        parse_sensorstream("1.0, x, 1, 2, 3")


def test_udp_sensorstream_replays_uci_with_offline_labels(accel_model, accel_dir):
    t_s, x = load_uci(accel_dir / "uci-walking" / "Dataset" / "8.csv")
    lines = [f"{t:.6f}, 3, {v[0]!r}, {v[1]!r}, {v[2]!r}, 4, 0.01, 0.02, 0.03, 5, 1.0, 2.0, 3.0"
             for t, v in zip(t_s.tolist(), x.astype(np.float64).tolist())]
    t_ref = np.array([float(ln.split(",")[0]) for ln in lines])
    src = UDPSource(SourceOptions(port=0)).start()
    results = []
    clf = StreamClassifier.for_model(accel_model, stride_s=STRIDE_S, emit=results.append)
    te, probs = offline_results(accel_model, t_ref, x)
    stop, th = _run_source(src, clf, timeout=30)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i, ln in enumerate(lines):
            s.sendto(ln.encode(), src.address)
            if i == 100:
                s.sendto(b"\xff\xfe", src.address)
                s.sendto(b"not, a, sensorstream", src.address)
                s.sendto(b"1.0, 4, 0, 0, 0", src.address)
                s.sendto(b"9" * 2000, src.address)
            if i % 25 == 0:
                time.sleep(0.002)  # pace like a phone (a loaded machine may drop datagrams of a burst)
        assert wait_until(lambda: len(results) >= len(te), 20)
        assert src.samples == len(lines), "datagrams lost on loopback"
    finally:
        s.close()
        stop.set()
        th.join(10)
        src.close()
    assert_same(results, te, probs)
    assert src.counters["bad_encoding"] == 1 and src.counters["bad_line"] == 2
    assert src.counters["no_accelerometer"] == 1


# ---------------------------------------------------------------------------- replay and recording


def test_recorder_is_atomic_when_killed(tmp_path):
    code = (
        "import numpy as np, sys\n"
        "from edgelite.runtime.accel.recording import Recorder\n"
        "from edgelite.runtime.accel.stream import Batch\n"
        f"r = Recorder({str(tmp_path)!r}, rotate_rows=500)\n"
        "t = 0.0\n"
        "for i in range(10**6):\n"
        "    ts = t + np.arange(50) * 0.01; t = ts[-1] + 0.01\n"
        "    r.write(Batch('phone/1', ts, np.full((50, 3), i % 7, np.float32), session='s 1'))\n"
        "    if i == 40: print('go', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "go"
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    done = sorted(tmp_path.glob("*.csv"))
    assert len(done) >= 4
    for f in done:
        a = np.loadtxt(f, delimiter=",")
        assert a.shape == (500, 4) and (np.diff(a[:, 0]) > 0).all()
    assert all(f.name.startswith("phone-1_s-1_accelerometer_") for f in done)
    assert len(list(tmp_path.glob(".*.tmp"))) <= 1


def test_replay_cli_with_record_and_output(accel_model, accel_dir, tmp_path, capsys):
    from edgelite.cli import main

    uci = accel_dir / "uci-walking" / "Dataset" / "8.csv"
    out, rec = tmp_path / "out.jsonl", tmp_path / "rec"
    rc = main(["run", "accel", "--model", accel_model.path, "--source", f"replay:{uci}", "--stride", str(STRIDE_S),
               "--output", str(out), "--record", str(rec), "--max-seconds", "60"])
    assert rc == 0
    results = [json.loads(ln) for ln in out.read_text().splitlines()]
    from edgelite.runtime.accel.io import read_recordings

    r = read_recordings(uci)[0]
    t = r.t if r.t is not None else np.arange(len(r.data)) / r.rate_hz
    te, probs = offline_results(accel_model, t, r.data)
    assert_same(results, te, probs)
    # and the same as the offline pipeline of the readers (resample_uniform + sliding_windows)
    from edgelite.runtime.accel.resample import resample_uniform, sliding_windows

    segs = resample_uniform(t, r.data, RATE, max_gap_s=WIN_S)
    W = np.concatenate([sliding_windows(s, N, STRIDE) for s in segs])
    assert [LABELS[int(np.argmax(accel_model.predict(w)))] for w in W] == [a["label"] for a in results]
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1].split("edgelite: ", 1)[1])
    assert summary["windows"] == len(te) and summary["recorded_files"] >= 1
    # the recording replays to the same labels
    out2 = tmp_path / "out2.jsonl"
    files = sorted(rec.glob("*.csv"))
    assert main(["run", "accel", "--model", accel_model.path, "--source", f"replay:{files[0]}",
                 "--stride", str(STRIDE_S), "--output", str(out2), "--quiet"]) == 0
    again = [json.loads(ln) for ln in out2.read_text().splitlines()]
    assert [a["label"] for a in again] == [a["label"] for a in results]


def test_cli_errors(accel_model, tmp_path, capsys):
    from edgelite.cli import main

    assert main(["run", "accel", "--model", accel_model.path, "--source", "carrier-pigeon"]) == 2
    assert "carrier-pigeon" in capsys.readouterr().err
    assert main(["run", "accel", "--model", str(tmp_path / "none.tflite"), "--source", "udp"]) == 2
    assert main(["run", "accel", "--model", accel_model.path, "--source", "udp", "--url", "ws://x"]) == 2


def test_sensorlogger_cli_end_to_end_subprocess(accel_model, tmp_path):
    """The real command as a process: listens on 127.0.0.1, takes pushes, writes JSON lines, stops by itself."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "live.jsonl"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    p = subprocess.Popen([sys.executable, "-m", "edgelite", "run", "accel", "--model", accel_model.path,
                          "--source", "sensorlogger", "--port", str(port), "--output", str(out),
                          "--max-seconds", "20", "--record", str(tmp_path / "rec")],
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        t = 1_700_000_000_000_000_000 + np.arange(400) * 10_000_000
        rng = np.random.default_rng(3)
        tot = (rng.normal(0, 0.2, (400, 3)) + [0, 0, 1]).astype(np.float32)
        ok = wait_until(lambda: _try_get(port), 15)
        assert ok, "server did not come up"
        for body in _sl_messages("pixel", "sess", t, tot - [0, 0, 1], tot):
            assert _post(port, body)[0] == 200
        assert wait_until(lambda: out.exists() and len(out.read_text().splitlines()) >= 1, 10)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    lines = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert lines and all(r["device"] == "pixel" and r["label"] in LABELS for r in lines)
    recs = list((tmp_path / "rec").glob("*.csv"))
    assert {f.name.split("_")[2] for f in recs} == {"accelerometer", "totalacceleration"}


def _try_get(port) -> bool:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def test_stream_labels_equal_edgelite_predict(accel_model, accel_dir, capsys):
    """`edgelite predict` (the lead's offline windowing) and the stream agree window for window."""
    from edgelite.cli import main

    uci = accel_dir / "uci-walking" / "Dataset" / "8.csv"
    capsys.readouterr()
    assert main(["predict", accel_model.path, str(uci), "--stride", str(STRIDE_S)]) == 0
    offline = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    results = []
    clf = StreamClassifier.for_model(accel_model, stride_s=STRIDE_S, emit=results.append)
    from edgelite.runtime.accel.io import read_recordings

    rec = read_recordings(uci)[0]
    t, x = rec.t, rec.data
    for a in range(0, len(t), 64):
        clf.push(Batch("8", t[a:a + 64], x[a:a + 64], gravity=True))
    assert len(offline) == len(results) > 10
    results = [r.to_json() for r in results]
    assert [o["label"] for o in offline] == [r["label"] for r in results]
    np.testing.assert_allclose([o["score"] for o in offline], [r["score"] for r in results], atol=2e-6)
    assert [o["top"] for o in offline] == [r["top"] for r in results]  # one JSON shape
    assert {"input", "label", "score", "top", "t_start", "t_end"} <= set(offline[0])
    np.testing.assert_allclose([o["t_end"] - o["t_start"] for o in offline], [r["t_end"] - r["t_start"] for r in results],
                               atol=2e-6)


def test_clock_jump_back_restarts_instead_of_stalling():
    opts = StreamOptions(rate_hz=RATE, window_samples=N, stride=STRIDE)
    clf = StreamClassifier(_fake_predict, LABELS, opts)
    x = np.zeros((300, 3), np.float32)
    first = clf.push(Batch("d", 1000.0 + np.arange(300) / 100.0, x))
    again = clf.push(Batch("d", 5.0 + np.arange(300) / 100.0, x))  # phone rebooted: boot-time clock restarts
    assert len(first) == len(again) > 0 and clf.counters["clock_jump"] == 1
    assert again[0].t_end == pytest.approx(5.0 + N / RATE)
    late = clf.push(Batch("d", np.array([7.5, 7.6]), x[:2]))  # slightly late samples are just dropped
    assert late == [] and clf.counters["late"] == 2 and clf.counters["clock_jump"] == 1


def test_udp_flood_is_bounded_and_invert_applies():
    src = UDPSource(SourceOptions(port=0, queue_size=4, batch_samples=1, invert=True)).start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(400):
            s.sendto(f"{i * 0.01:.2f}, 3, 1.0, 2.0, 3.0".encode(), src.address)
        assert wait_until(lambda: src.counters["overflow"] > 0, 10)
        assert src.queue.qsize() <= 4
        msg = src.get(timeout=1)
        np.testing.assert_array_equal(msg[0].xyz, [[-1.0, -2.0, -3.0]])
        while src.get(timeout=0.01) is not None:
            pass
        s.sendto(b"99.0, 3, 1.0, 2.0, 3.0", src.address)  # still serving after the flood
        assert wait_until(lambda: src.queue.qsize() > 0, 5)
    finally:
        s.close()
        src.close()


def test_stream_modules_work_with_tensorflow_unimportable(accel_model, accel_dir):
    """The live path (CLI module, sources, stream, recorder, replay) needs only numpy + LiteRT."""
    uci = accel_dir / "uci-walking" / "Dataset" / "8.csv"
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from edgelite.cli import main\n"
        f"rc = main(['run', 'accel', '--model', {accel_model.path!r}, '--source', 'replay:{uci}', '--quiet'])\n"
        "assert rc == 0 and 'tensorflow' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(lines) > 10 and all(ln["label"] in LABELS for ln in lines)
