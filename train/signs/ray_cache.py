"""Build the sign cache on a Ray cluster (Ray Data): the same shards, byte for byte, as ``build_cache``.

The shard plan (which sequences form which shard, and each shard's key) comes from
:func:`edgelite.train.signs.cache.plan_shards`, so the Ray build and the single-machine build agree;
each incomplete shard becomes one Ray Data row, and a Ray task (1 CPU) reads its parquet files with
pyarrow (the fast reader) and writes the shard atomically to ``cache_dir`` — a path every worker
can write (a shared filesystem on a multi-node cluster). Complete shards are skipped, so a build
resumes. ``address=None`` starts a local Ray instance on 127.0.0.1 with ``num_cpus`` CPUs.
Needs ``pip install edgelite[scale]`` (``ray[data]``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError
from edgelite.runtime.signs.io import SignSample
from edgelite.train.signs.cache import (
    SHARD_SIZE,
    ShardJob,
    build_shard,
    plan_shards,
    progress_bar,
    resolve_cache_dir,
)


def _build_row(row: dict) -> dict:
    """Ray Data map: one shard job (a row) → its key and sequence count."""
    job = ShardJob(str(row["cdir"]), str(row["key"]), tuple(row["names"]), tuple(row["paths"]),
                   str(row["dtype"]), str(row["on_error"]))
    return {"key": job.key, "n": build_shard(job)}


def _connect(address: str | None, num_cpus: int):
    try:
        import ray
    except ImportError as e:
        raise EdgeliteError("building the cache on Ray needs ray[data] (pip install 'edgelite[scale]')") from e
    if ray.is_initialized():
        return ray, False
    if address:
        ray.init(address=address, log_to_driver=False)
        return ray, True
    for attempt in range(3):  # a raylet on a loaded machine can miss Ray's fixed 30 s start-up window
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
            return ray, True
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def build_cache_ray(samples: Sequence[SignSample], cache_dir: str | os.PathLike | None = None,
                    address: str | None = None, num_cpus: int = 2, dtype: str = "float32",
                    shard_size: int = SHARD_SIZE, on_error: str = "raise", progress: bool = True) -> list[Path]:
    """Like :func:`~edgelite.train.signs.cache.build_cache`, with one Ray task per missing shard.

    ``address``: a running cluster (``"auto"``, ``"ray://host:10001"`` or ``"host:6379"``) or
    ``None`` for a local instance of ``num_cpus`` CPUs (shut down afterwards). Returns the shard
    ``.json`` paths in sample order.
    """
    cdir = resolve_cache_dir(cache_dir)
    keys, jobs = plan_shards(samples, cdir, dtype, shard_size, on_error)
    if jobs:
        ray, started = _connect(address, num_cpus)
        try:
            bar = progress_bar(sum(len(j.paths) for j in jobs), progress, "reading sign sequences (ray)")
            ds = ray.data.from_items([asdict(j) for j in jobs], override_num_blocks=len(jobs))
            for row in ds.map(_build_row, num_cpus=1).iter_rows():
                if bar is not None:
                    bar.update(int(row["n"]))
            if bar is not None:
                bar.close()
        finally:
            if started:
                ray.shutdown()
    return [cdir / f"{k}.json" for k in keys]
