"""The latency harness works (never a timed test: only keys, positivity, ordering, files and CLI)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edgelite.runtime import bench
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.core.modelfile import read_model_info
from edgelite.runtime.layout import PARTS

STAT_KEYS = ("mean_ms", "std_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Tiny accel-shaped ([T,3]) and sign-shaped ([T,543,3], NaN-tolerant) models with metadata."""
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata

    d = tmp_path_factory.mktemp("bench_models")
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(2, activation="softmax")])
    meta = make_metadata("accel", ["a", "b"],
                         {"name": "accel", "dtype": "float32", "shape": [-1, 3], "window_samples": 20,
                          "sample_rate_hz": 20, "window_s": 1.0},
                         {"name": "probabilities", "kind": "probabilities"}, {})
    export_tflite(m, lambda x: m(tf.reduce_mean(x, axis=0, keepdims=True))[0], "accel", [None, 3],
                  "probabilities", meta, d / "accel.tflite")
    xs = [np.random.default_rng(i).standard_normal((n, 3)).astype(np.float32) for i, n in enumerate((15, 25, 40))]
    np.savez(d / "eval_data.npz", x_flat=np.concatenate(xs), lengths=np.array([len(x) for x in xs], np.int64))

    s = keras.Sequential([keras.Input((543 * 3,)), keras.layers.Dense(4, activation="softmax")])
    smeta = make_metadata("signs", ["a", "b", "c", "d"],
                          {"name": "inputs", "dtype": "float32", "shape": [-1, 543, 3],
                           "layout": "mediapipe-holistic-543", "landmark_set": "hands"},
                          {"name": "outputs", "kind": "probabilities"}, {})

    def serve_signs(x):
        x = tf.where(tf.math.is_nan(x), tf.zeros_like(x), x)
        return s(tf.reshape(tf.reduce_mean(x, axis=0), [1, 543 * 3]))[0]

    export_tflite(s, serve_signs, "inputs", [None, 543, 3], "outputs", smeta, d / "signs.tflite")
    return d


def _check_config(c):
    for k in STAT_KEYS + ("init_ms", "first_ms", "cpu_ms", "throughput_per_s", "peak_rss_mb"):
        assert k in c, k
        assert c[k] >= 0, (k, c[k])
    assert c["min_ms"] > 0 and c["throughput_per_s"] > 0 and c["peak_rss_mb"] > 1
    assert c["min_ms"] <= c["p50_ms"] <= c["p95_ms"] <= c["p99_ms"] <= c["max_ms"]
    assert len(c["latencies_ms"]) == c["runs"]
    assert c["load_avg_before"] is None or len(c["load_avg_before"]) == 3


def test_latency_stats_numbers():
    s = bench.latency_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["min_ms"] == 1.0 and s["max_ms"] == 100.0 and s["p50_ms"] == 3.0
    assert s["mean_ms"] == pytest.approx(22.0)
    assert s["p95_ms"] == pytest.approx(80.8) and s["p99_ms"] == pytest.approx(96.16)
    with pytest.raises(ValueError):
        bench.latency_stats([])


def test_fit_length_crops_and_tiles():
    x = np.arange(10, dtype=np.float32)[:, None]
    assert bench.fit_length(x, 4)[:, 0].tolist() == [3, 4, 5, 6]
    assert bench.fit_length(x[:3], 7)[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_random_sign_frames_nan_pattern():
    x = bench.random_sign_frames(400, np.random.default_rng(0))
    assert x.shape == (400, 543, 3) and x.dtype == np.float32
    nan_frames = {p: np.isnan(x[:, a:b, 0]).all(axis=1).mean() for p, (a, b) in PARTS.items()}
    assert nan_frames["pose"] == 0.0
    assert 0.0 < nan_frames["face"] < 0.15
    hands = sorted([nan_frames["left_hand"], nan_frames["right_hand"]])
    assert 0.1 < hands[0] < 0.3 and 0.75 < hands[1] < 0.95
    # a part is either fully present or fully missing in a frame, like real landmark data
    part_any = np.isnan(x[:, 468:489, 0]).any(axis=1)
    assert (part_any == np.isnan(x[:, 468:489, 0]).all(axis=1)).all()


def test_bench_accel_grid_real_inputs(tiny_models, tmp_path):
    opts = bench.BenchOptions(threads=(1, 2), xnnpack=(True, False), runs=30, warmup=3)
    res = bench.bench_model(tiny_models / "accel.tflite", opts)
    assert [(c["threads"], c["xnnpack"]) for c in res["configs"]] == [(1, True), (1, False), (2, True), (2, False)]
    for c in res["configs"]:
        _check_config(c)
        assert c["frames"] == 20 and c["input_shapes"] == {"accel": [20, 3]}  # window_samples from metadata
        assert c["inputs"].startswith("real:") and c["inputs"].endswith("eval_data.npz")
    assert res["model"]["size_bytes"] > 0 and res["model"]["task"] == "accel"
    m = res["machine"]
    assert m["cores"] >= 1 and m["python"] and ("litert" in m["runtime"] or "tflite" in m["runtime"])
    # the op-profile report says what the interpreter class really offers
    from edgelite.runtime.core.model import interpreter_class

    cls, name = interpreter_class()
    has = any(hasattr(cls, a) for a in ("get_profiling_results", "enable_profiling", "profile"))
    assert res["op_profile"]["available"] is has
    assert res["op_profile"]["note"].startswith(name) and (has or "benchmark_model" in res["op_profile"]["note"])
    out = bench.write_json(res, tmp_path / "sub" / "b.json")
    back = json.loads(open(out).read())
    assert back["configs"][0]["p99_ms"] == pytest.approx(res["configs"][0]["p99_ms"])
    md = bench.render_markdown(res)
    assert "p50 ms" in md and md.count("\n| 1 | ") == 2 and md.count("\n| 2 | ") == 2


def test_bench_signs_frames_list_random(tiny_models):
    opts = bench.BenchOptions(frames=(8, 32), xnnpack=(False,), runs=10, warmup=1, inputs=None)
    res = bench.bench_model(tiny_models / "signs.tflite", opts)
    assert [c["frames"] for c in res["configs"]] == [8, 32]
    assert [c["input_shapes"]["inputs"] for c in res["configs"]] == [[8, 543, 3], [32, 543, 3]]
    for c in res["configs"]:
        _check_config(c)
        assert c["inputs"] == "random" and c["xnnpack"] is False
        assert c["frames_per_s"] == pytest.approx(c["throughput_per_s"] * c["frames"])
    # default lengths of a sign model
    assert bench.natural_frames(read_model_info(tiny_models / "signs.tflite")) == bench.DEFAULT_SIGN_FRAMES


def test_wrong_inputs_are_clear_errors(tiny_models, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_flat=np.zeros((5, 3), np.float32), lengths=np.array([2, 2]))
    with pytest.raises(DataError, match="lengths"):
        bench.bench_model(tiny_models / "accel.tflite", bench.BenchOptions(inputs=str(bad), runs=2))
    with pytest.raises(DataError, match=r"expects \[16, 543, 3\]"):
        bench.bench_model(tiny_models / "signs.tflite",
                          bench.BenchOptions(inputs=str(tiny_models / "eval_data.npz"), frames=(16,), runs=2))
    with pytest.raises(DataError, match="not found"):
        bench.load_samples(str(tmp_path / "missing.npz"))


def test_cli_bench_json(tiny_models, tmp_path):
    out = tmp_path / "cli.json"
    r = subprocess.run(
        [sys.executable, "-m", "edgelite.cli", "bench", str(tiny_models / "signs.tflite"), "--frames", "4,16",
         "--threads", "1", "--xnnpack", "on,off", "--runs", "5", "--warmup", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "p95 ms" in r.stdout
    d = json.loads(out.read_text())
    assert len(d["configs"]) == 4
    for c in d["configs"]:
        assert {"p50_ms", "p95_ms", "p99_ms"} <= set(c) and c["p50_ms"] <= c["p95_ms"] <= c["p99_ms"]
    assert d["machine"]["cpu"]
    bad = subprocess.run([sys.executable, "-m", "edgelite.cli", "bench", str(tiny_models / "signs.tflite"),
                          "--xnnpack", "maybe"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--xnnpack" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_cases_interleaved(tiny_models):
    p = str(tiny_models / "accel.tflite")
    plan = bench.plan_for(p)  # real inputs found next to the model, window_samples long
    assert plan.frames == 20 and plan.source.startswith("real:") and len(plan.feeds) == 3
    cases = [bench.Case("xnn", p, plan, 1, True), bench.Case("ref", p, plan, 1, False),
             bench.Case("t2", p, bench.plan_for(p, frames=7, inputs=None), 2, True)]
    res = bench.bench_cases(cases, runs=17, warmup=2, rounds=4)
    assert list(res) == ["xnn", "ref", "t2"]
    for c in res.values():
        _check_config(c)
        assert c["runs"] == 17 and c["rounds"] == 4 and c["size_bytes"] > 0
    assert res["t2"]["input_shapes"] == {"accel": [7, 3]} and res["t2"]["inputs"] == "random"
    with pytest.raises(ValueError, match="unique"):
        bench.bench_cases([cases[0], cases[0]], runs=2)
