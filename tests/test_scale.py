"""Training at scale: fast parquet reader, memory-mapped shards, the streamed tf.data path, devices, Ray.

Only small generated shards (a few hundred KB) and the shared asl-signs files are used.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.signs.features import SignPreprocessConfig, batch_features_from_points, select_points

PRE = SignPreprocessConfig(landmark_set="hands", max_len=16)


def _seqs(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` synthetic ``[T, 543, 3]`` float32 sequences (T 3..30, some hands missing)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.uniform(0.2, 0.8, (int(rng.integers(3, 31)), 543, 3)).astype(np.float32)
        x[rng.random(len(x)) < 0.3, 468:489] = np.nan  # left hand missing in some frames
        out.append(x)
    return out


def _shards(tmp: Path, seqs: list[np.ndarray], shard_size: int):
    from edgelite.train.signs.cache import write_shard
    from edgelite.train.signs.shards import open_shards

    metas = []
    for s in range(0, len(seqs), shard_size):
        part = seqs[s : s + shard_size]
        key = f"shard{s // shard_size:03d}"
        write_shard(tmp, key, [f"s{i}" for i in range(s, s + len(part))], part, [None] * len(part), "float32")
        metas.append(tmp / f"{key}.json")
    return open_shards(metas)


# --------------------------------------------------------------------------------- fast reader
def test_fast_reader_byte_identical_on_real_files(asl_parquet):
    from edgelite.runtime.signs.io import read_parquet_sequence
    from edgelite.train.signs.parquet_fast import read_parquet_fast

    for p in asl_parquet:
        a, b = read_parquet_sequence(p), read_parquet_fast(p)
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape and a.tobytes() == b.tobytes(), p


def test_fast_reader_falls_back_on_unusual_files(asl_parquet, tmp_path):
    import pyarrow.parquet as pq

    from edgelite.runtime.core.errors import DataError
    from edgelite.runtime.signs.io import read_parquet_sequence
    from edgelite.train.signs.parquet_fast import read_parquet_fast

    t = pq.read_table(asl_parquet[0])
    shuffled = tmp_path / "shuffled.parquet"
    pq.write_table(t.take(np.random.default_rng(0).permutation(t.num_rows)), shuffled)
    assert read_parquet_fast(shuffled).tobytes() == read_parquet_sequence(asl_parquet[0]).tobytes()
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(Path(asl_parquet[0]).read_bytes()[:500])
    with pytest.raises(DataError) as e1:
        read_parquet_sequence(broken)
    with pytest.raises(DataError) as e2:
        read_parquet_fast(broken)
    assert str(e1.value) == str(e2.value)


@pytest.fixture(scope="module")
def asl_parquet(shared: Path) -> list[str]:
    root = shared / "data" / "asl-signs" / "train_landmark_files"
    files = sorted(str(p) for p in root.glob("*/*.parquet"))
    if not files:
        pytest.skip("asl-signs parquet files not in shared/")
    return files[:40]


# --------------------------------------------------------------------------------- shards
def test_sharded_sequences_memory_mapped_and_lazy(tmp_path):
    seqs = _seqs(23)
    ss = _shards(tmp_path, seqs, 5)
    assert len(ss) == 23 and len(ss.shards) == 5
    assert ss.lengths.tolist() == [len(x) for x in seqs]
    assert isinstance(ss.frames(0), np.memmap)
    for i in (0, 4, 5, 22, -1):
        assert ss[i].tobytes() == seqs[i].tobytes()
    assert len(ss._open) <= ss.max_open
    sub = ss.take([3, 17])
    assert sub[1].tobytes() == seqs[17].tobytes()
    sel = ss.select(PRE.indices)
    assert sel[7].tobytes() == select_points(seqs[7], PRE).tobytes()
    ss.close()
    assert not ss._open


def test_open_sequences_from_cache_equals_load_dataset(tmp_path):
    from edgelite.runtime.signs.io import SignSample
    from edgelite.train.signs.cache import load_dataset, open_sequences

    seqs = _seqs(12, seed=3)
    samples = []
    for i, x in enumerate(seqs):
        np.save(tmp_path / f"q{i}.npy", x)
        samples.append(SignSample(f"q{i}", str(tmp_path / f"q{i}.npy"), f"L{i % 3}", f"S{i % 4}"))
    xs, labels, signers = load_dataset(samples, tmp_path / "cache", workers=1, progress=False, shard_size=5)
    ss, l2, s2 = open_sequences(samples, tmp_path / "cache", workers=1, progress=False, shard_size=5)
    assert (labels == l2).all() and (signers == s2).all() and len(ss) == len(xs) == 12
    for a, b in zip(xs, ss):
        assert a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------- streamed tf.data
def test_stream_yields_the_in_memory_samples_in_order(tmp_path):
    from edgelite.train.signs.data import make_stream

    seqs = _seqs(21, seed=1)
    ss = _shards(tmp_path, seqs, 4).select(PRE.indices)
    mem = [select_points(x, PRE) for x in seqs]
    y = np.arange(21) % 3
    ids = np.array([5, 0, 20, 7, 8, 13])
    f_ref, m_ref = batch_features_from_points([mem[i] for i in ids], PRE)
    for src in (ss, mem):
        batches = list(make_stream(src, y, ids, PRE, 3, 4, augment=False, shuffle=False))
        f = np.concatenate([b[0][0].numpy() for b in batches])
        m = np.concatenate([b[0][1].numpy() for b in batches])
        lab = np.concatenate([b[1].numpy() for b in batches]).argmax(1)
        assert np.abs(f - f_ref).max() < 1e-5 and (m == m_ref).all() and (lab == y[ids]).all()


def test_stream_shuffle_covers_every_sample_once_and_reshuffles(tmp_path):
    from edgelite.train.signs.data import make_stream

    n = 37
    ss = _shards(tmp_path, _seqs(n, seed=2), 6).select(PRE.indices)
    ds = make_stream(ss, np.arange(n), np.arange(n), PRE, n, 8, augment=True, shuffle=True, seed=0,
                     shuffle_buffer=8, open_shards=2)
    orders = [np.concatenate([b[1].numpy().argmax(1) for b in ds]) for _ in range(2)]
    for o in orders:
        assert sorted(o.tolist()) == list(range(n))
    assert orders[0].tolist() != orders[1].tolist() and orders[0].tolist() != list(range(n))
    assert ds.cardinality().numpy() == 5


def test_read_order_keeps_few_shards_open(tmp_path):
    from edgelite.train.signs.data import read_order

    ss = _shards(tmp_path, _seqs(40, seed=4), 5)
    order = read_order(ss, np.arange(40), True, np.random.default_rng(0), open_shards=2)
    assert sorted(order.tolist()) == list(range(40))
    blocks = ss.shard_of[order].reshape(4, 10)
    assert all(len(set(b.tolist())) == 2 for b in blocks)  # each block of 10 reads exactly 2 shards


def test_tf_augment_points_is_seeded_and_sane():
    import tensorflow as tf

    from edgelite.runtime.signs.features import mirror_permutation
    from edgelite.train.signs.data import tf_augment_points

    x = select_points(_seqs(1, seed=5)[0], PRE)
    perm = mirror_permutation(PRE.indices)
    outs = [tf_augment_points(tf.constant(x), perm, tf.constant([7, s], tf.int64)).numpy() for s in (1, 1, 2)]
    assert outs[0].tobytes() == outs[1].tobytes() and outs[0].shape[1:] == x.shape[1:]
    lens = [tf_augment_points(tf.constant(x), perm, tf.constant([0, s], tf.int64)).shape[0] for s in range(40)]
    assert min(lens) >= int(0.7 * len(x)) - 1 and max(lens) <= int(1.3 * len(x)) + 1 and len(set(lens)) > 2
    fin = outs[2][np.isfinite(outs[2])]
    assert fin.size and np.abs(fin).max() < 3.0


# --------------------------------------------------------------------------------- devices
def test_device_resolution_and_scaling_rules():
    import keras

    from edgelite.runtime.core.errors import EdgeliteError
    from edgelite.train.devices import float32_copy, reset_precision, resolve_device
    from edgelite.train.signs.model import build_sign_model

    cpu = resolve_device("cpu")
    assert cpu.kind == "cpu" and cpu.precision == "float32" and cpu.replicas == 1
    with pytest.raises(EdgeliteError):
        resolve_device("gpu", gpus=[])
    with pytest.raises(EdgeliteError):
        resolve_device("tpu")
    try:
        gpu = resolve_device("auto", gpus=["g0", "g1"])  # no strategy is built for fake GPUs
        assert gpu.kind == "gpu" and gpu.replicas == 2 and gpu.precision == "mixed_float16" and gpu.jit_compile
        assert gpu.global_batch(64) == 128 and gpu.learning_rate(1e-3) == pytest.approx(2e-3)
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        mixed = build_sign_model(PRE.max_len, PRE.num_features, 5, "tiny")
        assert mixed.output.dtype == "float32"  # classifier stays float32 under mixed precision
        assert any(getattr(layer, "compute_dtype", "") == "float16" for layer in mixed.layers)
        twin = float32_copy(mixed, lambda: build_sign_model(PRE.max_len, PRE.num_features, 5, "tiny"))
        assert all(w.dtype == "float32" for w in twin.weights)
        assert all(getattr(layer, "compute_dtype", "float32") == "float32" for layer in twin.layers)
        assert keras.mixed_precision.global_policy().name == "float32"  # the export copy resets the policy
        gpu.apply_policy()  # ...and the next fold sets it again
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        f, m = batch_features_from_points([select_points(x, PRE) for x in _seqs(3)], PRE)
        assert np.abs(twin.predict([f, m], verbose=0) - mixed.predict([f, m], verbose=0)).max() < 2e-2
    finally:
        reset_precision()
    assert keras.mixed_precision.global_policy().name == "float32"


# --------------------------------------------------------------------------------- Ray
def _need_ray():
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true" and os.environ.get("EDGELITE_CI_RAY", "1") != "0":
            pytest.fail("ray[data] missing under CI (pip install 'edgelite[scale]')")
        pytest.skip("ray[data] not installed (pip install 'edgelite[scale]')")


@pytest.mark.slow
def test_ray_cache_build_byte_identical_to_local(shared, tmp_path):
    _need_ray()
    from edgelite.cli import main

    root = shared / "data" / "asl-signs"
    if not (root / "train.csv").exists():
        pytest.skip("asl-signs data not in shared/")
    local, ray_dir = tmp_path / "local", tmp_path / "ray"
    assert main(["cache", "build", str(root), "--format", "asl-signs", "--out", str(local), "--shard-size", "60",
                 "--quiet"]) == 0
    assert main(["cache", "build", str(root), "--format", "asl-signs", "--out", str(ray_dir), "--shard-size", "60",
                 "--ray", "--workers", "2", "--quiet"]) == 0
    a = sorted(p.name for p in local.iterdir())
    assert a == sorted(p.name for p in ray_dir.iterdir()) and len(a) == 4 * 3
    for name in a:
        assert (local / name).read_bytes() == (ray_dir / name).read_bytes(), name
    shutil.rmtree(ray_dir)
