"""Sign landmark readers and cache (edgelite.runtime.signs.io): real data + generated fixtures."""

from __future__ import annotations

import csv
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from edgelite.runtime.signs import io as S
from edgelite.train.signs import cache as C
from edgelite.runtime.core.errors import DataError

KAGGLE_ORDER = [("face", 468), ("left_hand", 21), ("pose", 33), ("right_hand", 21)]


# ----------------------------------------------------------------------------------------- helpers


def kaggle_table(values: np.ndarray, frames: list[int] | None = None) -> pa.Table:
    """Build a table with the real Kaggle schema from ``values`` [T,543,3] (float64, NaN allowed)."""
    t = values.shape[0]
    frames = list(range(t)) if frames is None else frames
    types = np.concatenate([[name] * n for name, n in KAGGLE_ORDER])
    lidx = np.concatenate([np.arange(n) for _, n in KAGGLE_ORDER]).astype(np.int16)
    fr = np.repeat(np.asarray(frames, dtype=np.int16), S.N_LANDMARKS)
    ty = np.tile(types, t)
    li = np.tile(lidx, t)
    row_id = [f"{f}-{a}-{b}" for f, a, b in zip(fr, ty, li)]
    flat = values.reshape(-1, 3).astype(np.float64)
    return pa.table(
        {
            "frame": pa.array(fr, pa.int16()),
            "row_id": pa.array(row_id, pa.string()),
            "type": pa.array(ty, pa.string()),
            "landmark_index": pa.array(li, pa.int16()),
            "x": pa.array(flat[:, 0]),
            "y": pa.array(flat[:, 1]),
            "z": pa.array(flat[:, 2]),
        }
    )


def known_values(t: int = 4, seed: int = 0) -> np.ndarray:
    """float32-exact values [T,543,3] with the left hand missing in frame 1 and the right hand in frame 2."""
    rng = np.random.default_rng(seed)
    v = rng.random((t, S.N_LANDMARKS, 3)).astype(np.float32)
    a, b = S.PARTS["left_hand"]
    v[1 % t, a:b] = np.nan
    a, b = S.PARTS["right_hand"]
    v[2 % t, a:b] = np.nan
    return v


def write_mp_seq(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        np.save(folder / f"{i}.npy", f)
    return folder


@pytest.fixture(scope="module")
def asl_samples(asl_root: Path) -> list[S.SignSample]:
    return S.list_asl_signs(asl_root)


# ----------------------------------------------------------------------------------------- parquet


def test_list_asl_signs_real(asl_samples):
    assert len(asl_samples) == 210
    assert {s.label for s in asl_samples} == {"hello", "thankyou"}
    assert len({s.signer for s in asl_samples}) == 21
    assert all(Path(s.path).is_file() and s.path.endswith(f"{s.name}.parquet") for s in asl_samples)


def test_real_parquet_shape_and_nan_pattern(asl_samples):
    hand_missing = 0
    frames = 0
    for s in asl_samples[::15]:  # 14 files across signers
        a = S.read_parquet_sequence(s.path)
        raw = pq.read_table(s.path)
        assert a.dtype == np.float32 and a.ndim == 3 and a.shape[1:] == (543, 3)
        assert a.shape[0] == len(np.unique(raw.column("frame").to_numpy()))
        # file order is frame-major Kaggle order: the x column reshaped must match exactly
        np.testing.assert_array_equal(a[..., 0], raw.column("x").to_numpy().astype(np.float32).reshape(-1, 543))
        for name, (lo, hi) in S.PARTS.items():
            part = np.isnan(a[:, lo:hi])
            # a part is detected or not as a whole, within a frame
            assert np.array_equal(part.all(axis=(1, 2)), part.any(axis=(1, 2))), name
        face = np.isnan(a[:, slice(*S.PARTS["face"])]).all(axis=(1, 2))
        assert face.mean() < 0.5
        for hand in ("left_hand", "right_hand"):
            hand_missing += int(np.isnan(a[:, slice(*S.PARTS[hand])]).all(axis=(1, 2)).sum())
        frames += a.shape[0]
    assert 0 < hand_missing < 2 * frames  # some hand missing somewhere, not everywhere


def test_real_parquet_shuffled_rows_same_array(asl_samples, tmp_path):
    src = asl_samples[3].path
    t = pq.read_table(src)
    perm = np.random.default_rng(1).permutation(t.num_rows)
    pq.write_table(t.take(pa.array(perm)), tmp_path / "shuffled.parquet")
    np.testing.assert_array_equal(S.read_parquet_sequence(tmp_path / "shuffled.parquet"), S.read_parquet_sequence(src))


def test_parquet_known_values_round_trip(tmp_path):
    v = known_values(5)
    pq.write_table(kaggle_table(v, frames=[3, 4, 9, 10, 11]), tmp_path / "k.parquet")
    out = S.read_parquet_sequence(tmp_path / "k.parquet")
    np.testing.assert_array_equal(out, v)  # exact, NaN positions included
    assert np.isnan(out[1, 468:489]).all() and not np.isnan(out[1, 522:543]).any()
    # rows in reverse order and frames out of order: still sorted by frame, Kaggle landmark order
    t = kaggle_table(v, frames=[3, 4, 9, 10, 11])
    pq.write_table(t.take(pa.array(np.arange(t.num_rows)[::-1])), tmp_path / "rev.parquet")
    np.testing.assert_array_equal(S.read_parquet_sequence(tmp_path / "rev.parquet"), v)
    # many small row groups (chunked columns)
    pq.write_table(t, tmp_path / "groups.parquet", row_group_size=500)
    assert pq.ParquetFile(tmp_path / "groups.parquet").num_row_groups > 5
    np.testing.assert_array_equal(S.read_parquet_sequence(tmp_path / "groups.parquet"), v)


def test_parquet_single_frame_and_dictionary_type(tmp_path):
    v = known_values(1)
    t = kaggle_table(v)
    t = t.set_column(2, "type", t.column("type").dictionary_encode())
    pq.write_table(t, tmp_path / "one.parquet")
    np.testing.assert_array_equal(S.read_parquet_sequence(tmp_path / "one.parquet"), v)


def _bad_parquet(kind: str, path: Path) -> str:
    """Write a broken file of ``kind``; return a phrase the error must contain."""
    v = known_values(3)
    t = kaggle_table(v)
    if kind == "missing_column":
        pq.write_table(t.drop_columns(["z"]), path)
        return "missing column(s) z"
    if kind == "wrong_count":
        pq.write_table(t.slice(0, 543 + 300), path)  # frame 1 has 300 rows
        return "frame 1 has 300 landmark rows; expected 543"
    if kind == "extra_rows":
        pq.write_table(pa.concat_tables([t, t.slice(600, 1)]), path)
        return "frame 1 has 544 landmark rows"
    if kind == "duplicate_landmark":
        li = t.column("landmark_index").to_numpy().copy()
        li[10] = 11  # face[11] twice in frame 0, face[10] never
        pq.write_table(t.set_column(3, "landmark_index", pa.array(li, pa.int16())), path)
        return "face[11] appears 2 times (face[10] missing)"
    if kind == "zero_frames":
        pq.write_table(t.slice(0, 0), path)
        return "zero frames"
    if kind == "unknown_type":
        ty = np.array(t.column("type").to_pylist(), dtype=object)
        ty[5] = "hand"
        pq.write_table(t.set_column(2, "type", pa.array(list(ty))), path)
        return "unknown landmark type"
    if kind == "index_out_of_range":
        li = t.column("landmark_index").to_numpy().copy()
        li[470] = 40  # a left_hand row
        pq.write_table(t.set_column(3, "landmark_index", pa.array(li, pa.int16())), path)
        return "landmark_index 40 out of range for type 'left_hand'"
    if kind == "wrong_dtype":
        pq.write_table(t.set_column(5, "y", pa.array([str(v) for v in t.column("y").to_pylist()])), path)
        return "column 'y' has type string; expected float"
    if kind == "corrupt":
        path.write_bytes(b"PAR1" + os.urandom(2000))
        return "not a readable parquet file"
    if kind == "truncated":
        pq.write_table(t, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return "not a readable parquet file"
    if kind == "not_parquet":
        path.write_text("frame,type,landmark_index,x,y,z\n0,face,0,0.1,0.2,0.3\n")
        return "not a readable parquet file"
    if kind == "null_frame":
        fr = t.column("frame").to_pylist()
        fr[3] = None
        pq.write_table(t.set_column(0, "frame", pa.array(fr, pa.int16())), path)
        return "column 'frame' has 1 null"
    raise AssertionError(kind)


BAD_PARQUET = [
    "missing_column", "wrong_count", "extra_rows", "duplicate_landmark", "zero_frames", "unknown_type",
    "index_out_of_range", "wrong_dtype", "corrupt", "truncated", "not_parquet", "null_frame",
]


@pytest.mark.parametrize("kind", BAD_PARQUET)
def test_bad_parquet_clear_error(kind, tmp_path):
    path = tmp_path / f"bad_{kind}.parquet"
    phrase = _bad_parquet(kind, path)
    with pytest.raises(DataError) as ei:
        S.read_parquet_sequence(path)
    msg = str(ei.value)
    assert str(path) in msg and phrase in msg, msg


def test_parquet_not_found(tmp_path):
    with pytest.raises(DataError, match="not found"):
        S.read_parquet_sequence(tmp_path / "nope.parquet")


def test_null_coordinates_become_nan(tmp_path):
    v = known_values(2)
    t = kaggle_table(v)
    x = t.column("x").to_pylist()
    x[0] = None
    pq.write_table(t.set_column(4, "x", pa.array(x, pa.float64())), tmp_path / "n.parquet")
    out = S.read_parquet_sequence(tmp_path / "n.parquet")
    assert np.isnan(out[0, 0, 0]) and out[0, 0, 1] == v[0, 0, 1]


# ----------------------------------------------------------------------------------------- MP_Data


def _holistic(t: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pose = rng.random((t, 33, 4)).astype(np.float32) + 0.5  # never all-zero
    face = rng.random((t, 468, 3)).astype(np.float32) + 0.5
    lh = rng.random((t, 21, 3)).astype(np.float32) + 0.5
    rh = rng.random((t, 21, 3)).astype(np.float32) + 0.5
    lh[1] = 0  # not detected in frame 1
    rh[2] = 0
    return pose, face, lh, rh


def _check_part(out, name, expected, present_frames):
    lo, hi = S.PARTS[name]
    for f in range(out.shape[0]):
        if f in present_frames:
            np.testing.assert_array_equal(out[f, lo:hi], expected[f])
        else:
            assert np.isnan(out[f, lo:hi]).all(), (name, f)


@pytest.mark.parametrize("size", [1662, 258, 126, 1629, 225, 1530])
def test_mp_layout_mapping(size, tmp_path):
    t = 12  # 12 frames: 10.npy must sort after 9.npy
    pose, face, lh, rh = _holistic(t)
    comps = {
        1662: [pose.reshape(t, -1), face.reshape(t, -1), lh.reshape(t, -1), rh.reshape(t, -1)],
        1629: [pose[..., :3].reshape(t, -1), face.reshape(t, -1), lh.reshape(t, -1), rh.reshape(t, -1)],
        1530: [face.reshape(t, -1), lh.reshape(t, -1), rh.reshape(t, -1)],
        258: [pose.reshape(t, -1), lh.reshape(t, -1), rh.reshape(t, -1)],
        225: [pose[..., :3].reshape(t, -1), lh.reshape(t, -1), rh.reshape(t, -1)],
        126: [lh.reshape(t, -1), rh.reshape(t, -1)],
    }[size]
    vec = np.concatenate(comps, axis=1).astype(np.float64)  # real MP_Data frames are float64
    assert vec.shape == (t, size)
    folder = write_mp_seq(tmp_path / "MP_Data" / "hello" / "0", vec)
    out = S.read_mp_sequence(folder)
    assert out.shape == (t, 543, 3) and out.dtype == np.float32
    allf = set(range(t))
    _check_part(out, "left_hand", lh, allf - {1})
    _check_part(out, "right_hand", rh, allf - {2})
    if size in (1662, 258, 1629, 225):
        _check_part(out, "pose", pose[..., :3], allf)  # visibility dropped
    else:
        assert np.isnan(out[:, 489:522]).all()
    if size in (1662, 1629, 1530):
        _check_part(out, "face", face, allf)
    else:
        assert np.isnan(out[:, :468]).all()


def test_mp_real_archive_frames(shared, tmp_path):
    """The first sequences of both real archives (streamed out of the .tar.xz) map pose/hands correctly."""
    base = shared / "data" / "mp-data" / "traduttore"
    for archive, size in (("MP_Data_16actions.tar.xz", 258), ("LETTER_Data.tar.xz", 126)):
        got: dict[str, dict[int, np.ndarray]] = {}
        with tarfile.open(base / archive) as tf:
            for m in tf:
                parts = Path(m.name).parts
                if m.isfile() and m.name.endswith(".npy") and parts[-3] != "-":  # skip the no-sign class
                    seq = "/".join(parts[:-1])
                    if len(got) >= 3 and seq not in got:
                        break
                    got.setdefault(seq, {})[int(Path(m.name).stem)] = np.load(io.BytesIO(tf.extractfile(m).read()))
        checked_hand = False
        for seq, frames in got.items():
            if len(frames) < 20:  # stopped in the middle of a sequence
                continue
            folder = tmp_path / archive / seq
            raw = np.stack([frames[i] for i in sorted(frames)])
            assert raw.shape == (20, size) and raw.dtype == np.float64
            write_mp_seq(folder, raw)
            out = S.read_mp_sequence(folder)
            off = 0
            if size == 258:
                pose = raw[:, :132].reshape(20, 33, 4)
                seen_pose = (pose != 0).any(axis=(1, 2))
                assert seen_pose.all()
                np.testing.assert_array_equal(out[:, 489:522], pose[..., :3].astype(np.float32))
                off = 132
            else:
                assert np.isnan(out[:, 489:522]).all()
            assert np.isnan(out[:, :468]).all()
            for name in ("left_hand", "right_hand"):
                h = raw[:, off : off + 63].reshape(20, 21, 3)
                off += 63
                zero = (h == 0).all(axis=(1, 2))
                lo, hi = S.PARTS[name]
                assert np.isnan(out[zero, lo:hi]).all()
                np.testing.assert_array_equal(out[~zero, lo:hi], h[~zero].astype(np.float32))
                checked_hand |= bool((~zero).any())
        assert checked_hand


def test_mp_ragged_frames_error(tmp_path):
    folder = tmp_path / "MP_Data" / "hello" / "3"
    write_mp_seq(folder, np.ones((4, 258)))
    np.save(folder / "4.npy", np.ones(126))
    with pytest.raises(DataError, match="ragged frames") as ei:
        S.read_mp_sequence(folder)
    assert str(folder) in str(ei.value)


@pytest.mark.parametrize("case", ["empty", "unknown_size", "pickled", "corrupt", "text"])
def test_mp_bad_folder(case, tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    if case == "unknown_size":
        write_mp_seq(folder, np.ones((3, 100)))
        phrase = "size 100"
    elif case == "pickled":
        np.save(folder / "0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        phrase = "cannot load frame"
    elif case == "corrupt":
        (folder / "0.npy").write_bytes(b"\x93NUMPY garbage")
        phrase = "cannot load frame"
    elif case == "text":
        np.save(folder / "0.npy", np.array(["a", "b"]))
        phrase = "expected numbers"
    else:
        phrase = "no <frame>.npy files"
    with pytest.raises(DataError, match=phrase) as ei:
        S.read_mp_sequence(folder)
    assert str(folder) in str(ei.value)


def _mini_mp(root: Path, labels=("hello", "thanks"), n_seq=3, t=5, size=258) -> Path:
    for li, lab in enumerate(labels):
        for s in range(n_seq):
            vec = np.full((t, size), li + s / 10 + 0.1)
            write_mp_seq(root / lab / str(s), vec)
    return root


def _write_signers(path: Path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["root", "label", "sequence", "signer"])
        w.writerows(rows)
    return path


def test_mp_signers_join(tmp_path):
    root = _mini_mp(tmp_path / "MP_Data")
    rows = [("MP_Data", lab, str(s), "A" if s < 2 else "B") for lab in ("hello", "thanks") for s in range(3)]
    samples = S.list_mp_data(root, _write_signers(tmp_path / "signers.csv", rows))
    assert [s.name for s in samples] == [f"MP_Data/{lab}/{s}" for lab in ("hello", "thanks") for s in range(3)]
    assert [s.signer for s in samples] == ["A", "A", "B"] * 2
    assert [s.label for s in samples] == ["hello"] * 3 + ["thanks"] * 3
    # a partial CSV: warning, None signer
    with pytest.warns(UserWarning, match="1 of 6 sequences have no signer"):
        samples = S.list_mp_data(root, _write_signers(tmp_path / "partial.csv", rows[:-1]))
    assert samples[-1].signer is None
    # a CSV for another root: clear error
    other = [("LETTER_Data", *r[1:]) for r in rows]
    with pytest.raises(DataError, match="lists none of the 6 sequences"):
        S.list_mp_data(root, _write_signers(tmp_path / "other.csv", other))
    bad = tmp_path / "bad.csv"
    bad.write_text("label,signer\nhello,A\n")
    with pytest.raises(DataError, match="missing column"):
        S.list_mp_data(root, bad)


def test_mp_real_signers_csv_columns(shared, tmp_path):
    """The real signers.csv joins on (root folder name, label, sequence)."""
    csv_path = shared / "data" / "mp-data" / "traduttore" / "signers.csv"
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    pick = [r for r in rows if r["root"] == "MP_Data"][:2] + [r for r in rows if r["root"] == "MP_Data"][-2:]
    for r in pick:
        write_mp_seq(tmp_path / "MP_Data" / r["label"] / r["sequence"], np.ones((2, 258)))
    samples = S.list_mp_data(tmp_path / "MP_Data", csv_path)
    assert sorted((s.label, s.signer) for s in samples) == sorted((r["label"], r["signer"]) for r in pick)


def test_tar_xz_unpacked_once_to_cache(tmp_path, monkeypatch):
    src = _mini_mp(tmp_path / "src" / "MP_Data")
    archive = tmp_path / "MP_Data.tar.xz"
    with tarfile.open(archive, "w:xz") as tf:
        tf.add(src, arcname="./MP_Data")
    cache = tmp_path / "cache"
    s1 = S.list_mp_data(archive, cache=cache)
    assert len(s1) == 6 and all(Path(s.path).is_relative_to(cache) for s in s1)
    np.testing.assert_array_equal(S.read_sample(s1[0]), S.read_mp_sequence(src / "hello" / "0"))
    unpacked = list((cache / "archives").iterdir())
    assert len(unpacked) == 1 and not unpacked[0].name.startswith(".")  # no temporary folder left

    def boom(*a, **k):
        raise AssertionError("archive unpacked twice")

    monkeypatch.setattr(tarfile, "open", boom)
    s2 = S.list_mp_data(archive, cache=cache)
    assert [s.path for s in s2] == [s.path for s in s1]


def test_bad_archives(tmp_path):
    evil = tmp_path / "evil.tar.xz"
    with tarfile.open(evil, "w:xz") as tf:
        data = np.ones(4).tobytes()
        info = tarfile.TarInfo("../escape/0.npy")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="cannot unpack"):
        S.list_mp_data(evil, cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "escape").exists() and not (tmp_path / "escape").exists()
    corrupt = tmp_path / "corrupt.tar.xz"
    corrupt.write_bytes(b"\xfd7zXZ\x00" + os.urandom(500))
    with pytest.raises(DataError, match="corrupt.tar.xz: cannot unpack"):
        S.list_mp_data(corrupt, cache=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache" / "archives").iterdir()] == []
    with pytest.raises(DataError, match="no MP_Data layout"):
        S.list_mp_data(tmp_path / "cache")


# ----------------------------------------------------------------------------------------- label map, dispatch


def test_label_map_real_and_bad(asl_root, tmp_path):
    m = S.load_label_map(asl_root / "sign_to_prediction_index_map.json")
    assert len(m) == 250 and m["TV"] == 0 and m["zipper"] == 249 and m["hello"] >= 0
    assert S.load_label_map(asl_root) == m
    (tmp_path / "gap.json").write_text('{"a": 0, "b": 2}')
    with pytest.raises(DataError, match="distinct integers 0..1"):
        S.load_label_map(tmp_path / "gap.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        S.load_label_map(tmp_path / "bad.json")


def test_read_sample_and_prediction_inputs(asl_samples, tmp_path):
    pq_path = asl_samples[0].path
    mp_seq = write_mp_seq(tmp_path / "MP_Data" / "hello" / "0", np.ones((3, 126)))
    write_mp_seq(tmp_path / "MP_Data" / "hello" / "1", np.ones((4, 126)))
    np.save(tmp_path / "whole.npy", known_values(2))
    items = list(S.iter_prediction_inputs([pq_path, mp_seq, tmp_path / "MP_Data", tmp_path / "whole.npy"]))
    names = [n for n, _ in items]
    assert names == [pq_path, str(mp_seq), "MP_Data/hello/0", "MP_Data/hello/1", str(tmp_path / "whole.npy")]
    assert [a.shape[0] for _, a in items] == [S.read_sample(asl_samples[0]).shape[0], 3, 3, 4, 2]
    np.testing.assert_array_equal(items[-1][1], known_values(2))
    # a folder of parquet files
    sub = tmp_path / "pq"
    sub.mkdir()
    pq.write_table(kaggle_table(known_values(2)), sub / "a.parquet")
    assert [a.shape for _, a in S.iter_prediction_inputs([sub])] == [(2, 543, 3)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no sign sequences found"):
        list(S.iter_prediction_inputs([tmp_path / "empty"]))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown sequence file type"):
        S.read_sample(tmp_path / "x.txt")


def test_prediction_inputs_asl_root(asl_root):
    it = S.iter_prediction_inputs([asl_root])
    name, a = next(it)
    assert name.endswith(".parquet") and a.shape[1:] == (543, 3)


# ----------------------------------------------------------------------------------------- cache


def test_load_dataset_cache_hit_identical(asl_samples, tmp_path, monkeypatch):
    samples = asl_samples[::20]  # 11 files
    cache = tmp_path / "cache"
    seqs, labels, signers = C.load_dataset(samples, cache_dir=cache, workers=2, progress=False, shard_size=4)
    direct = [S.read_parquet_sequence(s.path) for s in samples]
    assert len(seqs) == len(samples) == len(labels) == len(signers)
    for a, b in zip(seqs, direct):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    assert list(labels) == [s.label for s in samples] and list(signers) == [s.signer for s in samples]
    assert len(list(cache.glob("*.json"))) == 3 and not list(cache.glob(".*"))

    def no_read(*a, **k):
        raise AssertionError("cache miss")

    monkeypatch.setattr(C, "_read_chunk", no_read)
    seqs2, labels2, signers2 = C.load_dataset(samples, cache_dir=cache, workers=1, progress=False, shard_size=4)
    for a, b in zip(seqs2, direct):
        np.testing.assert_array_equal(a, b)
    assert list(labels2) == list(labels) and list(signers2) == list(signers)
    mm, _, _ = C.load_dataset(samples, cache_dir=cache, workers=1, progress=False, shard_size=4, mmap=True)
    assert isinstance(mm[0].base, np.memmap) or isinstance(mm[0], np.memmap)
    np.testing.assert_array_equal(mm[5], direct[5])
    streamed = list(C.iter_cached_sequences(samples, cache_dir=cache, progress=False, shard_size=4))
    assert [s.name for s, _ in streamed] == [s.name for s in samples]


def test_load_dataset_shard_per_worker_mode(asl_samples, tmp_path):
    samples = asl_samples[1::30]  # 7 files → 4 shards of 2: workers write whole shards themselves
    seqs, labels, _ = C.load_dataset(samples, cache_dir=tmp_path / "c", workers=2, progress=False, shard_size=2)
    assert len(list((tmp_path / "c").glob("*.json"))) == 4
    for s, a in zip(samples, seqs):
        np.testing.assert_array_equal(a, S.read_parquet_sequence(s.path))
    assert list(labels) == [s.label for s in samples]


def test_cache_invalidated_by_changed_file(tmp_path):
    paths = []
    for i in range(5):
        p = tmp_path / f"{i}.parquet"
        pq.write_table(kaggle_table(known_values(2, seed=i)), p)
        paths.append(p)
    samples = [S.SignSample(name=p.stem, path=str(p), label="x", signer="s") for p in paths]
    cache = tmp_path / "cache"
    C.load_dataset(samples, cache_dir=cache, workers=1, progress=False, shard_size=2)
    assert len(list(cache.glob("*.json"))) == 3
    new = known_values(3, seed=99)
    pq.write_table(kaggle_table(new), paths[4])
    st = paths[4].stat()
    os.utime(paths[4], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    seqs, _, _ = C.load_dataset(samples, cache_dir=cache, workers=1, progress=False, shard_size=2)
    np.testing.assert_array_equal(seqs[4], new)
    assert len(list(cache.glob("*.json"))) == 4  # only the last shard was rebuilt
    h, _, _ = C.load_dataset(samples, cache_dir=cache, workers=1, progress=False, shard_size=2, dtype="float16")
    assert h[4].dtype == np.float16
    np.testing.assert_allclose(h[4].astype(np.float32), new, rtol=1e-3, atol=1e-4)


def test_load_dataset_bad_file_raise_or_skip(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(kaggle_table(known_values(2)), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"garbage")
    samples = [
        S.SignSample("g1", str(good), "a", "s1"),
        S.SignSample("b", str(bad), "b", "s2"),
        S.SignSample("g2", str(good), "c", None),
    ]
    with pytest.raises(DataError, match="bad.parquet"):
        C.load_dataset(samples, cache_dir=tmp_path / "c", workers=1, progress=False)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        seqs, labels, signers = C.load_dataset(samples, cache_dir=tmp_path / "c", workers=1, progress=False, on_error="skip")
    assert len(seqs) == 2 and list(labels) == ["a", "c"] and list(signers) == ["s1", ""]
    # the cached shard remembers the error: raising mode still raises
    with pytest.raises(DataError, match="bad.parquet"):
        C.load_dataset(samples, cache_dir=tmp_path / "c", workers=1, progress=False)


def test_load_dataset_mp_folders(tmp_path):
    root = _mini_mp(tmp_path / "MP_Data", size=126)
    samples = S.list_mp_data(root)
    seqs, labels, _ = C.load_dataset(samples, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert [a.shape for a in seqs] == [(5, 543, 3)] * 6
    assert list(labels) == ["hello"] * 3 + ["thanks"] * 3
    np.testing.assert_array_equal(seqs[1], S.read_mp_sequence(samples[1].path))


def test_runtime_module_has_no_heavy_imports():
    src = Path(S.__file__).read_text()
    head = src.split("\ndef ", 1)[0]
    for mod in ("pyarrow", "tensorflow", "keras", "pandas"):
        assert f"import {mod}" not in head and f"from {mod}" not in head
    assert "tensorflow" not in src.lower() and "keras" not in src.lower() and "allow_pickle=True" not in src
