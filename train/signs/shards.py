"""Lazy, memory-mapped access to the sharded sign cache: a list-like view that never loads the dataset.

:class:`ShardedSequences` knows, for each sequence, its shard and frame range (a few int arrays:
~20 bytes per sequence) and opens shard files memory-mapped only when a sequence is read, keeping
at most ``max_open`` shards mapped. Reading ``seqs[i]`` returns a float32 copy ``[T, 543, 3]``
(or the selected points ``[T, P, 3]`` after :meth:`ShardedSequences.select`), so peak memory is
one batch plus the mapped pages of the open shards, whatever the dataset size.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class ShardedSequences(Sequence):
    """List-like ``[T, 543, 3]`` float32 sequences stored in cache shards (see ``train.signs.cache``).

    ``shards``: shard ``.json`` paths; ``shard_of`` / ``start`` / ``stop``: per sequence, its shard
    index and frame range in that shard's ``.frames.npy``. ``points``: optional landmark indices
    (``[P]``) and ``channels`` kept by ``__getitem__`` (what ``select_points`` keeps).
    """

    def __init__(self, shards: list[Path], shard_of: np.ndarray, start: np.ndarray, stop: np.ndarray,
                 points: np.ndarray | None = None, channels: int = 3, max_open: int = 4):
        self.shards = [Path(p) for p in shards]
        self.shard_of = np.asarray(shard_of, np.int32)
        self.start = np.asarray(start, np.int64)
        self.stop = np.asarray(stop, np.int64)
        self.points = None if points is None else np.asarray(points, np.int64)
        self.channels = int(channels)
        self.max_open = int(max_open)
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()

    # ------------------------------------------------------------------ list-like
    def __len__(self) -> int:
        return len(self.shard_of)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        return self.read(int(i))

    def __getstate__(self):  # picklable for worker processes: without open maps
        return {**self.__dict__, "_open": OrderedDict()}

    @property
    def lengths(self) -> np.ndarray:
        """Frames per sequence ``[N]`` (no file is read)."""
        return self.stop - self.start

    def frames(self, shard: int) -> np.ndarray:
        """The memory-mapped ``[F, 543, 3]`` frames of shard ``shard`` (kept in a small LRU)."""
        arr = self._open.pop(shard, None)
        if arr is None:
            p = self.shards[shard]
            arr = np.load(p.with_name(p.name[: -len(".json")] + ".frames.npy"), mmap_mode="r", allow_pickle=False)
            while len(self._open) >= self.max_open:
                self._open.popitem(last=False)
        self._open[shard] = arr
        return arr

    def close(self) -> None:
        """Unmap every open shard (their pages leave this process's RSS)."""
        self._open.clear()

    def read(self, i: int) -> np.ndarray:
        """Sequence ``i`` as a float32 copy: ``[T, 543, 3]`` or ``[T, P, channels]`` after :meth:`select`."""
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        fr = self.frames(int(self.shard_of[i]))[self.start[i] : self.stop[i]]
        if self.points is not None:
            fr = fr[:, self.points, : self.channels]
        return np.array(fr, dtype=np.float32)

    def take(self, idx) -> ShardedSequences:
        """A view of the sequences ``idx`` (an index array or boolean mask), sharing the shards."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ShardedSequences(self.shards, self.shard_of[idx], self.start[idx], self.stop[idx], self.points,
                                self.channels, self.max_open)

    def select(self, points, channels: int = 3) -> ShardedSequences:
        """A view reading only landmark rows ``points`` and the first ``channels`` coordinates."""
        if self.points is not None:
            raise ValueError("select() on an already selected view")
        return ShardedSequences(self.shards, self.shard_of, self.start, self.stop, np.asarray(points), channels,
                                self.max_open)


def open_shards(metas: list[Path], keep: list[np.ndarray] | None = None) -> ShardedSequences:
    """A :class:`ShardedSequences` over shard ``.json`` files (only their offsets are read).

    ``keep[s]``: optional boolean mask of the shard's sequences to include (e.g. readable ones).
    """
    shard_of, start, stop = [], [], []
    for s, mp in enumerate(metas):
        mp = Path(mp)
        off = np.load(mp.with_name(mp.name[: -len(".json")] + ".offsets.npy"), allow_pickle=False)
        n = len(off) - 1
        m = np.ones(n, bool) if keep is None else np.asarray(keep[s], bool)
        shard_of.append(np.full(int(m.sum()), s, np.int32))
        start.append(off[:-1][m])
        stop.append(off[1:][m])
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return ShardedSequences(list(metas), cat(shard_of, np.int32), cat(start, np.int64), cat(stop, np.int64))


def shard_errors(meta_path: Path) -> list[str | None]:
    """The per-sequence read errors recorded in a shard's ``.json`` (``None`` = read fine)."""
    return json.loads(Path(meta_path).read_text(encoding="utf-8"))["errors"]
