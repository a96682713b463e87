"""Accelerometer readers (edgelite.runtime.accel.io) and resampling (edgelite.runtime.accel.resample).

Generated fixtures cover every format and each bad-input case; the real shared data
(../shared/data/accel) checks counts, rates, labels and units.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.accel.io import (
    FORMATS,
    STANDARD_GRAVITY,
    MalformedRowsWarning,
    Recording,
    detect_format,
    read_file,
    read_recordings,
    split_long,
    summarize,
)
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.accel.resample import resample_uniform, sliding_windows

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------------------------
# generated fixtures


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _xyz_rows(n: int) -> str:
    a = RNG.normal(0, 2, size=(n, 3)) + [0, 0, 9.8]
    return "".join(f"{x:.5f},{y:.5f},{z:.5f}\n" for x, y, z in a)


def _txyz_rows(n: int, dt: float = 0.03, t0: float = 10.0) -> str:
    a = RNG.normal(0, 2, size=(n, 3)) + [0, 9.8, 0]
    return "".join(f"{t0 + i * dt:.3f},{x:.4f},{y:.4f},{z:.4f}\n" for i, (x, y, z) in enumerate(a))


@pytest.fixture
def unibuc(tmp_path: Path) -> Path:
    root = tmp_path / "unibuc"
    for rid, n in ((10001, 136), (10002, 159), (10003, 150)):
        _write(root / "train" / f"{rid}.csv", _xyz_rows(n))
    _write(root / "train_labels.csv", "id,class\n10001,3\n10002,7\n10003,3\n")
    for rid in (20001, 20002):
        _write(root / "test" / f"{rid}.csv", _xyz_rows(140))
    return root


def _sl_zip(path: Path, platform: str = "ios", standardisation: str = "false", device: str = "Pixel 7",
            accel: np.ndarray | None = None, uncal: np.ndarray | None = None, n: int = 50) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = 1760674053444967200
    accel = RNG.normal(0, 1, size=(n, 3)) if accel is None else accel
    lines = ["time,seconds_elapsed,z,y,x"]
    for i, (x, y, z) in enumerate(accel):
        lines.append(f"{t0 + i * 10_000_000},{0.05 + i * 0.01},{z},{y},{x}")
    md = (
        "version,device name,recording epoch time,recording time,recording timezone,platform,appVersion,"
        "device id,sensors,sampleRateMs,standardisation\n"
        f"3,{device},1760674053385,2025-10-16_04-07-33,America/Chicago,{platform},1.47.1,abc,"
        f"Accelerometer|AccelerometerUncalibrated,10|10,{standardisation}\n"
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Accelerometer.csv", "\n".join(lines) + "\n")
        zf.writestr("Metadata.csv", md)
        zf.writestr("Annotation.csv", "")
        if uncal is not None:
            ul = ["time,seconds_elapsed,z,y,x"] + [
                f"{t0 + i * 10_000_000},{0.05 + i * 0.01},{z},{y},{x}" for i, (x, y, z) in enumerate(uncal)
            ]
            zf.writestr("AccelerometerUncalibrated.csv", "\n".join(ul) + "\n")
    return path


WAND_TEXT = (
    "Script started on Thu Jul 25 11:26:08 2019\r\n"
    "\x1b[?1034hbash-3.2$  -\x08\x1b[K\x08\x1b[Kscreen ${DEVICENAME} 115200\r\n"
    "\x1b[?1049h\x1b[!p\x1b[?3;4l\x1b[4l\x1b[>\x1b[4l\x1b[?1h\x1b=\x1b[0m\x1b(B\x1b[1;24r\x1b[H\x1b[2J\r\n"
    "\r\n"
    " -,-,-\r\n"
    "-0.15,-0.74,0.65\r\n"
    "-0.16,-0.75,0.64\r\n"
    "-0.15,-0.7\r\n"  # partial line: noise
    "-0.14,-0.76,0.63\r\n"
    " -,-,-\r\n"
    " -,-,-\r\n"  # empty segment: dropped
    "\x08\r\n"
    "0.10,0.20,0.97\r\n"
    "\\-1.00,0.17,-0.30\r\n"  # junk prefix: noise
    "0.11,0.21,0.96\r\n"
).encode() + b"\xef\xbf\xbd+#w#C)+!\r\n" + b"\x1b[7mReally kill this window [y/n]\x1b[27m\x1b[K\r\nScript done on Thu\r\n"


# ------------------------------------------------------------------------------------------
# UniBuc


def test_unibuc_labelled_and_unlabelled(unibuc: Path):
    recs = read_recordings(unibuc / "train", "unibuc", labels_csv=str(unibuc / "train_labels.csv"))
    assert [r.name for r in recs] == ["10001", "10002", "10003"]
    assert [r.label for r in recs] == ["3", "7", "3"]
    assert [len(r) for r in recs] == [136, 159, 150]
    r = recs[1]
    assert r.data.dtype == np.float32 and r.data.shape == (159, 3)
    assert r.rate_hz == 100.0 and r.t is None and r.group == "10002" and r.gravity
    assert abs(float(np.mean(r.data[:, 2])) - 9.8) < 0.6
    # Kaggle root layout: train/ + train_labels.csv next to it
    root = read_recordings(unibuc, "unibuc")
    assert [r.label for r in root] == ["3", "7", "3"]
    # unlabelled test folder
    test = read_recordings(unibuc / "test")
    assert [r.label for r in test] == [None, None]
    assert detect_format(unibuc / "test") == "unibuc"


def test_unibuc_missing_labels_file(unibuc: Path):
    missing = unibuc / "nope_labels.csv"
    with pytest.raises(DataError, match="nope_labels.csv.*not found"):
        read_recordings(unibuc / "train", "unibuc", labels_csv=str(missing))


def test_unibuc_id_without_file(unibuc: Path):
    lab = _write(unibuc / "labels2.csv", "id,class\n10001,3\n10002,7\n10003,3\n10004,5\n")
    with pytest.raises(DataError, match=r"labels2.csv.*id 10004.*10004.csv"):
        read_recordings(unibuc / "train", "unibuc", labels_csv=str(lab))


def test_unibuc_file_without_id(unibuc: Path):
    lab = _write(unibuc / "labels3.csv", "id,class\n10001,3\n10002,7\n")
    with pytest.raises(DataError, match=r"10003.csv.*no class"):
        read_recordings(unibuc / "train", "unibuc", labels_csv=str(lab))


def test_unibuc_bad_labels_row(unibuc: Path):
    lab = _write(unibuc / "labels4.csv", "id,class\n10001,3\n10002\n10003,3\n")
    with pytest.raises(DataError, match=r"labels4.csv line 3"):
        read_recordings(unibuc / "train", "unibuc", labels_csv=str(lab))


# ------------------------------------------------------------------------------------------
# unusable files


@pytest.mark.parametrize(
    "fmt,content,pattern",
    [
        ("continuous", "", r"bad.csv: file is empty"),
        ("continuous", "\n\n  \n", r"bad.csv: file is empty"),
        ("continuous", "t,x,y,z\n", r"bad.csv: file is empty \(only a header\)"),
        ("continuous", "0.0,1,2,3\n", r"bad.csv: only 1 usable row"),
        ("continuous", "0.0,1,2\n0.03,1,2\n0.06,1,2\n", r"bad.csv line 1: expected 4 columns \(t,x,y,z\), found 3"),
        ("unibuc", "1,2,3,4\n1,2,3,4\n", r"bad.csv line 1: expected 3 columns \(x,y,z\), found 4"),
        ("unibuc", "a,b,c\nfoo,bar,baz\nqux,quux,corge\n", r"bad.csv: no numeric rows"),
        ("continuous", "nan,nan,nan,nan\ninf,1,2,3\n", r"bad.csv: no numeric rows.*line 1: column t: 'nan' is not finite"),
        ("continuous", "0,1,2,3\n0,1,2,3\n", r"bad.csv: timestamps never increase"),
    ],
)
def test_unusable_file(tmp_path: Path, fmt: str, content: str, pattern: str):
    f = _write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError, match=pattern):
        read_file(f, fmt)


def test_unusable_wand_files(tmp_path: Path):
    with pytest.raises(DataError, match=r"output_wing_x.txt: file is empty"):
        read_file(_write(tmp_path / "wing" / "output_wing_x.txt", ""), "magic-wand")
    with pytest.raises(DataError, match=r"output_wing_y.txt: no numeric x,y,z rows"):
        read_file(_write(tmp_path / "wing" / "output_wing_y.txt", "Script started\r\n -,-,-\r\n\x1b[K\r\n"), "magic-wand")


def test_unknown_format_and_paths(tmp_path: Path):
    with pytest.raises(DataError, match="unknown accelerometer format 'csvx'"):
        read_recordings(tmp_path, "csvx")
    with pytest.raises(DataError, match="no such file"):
        read_recordings(tmp_path / "missing")
    f = _write(tmp_path / "weird.csv", "a;b\nhello\n")
    with pytest.raises(DataError, match="weird.csv: cannot tell the accelerometer format"):
        detect_format(f)
    with pytest.raises(DataError, match="no accelerometer recordings found"):
        detect_format(_write(tmp_path / "empty" / "notes.md", "x").parent)
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(DataError, match="other.zip: zip holds no Sensor Logger"):
        detect_format(z)


# ------------------------------------------------------------------------------------------
# continuous t,x,y,z with malformed rows


def _continuous_with_bad_rows(tmp_path: Path) -> Path:
    good = _txyz_rows(100).splitlines()
    bad = {
        10: "10.300,,9.8,0.1",  # empty cell
        20: "10.600,abc,9.8,0.1",  # text
        30: "10.900,nan,9.8,0.1",  # NaN
        40: "11.200,1.0,inf,0.1",  # inf
        50: "11.500,1.0,9.8",  # wrong cell count
    }
    lines = [bad.get(i, ln) for i, ln in enumerate(good)]
    return _write(tmp_path / "7.csv", "\n".join(lines) + "\n")


def test_malformed_rows_skipped_counted_warned(tmp_path: Path):
    f = _continuous_with_bad_rows(tmp_path)
    with pytest.warns(MalformedRowsWarning, match=r"7.csv: skipped 5 malformed row\(s\) \(first at line 11"):
        recs = read_recordings(f)
    (r,) = recs
    assert r.skipped_rows == 5 and len(r) == 95
    assert r.label == r.group == r.name == "7"
    assert np.all(np.isfinite(r.data))
    assert r.rate_hz == pytest.approx(1 / 0.03, rel=1e-3)
    assert r.t is not None and r.t[0] == 0.0 and r.t.shape == (95,)
    assert summarize(recs)["skipped_rows"] == 5


@pytest.mark.parametrize("line,what", [(11, "empty cell"), (21, "not a number"), (31, "not finite"),
                                       (41, "not finite"), (51, "expected 4 columns")])
def test_malformed_rows_strict(tmp_path: Path, line: int, what: str):
    good = _txyz_rows(100).splitlines()
    src = _continuous_with_bad_rows(tmp_path).read_text().splitlines()
    # keep only one bad row (the one at `line`) so each kind is proven to be an error in strict mode
    lines = [src[i] if i == line - 1 else good[i] for i in range(100)]
    f = _write(tmp_path / "8.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"8.csv line {line}: .*{what}.*strict"):
        read_recordings(f, "continuous", strict=True)
    with pytest.warns(MalformedRowsWarning):
        assert read_recordings(f, "continuous")[0].skipped_rows == 1


def test_too_many_malformed_rows(tmp_path: Path):
    lines = _txyz_rows(10).splitlines() + ["1,,2,3"] * 20
    f = _write(tmp_path / "9.csv", "\n".join(lines))
    with pytest.raises(DataError, match=r"9.csv: 20 of 30 rows are malformed"):
        read_recordings(f, "continuous")


def test_nonmonotonic_and_duplicate_timestamps(tmp_path: Path):
    rows = ["1.00,1,0,0", "1.03,2,0,0", "1.03,2.5,0,0", "1.09,4,0,0", "1.06,3,0,0", "1.12,5,0,0"]
    f = _write(tmp_path / "u.csv", "\n".join(rows) + "\n")
    (r,) = read_recordings(f, "continuous")
    assert len(r) == 6 and r.meta["n_nonmonotonic_t"] == 1 and r.meta["n_duplicate_t"] == 1
    assert r.rate_hz == pytest.approx(1 / 0.03, rel=1e-6)
    (seg,) = resample_uniform(r.t, r.data, r.rate_hz)
    np.testing.assert_allclose(seg[:, 0], [1, 2, 3, 4, 5], atol=1e-5)


def test_header_line_is_accepted(tmp_path: Path):
    f = _write(tmp_path / "h.csv", "t,x,y,z\n" + _txyz_rows(20))
    (r,) = read_recordings(f, "continuous")
    assert len(r) == 20 and r.skipped_rows == 0


# ------------------------------------------------------------------------------------------
# Sensor Logger


def test_sensorlogger_axes_units_sign(tmp_path: Path):
    accel = np.array([[1.0, 2.0, 3.0]] * 30)
    uncal = np.array([[0.0, 0.0, -1.0]] * 30)  # iOS, phone face up at rest: z = -1 g
    z = _sl_zip(tmp_path / "ds" / "square" / "rec1.zip", platform="ios", accel=accel, uncal=uncal, device="iPhone 13")
    (r,) = read_recordings(z)
    assert r.name == "square/rec1" and r.label == "square" and r.group == "iPhone 13" and r.gravity is False
    # columns are z,y,x in the file: mapped by name; iOS (not standardised) negated to Android convention
    np.testing.assert_allclose(r.data[0], [-1.0, -2.0, -3.0])
    assert r.meta["units_in_file"] == "m/s^2" and r.meta["sign_flipped"] is True
    assert r.rate_hz == pytest.approx(100.0, rel=1e-6) and r.t[1] == pytest.approx(0.01)
    (u,) = read_recordings(z, sensor="AccelerometerUncalibrated")
    assert u.gravity is True and u.meta["units_in_file"] == "g"
    np.testing.assert_allclose(u.data[0], [0, 0, STANDARD_GRAVITY], rtol=1e-6)
    # Android: as in the file
    za = _sl_zip(tmp_path / "ds" / "square" / "rec2.zip", platform="android", accel=accel)
    (a,) = read_recordings(za)
    np.testing.assert_allclose(a.data[0], [1.0, 2.0, 3.0])
    assert a.meta["sign_flipped"] is False
    # iOS with "Standardise Units & Frames" on: as in the file
    zs = _sl_zip(tmp_path / "s" / "tri" / "rec3.zip", platform="ios", standardisation="true", accel=accel)
    np.testing.assert_allclose(read_recordings(zs)[0].data[0], [1.0, 2.0, 3.0])


def test_sensorlogger_zip_and_folder_counted_once(tmp_path: Path):
    ds = tmp_path / "ds"
    for shape in ("square", "triangle"):
        for i in range(2):
            z = _sl_zip(ds / shape / f"2025-10-16_0{i}.zip", device="iPhone 14 Pro")
            # extracted copy next to one of them (only Accelerometer.csv, like the shared data)
            if i == 0:
                with zipfile.ZipFile(z) as zf:
                    _write(ds / shape / z.stem / "Accelerometer.csv", zf.read("Accelerometer.csv"))
    # a folder-only recording
    with zipfile.ZipFile(ds / "square" / "2025-10-16_00.zip") as zf:
        _write(ds / "square" / "2025-10-16_05" / "Accelerometer.csv", zf.read("Accelerometer.csv"))
    assert detect_format(ds) == "sensorlogger"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = read_recordings(ds)
    assert len(recs) == 5
    assert sorted(r.name for r in recs) == [
        "square/2025-10-16_00", "square/2025-10-16_01", "square/2025-10-16_05",
        "triangle/2025-10-16_00", "triangle/2025-10-16_01",
    ]
    assert any("without Metadata.csv" in str(x.message) for x in w)
    # the extracted folder alone finds its zip's Metadata.csv and gives the same data
    (f,) = read_recordings(ds / "square" / "2025-10-16_00")
    (zz,) = read_recordings(ds / "square" / "2025-10-16_00.zip")
    np.testing.assert_array_equal(f.data, zz.data)
    assert f.meta["platform"] == "ios" and f.group == "iPhone 14 Pro"


def test_sensorlogger_missing_columns_and_sensor(tmp_path: Path):
    z = tmp_path / "sq" / "r.zip"
    z.parent.mkdir()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Accelerometer.csv", "time,seconds_elapsed,z,y\n1,0.1,1,2\n2,0.2,1,2\n")
    with pytest.raises(DataError, match=r"r.zip:Accelerometer.csv: header .* lacks column\(s\) x"):
        read_recordings(z)
    with pytest.raises(DataError, match=r"r.zip: no TotalAcceleration.csv"):
        read_recordings(z, sensor="TotalAcceleration")


# ------------------------------------------------------------------------------------------
# magic wand


def test_magic_wand_capture(tmp_path: Path):
    f = _write(tmp_path / "wing" / "output_wing_hyw.txt", WAND_TEXT)
    assert detect_format(f) == "magic-wand"
    recs = read_file(f)
    assert [r.name for r in recs] == ["wing/output_wing_hyw.txt#0", "wing/output_wing_hyw.txt#1"]
    assert [len(r) for r in recs] == [3, 2]
    assert all(r.label == "wing" and r.group == "hyw" and r.skipped_rows == 0 and r.t is None for r in recs)
    np.testing.assert_allclose(recs[0].data[0], np.array([-0.15, -0.74, 0.65]) * STANDARD_GRAVITY, rtol=1e-6)
    assert recs[0].rate_hz == 25.0 and recs[0].meta["units_in_file"] == "g"
    assert recs[0].meta["noise_lines"] >= 8  # banners, escape codes, partial line, junk prefix, binary
    neg = _write(tmp_path / "negative" / "output_negative_3.txt", " -,-,-\n-515.0,412.0,716.0\n-507.0,488.0,721.0\n")
    (n,) = read_file(neg)
    assert n.group == "output_negative_3" and n.meta["user"] is None
    assert n.meta["units_in_file"] == "mg"
    np.testing.assert_allclose(n.data[0], np.array([-0.515, 0.412, 0.716]) * STANDARD_GRAVITY, rtol=1e-6)
    ccw = _write(tmp_path / "negative" / "output_negative_ccw_1.txt", "0.1,0.2,0.9\n0.1,0.2,0.9\n")
    assert read_file(ccw)[0].group == "output_negative_ccw_1"


def test_split_long():
    r = Recording("n", "f", np.arange(300, dtype=np.float32).reshape(100, 3), 25.0, None, "negative", "g", True)
    parts = split_long([r], max_s=1.2)  # 30 samples: 30,30,30 + tail of 10 (< 15) dropped
    assert [len(p) for p in parts] == [30, 30, 30] and parts[1].name == "n@1"
    assert parts[1].data[0, 0] == 90.0 and all(p.group == "g" for p in parts)


# ------------------------------------------------------------------------------------------
# resampling and windows


def test_resample_uniform_linear_and_gaps():
    t = np.array([0.0, 0.1, 0.2, 0.3, 2.0, 2.1, 2.2])
    x = np.stack([t * 10, -t], axis=1)
    (whole,) = resample_uniform(t, x, 20.0)
    assert whole.dtype == np.float32 and whole.shape == (45, 2)
    np.testing.assert_allclose(whole[:, 0], np.arange(45) * 0.5, atol=1e-4)
    segs = resample_uniform(t, x, 20.0, max_gap_s=0.5)
    assert [s.shape[0] for s in segs] == [7, 5]
    np.testing.assert_allclose(segs[1][:, 0], [20, 20.5, 21, 21.5, 22], atol=1e-4)
    # out-of-order input, duplicate timestamps (first kept), NaN rows dropped
    t2 = np.array([0.2, 0.0, 0.1, 0.1, 0.3, 0.25])
    x2 = np.array([[2.0], [0.0], [1.0], [9.0], [3.0], [np.nan]])
    (s2,) = resample_uniform(t2, x2, 10.0)
    np.testing.assert_allclose(s2[:, 0], [0, 1, 2, 3], atol=1e-5)
    assert resample_uniform(np.zeros(0), np.zeros((0, 3)), 10.0) == []
    with pytest.raises(DataError):
        resample_uniform(t, x, 0.0)
    with pytest.raises(DataError):
        resample_uniform(t[:3], x, 10.0)


def test_sliding_windows():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = sliding_windows(x, 4, 3)
    assert w.shape == (3, 4, 2)
    np.testing.assert_array_equal(w[1], x[3:7])
    np.testing.assert_array_equal(w[2], x[6:10])
    assert sliding_windows(x, 11, 1).shape == (0, 11, 2)
    assert sliding_windows(x, 10, 5).shape == (1, 10, 2)
    with pytest.raises(DataError):
        sliding_windows(x, 0, 1)


# ------------------------------------------------------------------------------------------
# real shared data


def test_real_uci_walking(accel_dir: Path):
    ds = accel_dir / "uci-walking" / "Dataset"
    assert detect_format(ds) == "continuous"
    with pytest.warns(MalformedRowsWarning, match=r"11.csv: skipped 193 malformed row\(s\) \(first at line 1608: empty cell in column x"):
        recs = read_recordings(ds, "continuous")
    assert len(recs) == 18 and [r.label for r in recs] == [str(i) for i in range(1, 19)]
    assert sum(len(r) for r in recs) == 43431
    skipped = {r.name: r.skipped_rows for r in recs if r.skipped_rows}
    assert skipped == {"11": 193}
    for r in recs:
        assert r.rate_hz == pytest.approx(33.33, abs=0.05)
        assert r.group == r.label and r.gravity and r.t is not None and r.t.min() == 0.0
    mag = np.concatenate([np.linalg.norm(r.data, axis=1) for r in recs])
    assert 9.5 < float(mag.mean()) < 10.3  # m/s², gravity included
    with pytest.raises(DataError, match=r"11.csv line 1608: empty cell in column x"):
        read_recordings(ds / "11.csv", "continuous", strict=True)


def test_real_magic_wand(accel_dir: Path):
    ds = accel_dir / "magic-wand"
    assert detect_format(ds) == "magic-wand"
    recs = read_recordings(ds)
    s = summarize(recs)
    assert s["recordings"] == 316 and s["samples"] == 31388 and s["skipped_rows"] == 0
    assert s["labels"] == {"negative": 63, "ring": 83, "slope": 89, "wing": 81}
    users = {r.group for r in recs if r.label != "negative"}
    assert users == {"hyw", "dengyl", "jiangyh"}
    assert {r.group for r in recs if r.name.startswith("negative/output_negative_jiangyh")} == {"jiangyh"}
    # units: every file ends up near 1 g, whether written in g (gestures) or milli-g (negatives)
    for f in {r.source for r in recs}:
        mag = np.concatenate([np.linalg.norm(r.data, axis=1) for r in recs if r.source == f])
        assert 9.0 < float(np.median(mag)) < 11.5, f
    units = {Path(r.source).name: r.meta["units_in_file"] for r in recs}
    assert {f for f, u in units.items() if u == "mg"} == {f"output_negative_{k}.txt" for k in
                                                          ("1", "2", "3", "4", "5", "ccw_1", "ccw_2", "jiangyh")}
    assert {u for f, u in units.items() if not f.startswith("output_negative")} == {"g"}
    assert all(r.rate_hz == 25.0 for r in recs) and min(len(r) for r in recs) >= 40


def test_real_sensorlogger(accel_dir: Path):
    ds = accel_dir / "sensorlogger-wand"
    assert detect_format(ds) == "sensorlogger"
    recs = read_recordings(ds)
    s = summarize(recs)
    assert s["recordings"] == 100 and s["labels"] == {"square": 50, "triangle": 50}
    assert s["groups"] == ["iPhone 13", "iPhone 14 Pro"]
    assert 99.0 < s["rate_hz"]["min"] and s["rate_hz"]["max"] < 101.0
    assert all(r.gravity is False and r.meta["platform"] == "ios" and r.meta["sign_flipped"] for r in recs)
    assert all(r.source.endswith(".zip:Accelerometer.csv") for r in recs)  # zip preferred over its folder
    # Accelerometer.csv (user acceleration) is already m/s²: a few m/s² while drawing a shape
    mag = np.concatenate([np.linalg.norm(r.data, axis=1) for r in recs])
    assert 0.5 < float(np.median(mag)) < 5.0
    # the uncalibrated (gravity-including) file is in g on iOS: converted it sits at ~9.8 m/s²
    first = Path(recs[0].source.split(":")[0])
    (u,) = read_recordings(first, sensor="AccelerometerUncalibrated")
    assert u.meta["units_in_file"] == "g"
    assert 9.3 < float(np.median(np.linalg.norm(u.data, axis=1))) < 10.3
    # and the two agree on scale and sign: high-passed (0.5 s moving average removed) uncalibrated
    # ≈ Accelerometer, both in m/s² (with uncalibrated read as m/s², the ratio would be ~9.8)
    r0 = recs[0]
    shift = (u.meta["time0_ns"] - r0.meta["time0_ns"]) / 1e9  # files start ~10 ms apart
    ui = np.stack([np.interp(r0.t, u.t + shift, u.data[:, k]) for k in range(3)], axis=1)

    def hp(x):
        k = np.ones(50) / 50
        return np.stack([x[:, j] - np.convolve(x[:, j], k, "same") for j in range(3)], axis=1)[50:-50]

    a, b = hp(ui).ravel(), hp(r0.data.astype(np.float64)).ravel()
    assert 0.9 < float(a @ b / (a @ a)) < 1.1 and np.corrcoef(a, b)[0, 1] > 0.9
    # extracted folder gives the same recording as its zip
    (f,) = read_recordings(first.with_suffix(""))
    np.testing.assert_array_equal(f.data, r0.data)


def test_formats_constant():
    assert FORMATS == ("unibuc", "continuous", "sensorlogger", "magic-wand")


# ------------------------------------------------------------------------------------------
# robustness: arbitrary bytes never crash a reader (only DataError), arbitrary t/x never crash resampling

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_CELL = st.sampled_from(["", "1", "-2.5", "nan", "inf", "abc", "1e3", " 3 ", "-,-,-", "\x1b[K", "0.5"])
_LINE = st.lists(_CELL, min_size=0, max_size=5).map(",".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, max_size=12), fmt=st.sampled_from(FORMATS[:2] + ("magic-wand",)))
def test_fuzz_readers_only_raise_dataerror(tmp_path_factory, lines, fmt):
    d = tmp_path_factory.mktemp("fz")
    f = _write(d / "negative" / "output_negative_9.txt", "\n".join(lines))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            recs = read_file(f, fmt)
        except DataError:
            return
    for r in recs:
        assert r.data.ndim == 2 and r.data.shape[1] == 3 and len(r) >= 1
        assert np.all(np.isfinite(r.data))


@settings(max_examples=60, deadline=None)
@given(
    t=st.lists(st.one_of(st.floats(-10, 10), st.just(float("nan"))), min_size=0, max_size=30),
    rate=st.floats(1, 200),
    gap=st.one_of(st.none(), st.floats(0.01, 5)),
)
def test_fuzz_resample(t, rate, gap):
    t = np.asarray(t, dtype=np.float64)
    x = np.stack([t, -t], axis=1) if t.size else np.zeros((0, 2))
    segs = resample_uniform(t, x, rate, max_gap_s=gap)
    for s in segs:
        assert s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 2 and s.shape[0] >= 1
        assert np.all(np.isfinite(s))
        # linear signal x = t stays exact on the grid: monotone non-decreasing
        assert np.all(np.diff(s[:, 0]) >= -1e-4)


def test_resample_rejects_absurd_grid():
    t = np.array([0.0, 1.76e9])  # epoch seconds (or ns mistaken for s): refuse to allocate
    with pytest.raises(DataError, match="timestamps in seconds"):
        resample_uniform(t, np.zeros((2, 3)), 100.0)
