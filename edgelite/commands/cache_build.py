"""Build the training cache of sign sequences (parquet / MP_Data → memory-mappable .npy shards).

`edgelite train signs` builds the same cache on first use; this command builds it ahead of time,
on this machine (worker processes) or on a Ray cluster (Ray Data; `pip install 'edgelite[scale]'`).
Shards are keyed by each file's path, size and mtime, so an interrupted build resumes and the Ray
build writes exactly the files (byte for byte) the local build writes. With --ray and no address a
local Ray instance on 127.0.0.1 is started; with an address (e.g. `auto` or `ray://head:10001`)
every worker must be able to read DATA and write --out (a shared filesystem).

examples:
  edgelite cache build ../shared/data/asl-signs --format asl-signs --out ~/.cache/edgelite/signs
  edgelite cache build ../shared/data/asl-signs --format asl-signs --ray --out /tmp/signs-cache
  edgelite cache build /mnt/islr --format asl-signs --ray auto --dtype float16 --out /mnt/shared/islr-cache
  edgelite train signs --data /mnt/islr --format asl-signs --cache /mnt/shared/islr-cache --out runs/islr
"""

from __future__ import annotations

import argparse
import time

PATH = ("cache", "build")
HELP = "build the sign sequence cache ahead of training (locally or on Ray)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="asl-signs folder, or MP_Data folder / .tar.xz")
    p.add_argument("--format", dest="fmt", required=True, choices=["asl-signs", "mp-data"], help="data layout")
    p.add_argument("--signers", default=None, help="CSV root,label,sequence,signer (mp-data)")
    p.add_argument("--out", default=None, help="cache folder (default: the edgelite cache's signs/ folder)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="build on Ray: no value = local instance on 127.0.0.1, else a cluster address")
    p.add_argument("--workers", type=int, default=2, help="processes (local) or CPUs of a local Ray instance")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"],
                   help="stored precision (float16 halves the size; training reads either)")
    p.add_argument("--shard-size", type=int, default=1000, help="sequences per shard (default 1000)")
    p.add_argument("--skip-bad", action="store_true", help="record unreadable files and go on (default: stop)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def list_samples(data: str, fmt: str, signers: str | None = None):
    """The sequences of ``data`` in the order ``train signs`` caches them."""
    import os

    from edgelite.runtime.core.errors import DataError
    from edgelite.runtime.signs import io as sign_io

    if not os.path.exists(data):
        raise DataError(f"{data}: no such file or folder")
    samples = sign_io.list_asl_signs(data) if fmt == "asl-signs" else sign_io.list_mp_data(data, signers)
    if not samples:
        raise DataError(f"{data}: no sequences found (format {fmt})")
    return samples


def run(args: argparse.Namespace) -> int:
    samples = list_samples(args.data, args.fmt, args.signers)
    on_error = "skip" if args.skip_bad else "raise"
    t0 = time.time()
    if args.ray is not None:
        from edgelite.train.signs.ray_cache import build_cache_ray

        address = None if args.ray == "local" else args.ray
        metas = build_cache_ray(samples, args.out, address, args.workers, args.dtype, args.shard_size, on_error,
                                progress=not args.quiet)
    else:
        from edgelite.train.signs.cache import build_cache

        metas = build_cache(samples, args.out, args.workers, not args.quiet, args.dtype, args.shard_size, on_error)
    dt = time.time() - t0
    where = metas[0].parent if metas else args.out
    print(f"{len(samples)} sequences in {len(metas)} shard(s) → {where} ({dt:.1f}s, {len(samples) / max(dt, 1e-9):.0f} seq/s)")
    return 0
