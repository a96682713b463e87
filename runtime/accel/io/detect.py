"""Which reader a path needs: :func:`detect_format` sniffs files, folders and zips."""

from __future__ import annotations

import re
from pathlib import Path

from edgelite.runtime.accel.io.common import (
    _ALIASES,
    _NOT_RECORDINGS,
    FORMATS,
    _decode,
    _natural_key,
    _to_float,
)
from edgelite.runtime.accel.io.sensorlogger import (
    _SL_SENSORS,
    _dir_is_sl_recording,
    _zip_has_sensor,
)
from edgelite.runtime.core.errors import DataError


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


def _detect_file(p: Path) -> str | None:
    if p.suffix.lower() == ".zip":
        if _zip_has_sensor(p):
            return "sensorlogger"
        raise DataError(
            f"{p}: zip holds no Sensor Logger accelerometer file ({', '.join(s + '.csv' for s in _SL_SENSORS)})"
        )
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
                "a magic-wand capture with '-,-,-' separators, 't,x,y,z' rows or 'x,y,z' rows); name the format (fmt)"
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
