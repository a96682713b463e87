"""Readers for accelerometer recordings in the formats edgelite trains on and predicts from.

NumPy + stdlib only (no TensorFlow), so both training and the TF-free runtime use it.

Every reader returns :class:`Recording` objects whose ``data`` is ``[T, 3] float32`` in m/s²
(device axes x, y, z; g converted with g = 9.80665 m/s²) and whose sample rate is known.

Formats (``FORMATS``):

``unibuc``
    A folder of per-recording CSV files ``x,y,z`` without header (~100 Hz, m/s²), file stem = id,
    plus ``train_labels.csv`` (``id,class``) for labelled folders; unlabelled test folders give
    ``label=None``. One file = one recording. group = id (no user information).
``continuous``
    One long recording per file, ``t,x,y,z`` without header (t in seconds, m/s²), e.g. UCI
    "User Identification From Walking Activity" (``Dataset/<user>.csv``, ~33 Hz).
    label = group = file stem.
``sensorlogger``
    Sensor Logger app exports: a ``.zip`` or an extracted folder holding ``Accelerometer.csv``
    (``time`` ns, ``seconds_elapsed``, ``z, y, x``: mapped by header name) and ``Metadata.csv``
    (platform, device name, standardisation). label = parent folder name, group = device name.
    Units: ``Accelerometer.csv`` (user acceleration, gravity removed) is m/s² on iOS and Android;
    ``AccelerometerUncalibrated.csv`` is in g on iOS unless "Standardise Units & Frames" is on
    (Sensor Logger UNITS.md). Axis sign: iOS differs from Android by a sign on all three axes
    unless standardised; iOS values are negated so every recording follows the Android
    convention (a phone at rest face up reads +9.8 m/s² on z in gravity-including signals).
``magic-wand``
    Raw serial captures of TensorFlow Lite Micro's magic_wand example: ``x,y,z`` in g (~25 Hz;
    units checked per file from the median |a|: the shared negative/ captures are in milli-g),
    gestures separated by ``-,-,-`` lines, terminal noise (escape codes, script banners, binary
    junk, partial lines) skipped silently and counted in ``meta["noise_lines"]``. Each non-empty
    segment between separators is one recording. label = folder name, group = user from the
    file name ``output_<gesture>_<user>.txt`` (file stem when there is no user name).

Bad input: a file that cannot be used (empty, one row, wrong column count, no numeric rows) or a
UniBuc labels problem raises :class:`~edgelite.runtime.errors.DataError` naming the file (and
line). Isolated malformed rows (empty cells, text, NaN/inf, wrong cell count) are skipped,
counted in ``Recording.skipped_rows`` and reported with a :class:`MalformedRowsWarning`;
``strict=True`` turns the first one into a ``DataError`` naming file and line.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgelite.runtime.errors import DataError

__all__ = [
    "Recording",
    "FORMATS",
    "NOMINAL_RATE_HZ",
    "STANDARD_GRAVITY",
    "MalformedRowsWarning",
    "detect_format",
    "read_recordings",
    "read_file",
    "summarize",
    "split_long",
    "sensorlogger_to_canonical",
]

STANDARD_GRAVITY = 9.80665  # m/s² per g

FORMATS = ("unibuc", "continuous", "sensorlogger", "magic-wand")
NOMINAL_RATE_HZ: dict[str, float] = {
    "unibuc": 100.0,  # Kaggle UniBuc smartphone data: ~1.5 s recordings of 136-159 samples
    "continuous": 100.0 / 3.0,  # UCI walking: median dt 0.030 s in every file (rate from t anyway)
    "sensorlogger": 100.0,  # sampleRateMs = 10 (rate from the time column anyway)
    "magic-wand": 25.0,  # TFLM magic_wand firmware samples the IMU at 25 Hz (no timestamps)
}

_ALIASES = {
    "magic_wand": "magic-wand",
    "magicwand": "magic-wand",
    "wand": "magic-wand",
    "sensor-logger": "sensorlogger",
    "sensor_logger": "sensorlogger",
    "uci": "continuous",
    "uci-walking": "continuous",
}

# Sensor Logger files that hold acceleration, in the order tried when no sensor is asked for.
_SL_SENSORS = ("Accelerometer", "TotalAcceleration", "AccelerometerUncalibrated")
_SL_GRAVITY = {"Accelerometer": False, "TotalAcceleration": True, "AccelerometerUncalibrated": True}
_LABEL_FILE_NAMES = ("train_labels.csv", "labels.csv")
_NOT_RECORDINGS = {"train_labels.csv", "labels.csv", "sample_submission.csv", "test_labels.csv"}

_MAX_BAD_FRACTION = 0.5  # more malformed rows than this → the file is unusable, not "isolated rows"


class MalformedRowsWarning(UserWarning):
    """Some rows of a file were malformed and skipped (the message names the file and count)."""


@dataclass
class Recording:
    """One accelerometer recording.

    Attributes:
        name: e.g. ``"7"``, ``"square/2025-10-16_04-07-33"``, ``"wing/output_wing_hyw.txt#12"``.
        source: file path (``archive.zip:member`` for zip members).
        data: ``[T, 3] float32`` acceleration in m/s², device axes x, y, z.
        rate_hz: sample rate: from timestamps (1 / median positive dt) where they exist, else the
            format's nominal rate.
        t: ``[T] float64`` seconds since the earliest sample, in file order (may be
            non-monotonic; :func:`edgelite.runtime.resample.resample_uniform` sorts); ``None``
            when the format has no timestamps.
        label: class name, ``None`` when unlabelled.
        group: what must be held out together in validation (user, device, recording id).
        gravity: ``True`` if the signal includes gravity.
        skipped_rows: isolated malformed rows skipped while reading.
        meta: anything else (device, platform, units_in_file, noise_lines, ...).
    """

    name: str
    source: str
    data: np.ndarray
    rate_hz: float
    t: np.ndarray | None
    label: str | None
    group: str
    gravity: bool
    skipped_rows: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Duration in seconds (from timestamps when present, else samples / rate)."""
        if self.t is not None and self.t.size:
            return float(np.max(self.t) - np.min(self.t))
        return self.data.shape[0] / self.rate_hz if self.rate_hz else 0.0

    def __len__(self) -> int:
        return int(self.data.shape[0])


# --------------------------------------------------------------------------------------------
# text helpers


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from e


def _to_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


_HEADER_CELL = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/\-²^]*$")


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and all(_HEADER_CELL.match(c.strip()) and _to_float(c) is None for c in cells)


@dataclass
class _Table:
    values: np.ndarray  # [N, ncols] float64
    lines: np.ndarray  # [N] int line numbers (1-based)
    header: list[str] | None
    skipped: int
    first_bad: tuple[int, str] | None
    exact: np.ndarray | None = None  # [N] int64 copy of column ``exact_col`` (None if not all integers)


def _parse_table(
    text: str,
    source: str,
    ncols: int | None,
    names: str,
    strict: bool,
    header_mode: str = "optional",
    min_rows: int = 2,
    exact_col_name: str | None = None,
) -> _Table:
    """Parse comma-separated numeric rows.

    ``ncols`` None → the header's length (``header_mode="required"``). ``header_mode``: "optional"
    (line 1 is a header if every cell is a name), "required", or "none". Blank lines are ignored;
    rows with a wrong cell count, empty/non-numeric/non-finite cells are malformed: skipped and
    counted, or a DataError when ``strict``. The whole file is unusable (DataError) when it is
    empty, has fewer than ``min_rows`` good rows, most rows have the wrong cell count, or more
    than half of the rows are malformed.
    """
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        cells = [c.strip() for c in s.split(",")]
        if header is None and not rows and header_mode != "none" and _is_header(cells):
            header = cells
            continue
        rows.append((lineno, cells))
    if header_mode == "required" and header is None:
        raise DataError(f"{source}: expected a header line ({names}), found none")
    if ncols is None:
        ncols = len(header) if header is not None else 0
    if not rows:
        what = "only a header" if header is not None else "no data rows"
        raise DataError(f"{source}: file is empty ({what}); expected rows of {names}")
    counts: dict[int, int] = {}
    for _, cells in rows:
        counts[len(cells)] = counts.get(len(cells), 0) + 1
    mode = max(counts, key=lambda k: (counts[k], k == ncols))
    if mode != ncols:
        first = next(ln for ln, cells in rows if len(cells) == mode)
        raise DataError(
            f"{source} line {first}: expected {ncols} columns ({names}), "
            f"found {mode} in {counts[mode]} of {len(rows)} rows"
        )
    values = np.empty((len(rows), ncols), dtype=np.float64)
    good_lines: list[int] = []
    n = 0
    skipped = 0
    first_bad: tuple[int, str] | None = None
    colnames = header if header is not None and len(header) == ncols else names.split(",")
    exact_col = None
    if exact_col_name is not None and header is not None:
        low = [c.lower() for c in header]
        exact_col = low.index(exact_col_name) if exact_col_name in low else None
    exact = np.zeros(len(rows), dtype=np.int64) if exact_col is not None else None
    for lineno, cells in rows:
        reason = None
        if len(cells) != ncols:
            reason = f"expected {ncols} columns ({names}), got {len(cells)}"
        else:
            for j, c in enumerate(cells):
                col = colnames[j] if j < len(colnames) else f"column {j + 1}"
                if c == "":
                    reason = f"empty cell in column {col}"
                    break
                v = _to_float(c)
                if v is None:
                    reason = f"column {col}: {c[:30]!r} is not a number"
                    break
                if not math.isfinite(v):
                    reason = f"column {col}: {c!r} is not finite"
                    break
                values[n, j] = v
            if reason is None and exact is not None:
                try:
                    exact[n] = int(cells[exact_col])
                except (ValueError, OverflowError):
                    exact = None
        if reason is not None:
            if strict:
                raise DataError(f"{source} line {lineno}: {reason} (strict mode)")
            skipped += 1
            if first_bad is None:
                first_bad = (lineno, reason)
            continue
        good_lines.append(lineno)
        n += 1
    if n == 0:
        raise DataError(
            f"{source}: no numeric rows (expected {names}); first problem at line {first_bad[0]}: {first_bad[1]}"
        )
    if n < min_rows:
        raise DataError(f"{source}: only {n} usable row(s); need at least {min_rows} rows of {names}")
    if skipped > _MAX_BAD_FRACTION * (n + skipped):
        raise DataError(
            f"{source}: {skipped} of {n + skipped} rows are malformed (first at line {first_bad[0]}: "
            f"{first_bad[1]}); too many to skip"
        )
    return _Table(
        values[:n], np.asarray(good_lines, dtype=np.int64), header, skipped, first_bad,
        exact[:n] if exact is not None else None,
    )


def _warn_skipped(source: str, table: _Table) -> None:
    if table.skipped:
        line, reason = table.first_bad  # type: ignore[misc]
        warnings.warn(
            MalformedRowsWarning(
                f"{source}: skipped {table.skipped} malformed row(s) (first at line {line}: {reason}); "
                "use --strict to make this an error"
            ),
            stacklevel=3,
        )


def _rate_from_t(t: np.ndarray, source: str) -> float:
    ts = np.sort(t)
    dt = np.diff(ts)
    dt = dt[dt > 0]
    if dt.size == 0:
        raise DataError(f"{source}: timestamps never increase (all {t.size} equal); cannot tell the sample rate")
    return float(1.0 / np.median(dt))


def _time_meta(t_raw: np.ndarray) -> dict:
    d = np.diff(t_raw)
    return {
        "n_nonmonotonic_t": int(np.sum(d < 0)),
        "n_duplicate_t": int(np.sum(d == 0)),
        "max_gap_s": float(d.max()) if d.size else 0.0,
    }


def _natural_key(p: Path) -> tuple:
    parts = re.split(r"(\d+)", str(p))
    return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in parts)


# --------------------------------------------------------------------------------------------
# format detection


def _canon_format(fmt: str) -> str:
    f = fmt.strip().lower()
    f = _ALIASES.get(f, f)
    if f not in FORMATS:
        raise DataError(f"unknown accelerometer format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return f


def _sniff_text(text: str) -> str | None:
    """Guess a format from a file's text: 'magic-wand', 'continuous', 'unibuc', 'sensorlogger' or None."""
    lines = [ln.strip() for ln in text.splitlines()[:400]]
    lines = [ln for ln in lines if ln]
    if not lines:
        return None
    if "seconds_elapsed" in lines[0]:
        return "sensorlogger"
    if any(re.fullmatch(r"-\s*,\s*-\s*,\s*-", ln) for ln in lines):
        return "magic-wand"
    counts: dict[int, int] = {}
    for ln in lines:
        cells = ln.split(",")
        if all(_to_float(c) is not None for c in cells if c.strip()) and any(c.strip() for c in cells):
            counts[len(cells)] = counts.get(len(cells), 0) + 1
    if not counts:
        return None
    mode = max(counts, key=counts.get)
    return {3: "unibuc", 4: "continuous"}.get(mode)


def _zip_has_sensor(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(Path(n).stem in _SL_SENSORS and n.endswith(".csv") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _dir_is_sl_recording(d: Path) -> bool:
    return any((d / f"{s}.csv").is_file() for s in _SL_SENSORS)


def _detect_file(p: Path) -> str | None:
    if p.suffix.lower() == ".zip":
        if _zip_has_sensor(p):
            return "sensorlogger"
        raise DataError(f"{p}: zip holds no Sensor Logger accelerometer file ({', '.join(s + '.csv' for s in _SL_SENSORS)})")
    if p.stem in _SL_SENSORS and p.suffix.lower() == ".csv":
        return "sensorlogger"
    if p.name.lower() in _NOT_RECORDINGS:
        return None
    try:
        with open(p, "rb") as fh:
            head = _decode(fh.read(65536))
    except OSError as e:
        raise DataError(f"{p}: cannot read file ({e.strerror or e})") from e
    guess = _sniff_text(head)
    if p.suffix.lower() == ".txt" and guess in (None, "unibuc") and (guess or p.name.startswith("output_")):
        return "magic-wand"  # serial captures are .txt; x,y,z rows without separators are still one
    return guess


def detect_format(path) -> str:
    """Tell which of :data:`FORMATS` a file or dataset folder is in.

    Raises:
        DataError: the path does not exist or holds nothing recognisable.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_file():
        fmt = _detect_file(p)
        if fmt is None:
            raise DataError(
                f"{p}: cannot tell the accelerometer format (expected a Sensor Logger zip/Accelerometer.csv, "
                "a magic-wand capture with '-,-,-' separators, 't,x,y,z' rows or 'x,y,z' rows); pass --format"
            )
        return fmt
    if _dir_is_sl_recording(p):
        return "sensorlogger"
    files = sorted((f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")), key=_natural_key)
    if any(f.suffix.lower() == ".zip" and _zip_has_sensor(f) for f in files) or any(
        f.stem in _SL_SENSORS and f.suffix.lower() == ".csv" for f in files
    ):
        return "sensorlogger"
    for f in files:
        if f.suffix.lower() in (".txt", ".csv") and f.name.lower() not in _NOT_RECORDINGS:
            fmt = _detect_file(f)
            if fmt is not None:
                return fmt
    raise DataError(
        f"{p}: no accelerometer recordings found (looked for Sensor Logger zips/folders, magic-wand "
        "*.txt captures, t,x,y,z or x,y,z CSV files)"
    )


# --------------------------------------------------------------------------------------------
# UniBuc


def _read_labels(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path}: labels file not found (expected a CSV with columns id,class)")
    text = _decode(_read_bytes(path))
    rows = list(csv.reader(io.StringIO(text)))
    rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: labels file is empty (expected columns id,class)")
    id_col, cls_col = 0, 1
    first = rows[0][1]
    if _to_float(first[0]) is None and len(first) >= 2 and _is_header(first):
        low = [c.lower() for c in first]
        id_col = low.index("id") if "id" in low else 0
        for name in ("class", "label", "user", "target"):
            if name in low:
                cls_col = low.index(name)
                break
        rows = rows[1:]
    labels: dict[str, str] = {}
    for lineno, r in rows:
        if len(r) <= max(id_col, cls_col) or not r[id_col] or not r[cls_col]:
            raise DataError(f"{path} line {lineno}: expected 'id,class', got {','.join(r)!r}")
        rid, cls = _norm_id(r[id_col]), r[cls_col]
        if rid in labels and labels[rid] != cls:
            raise DataError(f"{path} line {lineno}: id {r[id_col]} listed twice with different classes")
        labels[rid] = cls
    if not labels:
        raise DataError(f"{path}: labels file has a header but no rows (expected id,class)")
    return labels


def _norm_id(s: str) -> str:
    s = s.strip()
    if s.endswith(".csv"):
        s = s[:-4]
    return str(int(s)) if s.isdigit() else s


def _unibuc_one(f: Path, strict: bool, label: str | None) -> Recording:
    table = _parse_table(_decode(_read_bytes(f)), str(f), 3, "x,y,z", strict)
    _warn_skipped(str(f), table)
    return Recording(
        name=f.stem,
        source=str(f),
        data=table.values.astype(np.float32),
        rate_hz=NOMINAL_RATE_HZ["unibuc"],
        t=None,
        label=label,
        group=f.stem,
        gravity=True,
        skipped_rows=table.skipped,
        meta={"id": f.stem, "units_in_file": "m/s^2", "rate_source": "nominal"},
    )


def _read_unibuc(p: Path, strict: bool, labels_csv: str | None) -> list[Recording]:
    labels_path = Path(labels_csv) if labels_csv else None
    if p.is_file():
        labels = _read_labels(labels_path) if labels_path else None
        label = None
        if labels is not None:
            label = labels.get(_norm_id(p.stem))
            if label is None:
                raise DataError(f"{p}: id {p.stem} is not in labels file {labels_path}")
        return [_unibuc_one(p, strict, label)]
    folder = p
    files = _unibuc_files(folder)
    if not files and (folder / "train").is_dir():
        # Kaggle layout root: train/ + train_labels.csv next to it
        if labels_path is None:
            for n in _LABEL_FILE_NAMES:
                if (folder / n).is_file():
                    labels_path = folder / n
                    break
        folder = folder / "train"
        files = _unibuc_files(folder)
    if not files:
        raise DataError(f"{p}: no recording CSV files (x,y,z) found")
    if labels_path is None:
        for n in _LABEL_FILE_NAMES:
            if (folder / n).is_file():
                labels_path = folder / n
                break
    labels = _read_labels(labels_path) if labels_path is not None else None
    if labels is not None:
        by_id = {_norm_id(f.stem): f for f in files}
        missing = [i for i in labels if i not in by_id]
        if missing:
            raise DataError(
                f"{labels_path}: {len(missing)} id(s) without a recording file in {folder} "
                f"(e.g. id {missing[0]}: expected {folder / (missing[0] + '.csv')})"
            )
        unlabelled = [f for i, f in by_id.items() if i not in labels]
        if unlabelled:
            raise DataError(
                f"{unlabelled[0]}: id {unlabelled[0].stem} has no class in {labels_path} "
                f"({len(unlabelled)} file(s) without an id row)"
            )
    out = []
    for f in files:
        out.append(_unibuc_one(f, strict, labels[_norm_id(f.stem)] if labels is not None else None))
    return out


def _unibuc_files(folder: Path) -> list[Path]:
    return sorted(
        (f for f in folder.glob("*.csv") if f.is_file() and f.name.lower() not in _NOT_RECORDINGS),
        key=_natural_key,
    )


# --------------------------------------------------------------------------------------------
# continuous t,x,y,z


def _continuous_one(f: Path, strict: bool) -> Recording:
    table = _parse_table(_decode(_read_bytes(f)), str(f), 4, "t,x,y,z", strict)
    _warn_skipped(str(f), table)
    t_raw = table.values[:, 0]
    rate = _rate_from_t(t_raw, str(f))
    meta = {
        "units_in_file": "m/s^2",
        "t0_s": float(t_raw[0]),
        "rate_source": "timestamps",
        **_time_meta(t_raw),
    }
    if table.first_bad is not None:
        meta["first_malformed_line"] = table.first_bad[0]
    return Recording(
        name=f.stem,
        source=str(f),
        data=table.values[:, 1:4].astype(np.float32),
        rate_hz=rate,
        t=t_raw - t_raw.min(),
        label=f.stem,
        group=f.stem,
        gravity=True,
        skipped_rows=table.skipped,
        meta=meta,
    )


def _read_continuous(p: Path, strict: bool) -> list[Recording]:
    if p.is_file():
        return [_continuous_one(p, strict)]
    files = sorted(
        (f for f in p.rglob("*.csv") if f.is_file() and f.name.lower() not in _NOT_RECORDINGS), key=_natural_key
    )
    if not files:
        raise DataError(f"{p}: no t,x,y,z CSV files found")
    return [_continuous_one(f, strict) for f in files]


# --------------------------------------------------------------------------------------------
# Sensor Logger


class _SLSource:
    """One Sensor Logger recording: a zip or an extracted folder (members read by base name)."""

    def __init__(self, path: Path, extracted: Path | None = None):
        self.path = path
        self.extracted = extracted  # extracted folder next to the zip, if any
        self._zip = path.suffix.lower() == ".zip"
        if self._zip:
            try:
                with zipfile.ZipFile(path) as zf:
                    self._members = {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}
            except (zipfile.BadZipFile, OSError) as e:
                raise DataError(f"{path}: not a readable zip archive ({e})") from e
        else:
            self._members = {f.name: f.name for f in path.iterdir() if f.is_file()}

    def names(self) -> list[str]:
        return sorted(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def where(self, name: str) -> str:
        return f"{self.path}:{self._members[name]}" if self._zip else str(self.path / name)

    def read(self, name: str) -> str:
        if self._zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return _decode(zf.read(self._members[name]))
            except (zipfile.BadZipFile, OSError, KeyError) as e:
                raise DataError(f"{self.where(name)}: cannot read zip member ({e})") from e
        return _decode(_read_bytes(self.path / name))


def _sl_metadata(src: _SLSource) -> tuple[dict, str | None]:
    """Metadata.csv as a dict (header row + value row) and where it came from."""
    cands = [src]
    if src.extracted is not None:
        cands.append(_SLSource(src.extracted))
    if not src._zip:
        z = src.path.parent / (src.path.name + ".zip")
        if z.is_file():
            try:
                cands.append(_SLSource(z))
            except DataError:
                pass
    for c in cands:
        if c.has("Metadata.csv"):
            rows = [r for r in csv.reader(io.StringIO(c.read("Metadata.csv"))) if any(x.strip() for x in r)]
            if len(rows) >= 2:
                return {k.strip(): v.strip() for k, v in zip(rows[0], rows[1])}, c.where("Metadata.csv")
    return {}, None


def sensorlogger_to_canonical(
    xyz: np.ndarray, sensor: str, platform: str | None, standardised: bool | None
) -> tuple[np.ndarray, dict]:
    """Convert Sensor Logger x,y,z values to m/s², Android axis convention.

    Args:
        xyz: ``[T, 3]`` values as found in the file (columns already in x, y, z order).
        sensor: "Accelerometer", "TotalAcceleration" or "AccelerometerUncalibrated".
        platform: Metadata.csv ``platform`` ("ios"/"android"), None if unknown.
        standardised: Metadata.csv ``standardisation``, None if unknown.

    Returns:
        ``([T, 3] float64 m/s², info)`` with ``info`` = units_in_file, sign_flipped, axes_convention.
    """
    ios_raw = platform == "ios" and not standardised
    units = "m/s^2"
    inferred = None
    if sensor == "AccelerometerUncalibrated":
        if ios_raw:
            units = "g"
        elif platform is None:
            # unknown platform: decide by magnitude (gravity-including: ~1 in g, ~9.8 in m/s²)
            med = float(np.median(np.linalg.norm(xyz, axis=1))) if len(xyz) else 0.0
            units = "g" if med < 3.0 else "m/s^2"
            inferred = f"median |a| in file = {med:.4g} (no Metadata.csv)"
    out = xyz * STANDARD_GRAVITY if units == "g" else xyz.copy()
    if ios_raw:
        out = -out
    info = {
        "units_in_file": units,
        "units_evidence": inferred or f"Sensor Logger {sensor}.csv, platform={platform}, standardisation={standardised}",
        "sign_flipped": bool(ios_raw),
        "axes_convention": "android" if platform is not None else "as in file (platform unknown)",
    }
    return out, info


def _sl_one(src: _SLSource, label: str, strict: bool, sensor: str | None) -> Recording:
    stem = src.path.stem if src._zip else src.path.name
    if sensor is not None:
        if not src.has(f"{sensor}.csv"):
            raise DataError(f"{src.path}: no {sensor}.csv (has: {', '.join(src.names()) or 'nothing'})")
        chosen = sensor
    else:
        chosen = next((s for s in _SL_SENSORS if src.has(f"{s}.csv")), None)
        if chosen is None:
            raise DataError(
                f"{src.path}: no accelerometer file ({', '.join(s + '.csv' for s in _SL_SENSORS)}); "
                f"has: {', '.join(src.names()) or 'nothing'}"
            )
    member = f"{chosen}.csv"
    where = src.where(member)
    table = _parse_table(
        src.read(member), where, None, "time,seconds_elapsed,z,y,x", strict, header_mode="required",
        exact_col_name="time",
    )
    _warn_skipped(where, table)
    cols = [c.strip().lower() for c in table.header]  # type: ignore[union-attr]
    missing = [c for c in ("x", "y", "z") if c not in cols]
    if missing:
        raise DataError(f"{where}: header {','.join(table.header)!r} lacks column(s) {', '.join(missing)}")
    xyz = table.values[:, [cols.index("x"), cols.index("y"), cols.index("z")]]
    if "time" in cols:
        if table.exact is not None:  # integer ns: exact differences (float64 of 1.7e18 ns is 256 ns coarse)
            time0_ns = int(table.exact.min())
            t_raw = (table.exact - time0_ns).astype(np.float64) / 1e9
        else:
            tt = table.values[:, cols.index("time")]
            time0_ns = int(tt.min())
            t_raw = (tt - tt.min()) / 1e9
        rate_source = "time (ns)"
    elif "seconds_elapsed" in cols:
        t_raw = table.values[:, cols.index("seconds_elapsed")]
        rate_source = "seconds_elapsed"
        time0_ns = None
    else:
        raise DataError(f"{where}: header {','.join(table.header)!r} has neither 'time' nor 'seconds_elapsed'")
    rate = _rate_from_t(t_raw, where)
    md, md_where = _sl_metadata(src)
    platform = md.get("platform", "").lower() or None
    std_s = md.get("standardisation", "").lower()
    standardised = None if not std_s else std_s in ("true", "1", "yes")
    data, info = sensorlogger_to_canonical(xyz, chosen, platform, standardised)
    meta = {
        "sensor": chosen,
        "device": md.get("device name"),
        "platform": platform,
        "standardisation": standardised,
        "app_version": md.get("appVersion"),
        "recording_time": md.get("recording time"),
        "metadata_file": md_where,
        "files": src.names(),
        "rate_source": rate_source,
        "time0_ns": time0_ns,  # epoch ns of the earliest sample (t = 0)
        **info,
        **_time_meta(t_raw),
    }
    if src.extracted is not None:
        meta["extracted_copy"] = str(src.extracted)
    device = md.get("device name") or md.get("device id") or "unknown-device"
    return Recording(
        name=f"{label}/{stem}",
        source=where,
        data=data.astype(np.float32),
        rate_hz=rate,
        t=t_raw - t_raw.min(),
        label=label,
        group=device,
        gravity=_SL_GRAVITY[chosen],
        skipped_rows=table.skipped,
        meta=meta,
    )


def _sl_sources(root: Path) -> list[_SLSource]:
    """Every recording under ``root``: zips and extracted folders, a zip and its folder counted once."""
    zips: dict[Path, Path] = {}
    dirs: dict[Path, Path] = {}
    for f in root.rglob("*.zip"):
        if f.is_file() and _zip_has_sensor(f):
            zips[f.with_suffix("")] = f
    for f in root.rglob("*.csv"):
        if f.stem in _SL_SENSORS and f.is_file():
            dirs[f.parent] = f.parent
    keys = sorted(set(zips) | set(dirs), key=_natural_key)
    out = []
    for k in keys:
        if k in zips:
            out.append(_SLSource(zips[k], extracted=dirs.get(k)))
        else:
            out.append(_SLSource(dirs[k]))
    return out


def _read_sensorlogger(p: Path, strict: bool, sensor: str | None) -> list[Recording]:
    if sensor is not None and sensor not in _SL_SENSORS:
        raise DataError(f"unknown Sensor Logger sensor {sensor!r}; expected one of {', '.join(_SL_SENSORS)}")
    if p.is_file():
        if p.suffix.lower() == ".zip":
            src = _SLSource(p)
            return [_sl_one(src, p.parent.name, strict, sensor)]
        if p.stem in _SL_SENSORS:
            src = _SLSource(p.parent)
            return [_sl_one(src, p.parent.parent.name, strict, p.stem)]
        raise DataError(f"{p}: not a Sensor Logger zip or accelerometer CSV")
    if _dir_is_sl_recording(p):
        return [_sl_one(_SLSource(p), p.parent.name, strict, sensor)]
    sources = _sl_sources(p)
    if not sources:
        raise DataError(f"{p}: no Sensor Logger recordings (zips or folders with Accelerometer.csv) found")
    recs = [_sl_one(s, s.path.parent.name, strict, sensor) for s in sources]
    unknown = [r for r in recs if r.meta.get("platform") is None]
    if unknown:
        warnings.warn(
            f"{p}: {len(unknown)} Sensor Logger recording(s) without Metadata.csv: platform unknown, "
            "axes kept as in the file (iOS and Android differ by a sign)",
            stacklevel=3,
        )
    return recs


# --------------------------------------------------------------------------------------------
# magic wand serial captures

_WAND_ROW = re.compile(r"^(-?\d+(?:\.\d*)?),(-?\d+(?:\.\d*)?),(-?\d+(?:\.\d*)?)$")
_WAND_SEP = re.compile(r"^-\s*,\s*-\s*,\s*-$")
_WAND_MAX_G = 16.0  # LSM9DS1 full scale is at most ±16 g; larger values are corrupted lines


def _wand_group(f: Path, gesture: str) -> tuple[str, str | None]:
    stem = f.stem
    rest = stem[len("output_") :] if stem.startswith("output_") else stem
    if rest.startswith(gesture + "_"):
        rest = rest[len(gesture) + 1 :]
    if rest and rest.isalpha() and rest.lower() not in ("cw", "ccw"):
        return rest, rest
    return stem, None


def _wand_units(values: np.ndarray, f: Path) -> tuple[float, str, str]:
    """Scale to m/s² and a description, from the file's median |a| (the format says g, but the
    original SparkFun Edge captures, e.g. the shared negative/ files, hold milli-g)."""
    med = float(np.median(np.linalg.norm(values, axis=1)))
    why = f"median |a| in file = {med:.4g}"
    if 0.2 <= med <= 3.0:
        return STANDARD_GRAVITY, "g", why
    if 200.0 <= med <= 3000.0:
        return STANDARD_GRAVITY / 1000.0, "mg", why
    if 3.0 < med <= 30.0:
        return 1.0, "m/s^2", why
    raise DataError(
        f"{f}: cannot tell the units of x,y,z (median |a| = {med:.3g}; expected about 1 for g, "
        "about 1000 for milli-g or about 9.8 for m/s^2)"
    )


def _wand_one(f: Path) -> list[Recording]:
    text = _decode(_read_bytes(f))
    label = f.parent.name
    group, user = _wand_group(f, label)
    # pass 1: classify lines; segment id per numeric row (-1 for separators)
    rows: list[tuple[float, float, float]] = []
    row_line: list[int] = []
    row_seg: list[int] = []
    seg = 0
    seg_open = False
    noise = 0
    separators = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if _WAND_SEP.match(s):
            separators += 1
            if seg_open:
                seg += 1
                seg_open = False
            continue
        m = _WAND_ROW.match(s)
        if m is None:
            noise += 1
            continue
        rows.append((float(m.group(1)), float(m.group(2)), float(m.group(3))))
        row_line.append(lineno)
        row_seg.append(seg)
        seg_open = True
    if not rows:
        if not text.strip():
            raise DataError(f"{f}: file is empty; expected x,y,z rows (in g) separated by '-,-,-' lines")
        raise DataError(f"{f}: no numeric x,y,z rows found (expected rows like '-0.15,-0.74,0.65' in g)")
    values = np.asarray(rows, dtype=np.float64)
    scale, units, units_why = _wand_units(values, f)
    data_all = values * scale
    # corrupted lines that happen to parse: beyond the IMU's largest full scale
    ok = np.max(np.abs(data_all), axis=1) <= _WAND_MAX_G * STANDARD_GRAVITY
    noise += int(np.sum(~ok))
    segs = np.asarray(row_seg)[ok]
    lines = np.asarray(row_line)[ok]
    data_all = data_all[ok]
    seg_ids = [int(k) for k in np.unique(segs)]
    if not seg_ids:
        raise DataError(f"{f}: no plausible x,y,z rows (all beyond ±{_WAND_MAX_G:g} g)")
    out = []
    for i, k in enumerate(seg_ids):
        sel = segs == k
        out.append(
            Recording(
                name=f"{label}/{f.name}#{i}",
                source=str(f),
                data=data_all[sel].astype(np.float32),
                rate_hz=NOMINAL_RATE_HZ["magic-wand"],
                t=None,
                label=label,
                group=group,
                gravity=True,
                skipped_rows=0,
                meta={
                    "file": str(f),
                    "segment": i,
                    "first_line": int(lines[sel][0]),
                    "user": user,
                    "units_in_file": units,
                    "units_evidence": units_why,
                    "rate_source": "nominal",
                    "noise_lines": noise,  # per file
                    "separators": separators,
                    "segments_in_file": len(seg_ids),
                },
            )
        )
    return out


def _read_magic_wand(p: Path) -> list[Recording]:
    if p.is_file():
        return _wand_one(p)
    files = sorted((f for f in p.rglob("*.txt") if f.is_file()), key=_natural_key)
    if not files:
        raise DataError(f"{p}: no magic-wand capture files (*.txt) found")
    out: list[Recording] = []
    for f in files:
        out.extend(_wand_one(f))
    return out


# --------------------------------------------------------------------------------------------
# public entry points


def read_recordings(
    path,
    fmt: str | None = None,
    strict: bool = False,
    labels_csv: str | None = None,
    *,
    sensor: str | None = None,
) -> list[Recording]:
    """Read every recording of a dataset folder, or one file (a recording, zip or capture file).

    Args:
        path: dataset folder or single file.
        fmt: one of :data:`FORMATS` (aliases such as "magic_wand" accepted); ``None`` detects it.
        strict: malformed rows raise :class:`DataError` (file and line) instead of being skipped.
        labels_csv: UniBuc ``id,class`` labels file; when given it must exist, every id must have a
            file and every file an id. ``None``: ``train_labels.csv``/``labels.csv`` inside the folder
            is used when present, else recordings are unlabelled.
        sensor: Sensor Logger only: "Accelerometer" (default when present; gravity removed),
            "TotalAcceleration" or "AccelerometerUncalibrated" (both include gravity).

    Returns:
        Recordings in a stable (natural) order.

    Raises:
        DataError: unknown format, unusable file (message names file and line), labels problems.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    f = _canon_format(fmt) if fmt else detect_format(p)
    if labels_csv is not None and f != "unibuc":
        raise DataError(f"{labels_csv}: a labels file is only used with --format unibuc (this is {f})")
    if f == "unibuc":
        return _read_unibuc(p, strict, labels_csv)
    if f == "continuous":
        return _read_continuous(p, strict)
    if f == "sensorlogger":
        return _read_sensorlogger(p, strict, sensor)
    return _read_magic_wand(p)


def read_file(path, fmt: str | None = None, strict: bool = False) -> list[Recording]:
    """Read one file (or one recording folder) for prediction: same as :func:`read_recordings`."""
    return read_recordings(path, fmt=fmt, strict=strict)


def split_long(recordings: list[Recording], max_s: float, min_s: float | None = None) -> list[Recording]:
    """Cut recordings longer than ``max_s`` seconds into consecutive pieces of ``max_s``.

    For datasets whose segments are mostly short gestures but a few are long captures (the shared
    magic-wand ``negative/output_negative_[1-5].txt`` are single 36-96 s segments, like TFLM's
    data_prepare, which cuts negatives into 120-sample pieces). Pieces keep label and group (so a
    group split stays leak-free); names get ``@k``. A trailing piece shorter than ``min_s``
    (default ``max_s / 2``) is dropped.
    """
    if not max_s > 0:
        raise DataError(f"split_long: max_s must be > 0, got {max_s!r}")
    min_s = max_s / 2 if min_s is None else min_s
    out: list[Recording] = []
    for r in recordings:
        n = max(1, int(round(max_s * r.rate_hz)))
        if len(r) <= n:
            out.append(r)
            continue
        t_sorted = r.t
        for k, a in enumerate(range(0, len(r), n)):
            b = min(a + n, len(r))
            if k > 0 and (b - a) < min_s * r.rate_hz:
                break
            t = None
            if t_sorted is not None:
                t = t_sorted[a:b] - t_sorted[a:b].min()
            meta = dict(r.meta, piece=k, piece_of=r.name, piece_start_sample=a)
            out.append(
                Recording(
                    name=f"{r.name}@{k}",
                    source=r.source,
                    data=r.data[a:b],
                    rate_hz=r.rate_hz,
                    t=t,
                    label=r.label,
                    group=r.group,
                    gravity=r.gravity,
                    skipped_rows=r.skipped_rows if k == 0 else 0,
                    meta=meta,
                )
            )
    return out


def summarize(recordings: list[Recording]) -> dict:
    """Counts for reports: recordings, samples, per-label counts, groups, rates, skipped rows per source."""
    labels: dict[str, int] = {}
    skipped: dict[str, int] = {}
    rates = np.asarray([r.rate_hz for r in recordings], dtype=np.float64)
    for r in recordings:
        labels[str(r.label)] = labels.get(str(r.label), 0) + 1
        if r.skipped_rows:
            skipped[r.source] = skipped.get(r.source, 0) + r.skipped_rows
    return {
        "recordings": len(recordings),
        "samples": int(sum(len(r) for r in recordings)),
        "labels": labels,
        "groups": sorted({r.group for r in recordings}),
        "rate_hz": {
            "min": float(rates.min()) if rates.size else None,
            "median": float(np.median(rates)) if rates.size else None,
            "max": float(rates.max()) if rates.size else None,
        },
        "skipped_rows": int(sum(skipped.values())),
        "skipped_rows_by_source": skipped,
    }
