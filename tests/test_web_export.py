"""Web target without a browser: fixed-length web variant parity on real inputs, the exported site, the
static server, the browser WebSocket source, CLI errors."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from web_models import tiny_runs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    pytest.importorskip("tensorflow")
    return tiny_runs()


def test_web_variant_fixed_shape_equals_dynamic_accel(runs, accel_dir, tmp_path):
    """[window_samples,3] variant vs the dynamic model on real UCI and magic-wand windows: ≤ 1e-5."""
    from edgelite.convert.web import make_web_variant
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.runtime.accel.resample import resample_uniform, sliding_windows
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.core.modelfile import read_model_info

    out = tmp_path / "web.tflite"
    meta = make_web_variant(str(runs / "accel" / "model.tflite"), str(out))
    assert meta["input"]["web_shape"] == [48, 3]
    sig = read_model_info(str(out)).signatures["serving_default"]
    (tin,) = sig.inputs.values()
    assert list(tin.shape_signature or tin.shape) == [48, 3]  # no dynamic dim left
    dyn, fix = EdgeModel.open(str(runs / "accel" / "model.tflite")), EdgeModel.open(str(out))
    wins = []
    for rec in read_recordings(accel_dir / "uci-walking" / "Dataset" / "3.csv", fmt="continuous") + \
            read_recordings(accel_dir / "magic-wand" / "ring")[:6]:
        t = rec.t if rec.t is not None else np.arange(len(rec.data)) / rec.rate_hz
        for seg in resample_uniform(t, rec.data, 32.0):
            wins += list(sliding_windows(seg, 48, 24))
    assert len(wins) > 50
    d = max(float(np.abs(dyn.predict(w) - fix.predict(np.ascontiguousarray(w))).max()) for w in wins)
    assert d <= 1e-5, d


def test_web_variant_nan_padding_equals_dynamic_signs(runs, shared, tmp_path):
    """[192,543,3] variant with the real sequence first and NaN after = the dynamic model on the sequence."""
    from edgelite.convert.web import make_web_variant
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence

    out = tmp_path / "web.tflite"
    make_web_variant(str(runs / "signs" / "model.tflite"), str(out))
    dyn, fix = EdgeModel.open(str(runs / "signs" / "model.tflite")), EdgeModel.open(str(out))
    samples = list_asl_signs(shared / "data" / "asl-signs")
    worst = 0.0
    for i in np.linspace(0, len(samples) - 1, 8).astype(int):
        x = read_parquet_sequence(samples[i].path)[:192]
        pad = np.full((192, 543, 3), np.nan, np.float32)
        pad[: len(x)] = x
        a = dyn(inputs=x)["outputs"].reshape(-1)
        b = fix(inputs=pad)["outputs"].reshape(-1)
        worst = max(worst, float(np.abs(a - b).max()))
    assert worst <= 1e-5, worst


def test_web_variant_needs_saved_model(runs, tmp_path):
    from edgelite.convert.web import make_web_variant
    from edgelite.runtime.core.errors import ModelError

    lone = tmp_path / "lone" / "model.tflite"
    lone.parent.mkdir()
    lone.write_bytes((runs / "accel" / "model.tflite").read_bytes())
    with pytest.raises(ModelError, match="saved_model"):
        make_web_variant(str(lone), str(tmp_path / "w.tflite"))


def test_export_missing_npm_cache_is_one_line_error(runs, tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgelite.cli", "export", str(runs / "accel" / "model.tflite"),
                        "--target", "web", "--out", str(tmp_path / "site"), "--web-deps", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "make web-deps" in r.stderr and "@litertjs/core" in r.stderr


def _need_site():
    from edgelite.runtime.web.browser import missing_tools

    miss = [m for m in missing_tools() if m.startswith("npm")]
    if miss:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("; ".join(miss))
        pytest.skip("; ".join(miss))
    from web_models import tiny_sites

    return tiny_sites()


def test_exported_sites_hold_their_files(runs):
    sites = _need_site()
    a, s = sites / "site_accel", sites / "site_signs"
    for f in ["index.html", "accel.html", "sensor.html", "js/accel_core.js", "model/model.tflite", "model/config.json",
              "model/metadata.json", "runtime/litertjs/core/index.js", "runtime/litertjs/wasm/litert_wasm_internal.wasm"]:
        assert (a / f).is_file(), f
    assert not (a / "signs.html").exists() and not (a / "runtime/tasks-vision").exists()
    for f in ["signs.html", "models/hand_landmarker.task", "runtime/tasks-vision/vision_bundle.mjs",
              "runtime/tasks-vision/wasm/vision_wasm_internal.wasm"]:
        assert (s / f).is_file(), f
    assert not (s / "models/pose_landmarker_full.task").exists()  # "hands" landmark set: no pose model
    cfg = json.loads((a / "model/config.json").read_text())
    assert cfg["input_shape"] == [48, 3] and cfg["stream"]["stride"] == 24 and cfg["stream"]["gravity"] is True
    cfg = json.loads((s / "model/config.json").read_text())
    assert cfg["input_shape"] == [192, 543, 3] and cfg["hand_model"] == "models/hand_landmarker.task"
    html = " ".join(p.read_text() for p in list(a.glob("*.html")) + list((a / "js").glob("*.js")))
    assert "http://" not in html.replace("http://www.apache.org", "") and "cdn" not in html.lower()  # no CDN at run time


# ------------------------------------------------------------------------------------------------ server

def test_web_server_serves_site_only(runs, tmp_path):
    from edgelite.runtime.web.cert import self_signed_cert
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<p>hi</p>")
    (site / "js" / "a.mjs").write_text("export {}")
    (tmp_path / "secret.txt").write_text("no")
    with WebServer(WebServerOptions(str(site), port=0)) as srv:
        assert srv.httpd.server_address[0] == "127.0.0.1"
        r = urllib.request.urlopen(srv.url + "js/a.mjs")
        assert r.headers["Content-Type"] == "text/javascript"
        assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        for bad in ("js/", "../secret.txt", "%2e%2e/secret.txt"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(srv.url + bad)
            assert e.value.code == 404, bad
    cert, key = self_signed_cert(["127.0.0.1"], tmp_path / "tls")
    with WebServer(WebServerOptions(str(site), port=0, certfile=cert, keyfile=key)) as srv:
        assert srv.url.startswith("https://")
        ctx = ssl.create_default_context(cafile=cert)
        assert urllib.request.urlopen(srv.url, context=ctx).read() == b"<p>hi</p>"


def test_serve_web_refuses_a_non_site(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgelite.cli", "serve", "web", str(tmp_path), "--port", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "index.html" in r.stderr and r.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------------ browser source

def _ws_connect(port: int, path: str = "/", tls: bool = False, cafile: str | None = None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False  # the certificate names the LAN address; its chain is still verified
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n")[0].decode()


def _ws_send(s, text: str) -> None:
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                            else bytes([0x80 | 127]) + struct.pack(">Q", n))
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def test_browser_source_real_recording_matches_replay(runs, accel_dir):
    """A real UCI recording sent as sensor.html messages gives the same stream results as feeding it directly."""
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.runtime.accel.sources import SourceOptions, make_source, pump
    from edgelite.runtime.accel.stream import Batch, StreamClassifier
    from edgelite.runtime.core.model import EdgeModel

    rec = read_recordings(accel_dir / "uci-walking" / "Dataset" / "5.csv", fmt="continuous")[0]
    t, x = rec.t[:900], rec.data[:900]
    model = EdgeModel.open(str(runs / "accel" / "model.tflite"))
    src = make_source("browser", SourceOptions(port=0))
    got = []
    with src:
        assert src.url.startswith("ws://127.0.0.1:")
        s, status = _ws_connect(src.address[1])
        assert "101" in status
        for a in range(0, len(t), 10):
            _ws_send(s, json.dumps({"device": "phone", "session": "s1", "gravity": True, "units": "m/s^2",
                                    "t": t[a:a + 10].tolist(), "xyz": x[a:a + 10].tolist()}))
        _ws_send(s, "{not json")
        clf = StreamClassifier.for_model(model, emit=got.append)
        pump(src, clf.push_many, max_seconds=20, idle_s=1.5)
        s.close()
    ref = StreamClassifier.for_model(model)
    want = [r for a in range(0, len(t), 10)
            for r in ref.push(Batch("phone", t[a:a + 10], x[a:a + 10].astype(np.float32), gravity=True, session="s1"))]
    assert len(want) > 10 and [(r.t_end, r.label) for r in got] == [(r.t_end, r.label) for r in want]
    assert src.counters["not_json"] == 1


def test_browser_source_token_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELITE_CACHE", str(tmp_path / "cache"))  # the self-signed certificate goes there
    from edgelite.runtime.accel.sources import SourceOptions, make_source
    from edgelite.runtime.core.errors import EdgeliteError

    with pytest.raises(EdgeliteError, match="needs a token"):
        make_source("browser", SourceOptions(host="0.0.0.0", port=0)).start()
    src = make_source("browser", SourceOptions(port=0, token="s3cret"))
    with src:
        s, status = _ws_connect(src.address[1], "/")
        assert "401" in status and src.counters["unauthorized"] == 1
        s.close()
        s, status = _ws_connect(src.address[1], "/?token=s3cret")
        assert "101" in status
        s.close()
    # bound beyond loopback: TLS with the self-signed certificate (a https page may only open wss://)
    src = make_source("browser", SourceOptions(host="0.0.0.0", port=0, token="t"))
    with src:
        assert src.url.startswith("wss://")
        cert = tmp_path / "cache" / "web" / "tls" / "cert.pem"
        assert cert.is_file()
        s, status = _ws_connect(src.address[1], "/?token=t", tls=True, cafile=str(cert))
        assert "101" in status
        s.close()


# ------------------------------------------------------------------------------ spotter (continuous signing)

def test_fix_input_length_equals_dynamic_spotter(runs, shared):
    """The TF-free fixed-window spotter (input dims patched in the flatbuffer) = the dynamic spotter resized to the
    window, on real asl-signs windows (bit-identical); a fixed first dim cannot be changed."""
    from edgelite.convert.web import fix_input_length
    from edgelite.runtime.core.errors import ModelError
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.core.modelfile import read_model_info
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence
    from web_models import tiny_spotter

    src = tiny_spotter()
    fixed = src.parent / "fixed16.tflite"
    fixed.write_bytes(fix_input_length(src.read_bytes(), 16, str(src)))
    (tin,) = read_model_info(fixed).signatures["serving_default"].inputs.values()
    assert tin.shape == tin.shape_signature == [16, 543, 3]
    dyn, fix = EdgeModel.open(str(src)), EdgeModel.open(str(fixed))
    samples = list_asl_signs(shared / "data" / "asl-signs")
    n = 0
    for i in np.linspace(0, len(samples) - 1, 6).astype(int):
        x = read_parquet_sequence(samples[i].path)
        for a in range(0, len(x) - 16, 3):
            np.testing.assert_array_equal(dyn.predict(x[a:a + 16]), fix.predict(x[a:a + 16]))
            n += 1
    assert n >= 10
    with pytest.raises(ModelError, match="fixed first dimension"):
        fix_input_length(fixed.read_bytes(), 8, str(fixed))


def test_export_takes_the_runs_spotter(runs, tmp_path):
    """A run with spotter.tflite beside model.tflite: the sign site gets model/spotter.tflite ([window,543,3]) and a
    config 'spotter' entry (labels, spotting, the Python decoder defaults); without one, no continuous mode."""
    import shutil

    from edgelite.convert.web import export_web_site, find_spotter
    from edgelite.runtime.core.errors import EdgeliteError
    from edgelite.runtime.signs.spotting import SpotterOptions
    from web_models import tiny_spotter

    _need_site()
    run = tmp_path / "run"
    shutil.copytree(runs / "signs", run)
    assert find_spotter(str(run / "model.tflite")) is None
    with pytest.raises(EdgeliteError, match="not found"):
        find_spotter(str(run / "model.tflite"), spotter=str(tmp_path / "missing.tflite"))
    shutil.copyfile(tiny_spotter(), run / "spotter.tflite")
    files = export_web_site(str(run / "model.tflite"), str(tmp_path / "site"))
    assert "model/spotter.tflite" in files
    sp = json.loads((tmp_path / "site" / "model" / "config.json").read_text())["spotter"]
    assert sp["input_shape"] == [16, 543, 3] and sp["labels"] == ["-", "hello", "thankyou"]
    assert sp["spotting"]["blank"] == "-" and sp["options"]["min_score"] == SpotterOptions().min_score
    assert "reject" not in sp["options"]
