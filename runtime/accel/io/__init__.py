"""Readers for accelerometer recordings in the formats edgelite trains on and predicts from.

NumPy + stdlib only (no TensorFlow), so both training and the TF-free runtime use it.

Every reader returns :class:`Recording` objects whose ``data`` is ``[T, 3] float32`` in m/s²
(device axes x, y, z; g converted with g = 9.80665 m/s²) and whose sample rate is known.

Formats (``FORMATS``), one module each (the module docstring has the details):

- ``unibuc`` (:mod:`.unibuc`): a folder of ``x,y,z`` CSV files + ``train_labels.csv``, ~100 Hz, m/s².
- ``continuous`` (:mod:`.continuous`): one ``t,x,y,z`` recording per file (UCI walking, ~33 Hz).
- ``sensorlogger`` (:mod:`.sensorlogger`): Sensor Logger zips/folders, columns by header name, rate from time.
- ``magic-wand`` (:mod:`.magic_wand`): TFLite Micro magic_wand serial captures in g, ``-,-,-`` separators.

Bad input: a file that cannot be used (empty, one row, wrong column count, no numeric rows) or a
UniBuc labels problem raises :class:`~edgelite.runtime.core.errors.DataError` naming the file (and
line). Isolated malformed rows (empty cells, text, NaN/inf, wrong cell count) are skipped,
counted in ``Recording.skipped_rows`` and reported with a :class:`MalformedRowsWarning`;
``strict=True`` turns the first one into a ``DataError`` naming file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgelite.runtime.accel.io.common import (
    FORMATS,
    NOMINAL_RATE_HZ,
    STANDARD_GRAVITY,
    MalformedRowsWarning,
    Recording,
)
from edgelite.runtime.accel.io.continuous import _read_continuous
from edgelite.runtime.accel.io.detect import _canon_format, detect_format
from edgelite.runtime.accel.io.magic_wand import _read_magic_wand
from edgelite.runtime.accel.io.sensorlogger import (
    _read_sensorlogger,
    sensorlogger_to_canonical,
)
from edgelite.runtime.accel.io.unibuc import _read_unibuc
from edgelite.runtime.core.errors import DataError

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
    try:
        return _read_any(p, fmt, strict, labels_csv, sensor)
    except OSError as e:  # unreadable folders, symlink loops, files vanishing mid-read
        raise DataError(f"{getattr(e, 'filename', None) or p}: cannot read ({e.strerror or e})") from None
    except RecursionError:
        raise DataError(f"{p}: folder structure too deep (symlink loop?)") from None


def _read_any(p: Path, fmt: str | None, strict: bool, labels_csv: str | None, sensor: str | None) -> list[Recording]:
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    f = _canon_format(fmt) if fmt else detect_format(p)
    if labels_csv is not None and f != "unibuc":
        raise DataError(f"{labels_csv}: a labels file is only used with the unibuc format (this is {f})")
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
                    label_from=r.label_from,
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
