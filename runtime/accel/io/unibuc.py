"""UniBuc folders: per-recording CSV files ``x,y,z`` without header (~100 Hz, m/s²), file stem = id,
plus ``train_labels.csv`` (``id,class``) for labelled folders; unlabelled test folders give
``label=None``. One file = one recording; group = id (no user information).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgelite.runtime.accel.io.common import (
    _LABEL_FILE_NAMES,
    _NOT_RECORDINGS,
    NOMINAL_RATE_HZ,
    Recording,
    _decode,
    _natural_key,
    _norm_id,
    _parse_table,
    _read_bytes,
    _read_labels,
    _warn_skipped,
)
from edgelite.runtime.core.errors import DataError


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
        label_from="labels-file" if label is not None else None,
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
