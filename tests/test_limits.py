"""Resource limits (runtime/core/limits.py) and hostile inputs: every reader raises the project's own errors."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.core.errors import DataError, LimitError, ModelError
from edgelite.runtime.core.limits import DEFAULT_LIMITS, Limits, check, get_limits

SL_HEADER = "time,seconds_elapsed,z,y,x\n"


def _sl_zip(path: Path, body: str, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("rec/Accelerometer.csv", body)
    return path


# ----------------------------------------------------------------------------------------------- limits


def test_limits_defaults_env_and_args(monkeypatch):
    assert isinstance(DEFAULT_LIMITS, Limits) and DEFAULT_LIMITS.max_connections > 0
    with pytest.raises(Exception):
        DEFAULT_LIMITS.max_frames = 3  # frozen
    monkeypatch.setenv("EDGELITE_MAX_FILE_BYTES", "5e3")
    lim = get_limits(max_frames=3)
    assert lim.max_file_bytes == 5000 and lim.max_frames == 3
    with pytest.raises(LimitError, match=r"max_file_bytes=5,000 \(set EDGELITE_MAX_FILE_BYTES") as ei:
        check("x.csv", "max_file_bytes", 6000, "file size (bytes)", lim)
    assert ei.value.limit == "max_file_bytes" and isinstance(ei.value, DataError)
    monkeypatch.setenv("EDGELITE_MAX_FRAMES", "lots")
    with pytest.raises(LimitError, match="EDGELITE_MAX_FRAMES"):
        get_limits()
    with pytest.raises(LimitError):
        Limits(max_frames=0)


def test_file_size_limit_names_the_variable(tmp_path, monkeypatch):
    from edgelite.runtime.accel.io import read_recordings

    f = tmp_path / "7.csv"
    f.write_text("".join(f"{i * 0.03:.2f},1,2,3\n" for i in range(100)))
    monkeypatch.setenv("EDGELITE_MAX_FILE_BYTES", "500")
    with pytest.raises(LimitError, match="EDGELITE_MAX_FILE_BYTES"):
        read_recordings(f, fmt="continuous")


# --------------------------------------------------------------------------------------- accel readers


def test_zip_bomb_refused_before_inflating(tmp_path):
    from edgelite.runtime.accel.io import read_recordings

    z = _sl_zip(tmp_path / "bomb.zip", SL_HEADER + "1,0.1,1,2,3\n" * 3_000_000)  # 36 MB → ~70 KB
    assert z.stat().st_size < 200_000
    with pytest.raises(LimitError, match="max_member_ratio"):
        read_recordings(z, fmt="sensorlogger")


def test_zip_bomb_with_lying_header_is_capped_while_inflating(tmp_path):
    from edgelite.runtime.accel.io.sensorlogger import _zip_member_bytes

    z = _sl_zip(tmp_path / "bomb.zip", SL_HEADER + "1,0.1,1,2,3\n" * 3_000_000)
    raw = bytearray(z.read_bytes())
    # shrink the declared size in the central directory and the local header (both hold it)
    for sig, off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        i = raw.find(sig)
        raw[i + off:i + off + 4] = (1000).to_bytes(4, "little")
    z.write_bytes(bytes(raw))
    with pytest.raises((LimitError, DataError)):
        _zip_member_bytes(z, "rec/Accelerometer.csv")


@pytest.mark.parametrize("case", ["encrypted", "bad_method", "corrupt_deflate", "not_zip"])
def test_bad_zip_members_are_data_errors(tmp_path, case):
    from edgelite.runtime.accel.io import read_recordings

    body = SL_HEADER + "".join(f"{10**9 + i * 10**7},{i / 100},1,2,3\n" for i in range(200))
    z = _sl_zip(tmp_path / "r.zip", body)
    raw = bytearray(z.read_bytes())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    if case == "encrypted":
        raw[local + 6] |= 1
        raw[central + 8] |= 1
    elif case == "bad_method":
        raw[local + 8:local + 10] = (77).to_bytes(2, "little")
        raw[central + 10:central + 12] = (77).to_bytes(2, "little")
    elif case == "corrupt_deflate":
        start = local + 30 + len("rec/Accelerometer.csv")
        raw[start:start + 40] = b"\xff" * 40
    else:
        raw[:4] = b"JUNK"
        raw[central:central + 4] = b"JUNK"
    z.write_bytes(bytes(raw))
    with pytest.raises(DataError):
        read_recordings(z, fmt="sensorlogger")


def test_labels_with_cr_only_line_endings_and_huge_fields(tmp_path):
    from edgelite.runtime.accel.io import read_recordings

    d = tmp_path / "train"
    d.mkdir()
    for i in (1, 2):
        (d / f"{i}.csv").write_text("".join(f"{k},1,2\n" for k in range(20)))
    (d / "train_labels.csv").write_bytes(b"id,class\r1,a\r2,b\r")
    recs = read_recordings(d, fmt="unibuc")
    assert [r.label for r in recs] == ["a", "b"]
    (d / "train_labels.csv").write_text('id,class\n1,"' + "x" * 200_000 + '"\n2,b\n')
    with pytest.raises(DataError, match="train_labels.csv"):
        read_recordings(d, fmt="unibuc")


def test_metadata_csv_with_bad_bytes_is_data_error_or_read(tmp_path):
    from edgelite.runtime.accel.io import read_recordings

    rec = tmp_path / "walk" / "r1"
    rec.mkdir(parents=True)
    (rec / "Accelerometer.csv").write_text(
        SL_HEADER + "".join(f"{10**9 + i * 10**7},{i / 100},1,2,3\n" for i in range(50)))
    (rec / "Metadata.csv").write_bytes(b'platform,device name\n"ios\xff\xfe,"' + b"y" * 200_000 + b'"\n')
    with pytest.raises(DataError, match="Metadata.csv"):
        read_recordings(rec, fmt="sensorlogger")


def test_symlink_loop_is_data_error(tmp_path):
    from edgelite.runtime.accel.io import read_recordings

    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    with pytest.raises(DataError):
        read_recordings(tmp_path / "a.csv", fmt="continuous")
    with pytest.raises(DataError):
        read_recordings(tmp_path, fmt="continuous")


def test_magic_wand_many_separators_one_recording_each(tmp_path):
    from edgelite.runtime.accel.io import read_recordings

    f = tmp_path / "wing" / "output_wing_x.txt"
    f.parent.mkdir()
    f.write_text("0.1,0.9,0.2\n0.2,0.8,0.1\n-,-,-\n" * 20_000)
    recs = read_recordings(f, fmt="magic-wand")
    assert len(recs) == 20_000 and all(len(r) == 2 for r in recs)
    assert recs[-1].meta["first_line"] == 3 * 19_999 + 1 and recs[0].meta["segments_in_file"] == 20_000


# ---------------------------------------------------------------------------------------- sign readers


def test_npy_0d_and_mixed_dtypes(tmp_path):
    from edgelite.runtime.signs import io as S

    np.save(tmp_path / "zero.npy", np.float32(3.0))
    with pytest.raises(DataError, match="0-d"):
        S.read_npy_sequence(tmp_path / "zero.npy")
    seq = tmp_path / "seq"
    seq.mkdir()
    np.save(seq / "0.npy", np.ones(126, np.float32))
    np.save(seq / "1.npy", np.ones(126, np.complex64))
    with pytest.raises(DataError, match="expected numbers"):
        S.read_mp_sequence(seq)
    np.save(seq / "1.npy", np.ones(126, [("a", "f4")]))
    with pytest.raises(DataError):
        S.read_mp_sequence(seq)


def test_parquet_rows_checked_from_footer_before_reading(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    from edgelite.runtime.signs.io import read_parquet_sequence

    n = 543 * 4
    t = pa.table({"frame": np.repeat(np.arange(4), 543), "type": ["face"] * n,
                  "landmark_index": np.tile(np.arange(543), 4) % 468, "x": np.zeros(n), "y": np.zeros(n),
                  "z": np.zeros(n)})
    pq.write_table(t, tmp_path / "a.parquet")
    monkeypatch.setenv("EDGELITE_MAX_PARQUET_ROWS", "1000")
    with pytest.raises(LimitError, match="max_parquet_rows"):
        read_parquet_sequence(tmp_path / "a.parquet")


def _mini_mp_tar(path: Path, n_seq: int = 6) -> Path:
    with tarfile.open(path, "w:xz") as tf:
        for s in range(n_seq):
            for fr in range(3):
                buf = io.BytesIO()
                np.save(buf, np.full(126, s + fr, np.float32))
                data = buf.getvalue()
                ti = tarfile.TarInfo(f"MP_Data/hello/{s}/{fr}.npy")
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return path


def test_corrupt_tar_xz_is_data_error_and_never_cached(tmp_path):
    from edgelite.runtime.signs import io as S

    good = _mini_mp_tar(tmp_path / "good.tar.xz")
    assert len(S.list_mp_data(good, cache=tmp_path / "c1")) == 6
    (final,) = (tmp_path / "c1" / "archives").iterdir()
    assert json.loads((final / ".edgelite-complete.json").read_text())["files"] == 18
    # an uncompressed tar with a damaged header in the middle: tarfile alone stops there silently
    plain = tmp_path / "p.tar"
    with tarfile.open(good) as src, tarfile.open(plain, "w") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m))
    raw = bytearray(plain.read_bytes())
    raw[512 * 12 + 100:512 * 12 + 108] = b"garbage!"  # the 5th header (each member: 1 header + 2 data blocks)
    plain.write_bytes(bytes(raw))
    with tarfile.open(plain) as tf:
        assert 0 < len(tf.getmembers()) < 18  # what used to be cached as complete
    with pytest.raises(DataError, match="corrupt"):
        S.list_mp_data(plain, cache=tmp_path / "c2")
    # a flipped byte inside the xz stream
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "bad.tar.xz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(DataError):
        S.list_mp_data(bad, cache=tmp_path / "c2")
    assert not any(p.name.startswith(("p-", "bad-")) for p in (tmp_path / "c2" / "archives").iterdir())
    # a folder left without the completion marker is unpacked again
    (final / ".edgelite-complete.json").unlink()
    (final / "MP_Data" / "hello" / "5" / "2.npy").unlink()
    assert len(S.list_mp_data(good, cache=tmp_path / "c1")) == 6
    assert (final / "MP_Data" / "hello" / "5" / "2.npy").is_file()


def test_archive_member_limit(tmp_path, monkeypatch):
    from edgelite.runtime.signs import io as S

    good = _mini_mp_tar(tmp_path / "good.tar.xz")
    monkeypatch.setenv("EDGELITE_MAX_ARCHIVE_MEMBERS", "5")
    with pytest.raises(LimitError, match="max_archive_members"):
        S.list_mp_data(good, cache=tmp_path / "c")


def test_train_csv_bad_utf8_is_data_error(tmp_path):
    from edgelite.runtime.signs import io as S

    (tmp_path / "train.csv").write_bytes(b"path,participant_id,sequence_id,sign\n\xff\xfe,1,2,3\n")
    with pytest.raises(DataError, match="train.csv"):
        S.list_asl_signs(tmp_path)


# ------------------------------------------------------------------------------------------- models


def _with_metadata(model_path: Path, meta_json: bytes, out: Path) -> Path:
    """The model with its edgelite metadata buffer replaced by the raw bytes ``meta_json`` (no validation)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_path.read_bytes()))
    (entry,) = [m for m in model.metadata if (m.name.decode() if isinstance(m.name, bytes) else m.name) == "edgelite"]
    model.buffers[entry.buffer].data = list(meta_json)
    out.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return out


@pytest.mark.parametrize("case", ["list", "deep", "huge_int", "nan_window", "label_types", "few_labels"])
def test_bad_metadata_is_model_error(tiny_accel_model, tmp_path, case):
    from edgelite.runtime.core.modelfile import read_model_info

    meta = read_model_info(tiny_accel_model).metadata
    if case == "list":
        raw = b"[1, 2, 3]"
    elif case == "deep":
        raw = b"[" * 5000 + b"]" * 5000
    elif case == "huge_int":
        raw = b'{"format": ' + b"9" * 5000 + b"}"
    elif case == "nan_window":
        raw = json.dumps({**meta, "input": {**meta["input"], "window_s": float("nan")}}).encode()
    elif case == "label_types":
        raw = json.dumps({**meta, "labels": ["a", 2, None]}).encode()
    else:
        raw = json.dumps({**meta, "labels": ["a"]}).encode()
    m = _with_metadata(tiny_accel_model, raw, tmp_path / "m.tflite")
    with pytest.raises(ModelError):
        read_model_info(m)


def test_model_reader_is_linear_for_aliased_tables(tiny_accel_model, tmp_path):
    """A crafted file whose subgraph points its tensor table at one huge shape vector thousands of times
    must be refused by the work budget, not parsed for minutes."""
    import struct

    from edgelite.runtime.core.modelfile import read_model_info

    buf = bytearray(tiny_accel_model.read_bytes())
    buf += bytes(-len(buf) % 4)
    n = 6000
    # appended: a vector of n offsets all pointing at ONE tensor table whose shape vector has n ints
    vec_pos = len(buf)
    vt_pos = vec_pos + 4 + 4 * n
    tensor_pos = vt_pos + 8
    shape_pos = tensor_pos + 8
    blob = bytearray(struct.pack("<I", n))
    for k in range(n):
        blob += struct.pack("<I", tensor_pos - (vec_pos + 4 + 4 * k))
    blob += struct.pack("<HHH", 6, 8, 4) + bytes(2)  # vtable: one field (shape) at +4
    blob += struct.pack("<iI", tensor_pos - vt_pos, shape_pos - (tensor_pos + 4))
    blob += struct.pack("<I", n) + struct.pack("<i", 1) * n
    buf += blob
    # the reader's tables(0) of subgraph 0 → our vector: patch subgraph 0's tensors offset
    from edgelite.runtime.core.modelfile import _Reader

    r = _Reader(bytes(buf), "x")
    model = r.table(r.u32(0))
    sg = model.tables(2)[0]
    field_pos = sg._field(0)
    struct.pack_into("<I", buf, field_pos, vec_pos - field_pos)
    (tmp_path / "crafted.tflite").write_bytes(bytes(buf))
    t = time.process_time()
    with pytest.raises(ModelError, match="far more often than the file size allows"):
        read_model_info(tmp_path / "crafted.tflite")
    assert time.process_time() - t < 30  # linear: a small fraction of a second; quadratic: minutes


# -------------------------------------------------------------------------------------------- server


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            out += c
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                ln = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
                if ln and len(rest) >= int(ln[0].split(b":")[1]):
                    break
        return out
    finally:
        s.close()


def _status(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/") else 0


def _body(n=5, t0=1_000_000_000, dt=10_000_000, device="d") -> bytes:
    return json.dumps({"deviceId": device, "sessionId": "s", "payload": [
        {"name": "totalacceleration", "time": t0 + i * dt, "values": {"x": 0.0, "y": 0.0, "z": 9.8}}
        for i in range(n)]}).encode()


def _post_bytes(body: bytes, extra: str = "") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


@pytest.fixture
def server():
    from edgelite.runtime.accel.sources import SourceOptions
    from edgelite.runtime.accel.sources.http import SensorLoggerSource

    src = SensorLoggerSource(SourceOptions(port=0, max_connections=8, header_deadline_s=1.0, body_deadline_s=1.0,
                                           max_request_span_s=60.0, max_device_samples_per_s=1000.0,
                                           max_samples=2000)).start()
    yield src
    src.close()


def test_server_malformed_requests_get_4xx(server):
    port = server.address[1]
    assert _status(_raw(port, _post_bytes(_body()))) == 200
    neg = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n" + b"x" * 100
    assert _status(_raw(port, neg)) == 400
    huge_chunk = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n"
    assert _status(_raw(port, huge_chunk)) == 413
    assert _status(_raw(port, _post_bytes(b"[" * 100_000 + b"]" * 100_000))) in (400, 413)
    assert _status(_raw(port, _post_bytes(b"[" * 50_000))) == 400
    big_int = b'{"payload": [{"name": "accelerometer", "time": ' + b"9" * 5000 + b', "values": {}}]}'
    assert _status(_raw(port, _post_bytes(big_int))) == 400
    overflow = json.dumps({"payload": [{"name": "accelerometer", "time": 10**400,
                                        "values": {"x": 1, "y": 2, "z": 3}}]}).encode()
    assert _status(_raw(port, _post_bytes(overflow))) == 400
    assert _status(_raw(port, _post_bytes(b"{}", "Content-Length: 2\r\n"))) == 400  # duplicate header ok or 400
    assert _status(_raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")) == 400
    assert _status(_raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")) == 501
    # work per request is bounded: samples spread over a long device-time span are refused
    spread = _body(n=100, dt=900_000_000)  # 100 samples over 89 s
    assert _status(_raw(port, _post_bytes(spread))) == 413
    # samples per device per second: the burst allowance is spent, then 429 with Retry-After
    codes = [_raw(port, _post_bytes(_body(n=900, t0=10**9 * (100 + k), device="fast"))) for k in range(4)]
    assert 429 in [_status(c) for c in codes]
    assert any(b"Retry-After" in c for c in codes if _status(c) == 429)
    assert _status(_raw(port, _post_bytes(_body(device="other")))) == 200
    # device time per second: two pushes of 50 s each at once exceed the 60 s burst of max_device_span_per_s
    slow_spread = [_status(_raw(port, _post_bytes(_body(n=11, t0=10**9 * (1000 + 60 * k), dt=5 * 10**9,
                                                              device="spread")))) for k in range(2)]
    assert slow_spread == [200, 429]


def test_server_slowloris_cut_off_and_full_server_says_503(server):
    port = server.address[1]
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
    for s in slow:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.3)
    resp = _raw(port, _post_bytes(_body()))
    assert _status(resp) == 503 and b"Retry-After" in resp
    time.sleep(1.8)  # header deadline 1 s (+ watchdog period): the slow clients are cut off
    assert _status(_raw(port, _post_bytes(_body()))) == 200
    for s in slow:
        s.close()
    assert server.counters["deadline"] >= 8


def test_sigterm_style_stop_feeds_acknowledged_messages(server):
    from edgelite.runtime.accel.sources import pump
    import threading

    port = server.address[1]
    acked = 0
    for k in range(10):
        if _status(_raw(port, _post_bytes(_body(t0=10**9 * (10 + k))))) == 200:
            acked += 1
    stop = threading.Event()
    stop.set()  # stop before the consumer has taken anything: everything acknowledged must still be fed
    got = []
    pump(server, got.append, stop=stop)
    assert len(got) == acked == 10
    assert _status(_raw(port, _post_bytes(_body()))) == 503  # after shutdown began: refused, not acknowledged


# --------------------------------------------------------------------------------------------- recorder


def test_recorder_flushes_quiet_streams_within_the_interval(tmp_path):
    from edgelite.runtime.accel.recording import Recorder
    from edgelite.runtime.accel.stream import Batch

    r = Recorder(tmp_path, flush_every_s=0.2)
    try:
        r.write(Batch("p", np.arange(5) * 0.01, np.zeros((5, 3), np.float32)))
        deadline = time.monotonic() + 5
        while not list(tmp_path.glob("*.csv")) and time.monotonic() < deadline:
            time.sleep(0.05)
        (f,) = list(tmp_path.glob("*.csv"))
        assert np.loadtxt(f, delimiter=",").shape == (5, 4)
    finally:
        r.close()


def test_recorder_kill9_loses_at_most_the_flush_interval(tmp_path):
    code = (
        "import numpy as np, time\n"
        "from edgelite.runtime.accel.recording import Recorder\n"
        "from edgelite.runtime.accel.stream import Batch\n"
        f"r = Recorder({str(tmp_path)!r}, flush_every_s=0.5)\n"
        "t0 = time.monotonic(); print(t0, flush=True)\n"
        "while True:\n"
        "    t = time.monotonic() - t0\n"
        "    r.write(Batch('p', np.array([t]), np.zeros((1, 3), np.float32)))\n"
        "    time.sleep(0.005)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        t0 = float(p.stdout.readline())
        time.sleep(2.5)
        t_kill = time.monotonic() - t0
    finally:
        p.kill()
        p.wait(10)
    rows = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=2) for f in tmp_path.glob("*.csv")])
    lost = t_kill - rows[:, 0].max()
    assert 0 <= lost <= 0.5 + 0.6  # the interval + the timer's period and scheduling slack on a busy machine


def test_magic_wand_one_row_segments_summarised_in_one_warning(tmp_path):
    import warnings

    from edgelite.runtime.accel.io import MalformedRowsWarning, read_recordings

    f = tmp_path / "wing" / "output_wing_x.txt"
    f.parent.mkdir()
    f.write_text("0.1,0.9,0.2\n-,-,-\n" * 5000 + "0.1,0.9,0.2\n0.2,0.8,0.1\n")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = read_recordings(f, fmt="magic-wand")
    assert len(recs) == 1 and len(recs[0]) == 2
    msgs = [str(x.message) for x in w if issubclass(x.category, MalformedRowsWarning)]
    assert len(msgs) == 1 and "skipped 5000 segment(s)" in msgs[0]


def test_parquet_bomb_refused_from_footer(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    from edgelite.runtime.signs.io import read_parquet_sequence

    n = 543 * 400
    t = pa.table({"frame": np.zeros(n, np.int64), "type": pa.array(["face"] * n),
                  "landmark_index": np.zeros(n, np.int64), "x": np.zeros(n), "y": np.zeros(n), "z": np.zeros(n)})
    pq.write_table(t, tmp_path / "bomb.parquet", compression="zstd", use_dictionary=False)
    assert (tmp_path / "bomb.parquet").stat().st_size < 100_000
    with pytest.raises(LimitError, match="max_member_ratio"):
        read_parquet_sequence(tmp_path / "bomb.parquet")


# ------------------------------------------------------------------------- model inputs (EdgeModel API)


@pytest.fixture(scope="module")
def tiny_signs(tmp_path_factory) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from tiny_sign_model import make_tiny_sign_model

    return make_tiny_sign_model(str(tmp_path_factory.mktemp("signs") / "tiny_signs.tflite"))


@pytest.mark.parametrize("x, what", [
    (np.ones((1, 3), np.float32), r"1 sample\(s\) along T; the model needs at least 2 \(metadata min_samples\)"),
    (np.ones((80, 4), np.float32), r"input 'accel' must have shape \[T,3\], got \[80, 4\]"),
    (np.full((80, 3), np.nan, np.float32), "no finite values"),
    (np.r_[np.ones((79, 3)), [[np.inf, 0, 0]]].astype(np.float32), r"1 infinite value\(s\)"),
    (np.r_[np.ones((79, 3)), [[1e300, 0, 0]]], r"1 infinite value\(s\) \(or beyond float32"),  # float64 > float32
    (np.ones((80, 3), bool), "expected numbers .* got dtype bool"),
])
def test_edge_model_refuses_inputs_it_cannot_classify(tiny_accel_model, x, what):
    """EdgeModel itself (not only the classifiers) gives DataError naming the input, the limit and what it expects:
    no confident class for T=1, no XNNPACK RuntimeError for [80,4], no NaN probabilities for inf."""
    from edgelite import AccelClassifier, EdgeModel

    with EdgeModel.open(tiny_accel_model) as m:
        with pytest.raises(DataError, match=what):
            m.predict(x)
        with pytest.raises(DataError, match=what):
            m(accel=x)
        p = m.predict(np.ones((2, 3), np.float32))  # the minimum works
        assert abs(float(p.sum()) - 1) < 1e-4
    with AccelClassifier.create_from_model_path(tiny_accel_model) as clf:  # the classifier says the same
        with pytest.raises(DataError, match=what):
            clf.classify(x)


def test_edge_model_missing_input_and_length_limit(tiny_accel_model, monkeypatch):
    from edgelite import EdgeModel

    with EdgeModel.open(tiny_accel_model) as m:
        with pytest.raises(DataError, match=r"missing input\(s\) 'accel'"):
            m()
        monkeypatch.setenv("EDGELITE_MAX_INPUT_SAMPLES", "100")
        want = "101 exceeds the limit max_input_samples=100.*EDGELITE_MAX_INPUT_SAMPLES"
        with pytest.raises(LimitError, match=want) as e:
            m.predict(np.ones((101, 3), np.float32))
        assert e.value.limit == "max_input_samples"
        assert m.predict(np.ones((100, 3), np.float32)).shape == (3,)


def test_sign_model_inputs_through_edge_model_and_classifier(tiny_signs, monkeypatch):
    from edgelite import EdgeModel, SignRecognizer

    inf = np.ones((4, 543, 3), np.float32)
    inf[0, 0, 0] = np.inf
    with EdgeModel.open(tiny_signs) as m, SignRecognizer.create_from_model_path(tiny_signs) as rec:
        for call in (m.predict, rec.classify):
            with pytest.raises(DataError, match="infinite value"):
                call(inf)
            with pytest.raises(DataError, match="no finite values"):
                call(np.full((4, 543, 3), np.nan, np.float32))
            with pytest.raises(DataError, match=r"\[T,543,3\]"):
                call(np.ones((80, 4), np.float32))
        monkeypatch.setenv("EDGELITE_MAX_FRAMES", "10")
        with pytest.raises(LimitError, match="11 exceeds the limit max_frames=10"):
            rec.classify(np.full((11, 543, 3), 0.5, np.float32))
        assert rec.classify(np.full((10, 543, 3), 0.5, np.float32)).label in ("hello", "thankyou")
