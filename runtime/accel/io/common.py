"""Shared parts of the accelerometer readers: the :class:`Recording` type, units, tolerant CSV table parsing
(isolated malformed rows skipped and counted, ``strict`` turns them into errors), labels files, rates.
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.core.limits import Limits, check, get_limits

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
            non-monotonic; :func:`edgelite.runtime.accel.resample.resample_uniform` sorts); ``None``
            when the format has no timestamps.
        label: class name, ``None`` when unlabelled.
        group: what must be held out together in validation (user, device, recording id).
        gravity: ``True`` if the signal includes gravity.
        skipped_rows: isolated malformed rows skipped while reading.
        meta: anything else (device, platform, units_in_file, noise_lines, ...).
        label_from: where ``label`` came from: ``"labels-file"`` (UniBuc ``id,class``), ``"folder"``
            (one folder per class), ``"file-stem"`` (only a name, e.g. the UCI user id), ``None``.
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
    label_from: str | None = None

    @property
    def true_label(self) -> str | None:
        """The ground-truth class when the reader knows one (labels file or class folder), else ``None``."""
        return self.label if self.label_from in ("labels-file", "folder") else None

    @property
    def duration_s(self) -> float:
        """Duration in seconds (from timestamps when present, else samples / rate)."""
        if self.t is not None and self.t.size:
            return float(np.max(self.t) - np.min(self.t))
        return self.data.shape[0] / self.rate_hz if self.rate_hz else 0.0

    def __len__(self) -> int:
        return int(self.data.shape[0])


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _read_bytes(path: Path, limits: Limits | None = None) -> bytes:
    """The file's bytes; DataError if unreadable (missing, a folder, a symlink loop, ...), LimitError if
    larger than ``max_file_bytes``."""
    lim = limits or get_limits()
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            check(str(path), "max_file_bytes", size, "file size (bytes)", lim)
            data = fh.read(min(size, lim.max_file_bytes) + 1)  # never preallocate the whole limit
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from e
    check(str(path), "max_file_bytes", len(data), "file size (bytes)", lim)
    return data


def _csv_rows(text: str, source: str) -> list[list[str]]:
    """CSV rows of ``text`` (any line endings, CR-only included); DataError for malformed CSV
    (e.g. a field over the csv module's 128 KiB field limit, an unterminated quote)."""
    try:
        return list(csv.reader(text.splitlines()))
    except csv.Error as e:
        raise DataError(f"{source}: not a readable CSV file ({e})") from None


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
    header, rows = _split_rows(text, header_mode)
    if header_mode == "required" and header is None:
        raise DataError(f"{source}: expected a header line ({names}), found none")
    if ncols is None:
        ncols = len(header) if header is not None else 0
    if not rows:
        what = "only a header" if header is not None else "no data rows"
        raise DataError(f"{source}: file is empty ({what}); expected rows of {names}")
    _check_column_count(rows, source, ncols, names)
    colnames = header if header is not None and len(header) == ncols else names.split(",")
    exact_col = None
    if exact_col_name is not None and header is not None:
        low = [c.lower() for c in header]
        exact_col = low.index(exact_col_name) if exact_col_name in low else None
    table = _convert_rows(rows, source, ncols, names, colnames, strict, exact_col)
    table.header = header
    _check_usable(table, source, names, min_rows)
    return table


def _split_rows(text: str, header_mode: str) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """Step 1: non-blank lines → ``(header or None, [(line number, cells)])``."""
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
    return header, rows


def _check_column_count(rows: list[tuple[int, list[str]]], source: str, ncols: int, names: str) -> None:
    """Step 2: the most common cell count must be ``ncols`` (else the file is in another layout)."""
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


def _row_problem(cells: list[str], ncols: int, names: str, colnames: list[str], out: np.ndarray) -> str | None:
    """Convert one row into ``out`` [ncols]; the reason it is malformed, or None."""
    if len(cells) != ncols:
        return f"expected {ncols} columns ({names}), got {len(cells)}"
    for j, c in enumerate(cells):
        col = colnames[j] if j < len(colnames) else f"column {j + 1}"
        if c == "":
            return f"empty cell in column {col}"
        v = _to_float(c)
        if v is None:
            return f"column {col}: {c[:30]!r} is not a number"
        if not math.isfinite(v):
            return f"column {col}: {c[:30]!r} is not finite"
        out[j] = v
    return None


def _convert_rows(
    rows: list[tuple[int, list[str]]],
    source: str,
    ncols: int,
    names: str,
    colnames: list[str],
    strict: bool,
    exact_col: int | None,
) -> _Table:
    """Step 3: cells → float64 values; malformed rows skipped and counted (DataError when ``strict``)."""
    values = np.empty((len(rows), ncols), dtype=np.float64)
    good_lines: list[int] = []
    n = skipped = 0
    first_bad: tuple[int, str] | None = None
    exact = np.zeros(len(rows), dtype=np.int64) if exact_col is not None else None
    for lineno, cells in rows:
        reason = _row_problem(cells, ncols, names, colnames, values[n])
        if reason is None and exact is not None:
            try:
                exact[n] = int(cells[exact_col])
            except (ValueError, OverflowError):
                exact = None
        if reason is not None:
            if strict:
                raise DataError(f"{source} line {lineno}: {reason} (strict mode)")
            skipped += 1
            first_bad = first_bad or (lineno, reason)
            continue
        good_lines.append(lineno)
        n += 1
    return _Table(
        values[:n],
        np.asarray(good_lines, dtype=np.int64),
        None,
        skipped,
        first_bad,
        exact[:n] if exact is not None else None,
    )


def _check_usable(table: _Table, source: str, names: str, min_rows: int) -> None:
    """Step 4: enough good rows, and not mostly malformed ones."""
    n, skipped, first_bad = len(table.values), table.skipped, table.first_bad
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


def _warn_skipped(source: str, table: _Table) -> None:
    if table.skipped:
        line, reason = table.first_bad  # type: ignore[misc]
        warnings.warn(
            MalformedRowsWarning(
                f"{source}: skipped {table.skipped} malformed row(s) (first at line {line}: {reason}); "
                "read with strict=True to make this an error"
            ),
            stacklevel=3,
        )


def _rate_from_t(t: np.ndarray, source: str) -> float:
    ts = np.sort(t)
    dt = np.diff(ts)
    dt = dt[dt > 0]
    if dt.size == 0:
        raise DataError(
            f"{source}: timestamps never increase (all {t.size} equal); cannot tell the sample rate"
        )
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


def _read_labels(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path}: labels file not found (expected a CSV with columns id,class)")
    text = _decode(_read_bytes(path))
    rows = _csv_rows(text, str(path))
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
