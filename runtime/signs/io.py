"""Sign landmark recordings → ``[T, 543, 3]`` float32 arrays (NaN = landmark not detected).

Two on-disk layouts are read into one array layout, the Kaggle "Isolated Sign Language
Recognition" order of MediaPipe Holistic landmarks:

====== ============ =========
rows   part         count
====== ============ =========
0-467  face         468
468-488 left_hand   21
489-521 pose        33
522-542 right_hand  21
====== ============ =========

* **asl-signs** (Kaggle): ``train.csv`` + ``train_landmark_files/<participant>/<sequence>.parquet``,
  one row per (frame, landmark) with columns ``frame, type, landmark_index, x, y, z``
  (:func:`read_parquet_sequence`, :func:`list_asl_signs`).
* **MP_Data** (the common tutorial layout): ``MP_Data/<label>/<seq>/<frame>.npy`` holding one flat
  frame vector in MediaPipe Holistic order (pose, face, left hand, right hand); sizes 1662, 1629,
  1530, 258, 225, 126 (:data:`MP_LAYOUTS`, :func:`read_mp_sequence`, :func:`list_mp_data`).
  ``.tar.xz`` archives of such folders are unpacked once into the edgelite cache.

:func:`load_dataset` reads many sequences with several processes and caches them as sharded
arrays (``.npy`` + JSON, no pickle), so a second call is fast and the full 94,477-sequence
competition set never has to sit in memory as parquet tables.

This module is part of the runtime: it imports only numpy and the standard library at module
level; pyarrow (and tqdm, when present) are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgelite.runtime.core.errors import DataError, LimitError
from edgelite.runtime.core.limits import Limits, check, get_limits, limit_error
from edgelite.runtime.layout import N_LANDMARKS, PART_NAMES, PART_SIZES, PARTS

__all__ = [
    "MP_LAYOUTS",
    "N_LANDMARKS",
    "PARTS",
    "READER_VERSION",
    "SignSample",
    "iter_prediction_inputs",
    "iter_labelled_inputs",
    "list_asl_signs",
    "list_mp_data",
    "load_label_map",
    "mp_frames_to_landmarks",
    "read_mp_sequence",
    "read_npy_sequence",
    "read_parquet_sequence",
    "read_sample",
    "unpack_archive",
]

#: Bumped whenever a reader changes what it returns: cached shards of older versions are ignored.
READER_VERSION = 2  # 2: single (0,0,0) landmarks of MP_Data are NaN

# MP_Data frame vectors: components in MediaPipe Holistic order. (part, values per landmark)
_POSE4 = ("pose", 4)  # x, y, z, visibility (visibility dropped)
_POSE3 = ("pose", 3)
_FACE = ("face", 3)
_LH = ("left_hand", 3)
_RH = ("right_hand", 3)
#: Flat MP_Data frame sizes → their components in order (part name, values per landmark).
MP_LAYOUTS: dict[int, tuple[tuple[str, int], ...]] = {
    1662: (_POSE4, _FACE, _LH, _RH),  # the classic extract_keypoints(): pose 33x4 + face + hands
    1629: (_POSE3, _FACE, _LH, _RH),  # same without pose visibility
    1536: (_POSE4, _FACE),
    1530: (_FACE, _LH, _RH),
    258: (_POSE4, _LH, _RH),  # pose + hands
    225: (_POSE3, _LH, _RH),
    132: (_POSE4,),
    126: (_LH, _RH),  # hands only
}

_PARQUET_COLUMNS = ("frame", "type", "landmark_index", "x", "y", "z")
_ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


# --------------------------------------------------------------------------------------------
# single sequences
# --------------------------------------------------------------------------------------------


def read_parquet_sequence(path: str | os.PathLike, limits: Limits | None = None) -> np.ndarray:
    """Read one Kaggle asl-signs parquet file → ``[T, 543, 3]`` float32 (x, y, z), NaN kept.

    Rows may come in any order: each row is placed by its ``frame`` (frames sorted ascending,
    one output frame per distinct frame number) and by ``type`` + ``landmark_index`` into the
    Kaggle landmark order (:data:`PARTS`). Fully vectorised (pyarrow → numpy), no per-row loop.

    Raises :class:`DataError` naming the file when it is missing, not a parquet file, lacks
    a column, has zero frames, an unknown ``type``, a landmark index out of range, or a frame
    that does not hold exactly 543 distinct landmarks; :class:`LimitError` when the file's own
    metadata announces more than ``max_parquet_rows`` rows (checked before reading any data).
    """
    path = Path(path)
    lim = limits or get_limits()
    table = _read_parquet_table(path, lim)
    frame, lm, part_idx, xyz = _parquet_arrays(table, path)
    pos = _landmark_positions(path, frame, lm, part_idx)
    out = _place_rows(path, frame, pos, xyz)
    check(str(path), "max_frames", out.shape[0], "frames", lim)
    return out


def _read_parquet_table(path: Path, lim: Limits):
    """Step 1: open, check the schema and the row count (from the footer), read the six columns."""
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise DataError(f"{path}: reading parquet needs pyarrow: this needs edgelite[parquet] (pip install 'edgelite[parquet]')") from e
    if not path.is_file():
        raise DataError(f"{path}: parquet file not found")
    try:
        check(str(path), "max_file_bytes", path.stat().st_size, "file size (bytes)", lim)
        with pq.ParquetFile(path) as pf:
            _check_parquet_schema(path, pf.schema_arrow)
            check(str(path), "max_parquet_rows", pf.metadata.num_rows, "rows (from the parquet footer)", lim)
            _check_parquet_ratio(path, pf.metadata, lim)
            table = pf.read(columns=list(_PARQUET_COLUMNS))
    except DataError:
        raise
    except Exception as e:  # ArrowInvalid, OSError, ... on corrupt or truncated files
        raise DataError(f"{path}: not a readable parquet file ({type(e).__name__}: {e})") from e
    if table.num_rows == 0:
        raise DataError(f"{path}: zero frames (no rows); expected {N_LANDMARKS} rows per frame")
    if table.num_rows > lim.max_parquet_rows:  # the footer lied
        raise limit_error(str(path), "max_parquet_rows", table.num_rows, lim.max_parquet_rows, "rows")
    return table


def _check_parquet_ratio(path: Path, meta, lim: Limits) -> None:
    """A parquet bomb (a small file whose column chunks decompress to gigabytes) is refused from the footer:
    each column chunk over 1 MiB uncompressed must stay within ``max_member_ratio``."""
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            c = rg.column(j)
            raw, packed = c.total_uncompressed_size, max(1, c.total_compressed_size)
            if raw > (1 << 20):
                check(f"{path} (row group {i}, column {c.path_in_schema})", "max_member_ratio", raw / packed,
                      "compression ratio", lim)


def _check_parquet_schema(path: Path, schema) -> None:
    """The six columns exist with usable types (frame/landmark_index integer, type string, x/y/z numbers)."""
    import pyarrow as pa

    names = set(schema.names)
    missing = [c for c in _PARQUET_COLUMNS if c not in names]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(_PARQUET_COLUMNS)} (found {', '.join(sorted(names)) or 'none'})"
        )
    for c in _PARQUET_COLUMNS:
        ty = schema.field(c).type
        if pa.types.is_dictionary(ty):
            ty = ty.value_type
        if c == "type":
            ok = pa.types.is_string(ty) or pa.types.is_large_string(ty)
        elif c in ("frame", "landmark_index"):
            ok = pa.types.is_integer(ty)
        else:
            ok = pa.types.is_floating(ty) or pa.types.is_integer(ty)
        if not ok:
            want = {"type": "string", "frame": "integer", "landmark_index": "integer"}.get(c, "float")
            raise DataError(f"{path}: column {c!r} has type {schema.field(c).type}; expected {want}")


def _parquet_arrays(table, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step 2: columns → numpy ``frame`` [n] int64, ``landmark_index`` [n] int64, part index [n] int64
    (into :data:`PART_NAMES`), ``xyz`` [n, 3] float32 (nulls → NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def col(name: str):
        c = table.column(name)
        if c.null_count and name in ("frame", "type", "landmark_index"):
            raise DataError(f"{path}: column {name!r} has {c.null_count} null value(s)")
        return c

    try:
        frame = col("frame").to_numpy().astype(np.int64, copy=False)
        lm = col("landmark_index").to_numpy().astype(np.int64, copy=False)
        typ = col("type")
        if pa.types.is_dictionary(typ.type):
            typ = typ.cast(pa.string())
        found = pc.index_in(typ, value_set=pa.array(PART_NAMES))
        part_idx = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.float64)  # null → NaN
        xyz = np.stack([np.asarray(col(c).to_numpy(), dtype=np.float32) for c in ("x", "y", "z")], axis=-1)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
        raise DataError(
            f"{path}: unexpected column types ({e}); expected frame int, type string, "
            "landmark_index int, x/y/z float"
        ) from e
    if np.isnan(part_idx).any():
        bad = sorted(set(typ.filter(pc.is_null(found)).to_pylist()))
        raise DataError(f"{path}: unknown landmark type(s) {bad[:5]}; expected one of {', '.join(PART_NAMES)}")
    return frame, lm, part_idx.astype(np.int64), xyz


def _landmark_positions(path: Path, frame: np.ndarray, lm: np.ndarray, part_idx: np.ndarray) -> np.ndarray:
    """Step 3: (type, landmark_index) → row 0..542 of the Kaggle layout; DataError if out of range."""
    starts = np.array([PARTS[p][0] for p in PART_NAMES], dtype=np.int64)
    sizes = np.array([PART_SIZES[p] for p in PART_NAMES], dtype=np.int64)
    out_of_range = (lm < 0) | (lm >= sizes[part_idx])
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise DataError(
            f"{path}: landmark_index {int(lm[i])} out of range for type {PART_NAMES[part_idx[i]]!r} "
            f"(0..{int(sizes[part_idx[i]]) - 1}) at frame {int(frame[i])}"
        )
    return starts[part_idx] + lm


def _place_rows(path: Path, frame: np.ndarray, pos: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Step 4: rows → ``[T, 543, 3]`` by (frame, position); each landmark exactly once per frame."""
    n = frame.shape[0]
    # fast path: the usual file is already frame-sorted with 543 rows per frame in Kaggle order
    if n % N_LANDMARKS == 0:
        f2 = frame.reshape(-1, N_LANDMARKS)
        if (
            np.array_equal(pos.reshape(-1, N_LANDMARKS), np.broadcast_to(np.arange(N_LANDMARKS), f2.shape))
            and (f2 == f2[:, :1]).all()
            and (np.diff(f2[:, 0]) > 0).all()
        ):
            return np.ascontiguousarray(xyz.reshape(-1, N_LANDMARKS, 3))
    frames, inverse, counts = np.unique(frame, return_inverse=True, return_counts=True)
    if (counts != N_LANDMARKS).any():
        i = int(np.flatnonzero(counts != N_LANDMARKS)[0])
        raise DataError(
            f"{path}: frame {int(frames[i])} has {int(counts[i])} landmark rows; expected {N_LANDMARKS} "
            f"per frame (face 468, left_hand 21, pose 33, right_hand 21)"
        )
    flat = inverse.reshape(-1) * N_LANDMARKS + pos
    seen = np.bincount(flat, minlength=len(frames) * N_LANDMARKS)
    if (seen != 1).any():
        _raise_duplicate(path, frames, seen)
    out = np.empty((len(frames) * N_LANDMARKS, 3), dtype=np.float32)
    out[flat] = xyz
    return out.reshape(len(frames), N_LANDMARKS, 3)


def _raise_duplicate(path: Path, frames: np.ndarray, seen: np.ndarray) -> None:
    def where(j: int) -> tuple[int, str]:
        f, p = divmod(j, N_LANDMARKS)
        name = next(k for k, (a, b) in PARTS.items() if a <= p < b)
        return int(frames[f]), f"{name}[{p - PARTS[name][0]}]"

    j = int(np.flatnonzero(seen > 1)[0])  # counts are all 543, so a duplicate implies a gap
    f, lm_name = where(j)
    row0 = (j // N_LANDMARKS) * N_LANDMARKS
    gap = np.flatnonzero(seen[row0 : row0 + N_LANDMARKS] == 0)
    missing_name = where(row0 + int(gap[0]))[1] if len(gap) else "none"
    raise DataError(
        f"{path}: frame {f} landmark {lm_name} appears {int(seen[j])} times ({missing_name} missing); "
        "expected each landmark exactly once per frame"
    )


def mp_frames_to_landmarks(frames: np.ndarray, source: str = "frames") -> np.ndarray:
    """Map MP_Data frame vectors ``[T, D]`` (Holistic order) → ``[T, 543, 3]`` float32.

    ``D`` must be a key of :data:`MP_LAYOUTS` (1662, 1629, 1536, 1530, 258, 225, 132, 126), or the
    frames may already be ``[T, 543, 3]`` (Kaggle order). Pose visibility is dropped; parts the
    layout lacks are NaN; a part whose values are all zero in a frame (MediaPipe's "not detected"
    convention of ``extract_keypoints``) becomes NaN, and so does a single landmark that is exactly
    ``(0, 0, 0)`` inside a detected part (reduced layouts zero-fill points too), as do non-finite values.
    """
    a = np.asarray(frames)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise DataError(f"{source}: frame values have dtype {a.dtype}; expected numbers")
    if a.ndim == 3 and a.shape[1:] == (N_LANDMARKS, 3):
        out = a.astype(np.float32, copy=True)
        out[~np.isfinite(out)] = np.nan
        return out
    if a.ndim != 2:
        raise DataError(f"{source}: frames have shape {a.shape}; expected [T, D] or [T, 543, 3]")
    t, d = a.shape
    if d not in MP_LAYOUTS:
        raise DataError(
            f"{source}: frame vectors of size {d}; expected one of "
            f"{', '.join(str(k) for k in MP_LAYOUTS)} (MediaPipe Holistic pose/face/hands) "
            f"or frames of shape (543, 3)"
        )
    a = a.astype(np.float32, copy=False)
    out = np.full((t, N_LANDMARKS, 3), np.nan, dtype=np.float32)
    off = 0
    for part, per in MP_LAYOUTS[d]:
        k = PART_SIZES[part]
        block = a[:, off : off + k * per].reshape(t, k, per)
        off += k * per
        absent = ~np.any(block != 0, axis=(1, 2))  # all-zero part (incl. visibility) = not detected
        xyz = block[:, :, :3].copy()
        xyz[absent] = np.nan
        xyz[np.all(xyz == 0, axis=-1)] = np.nan  # a landmark exactly (0,0,0) inside a detected part: not detected
        a0, b0 = PARTS[part]
        out[:, a0:b0] = xyz
    out[~np.isfinite(out)] = np.nan
    return out


def _natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


_MAX_FRAME_FILE_BYTES = 1 << 20  # one MP_Data frame is at most 543 * 3 float64 = 13 KB (+ header)


def _load_npy(path: Path, max_bytes: int, what: str = ".npy") -> np.ndarray:
    """``np.load`` without pickle, size-capped; DataError for anything unreadable."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            name = "max_file_bytes"
            raise limit_error(str(path), name, size, max_bytes, "file size (bytes)")
        return np.load(path, allow_pickle=False)
    except LimitError:
        raise
    except Exception as e:  # ValueError, OSError, EOFError, ... on corrupt files
        raise DataError(f"{path}: cannot load {what} ({type(e).__name__}: {e})") from None


def read_mp_sequence(folder: str | os.PathLike, limits: Limits | None = None) -> np.ndarray:
    """Read an MP_Data sequence folder (``<frame>.npy`` files, sorted by frame number) → ``[T, 543, 3]``.

    Each ``.npy`` holds one frame vector (see :data:`MP_LAYOUTS`), loaded with
    ``allow_pickle=False``. Raises :class:`DataError` naming the folder when it has no frames,
    a frame file cannot be loaded, or the frames differ in size (ragged) or dtype kind;
    :class:`LimitError` past ``max_frames`` frames.
    """
    folder = Path(folder)
    lim = limits or get_limits()
    if not folder.is_dir():
        raise DataError(f"{folder}: MP_Data sequence folder not found")
    try:
        files = sorted((e.name for e in os.scandir(folder) if e.name.endswith(".npy") and e.is_file()), key=_natural_key)
    except OSError as e:
        raise DataError(f"{folder}: cannot list the folder ({e.strerror or e})") from None
    if not files:
        raise DataError(f"{folder}: no <frame>.npy files; expected an MP_Data sequence folder (MP_Data/<label>/<seq>/)")
    check(str(folder), "max_frames", len(files), "frames", lim)
    vecs = [_load_npy(folder / name, min(_MAX_FRAME_FILE_BYTES, lim.max_file_bytes), "frame") for name in files]
    shapes = {v.shape for v in vecs}
    if len(shapes) != 1:
        desc = ", ".join(f"{name}: {v.shape}" for name, v in list(zip(files, vecs))[:3])
        raise DataError(
            f"{folder}: ragged frames, shapes {sorted(shapes)} (e.g. {desc}); all frames of a sequence must have "
            "the same size"
        )
    bad = next((n for n, v in zip(files, vecs) if not _is_number_dtype(v.dtype)), None)
    if bad is not None:
        raise DataError(f"{folder / bad}: frame values have dtype {vecs[files.index(bad)].dtype}; expected numbers")
    shape = vecs[0].shape
    if len(shape) == 1 or shape == (N_LANDMARKS, 3):
        return mp_frames_to_landmarks(np.stack([v.astype(np.float32, copy=False) for v in vecs]), source=str(folder))
    raise DataError(f"{folder}: frames of shape {shape}; expected flat vectors (e.g. 1662, 258, 126) or (543, 3)")


def _is_number_dtype(dt: np.dtype) -> bool:
    return dt.fields is None and (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer))


def read_npy_sequence(path: str | os.PathLike, limits: Limits | None = None) -> np.ndarray:
    """Read one ``.npy`` holding a whole sequence: ``[T, 543, 3]`` or ``[T, D]`` MP frames (or one frame)."""
    path = Path(path)
    lim = limits or get_limits()
    a = _load_npy(path, lim.max_file_bytes)
    if a.ndim == 0:
        raise DataError(f"{path}: holds a single value (0-d array); expected frames [T, D] or [T, 543, 3]")
    if a.ndim == 1 or a.shape == (N_LANDMARKS, 3):
        a = a[None]
    if a.shape[0] == 0:
        raise DataError(f"{path}: zero frames")
    check(str(path), "max_frames", a.shape[0], "frames", lim)
    return mp_frames_to_landmarks(a, source=str(path))


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


@dataclass
class SignSample:
    """One labelled sequence on disk. ``path``: a parquet file or an MP_Data sequence folder."""

    name: str
    path: str
    label: str
    signer: str | None = None


def list_asl_signs(root: str | os.PathLike, train_csv: str | os.PathLike | None = None, missing: str = "error") -> list[SignSample]:
    """List the Kaggle asl-signs sequences of ``root``: see :func:`_list_asl_signs`; malformed CSV
    (bad UTF-8, csv errors) is a :class:`DataError`, more than ``max_sequences`` a :class:`LimitError`."""
    where = Path(train_csv) if train_csv else Path(root) / "train.csv"
    try:
        out = _list_asl_signs(root, train_csv, missing)
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError(f"{where}: not a readable UTF-8 CSV file ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise DataError(f"{where}: cannot read ({e.strerror or e})") from None
    check(str(where), "max_sequences", len(out), "sequences", get_limits())
    return out


def _list_asl_signs(root: str | os.PathLike, train_csv: str | os.PathLike | None = None, missing: str = "error") -> list[SignSample]:
    """List the Kaggle asl-signs sequences of ``root`` (holding ``train.csv`` and ``train_landmark_files/``).

    ``train_csv`` defaults to ``root/train.csv`` (columns path, participant_id, sequence_id, sign;
    ``path`` relative to ``root``). ``signer`` = participant_id, ``name`` = sequence_id.
    ``missing``: ``"error"`` (default) raises when a listed file is absent, ``"skip"`` leaves it
    out with a warning (e.g. a partial download).
    """
    root = Path(root)
    csv_path = Path(train_csv) if train_csv else root / "train.csv"
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: train.csv not found; expected the Kaggle asl-signs layout (train.csv + train_landmark_files/)")
    need = ("path", "participant_id", "sequence_id", "sign")
    samples: list[SignSample] = []
    absent: list[str] = []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        lack = [c for c in need if c not in cols]
        if lack:
            raise DataError(f"{csv_path}: missing column(s) {', '.join(lack)}; expected {', '.join(need)}")
        for line, row in enumerate(reader, start=2):
            if not row.get("path") or not row.get("sign"):
                raise DataError(f"{csv_path} line {line}: empty path or sign")
            p = root / row["path"]
            if not p.is_file():
                absent.append(str(p))
                continue
            samples.append(SignSample(name=str(row["sequence_id"]), path=str(p), label=row["sign"], signer=str(row["participant_id"])))
    if absent:
        if missing == "error" or not samples:
            raise DataError(f"{csv_path}: {len(absent)} listed parquet file(s) not found, e.g. {absent[0]}")
        warnings.warn(f"{csv_path}: skipped {len(absent)} listed parquet file(s) that are not present, e.g. {absent[0]}")
    if not samples:
        raise DataError(f"{csv_path}: no sequences listed")
    return samples


def _os_errors_as_data_errors(fn):
    """Decorator: OSError (unreadable folders, symlink loops, vanished files) and RecursionError → DataError."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            raise DataError(f"{getattr(e, 'filename', None) or args[0]}: cannot read ({e.strerror or e})") from None
        except RecursionError:
            raise DataError(f"{args[0]}: folder structure too deep (symlink loop?)") from None

    return wrapper


def _is_archive(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(_ARCHIVE_SUFFIXES)


_COMPLETE_MARKER = ".edgelite-complete.json"


def unpack_archive(archive: str | os.PathLike, cache: str | os.PathLike | None = None,
                   limits: Limits | None = None) -> Path:
    """Unpack a ``.tar.xz`` (or .tar.gz/.tar.bz2/.tar) once into the cache; return the unpacked folder.

    The folder is ``<cache>/archives/<name>-<hash of path, size, mtime>``; unpacking goes into a
    temporary sibling folder that is renamed into place only after a complete, verified extraction
    (every member's size checked, the compressed stream read to its end so its checksums are
    verified, nothing but zero padding after the last member) and holds a completion marker
    (``.edgelite-complete.json``: member count and bytes). A folder without the marker (an older or
    interrupted unpack) is unpacked again. A corrupt archive raises :class:`DataError` and leaves
    nothing cached. Members that would escape the folder (absolute paths, ``..``, links outside)
    are refused (tarfile ``data`` filter); member count and total size are capped
    (``max_archive_members``, ``max_archive_bytes``). ``cache`` defaults to
    :func:`edgelite.runtime.core.paths.cache_dir`.
    """
    archive = Path(archive).resolve()
    lim = limits or get_limits()
    if not archive.is_file():
        raise DataError(f"{archive}: archive not found")
    if cache is None:
        from edgelite.runtime.core.paths import cache_dir

        cache = cache_dir()
    base = Path(cache) / "archives"
    base.mkdir(parents=True, exist_ok=True)
    st = archive.stat()
    key = hashlib.sha256(f"{archive}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    stem = archive.name
    for suf in _ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suf):
            stem = stem[: -len(suf)]
            break
    final = base / f"{stem}-{key}"
    if (final / _COMPLETE_MARKER).is_file():
        return final
    if final.exists():  # no marker: a partial unpack from an older version; redo it
        shutil.rmtree(final, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=base))
    try:
        summary = _extract_verified(archive, tmp, lim)
        (tmp / _COMPLETE_MARKER).write_text(json.dumps(summary), encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / _COMPLETE_MARKER).is_file():  # pragma: no cover
                raise DataError(f"{archive}: cannot move the unpacked folder into {final}") from None
            # someone else finished first: use theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _extract_verified(archive: Path, dest: Path, lim: Limits) -> dict:
    """Extract every member of ``archive`` into ``dest`` and prove the archive was complete."""
    counts = {"members": 0, "bytes": 0}
    sizes: dict[str, int] = {}

    def member_filter(m: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        counts["members"] += 1
        counts["bytes"] += max(0, m.size)
        check(str(archive), "max_archive_members", counts["members"], "members", lim)
        check(str(archive), "max_archive_bytes", counts["bytes"], "unpacked size (bytes)", lim)
        m = tarfile.data_filter(m, path)
        if m is not None and m.isreg():
            sizes[m.name] = m.size
        return m

    try:
        with _open_decompressed(archive) as raw:
            stream = _BlockTracker(raw)
            with tarfile.open(fileobj=stream, mode="r:") as tf:
                tf.extractall(dest, filter=member_filter)
                _check_tail(tf, stream, archive)
        for name, size in sizes.items():
            got = (dest / name).stat().st_size
            if got != size:
                raise DataError(f"{archive}: member {name} unpacked to {got} bytes, the archive says {size}")
    except (DataError, LimitError):
        raise
    except Exception as e:  # TarError, LZMAError, EOFError, zlib.error, OSError, ... on corrupt archives
        raise DataError(f"{archive}: cannot unpack, the archive is corrupt or truncated ({type(e).__name__}: {e})") from None
    if counts["members"] == 0:
        raise DataError(f"{archive}: archive holds no members")
    return {"archive": str(archive), "members": counts["members"], "bytes": counts["bytes"], "files": len(sizes)}


def _open_decompressed(archive: Path):
    """The archive's decompressed byte stream (xz, gzip, bz2 or plain tar, by magic bytes)."""
    import bz2
    import gzip
    import lzma

    with open(archive, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\xfd7zXZ"):
        return lzma.open(archive, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    return open(archive, "rb")


class _BlockTracker:
    """File proxy for tarfile that remembers the last block read, so the header tarfile stopped at can
    be checked without seeking back (a backward seek restarts an xz/gzip decompressor from the start)."""

    def __init__(self, f) -> None:
        self.f = f
        self.last_pos = -1
        self.last = b""

    def read(self, n: int = -1) -> bytes:
        pos = self.f.tell()
        data = self.f.read(n)
        if n == tarfile.BLOCKSIZE:
            self.last_pos, self.last = pos, data
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()


def _check_tail(tf: tarfile.TarFile, stream: _BlockTracker, archive: Path) -> None:
    """After the last member only zero padding may follow, up to the end of the (decompressed) stream.

    tarfile stops silently at a damaged header after the first member; reading the rest also makes
    the decompressor verify its checksums (xz CRC, gzip CRC32, bz2 CRC)."""
    pos = tf.offset
    if stream.last_pos == tf.offset and stream.tell() == tf.offset + len(stream.last):
        chunk = stream.last  # the block tarfile stopped at: already read
    else:
        stream.seek(tf.offset)
        chunk = stream.read(1 << 20)
    while chunk:
        if chunk.count(0) != len(chunk):
            raise DataError(
                f"{archive}: damaged tar header at byte {pos} of the unpacked stream: the archive is corrupt "
                "(members after it would be lost)"
            )
        pos += len(chunk)
        chunk = stream.read(1 << 20)


def _has_npy(d: Path) -> bool:
    try:
        return any(e.name.endswith(".npy") for e in os.scandir(d))
    except OSError:
        return False


def _find_mp_root(folder: Path) -> Path | None:
    """The folder holding ``<label>/<seq>/*.npy`` at or below ``folder`` (following single-child chains)."""
    for _ in range(6):
        subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not subdirs:
            return None
        for lab in subdirs:
            seqs = [p for p in lab.iterdir() if p.is_dir()]
            if seqs and any(_has_npy(s) for s in seqs[:5]):
                return folder
        if len(subdirs) == 1:
            folder = subdirs[0]
            continue
        return None
    return None


def _read_signers(csv_path: Path) -> dict[tuple[str, str, str], str]:
    try:
        return _read_signers_csv(csv_path)
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError(f"{csv_path}: not a readable UTF-8 CSV file ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise DataError(f"{csv_path}: cannot read ({e.strerror or e})") from None


def _read_signers_csv(csv_path: Path) -> dict[tuple[str, str, str], str]:
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: signers CSV not found")
    need = ("root", "label", "sequence", "signer")
    out: dict[tuple[str, str, str], str] = {}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        lack = [c for c in need if c not in (reader.fieldnames or [])]
        if lack:
            raise DataError(f"{csv_path}: missing column(s) {', '.join(lack)}; expected {', '.join(need)}")
        for row in reader:
            out[(row["root"], row["label"], row["sequence"])] = row["signer"]
    return out


@_os_errors_as_data_errors
def list_mp_data(
    path: str | os.PathLike,
    signers_csv: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
) -> list[SignSample]:
    """List the sequences of an MP_Data folder (``<label>/<seq>/<frame>.npy``) or a ``.tar.xz`` holding one.

    Archives are unpacked once with :func:`unpack_archive` (into ``cache``, default the edgelite
    cache dir). ``name`` = ``<root>/<label>/<seq>`` where ``<root>`` is the dataset folder's name
    (e.g. ``MP_Data``, ``LETTER_Data``). ``signers_csv`` (columns root, label, sequence, signer)
    fills ``signer``; sequences it does not list get ``None`` (with a warning).
    """
    p = Path(path)
    if _is_archive(p):
        p = unpack_archive(p, cache)
    elif not p.is_dir():
        raise DataError(f"{path}: not found; expected an MP_Data folder or a .tar.xz holding one")
    root = _find_mp_root(p)
    if root is None:
        raise DataError(f"{path}: no MP_Data layout found; expected <label>/<sequence>/<frame>.npy folders")
    signers = _read_signers(Path(signers_csv)) if signers_csv else None
    samples: list[SignSample] = []
    unmatched = 0
    for lab in sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: _natural_key(d.name)):
        for seq in sorted((d for d in lab.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: _natural_key(d.name)):
            signer = None
            if signers is not None:
                signer = signers.get((root.name, lab.name, seq.name))
                unmatched += signer is None
            samples.append(SignSample(name=f"{root.name}/{lab.name}/{seq.name}", path=str(seq), label=lab.name, signer=signer))
    if not samples:
        raise DataError(f"{path}: no sequences found")
    check(str(path), "max_sequences", len(samples), "sequences", get_limits())
    if signers is not None and unmatched:
        if unmatched == len(samples):
            raise DataError(
                f"{signers_csv}: lists none of the {len(samples)} sequences of {root.name!r} "
                "(columns root, label, sequence must match the folder names)"
            )
        warnings.warn(f"{signers_csv}: {unmatched} of {len(samples)} sequences have no signer")
    return samples


def load_label_map(path: str | os.PathLike) -> dict[str, int]:
    """Read ``sign_to_prediction_index_map.json`` (or a folder holding it) → ``{sign: index}``.

    The indices must be the distinct integers ``0..N-1``.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "sign_to_prediction_index_map.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise DataError(f"{p}: label map not found") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: not valid JSON ({e})") from e
    if not isinstance(data, dict) or not data:
        raise DataError(f"{p}: expected a JSON object {{sign: index}}")
    bad = [k for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool)]
    if bad:
        raise DataError(f"{p}: index of sign {bad[0]!r} is not an integer")
    if sorted(data.values()) != list(range(len(data))):
        raise DataError(f"{p}: indices must be the distinct integers 0..{len(data) - 1}")
    return {str(k): int(v) for k, v in data.items()}


@_os_errors_as_data_errors
def read_sample(sample: SignSample | str | os.PathLike) -> np.ndarray:
    """Read one sequence → ``[T, 543, 3]`` float32: a parquet file, a ``.npy`` sequence or an MP_Data folder."""
    p = Path(sample.path if isinstance(sample, SignSample) else sample)
    if p.is_dir():
        return read_mp_sequence(p)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return read_parquet_sequence(p)
    if suffix == ".npy":
        return read_npy_sequence(p)
    if not p.exists():
        raise DataError(f"{p}: not found")
    raise DataError(f"{p}: unknown sequence file type; expected .parquet, .npy or an MP_Data sequence folder")


def iter_prediction_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, [T, 543, 3])`` for every sequence named by ``paths`` (see :func:`iter_labelled_inputs`)."""
    for name, frames, _ in iter_labelled_inputs(paths):
        yield name, frames


def iter_labelled_inputs(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, np.ndarray, str | None]]:
    """Yield ``(path, [T, 543, 3], label or None)`` for every sequence named by ``paths``.

    Each path may be a parquet file, a ``.npy`` sequence, an MP_Data sequence folder, an
    asl-signs root (``train.csv``), an MP_Data folder or ``.tar.xz``, or a folder of parquet files.
    ``label`` is known only from ``train.csv`` (asl-signs) or the class folders of MP_Data.
    """
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise DataError(f"{p}: not found")
        if p.is_file() and not _is_archive(p):
            yield str(p), read_sample(p), None
        elif _is_archive(p):
            for s in list_mp_data(p):
                yield s.name, read_mp_sequence(s.path), s.label
        elif (p / "train.csv").is_file() and (p / "train_landmark_files").is_dir():
            for s in list_asl_signs(p, missing="skip"):
                yield s.path, read_parquet_sequence(s.path), s.label
        elif _has_npy(p):
            yield str(p), read_mp_sequence(p), None
        elif _find_mp_root(p) is not None:
            for s in list_mp_data(p):
                yield s.name, read_mp_sequence(s.path), s.label
        else:
            files = sorted(p.rglob("*.parquet"))
            if not files:
                raise DataError(
                    f"{p}: no sign sequences found (expected .parquet files, an MP_Data folder, "
                    "an asl-signs root with train.csv, or <frame>.npy files)"
                )
            for f in files:
                yield str(f), read_parquet_sequence(f), None
