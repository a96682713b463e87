"""Throughput of sign landmark loading (edgelite.runtime.signs.io) on the shared asl-signs parquet files.

Measures, on the 210 real Kaggle parquet sequences in ``../shared/data/asl-signs``:

* ``read_only_1proc``: :func:`read_parquet_sequence` in a loop in this process (no cache at all);
* ``cold_1_worker`` / ``cold_2_workers``: :func:`load_dataset` into an empty cache folder (reading +
  writing the sharded cache; the 2-worker run includes starting two ``spawn`` processes);
* ``warm``: :func:`load_dataset` again from that cache (``mmap=False``: arrays read into memory),
  and ``warm_mmap`` (memory-mapped views);

and extrapolates each to the 94,477 sequences of the full competition set at the same mean
sequence length. "Cold" means the edgelite cache is empty; the OS page cache may hold the parquet
files (the full 37 GB set would also pay disk reads). Optionally (``--mp-data``) the same for an
MP_Data folder or ``.tar.xz`` (traduttore, 3,928 sequences of 20 frames).

    python benchmarks/sign_loading.py                      # prints a table, writes benchmarks/results/sign_loading.{json,md}
    python benchmarks/sign_loading.py --mp-data ../shared/data/mp-data/traduttore/MP_Data_16actions.tar.xz
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_SET = 94_477
HERE = Path(__file__).resolve().parent


def _fmt_s(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.2f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its reaped children (the worker processes)."""
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _row(
    name: str, seconds: float, n_seq: int, n_frames: int, note: str = "", cpu_s: float | None = None, cores: int = 2
) -> dict:
    sps = n_seq / seconds
    extra = {}
    if cpu_s:
        extra = {
            "cpu_s": round(cpu_s, 3),
            "sequences_per_cpu_s": round(n_seq / cpu_s, 1),
            "cores_usable": cores,
            "extrapolated_94477_free_cores": _fmt_s(FULL_SET * cpu_s / n_seq / cores),
        }
    return {
        "name": name,
        "seconds": round(seconds, 3),
        "sequences": n_seq,
        "frames": n_frames,
        "sequences_per_s": round(sps, 1),
        "frames_per_s": round(n_frames / seconds, 0),
        "extrapolated_s_94477": round(FULL_SET / sps, 1),
        "extrapolated_94477": _fmt_s(FULL_SET / sps),
        "note": note,
        **extra,
    }


def _dir_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.iterdir() if p.is_file())


def _probe(_: int) -> int:
    import pyarrow.parquet  # noqa: F401  (what a worker imports before its first read)
    from edgelite.runtime.signs import io as sign_io

    sign_io._worker_init()
    return os.getpid()


def pool_startup_s(workers: int) -> float:
    """Seconds to start ``workers`` spawn processes that import numpy, pyarrow and sign_io (one-time cost)."""
    import multiprocessing as mp

    t = time.perf_counter()
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_probe, range(workers), chunksize=1)
    return time.perf_counter() - t


def bench_dataset(label: str, samples, repeats: int, workers_list=(1, 2)) -> tuple[list[dict], dict]:
    from edgelite.runtime.signs import io as S
    from edgelite.train.signs import cache as C

    rows: list[dict] = []
    # reader only, in-process, no cache
    best = None
    n_frames = 0
    cpus = []
    for _ in range(repeats):
        t, c = time.perf_counter(), _cpu()
        n_frames = sum(S.read_sample(s).shape[0] for s in samples)
        dt = time.perf_counter() - t
        cpus.append(_cpu() - c)
        best = dt if best is None else min(best, dt)
    n = len(samples)
    rows.append(_row(f"{label}: read_only_1proc", best, n, n_frames, "reader loop, no cache", min(cpus), cores=1))
    info: dict = {"mean_frames": round(n_frames / n, 2)}
    tmp = Path(tempfile.mkdtemp(prefix="edgelite-signbench-"))
    try:
        configs = [(w, C.SHARD_SIZE) for w in workers_list] + [(2, max(1, -(-n // 8)))]
        for w, shard_size in configs:
            shard_mode = shard_size != C.SHARD_SIZE
            best = None
            cpus = []
            for r in range(repeats):
                cdir = tmp / f"w{w}-{shard_size}-{r}"
                t, c = time.perf_counter(), _cpu()
                seqs, _, _ = C.load_dataset(samples, cache_dir=cdir, workers=w, progress=False, shard_size=shard_size)
                dt = time.perf_counter() - t
                cpus.append(_cpu() - c)
                assert len(seqs) == n and sum(a.shape[0] for a in seqs) == n_frames
                best = dt if best is None else min(best, dt)
            note = "empty cache: read + write shards" + (", incl. spawning workers" if w > 1 else "")
            name = f"{label}: cold_{w}_worker{'s' if w > 1 else ''}"
            if shard_mode:
                name += "_shard_per_task"
                note += f"; 8 shards of {shard_size}: each worker reads + writes whole shards (the full-set mode)"
            rows.append(_row(name, best, n, n_frames, note, min(cpus), cores=min(w, 2)))
            if w > 1 and not shard_mode:
                start = min(pool_startup_s(w) for _ in range(2))
                info[f"pool_startup_s_{w}_workers"] = round(start, 2)
                if best > start:
                    rows.append(
                        _row(
                            f"{label}: cold_{w}_workers_steady", best - start, n, n_frames,
                            f"same run minus the {start:.2f} s one-time worker start-up",
                        )
                    )
        cdir = tmp / f"w1-{C.SHARD_SIZE}-0"
        for mmap in (False, True):
            best = None
            for _ in range(max(3, repeats)):
                t = time.perf_counter()
                seqs, _, _ = C.load_dataset(samples, cache_dir=cdir, workers=2, progress=False, mmap=mmap)
                if not mmap:
                    assert sum(a.shape[0] for a in seqs) == n_frames
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            rows.append(
                _row(
                    f"{label}: warm{'_mmap' if mmap else ''}", best, n, n_frames,
                    "from cache (hash check + np.load)" + (", memory-mapped" if mmap else ""),
                )
            )
        size = _dir_bytes(cdir)
        info["cache_bytes"] = size
        info["cache_bytes_per_sequence"] = round(size / n)
        info["extrapolated_cache_gb_94477_float32"] = round(size / n * FULL_SET / 1e9, 1)
        info["extrapolated_cache_gb_94477_float16"] = round(size / n * FULL_SET / 2e9, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, info


def main(argv: list[str] | None = None) -> int:
    from edgelite.runtime.signs import io as S
    from edgelite.train.signs import cache as C
    from edgelite.runtime.core.paths import shared_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="asl-signs root (default: shared data)")
    ap.add_argument("--mp-data", type=Path, default=None, help="also benchmark an MP_Data folder or .tar.xz")
    ap.add_argument("--repeats", type=int, default=1, help="cold runs per setting (best is kept)")
    ap.add_argument("--scale", type=int, default=1, help="list the asl-signs files this many times (a longer run)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "sign_loading.json")
    args = ap.parse_args(argv)

    data = args.data or shared_dir() / "data" / "asl-signs"
    samples = S.list_asl_signs(data) * max(1, args.scale)
    rows, info = bench_dataset("asl-signs parquet", samples, args.repeats)
    extra = {"asl-signs": {"path": str(data), "sequences": len(samples), **info}}
    if args.mp_data:
        t = time.perf_counter()
        mp_samples = S.list_mp_data(args.mp_data)
        extra["mp-data"] = {"path": str(args.mp_data), "sequences": len(mp_samples), "list_s": round(time.perf_counter() - t, 2)}
        mrows, minfo = bench_dataset("MP_Data npy", mp_samples, args.repeats)
        rows += mrows
        extra["mp-data"].update(minfo)

    result = {
        "benchmark": "sign_loading",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", "benchmarks/sign_loading.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pyarrow": __import__("pyarrow").__version__,
            "platform": platform.platform(),
        },
        "full_set_sequences": FULL_SET,
        "datasets": extra,
        "results": rows,
        "notes": [
            "cold = empty edgelite cache; the OS page cache may hold the files (full set adds disk reads)",
            "extrapolation assumes the same mean frames per sequence as the measured files",
            "the machine is shared with other jobs: numbers are best-of-N wall clock under load",
            (
                "CPU s = user+system seconds of this process and its workers; 'idle cores' = CPU s / usable cores "
                "(1 for one process, 2 for two workers) scaled to 94,477: what otherwise idle cores would take, "
                "ignoring disk reads"
            ),
        ],
    }
    head = f"{'setting':52s} {'seconds':>8s} {'seq/s':>8s} {'frames/s':>10s} {'94,477 seqs':>12s} {'cpu_s':>7s} {'idle cores':>12s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['name']:52s} {r['seconds']:8.2f} {r['sequences_per_s']:8.1f} {r['frames_per_s']:10.0f} {r['extrapolated_94477']:>12s}"
            + (f" {r['cpu_s']:7.2f} {r['extrapolated_94477_free_cores']:>12s}" if "cpu_s" in r else "")
        )
    print("\n".join(lines))
    for k, v in extra.items():
        print(f"{k}: {json.dumps(v)}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    md = [
        "# Sign landmark loading throughput",
        "",
        f"{result['date_utc']}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
        f"pyarrow {result['machine']['pyarrow']}, load average at end {', '.join(f'{x:.1f}' for x in result['machine']['loadavg_at_end'] or ())}. "
        f"Command: `python benchmarks/sign_loading.py --repeats {args.repeats} --scale {args.scale}"
        + (f" --mp-data {args.mp_data}" if args.mp_data else "") + "`",
        "",
        "| setting | seconds | sequences/s | frames/s | time for 94,477 sequences | CPU s | 94,477 on idle cores (CPU-bound estimate) | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['name']} | {r['seconds']:.2f} | {r['sequences_per_s']:.1f} | {r['frames_per_s']:.0f} | "
            f"{r['extrapolated_94477']} | {r.get('cpu_s', '-')} | {r.get('extrapolated_94477_free_cores', '-')} | {r['note']} |"
        )
    md += ["", "Datasets:", ""]
    for k, v in extra.items():
        md.append(f"- {k}: " + ", ".join(f"{a}={b}" for a, b in v.items()))
    md += ["", *[f"- {n}" for n in result["notes"]], ""]
    tmpm = args.out.with_suffix(".md.tmp")
    tmpm.write_text("\n".join(md))
    os.replace(tmpm, args.out.with_suffix(".md"))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
