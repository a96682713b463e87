"""Continuous recordings: one long recording per file, ``t,x,y,z`` without header (t in seconds, m/s²),
e.g. UCI "User Identification From Walking Activity" (``Dataset/<user>.csv``, ~33 Hz).
label = group = file stem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgelite.runtime.accel.io.common import (
    _NOT_RECORDINGS,
    Recording,
    _decode,
    _natural_key,
    _parse_table,
    _rate_from_t,
    _read_bytes,
    _time_meta,
    _warn_skipped,
)
from edgelite.runtime.core.errors import DataError


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
        label_from="file-stem",
        group=f.stem,
        gravity=True,
        skipped_rows=table.skipped,
        meta=meta,
    )


def _read_continuous(p: Path, strict: bool) -> list[Recording]:
    if p.is_file():
        return [_continuous_one(p, strict)]
    files = sorted(
        (f for f in p.rglob("*.csv") if f.is_file() and f.name.lower() not in _NOT_RECORDINGS),
        key=_natural_key,
    )
    if not files:
        raise DataError(f"{p}: no t,x,y,z CSV files found")
    return [_continuous_one(f, strict) for f in files]
