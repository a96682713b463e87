"""A test part no model of the run ever trains on: the last ``tail_s`` seconds of every recording.

When the classes are the recordings' owners (UCI walking: one file per user), every file is training
data; the tail split makes a real unseen test: rows at ``t >= end - tail_s`` go to the test part,
rows before it to training, and windows are cut on each side separately, so no training window
contains a test row. The test rows are written back as ``t,x,y,z`` CSV files (the "continuous"
layout, original timestamps) for ``edgelite predict``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError

FOLDER = "holdout"  # RUN/holdout/<recording>.csv


def split_tail(recordings: list[Any], tail_s: float) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    """``(training recordings, test recordings, per-recording record)``: each recording cut at
    ``cut = max(t) - tail_s`` (``t`` s since its first sample); rows with ``t >= cut`` are the test part.

    Recordings need timestamps; a recording whose training part would keep under half its span is an error.
    """
    if not tail_s > 0:
        raise DataError(f"held-out tail must be > 0 seconds, got {tail_s!r}")
    train, test, info = [], [], []
    for r in recordings:
        if r.t is None:
            raise DataError(f"{r.source}: no timestamps; a held-out time tail needs them (format with a t column)")
        t = np.asarray(r.t, np.float64)
        span = float(np.nanmax(t) - np.nanmin(t))
        cut = float(np.nanmax(t)) - float(tail_s)
        if float(tail_s) > span / 2:
            raise DataError(f"{r.source}: held-out tail {tail_s:g} s is over half of its {span:.1f} s; "
                            "use a shorter tail")
        te = t >= cut
        train.append(dataclasses.replace(r, data=r.data[~te], t=t[~te]))
        test.append(dataclasses.replace(r, data=r.data[te], t=t[te]))
        t0 = float(r.meta.get("t0_s", 0.0)) if isinstance(r.meta, dict) else 0.0
        info.append({"recording": r.name, "label": r.label, "cut_s": cut, "file_cut_t": cut + t0,
                     "n_train_rows": int((~te).sum()), "n_test_rows": int(te.sum())})
    return train, test, info


def tail_record(tail_s: float, info: list[dict[str, Any]]) -> dict[str, Any]:
    """``report.json``'s ``holdout`` entry (what was held out, per recording)."""
    return {"kind": "time-tail", "tail_s": float(tail_s), "folder": FOLDER, "recordings": info,
            "note": f"the last {tail_s:g} s of every recording were never trained on (neither by the cross-validation "
                    "folds nor by the shipped model); windows are cut on each side of the cut separately"}


def _fmt(v: float) -> str:
    """Shortest text that reads back to the same float32 (empty for NaN)."""
    return "" if not math.isfinite(v) else np.format_float_positional(np.float32(v), trim="-")


def write_tail_csvs(out_dir: str, test: list[Any]) -> list[str]:
    """Write every test part as ``out_dir/holdout/<recording>.csv`` (``t,x,y,z``, file timestamps, no
    header, NaN as an empty field); atomic per file. Returns the paths."""
    folder = os.path.join(out_dir, FOLDER)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for r in test:
        t0 = float(r.meta.get("t0_s", 0.0)) if isinstance(r.meta, dict) else 0.0
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(r.name)) or "recording"
        p = os.path.join(folder, f"{name}.csv")
        with open(p + ".tmp", "w", encoding="utf-8") as f:
            for ti, row in zip(np.asarray(r.t, np.float64) + t0, np.asarray(r.data, np.float32)):
                f.write(",".join([f"{ti:.6f}".rstrip("0").rstrip(".")] + [_fmt(v) for v in row]) + "\n")
        os.replace(p + ".tmp", p)
        paths.append(p)
    return paths
