"""Raw serial captures of TensorFlow Lite Micro's magic_wand example: ``x,y,z`` in g (~25 Hz;
units checked per file from the median |a|: the shared negative/ captures are in milli-g),
gestures separated by ``-,-,-`` lines, terminal noise (escape codes, script banners, binary
junk, partial lines) skipped silently and counted in ``meta["noise_lines"]``. Each non-empty
segment between separators is one recording. label = folder name, group = user from the
file name ``output_<gesture>_<user>.txt`` (file stem when there is no user name).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edgelite.runtime.accel.io.common import (
    NOMINAL_RATE_HZ,
    MalformedRowsWarning,
    STANDARD_GRAVITY,
    Recording,
    _decode,
    _natural_key,
    _read_bytes,
)
from edgelite.runtime.core.errors import DataError

_WAND_ROW = re.compile(r"^(-?\d+(?:\.\d*)?),(-?\d+(?:\.\d*)?),(-?\d+(?:\.\d*)?)$")


_WAND_SEP = re.compile(r"^-\s*,\s*-\s*,\s*-$")


_WAND_MIN_ROWS = 2  # a segment of one sample cannot be resampled or classified

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


@dataclass
class _WandScan:
    """Pass 1 over a capture: numeric rows, their line numbers and segment ids, noise and separator counts."""

    rows: list[tuple[float, float, float]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    segs: list[int] = field(default_factory=list)
    noise: int = 0
    separators: int = 0


def _scan_wand(text: str) -> _WandScan:
    """Classify every line (row, ``-,-,-`` separator or terminal noise); segment ids grow at separators."""
    sc = _WandScan()
    seg, seg_open = 0, False
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if _WAND_SEP.match(s):
            sc.separators += 1
            if seg_open:
                seg, seg_open = seg + 1, False
            continue
        m = _WAND_ROW.match(s)
        if m is None:
            sc.noise += 1
            continue
        sc.rows.append((float(m.group(1)), float(m.group(2)), float(m.group(3))))
        sc.lines.append(lineno)
        sc.segs.append(seg)
        seg_open = True
    return sc


def _wand_segments(f: Path, segs: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` row ranges of the segments long enough to classify (one warning for the rest).

    Segment ids are non-decreasing in file order: split at their changes (linear in rows)."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(segs)) + 1))
    ends = np.concatenate((starts[1:], [segs.size]))
    short = (ends - starts) < _WAND_MIN_ROWS
    if short.all():
        raise DataError(f"{f}: every segment has fewer than {_WAND_MIN_ROWS} x,y,z rows; nothing to classify")
    if short.any():  # one line per file, however many (a capture with 80k separators is not 80k warnings)
        warnings.warn(
            MalformedRowsWarning(
                f"{f}: skipped {int(short.sum())} segment(s) with fewer than {_WAND_MIN_ROWS} x,y,z rows "
                f"(first at line {int(lines[starts[short][0]])})"
            ),
            stacklevel=4,
        )
        starts, ends = starts[~short], ends[~short]
    return starts, ends


def _wand_one(f: Path) -> list[Recording]:
    """One capture file → one :class:`Recording` per gesture segment (m/s², nominal 25 Hz)."""
    text = _decode(_read_bytes(f))
    label = f.parent.name
    group, user = _wand_group(f, label)
    sc = _scan_wand(text)
    if not sc.rows:
        if not text.strip():
            raise DataError(f"{f}: file is empty; expected x,y,z rows (in g) separated by '-,-,-' lines")
        raise DataError(f"{f}: no numeric x,y,z rows found (expected rows like '-0.15,-0.74,0.65' in g)")
    values = np.asarray(sc.rows, dtype=np.float64)
    scale, units, units_why = _wand_units(values, f)
    data_all = values * scale
    # corrupted lines that happen to parse: beyond the IMU's largest full scale
    ok = np.max(np.abs(data_all), axis=1) <= _WAND_MAX_G * STANDARD_GRAVITY
    noise = sc.noise + int(np.sum(~ok))
    segs, lines, data32 = np.asarray(sc.segs)[ok], np.asarray(sc.lines)[ok], data_all[ok].astype(np.float32)
    if segs.size == 0:
        raise DataError(f"{f}: no plausible x,y,z rows (all beyond ±{_WAND_MAX_G:g} g)")
    starts, ends = _wand_segments(f, segs, lines)
    common = {"file": str(f), "user": user, "units_in_file": units, "units_evidence": units_why,
              "rate_source": "nominal", "noise_lines": noise, "separators": sc.separators,
              "segments_in_file": int(starts.size)}
    return [
        Recording(name=f"{label}/{f.name}#{i}", source=str(f), data=data32[a:b], rate_hz=NOMINAL_RATE_HZ["magic-wand"],
                  t=None, label=label, label_from="folder", group=group, gravity=True, skipped_rows=0,
                  meta={**common, "segment": i, "first_line": int(lines[a])})
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist()))
    ]


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
