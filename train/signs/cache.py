"""The sharded sign-sequence cache used by training: parquet / MP_Data → ``.npy`` shards (no pickle).

Training-side only (the device never builds a cache): many sequences are read with several
processes and stored as shards of ``SHARD_SIZE`` sequences (``.frames.npy`` + ``.offsets.npy`` +
``.json``), keyed by each file's path, size, mtime and the reader version, written atomically so an
interrupted build resumes. Parquet files are read by :mod:`edgelite.train.signs.parquet_fast`
(byte-identical to the runtime reader, faster). :func:`open_sequences` gives a lazy memory-mapped
view for the streamed training path (:mod:`edgelite.train.signs.data`); :func:`plan_shards` is the
one shard plan shared with the Ray builder (:mod:`edgelite.train.signs.ray_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.layout import N_LANDMARKS
from edgelite.runtime.signs.io import READER_VERSION, SignSample

# --------------------------------------------------------------------------------------------
# cached, multi-process dataset loading
# --------------------------------------------------------------------------------------------

SHARD_SIZE = 1000


def _fingerprint(path: str) -> str:
    """Identity of a sequence on disk: path, size and mtime (of every frame file for folders)."""
    p = Path(path)
    try:
        if p.is_dir():
            parts = [str(p.resolve())]
            for e in sorted(os.scandir(p), key=lambda e: e.name):
                if e.name.endswith(".npy"):
                    st = e.stat()
                    parts.append(f"{e.name}:{st.st_size}:{st.st_mtime_ns}")
            return "|".join(parts)
        st = p.stat()
        return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{path}:missing"


def _shard_key(samples: Sequence[SignSample], dtype: str) -> str:
    h = hashlib.sha256(f"edgelite-signs|v{READER_VERSION}|{dtype}|{N_LANDMARKS}".encode())
    for s in samples:
        h.update(b"\0")
        h.update(_fingerprint(s.path).encode())
    return h.hexdigest()[:24]


def _worker_init() -> None:
    """Pool initializer: one process per core already, so keep pyarrow single-threaded inside it."""
    try:
        import pyarrow as pa

        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
    except ImportError:  # pragma: no cover - MP_Data reading needs no pyarrow
        pass


def _read_chunk(args: tuple[list[str], str, str]) -> tuple[list[np.ndarray | None], list[str | None]]:
    """Worker: read a few sequences (runs in a child process) with the fast parquet path."""
    from edgelite.train.signs.parquet_fast import read_sequence_fast

    paths, dtype, on_error = args
    arrs: list[np.ndarray | None] = []
    errs: list[str | None] = []
    for p in paths:
        try:
            arrs.append(read_sequence_fast(p).astype(dtype, copy=False))
            errs.append(None)
        except DataError as e:
            if on_error == "raise":
                raise
            arrs.append(None)
            errs.append(str(e))
    return arrs, errs


def _atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    os.replace(tmp, path)


def write_shard(cdir: Path, key: str, names: list[str], arrs: list[np.ndarray | None], errs: list[str | None], dtype: str) -> None:
    """Write one shard atomically: frames + offsets first, the ``.json`` last (it marks completion)."""
    lengths = np.array([0 if a is None else a.shape[0] for a in arrs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    good = [a for a in arrs if a is not None]
    frames = np.concatenate(good) if good else np.zeros((0, N_LANDMARKS, 3), dtype=dtype)
    _atomic_save_npy(cdir / f"{key}.frames.npy", frames.astype(dtype, copy=False))
    _atomic_save_npy(cdir / f"{key}.offsets.npy", offsets)
    meta = {"version": READER_VERSION, "dtype": dtype, "names": names, "errors": errs, "frames": int(offsets[-1])}
    tmp = cdir / f".{key}.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, cdir / f"{key}.json")  # written last: marks the shard complete


@dataclass(frozen=True)
class ShardJob:
    """One shard to build: where, its key, and its sequences' names and paths (picklable, Ray-friendly)."""

    cdir: str
    key: str
    names: tuple[str, ...]
    paths: tuple[str, ...]
    dtype: str
    on_error: str


def build_shard(job: ShardJob) -> int:
    """Read one whole shard and write it (in a worker process or Ray task); returns its sequence count."""
    arrs, errs = _read_chunk((list(job.paths), job.dtype, job.on_error))
    write_shard(Path(job.cdir), job.key, list(job.names), arrs, errs, job.dtype)
    return len(job.paths)


def shard_complete(cdir: Path, key: str) -> bool:
    return all((cdir / f"{key}{s}").is_file() for s in (".json", ".frames.npy", ".offsets.npy"))


def progress_bar(total: int, enabled: bool, desc: str):
    """A tqdm bar (rate + ETA) over ``total`` sequences, or ``None``."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit="seq", leave=False, smoothing=0.1)


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir`` or ``<edgelite cache>/signs``, created."""
    if cache_dir is None:
        from edgelite.runtime.core.paths import cache_dir as _cd

        cdir = _cd() / "signs"
    else:
        cdir = Path(cache_dir)
    cdir.mkdir(parents=True, exist_ok=True)
    return cdir


def plan_shards(samples: Sequence[SignSample], cdir: Path, dtype: str = "float32", shard_size: int = SHARD_SIZE,
                on_error: str = "raise") -> tuple[list[str], list[ShardJob]]:
    """``(keys of every shard, jobs for the shards not yet complete)``: the one shard plan (local and Ray)."""
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    dtype = np.dtype(dtype).name
    if dtype not in ("float32", "float16"):
        raise ValueError("dtype must be float32 or float16")
    shards = [list(samples[i : i + shard_size]) for i in range(0, len(samples), shard_size)]
    keys = [_shard_key(sh, dtype) for sh in shards]
    jobs = [ShardJob(str(cdir), k, tuple(s.name for s in sh), tuple(s.path for s in sh), dtype, on_error)
            for k, sh in zip(keys, shards) if not shard_complete(cdir, k)]
    return keys, jobs


def _build_whole_shards(jobs: list[ShardJob], workers: int, bar) -> None:
    """Many shards (the full competition set): each worker reads and writes whole shards."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
        for done in pool.imap_unordered(build_shard, jobs):
            if bar is not None:
                bar.update(done)


def _build_by_chunks(jobs: list[ShardJob], workers: int, chunk: int, bar) -> None:
    """Few shards: workers (or this process) read chunks of sequences, this process writes the shards."""
    tasks = [(job, list(job.paths[j : j + chunk])) for job in jobs for j in range(0, len(job.paths), chunk)]
    pending: dict[str, tuple[list, list]] = {job.key: ([], []) for job in jobs}
    args = [(p, job.dtype, job.on_error) for job, p in tasks]

    def consume(job: ShardJob, res) -> None:
        arrs, errs = res
        pending[job.key][0].extend(arrs)
        pending[job.key][1].extend(errs)
        if bar is not None:
            bar.update(len(arrs))
        if len(pending[job.key][0]) == len(job.paths):
            a, e = pending.pop(job.key)
            write_shard(Path(job.cdir), job.key, list(job.names), a, e, job.dtype)

    if workers and workers > 1 and len(tasks) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(min(workers, len(tasks)), initializer=_worker_init) as pool:
            for (job, _), res in zip(tasks, pool.imap(_read_chunk, args)):
                consume(job, res)
    else:
        for (job, _), a in zip(tasks, args):
            consume(job, _read_chunk(a))


def build_cache(
    samples: Sequence[SignSample],
    cache_dir: str | os.PathLike | None = None,
    workers: int = 2,
    progress: bool = True,
    dtype: str = "float32",
    shard_size: int = SHARD_SIZE,
    on_error: str = "raise",
    chunk: int = 16,
) -> list[Path]:
    """Read every sample not yet cached and write it to sharded arrays; return the shard paths (``.json``).

    Shards of ``shard_size`` consecutive samples are keyed by a hash of their files' paths, sizes,
    mtimes, the reader version and ``dtype``, so a changed file only re-reads its shard and an
    interrupted build resumes (complete shards are skipped). Each shard is ``<key>.frames.npy``
    (all frames concatenated, ``[F, 543, 3]``), ``<key>.offsets.npy`` (``[n+1]`` int64) and
    ``<key>.json`` (names, errors). Reading uses ``workers`` processes (``spawn``); with at least
    two shards per worker each worker reads and writes whole shards, otherwise workers read chunks
    of ``chunk`` sequences and this process writes. Parquet files go through the fast reader
    (:mod:`edgelite.train.signs.parquet_fast`, byte-identical output). A tqdm bar shows rate + ETA.

    The shards depend on the order and grouping of ``samples``: cache the whole dataset once and
    split the returned arrays (by signer etc.) rather than caching each subset separately.
    ``on_error``: ``"raise"`` stops at the first bad file; ``"skip"`` records the error and
    leaves the sequence out.
    """
    cdir = resolve_cache_dir(cache_dir)
    keys, jobs = plan_shards(samples, cdir, dtype, shard_size, on_error)
    if jobs:
        bar = progress_bar(sum(len(j.paths) for j in jobs), progress, "reading sign sequences")
        try:
            if workers and workers > 1 and len(jobs) >= 2 * workers:
                _build_whole_shards(jobs, workers, bar)
            else:
                _build_by_chunks(jobs, workers, chunk, bar)
        finally:
            if bar is not None:
                bar.close()
    return [cdir / f"{k}.json" for k in keys]


def _open_shard(meta_path: Path, mmap: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    stem = meta_path.name[: -len(".json")]
    frames = np.load(meta_path.with_name(f"{stem}.frames.npy"), mmap_mode="r" if mmap else None, allow_pickle=False)
    offsets = np.load(meta_path.with_name(f"{stem}.offsets.npy"), allow_pickle=False)
    return meta, frames, offsets


def iter_cached_sequences(
    samples: Sequence[SignSample],
    cache_dir: str | os.PathLike | None = None,
    workers: int = 2,
    progress: bool = True,
    dtype: str = "float32",
    mmap: bool = True,
    shard_size: int = SHARD_SIZE,
    on_error: str = "raise",
) -> Iterator[tuple[SignSample, np.ndarray]]:
    """Stream ``(sample, [T, 543, 3])`` in sample order from the cache (building it first if needed).

    With ``mmap`` (default) the arrays are read-only views of memory-mapped shard files, so the
    whole competition set can be iterated (e.g. by a ``tf.data`` generator) in constant memory.
    Samples whose file failed with ``on_error="skip"`` are left out.
    """
    metas = build_cache(samples, cache_dir, workers, progress, dtype, shard_size, on_error)
    yield from _iter_shards(samples, metas, shard_size, mmap, on_error, [])


def _iter_shards(samples: Sequence[SignSample], metas: list[Path], shard_size: int, mmap: bool, on_error: str,
                 skipped: list[str]) -> Iterator[tuple[SignSample, np.ndarray]]:
    """``(sample, frames)`` of built shards in sample order; a failed file raises, or with ``on_error="skip"``
    is left out and its error appended to ``skipped``."""
    for si, mp_ in enumerate(metas):
        meta, frames, offsets = _open_shard(mp_, mmap)
        for j, s in enumerate(samples[si * shard_size : (si + 1) * shard_size]):
            if meta["errors"][j] is not None:
                if on_error == "raise":
                    raise DataError(meta["errors"][j])
                skipped.append(meta["errors"][j])
                continue
            yield s, frames[offsets[j] : offsets[j + 1]]


def load_dataset(
    samples: Sequence[SignSample],
    cache_dir: str | os.PathLike | None = None,
    workers: int = 2,
    progress: bool = True,
    dtype: str = "float32",
    mmap: bool = False,
    shard_size: int = SHARD_SIZE,
    on_error: str = "raise",
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Read (or fetch from the cache) every sample → ``(sequences, labels, signers)``.

    ``sequences``: list of ``[T_i, 543, 3]`` arrays of ``dtype`` (float32 by default: exactly
    what the readers return; ``float16`` halves cache size for the full competition set, ~1e-3
    relative precision). ``labels``/``signers``: string arrays aligned with ``sequences``
    (``""`` where the signer is unknown). The first call reads with ``workers`` processes and
    writes sharded arrays to ``cache_dir`` (default ``<edgelite cache>/signs``); later calls with
    unchanged files load the shards (a fast ``np.load``). With ``mmap=True`` the arrays are
    read-only views into memory-mapped shards (constant memory, for the full 94,477 sequences).
    With ``on_error="skip"`` unreadable files are left out (warned once); the default raises.
    """
    skipped: list[str] = []
    metas = build_cache(samples, cache_dir, workers, progress, dtype, shard_size, on_error)
    pairs = list(_iter_shards(samples, metas, shard_size, mmap, on_error, skipped))
    seqs = [frames for _, frames in pairs]
    labels = [s.label for s, _ in pairs]
    signers = [s.signer or "" for s, _ in pairs]
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable sequence(s), e.g. {skipped[0]}")
    return seqs, np.array(labels, dtype=str), np.array(signers, dtype=str)


def open_sequences(
    samples: Sequence[SignSample],
    cache_dir: str | os.PathLike | None = None,
    workers: int = 2,
    progress: bool = True,
    dtype: str = "float32",
    shard_size: int = SHARD_SIZE,
    on_error: str = "raise",
):
    """Like :func:`load_dataset` but lazy: ``(ShardedSequences, labels, signers)`` — nothing is loaded.

    The sequences are read from memory-mapped shards only when indexed or streamed
    (:mod:`edgelite.train.signs.data`), so memory stays flat in the dataset size.
    """
    from edgelite.train.signs.shards import open_shards, shard_errors

    metas = build_cache(samples, cache_dir, workers, progress, dtype, shard_size, on_error)
    keep, labels, signers, skipped = [], [], [], []
    for si, mpath in enumerate(metas):
        errs = shard_errors(mpath)
        if on_error == "raise" and any(e is not None for e in errs):
            raise DataError(next(e for e in errs if e is not None))
        keep.append(np.array([e is None for e in errs], bool))
        skipped += [e for e in errs if e is not None]
        for j, s in enumerate(samples[si * shard_size : (si + 1) * shard_size]):
            if errs[j] is None:
                labels.append(s.label)
                signers.append(s.signer or "")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable sequence(s), e.g. {skipped[0]}")
    return open_shards(metas, keep), np.array(labels, dtype=str), np.array(signers, dtype=str)
