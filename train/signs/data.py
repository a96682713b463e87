"""Streamed ``tf.data`` input for sign training: bounded memory, parallel in-graph augmentation + features.

Pipeline (:func:`make_stream`): a Python generator walks the sequences shard by shard (shard order
shuffled each epoch, ``open_shards`` shards interleaved at random, so at most that many shards are
memory-mapped) and yields the selected points ``[T, P, 3]`` + label + a per-sample seed → a
bounded shuffle buffer → ``map`` (``num_parallel_calls=AUTOTUNE``) running augmentation
(:func:`tf_augment_points`, TF ops, stateless random) and the feature builder of
:mod:`edgelite.train.signs.preprocess` (the in-graph twin of the NumPy features) → batch →
prefetch. Memory: the shuffle buffer (``shuffle_buffer`` sequences of points) + the open shards'
mapped pages + a few batches, independent of the dataset size.

The sequences can be a :class:`~edgelite.train.signs.shards.ShardedSequences` (streamed from
the cache) or any list of ``[T, P, 3]`` arrays (the in-memory path: same samples, same order
without shuffling).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

SHUFFLE_BUFFER = 2048
OPEN_SHARDS = 4


def read_order(seqs: Sequence, ids: np.ndarray, shuffle: bool, rng: np.random.Generator,
               open_shards: int = OPEN_SHARDS) -> np.ndarray:
    """The order to read ``ids`` in: as given, or shard blocks in random order, shuffled inside a block.

    For :class:`ShardedSequences` a block is ``open_shards`` whole shards (so only those are mapped
    at a time); for a plain list, one random permutation.
    """
    ids = np.asarray(ids, np.int64)
    if not shuffle:
        return ids
    shard_of = getattr(seqs, "shard_of", None)
    if shard_of is None:
        return rng.permutation(ids)
    owner = shard_of[ids]
    shards = rng.permutation(np.unique(owner))
    out = []
    for b in range(0, len(shards), max(1, open_shards)):
        block = ids[np.isin(owner, shards[b : b + open_shards])]
        out.append(rng.permutation(block))
    return np.concatenate(out) if out else ids


def tf_augment_points(pts, perm, seed):
    """In-graph twin (same distributions, TF random stream) of the augmentation the NumPy pipeline used (flip, affine, time resample, masking).

    ``pts``: ``[T, P, C]`` float32 (NaN = missing); ``perm``: mirror permutation ``[P]``; ``seed``:
    int64 ``[2]`` (stateless, so a sample's augmentation depends only on its seed). Random temporal
    resample (p 0.8, ×0.7–1.3), flip with landmark mirroring (p 0.5), affine about (0.5, 0.5):
    rotate ±15°, scale 0.8–1.2, shear ±0.15, shift ±0.05 (p 0.8), time mask of up to T/4 frames (p 0.4).
    """
    import tensorflow as tf

    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 13)

    def u(k, lo=0.0, hi=1.0, shape=()):
        return tf.random.stateless_uniform(shape, s[k], lo, hi, tf.float32)

    t = tf.shape(pts)[0]
    tf_t = tf.cast(t, tf.float32)
    n = tf.maximum(1, tf.cast(tf.round(tf_t * u(1, 0.7, 1.3)), tf.int32))
    src = tf.cast(tf.floor((tf.cast(tf.range(n), tf.float32) + u(2)) * tf_t / tf.cast(n, tf.float32)), tf.int32)
    src = tf.minimum(src, t - 1)
    pts = tf.cond(tf.logical_and(t > 1, u(0) < 0.8), lambda: tf.gather(pts, src), lambda: pts)
    t = tf.shape(pts)[0]
    flipped = tf.gather(pts, tf.constant(perm, tf.int32), axis=1)
    flipped = tf.concat([1.0 - flipped[..., :1], flipped[..., 1:]], axis=-1)
    pts = tf.cond(u(3) < 0.5, lambda: flipped, lambda: pts)
    a = u(4, -15.0, 15.0) * (math.pi / 180.0)
    rot = tf.stack([tf.stack([tf.cos(a), -tf.sin(a)]), tf.stack([tf.sin(a), tf.cos(a)])])
    sc = tf.stack([tf.stack([u(5, 0.8, 1.2), u(6, -0.15, 0.15)]), tf.stack([0.0, u(7, 0.8, 1.2)])])
    m = tf.matmul(rot, sc)
    xy = tf.tensordot(pts[..., :2] - 0.5, tf.transpose(m), axes=1) + 0.5 + u(8, -0.05, 0.05, (2,))
    pts = tf.cond(u(9) < 0.8, lambda: tf.concat([xy, pts[..., 2:]], axis=-1), lambda: pts)
    span = tf.random.stateless_uniform((), s[10], 1, tf.maximum(2, t // 4) + 1, tf.int32)
    s0 = tf.random.stateless_uniform((), s[11], 0, tf.maximum(t - span + 1, 1), tf.int32)
    r = tf.range(t)
    hide = (r >= s0) & (r < s0 + span) & (t >= 4) & (u(12) < 0.4)
    return tf.where(hide[:, None, None], tf.constant(np.nan, tf.float32), pts)


def _generator(seqs: Sequence, ids: np.ndarray, y: np.ndarray, shuffle: bool, seed: int, open_shards: int):
    """A callable tf.data re-invokes every epoch: yields ``(points, label, sample seed)``."""
    epoch = [0]

    def gen() -> Iterator[tuple[np.ndarray, np.int32, np.ndarray]]:
        rng = np.random.default_rng([seed, epoch[0]])
        order = read_order(seqs, ids, shuffle, rng, open_shards)
        base = (seed * 1_000_003 + epoch[0]) & 0x7FFFFFFF
        epoch[0] += 1
        try:
            for i in order:
                yield seqs[int(i)], np.int32(y[i]), np.array([base, i], np.int64)
        finally:
            close = getattr(seqs, "close", None)
            if close is not None:
                close()

    return gen


def make_stream(seqs: Sequence, y: np.ndarray, ids: np.ndarray, pre: Any, num_classes: int, batch_size: int,
                augment: bool = True, shuffle: bool = True, seed: int = 0, shuffle_buffer: int = SHUFFLE_BUFFER,
                open_shards: int = OPEN_SHARDS, deterministic: bool | None = None):
    """``tf.data.Dataset`` of ``((features [B,max_len,F], mask [B,max_len]), one-hot [B,C])`` over ``ids``.

    ``seqs[i]``: selected points ``[T, P, 3]`` of sequence ``i`` (a ``ShardedSequences.select`` view
    or a list); ``y``: int class per sequence. Every epoch re-reads in a new shuffled order
    (when ``shuffle``) with new augmentation; cardinality is known (``ceil(len(ids)/batch_size)``).
    """
    import tensorflow as tf

    from edgelite.runtime.signs.features import mirror_permutation
    from edgelite.train.signs.preprocess import tf_features_from_points

    ids = np.asarray(ids, np.int64)
    perm = mirror_permutation(pre.indices)
    p = len(pre.indices)
    sig = (tf.TensorSpec([None, p, 3], tf.float32), tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int64))
    ds = tf.data.Dataset.from_generator(_generator(seqs, ids, np.asarray(y), shuffle, seed, open_shards),
                                        output_signature=sig)
    if shuffle and shuffle_buffer > 1:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def prep(pts, label, sd):
        if augment:
            pts = tf_augment_points(pts, perm, sd)
        f, m = tf_features_from_points(pts, pre)
        return (f, m), tf.one_hot(label, num_classes, dtype=tf.float32)

    det = (not shuffle) if deterministic is None else deterministic
    ds = ds.map(prep, num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return ds.apply(tf.data.experimental.assert_cardinality(math.ceil(len(ids) / batch_size)))


def make_datasets(cfg: Any, pre: Any, pts: Sequence, y: np.ndarray, tr: np.ndarray, iv: np.ndarray,
                  num_classes: int, batch_size: int | None = None):
    """``(train, inner-validation or None)`` streams for one fold (the ``train signs`` data path).

    Training: shuffled + augmented (``cfg.augment``); validation: in order, no augmentation.
    """
    b = int(batch_size or cfg.batch_size)
    train = make_stream(pts, y, tr, pre, num_classes, b, augment=cfg.augment, shuffle=True, seed=cfg.seed)
    val = make_stream(pts, y, iv, pre, num_classes, b, augment=False, shuffle=False) if len(iv) else None
    return train, val


# ------------------------------------------------------------------ helpers for list-or-shards
def sequence_lengths(xs: Sequence) -> np.ndarray:
    """Frames per sequence without reading them (``ShardedSequences``) or from the arrays (lists)."""
    lengths = getattr(xs, "lengths", None)
    return np.asarray(lengths if lengths is not None else [len(x) for x in xs], np.int64)


def take(xs: Sequence, idx) -> Sequence:
    """The sequences ``idx`` of ``xs``: a lazy view for ``ShardedSequences``, a list otherwise."""
    return xs.take(idx) if hasattr(xs, "take") else [xs[int(i)] for i in idx]


def select_view(xs: Sequence, pre: Any) -> Sequence:
    """``[T, P, 3]`` selected points of every sequence: lazy for ``ShardedSequences``, a list otherwise."""
    if hasattr(xs, "select"):
        return xs.select(pre.indices, 3)
    from edgelite.runtime.signs.features import select_points

    return [select_points(x, pre) for x in xs]
