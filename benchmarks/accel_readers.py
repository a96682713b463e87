"""Read every shared accelerometer dataset and print counts, rates, skipped rows and time taken.

    python benchmarks/accel_readers.py            # writes benchmarks/results/accel_readers.json

Uses ``$EDGELITE_SHARED`` or ../shared (see edgelite.runtime.core.paths.shared_dir).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from edgelite.runtime.accel.io import detect_format, read_recordings, summarize
from edgelite.runtime.core.paths import shared_dir

DATASETS = {
    "uci-walking": "data/accel/uci-walking/Dataset",
    "magic-wand": "data/accel/magic-wand",
    "sensorlogger-wand": "data/accel/sensorlogger-wand",
}


def main() -> int:
    root = shared_dir()
    out: dict = {"python": sys.version.split()[0], "machine": platform.machine(), "datasets": {}}
    for name, rel in DATASETS.items():
        path = root / rel
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fmt = detect_format(path)
                recs = read_recordings(path, fmt)
            best = min(best, time.perf_counter() - t0)
        s = summarize(recs)
        mags = np.concatenate([np.linalg.norm(r.data, axis=1) for r in recs])
        units: dict[str, int] = {}
        for r in recs:
            u = str(r.meta.get("units_in_file"))
            units[u] = units.get(u, 0) + 1
        lengths = [len(r) for r in recs]
        entry = {
            "path": rel,
            "format": fmt,
            "recordings": s["recordings"],
            "samples": s["samples"],
            "labels": s["labels"],
            "groups": s["groups"],
            "rate_hz": s["rate_hz"],
            "recording_samples": {"min": min(lengths), "median": float(np.median(lengths)), "max": max(lengths)},
            "skipped_rows": s["skipped_rows"],
            "skipped_rows_by_file": {Path(k).name: v for k, v in s["skipped_rows_by_source"].items()},
            "noise_lines": sum(r.meta.get("noise_lines", 0) for r in recs if r.meta.get("segment", 0) == 0),
            "units_in_file": units,
            "gravity": sorted({r.gravity for r in recs}),
            "abs_accel_m_s2": {"mean": float(mags.mean()), "median": float(np.median(mags))},
            "warnings": [str(w.message).replace(str(root), "$SHARED") for w in caught],
            "read_seconds_best_of_3": round(best, 4),
        }
        out["datasets"][name] = entry
        print(
            f"{name:18s} {fmt:12s} recordings={entry['recordings']:4d} samples={entry['samples']:6d} "
            f"rate={s['rate_hz']['median']:.2f} Hz skipped={entry['skipped_rows']} "
            f"|a| median={entry['abs_accel_m_s2']['median']:.2f} m/s² read={best:.3f}s"
        )
    dest = Path(__file__).resolve().parent / "results" / "accel_readers.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, dest)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
