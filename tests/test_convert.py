"""Conversion toolkit: quantized variants (maintained quantizer, scoped recipes), parity, NaN/edge
inputs on full int8, int4 storage, standard metadata read back by MediaPipe, the private-TF adapter,
Flex rejection, inspect, bad files, runtime compatibility (2.14 load matrix) and deploy bundles.

A tiny accelerometer model is trained on real UCI walking windows (3 users, time-block split) and
exported through :func:`edgelite.convert.export.export_tflite` into a run folder that follows the
trainers' contract (saved_model/, model.tflite, metadata.json, eval_data.npz with calibration).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

N = 48  # window samples after in-graph resampling
USERS = (1, 2, 3)
VARIANTS = ("fp32", "fp16", "int8-dynamic", "int4-weights", "int8", "int16x8")


def _windows(accel_dir: Path, seed: int = 0):
    """Variable-length raw windows [T,3] (m/s²): first 70 % of each user's recording trains, rest validates."""
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for k, u in enumerate(USERS):
        a = np.loadtxt(accel_dir / "uci-walking" / "Dataset" / f"{u}.csv", delimiter=",", dtype=np.float32)[:, 1:4]
        cut = int(len(a) * 0.7)
        for part, out in ((a[:cut], tr), (a[cut:], va)):
            s = 0
            while True:
                n = int(rng.integers(32, 80))
                if s + n > len(part):
                    break
                out.append((part[s : s + n], k))
                s += n // 2
    return tr, va


def _prep_np(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    fin = np.isfinite(x)
    mean = np.where(fin, x, 0).sum(0) / np.maximum(fin.sum(0), 1)
    x = np.where(fin, x, mean)
    idx = np.round(np.linspace(0, len(x) - 1, N)).astype(np.int32)
    return x[idx] / 9.81


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, accel_dir) -> Path:
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata, write_sidecar

    run = tmp_path_factory.mktemp("run")
    tr, va = _windows(accel_dir)
    xtr = np.stack([_prep_np(x) for x, _ in tr])
    ytr = np.array([y for _, y in tr])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((N, 3)),
        keras.layers.Conv1D(16, 5, activation="relu"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(96, activation="relu"),  # >= 1024 weights, so dynamic-range quantizes it
        keras.layers.Dense(len(USERS), activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(xtr, ytr, epochs=15, batch_size=32, verbose=0)

    def serve(x):  # [T,3] raw, NaN = missing → [3] probabilities
        # channel selection straight on the raw input (like landmark selection in sign models): a
        # range-preserving op the quantizer used to pull into int8 despite the denylist
        x = tf.gather(x, [0, 1, 2], axis=1)
        fin = tf.math.is_finite(x)
        cnt = tf.reduce_sum(tf.cast(fin, tf.float32), 0)
        mean = tf.reduce_sum(tf.where(fin, x, 0.0), 0) / tf.maximum(cnt, 1.0)
        x = tf.where(fin, x, mean[None])
        t = tf.cast(tf.shape(x)[0], tf.float32)
        idx = tf.cast(tf.round(tf.linspace(0.0, t - 1.0, N)), tf.int32)
        return model(tf.gather(x, idx)[None] / 9.81, training=False)[0]

    meta = make_metadata(
        "accel", [f"user{u}" for u in USERS],
        {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": 33,
         "window_s": N / 33, "window_samples": N, "gravity": True, "axes": ["x", "y", "z"]},
        {"name": "probabilities", "kind": "probabilities"},
        {"fill": "channel_mean", "resample_to": N, "scale": 1 / 9.81},
        {"data": "uci-walking users 1-3 (test)"},
    )
    export_tflite(model, serve, "accel", [None, 3], "probabilities", meta, run / "model.tflite",
                  saved_model_dir=str(run / "saved_model"))
    write_sidecar(meta, run / "metadata.json")
    xs = [x for x, _ in va]
    cal = [x for x, _ in tr[:: max(1, len(tr) // 100)]]
    np.savez(run / "eval_data.npz", x_flat=np.concatenate(xs), lengths=np.array([len(x) for x in xs], np.int64),
             y=np.array([y for _, y in va], np.int64), calib_x_flat=np.concatenate(cal),
             calib_lengths=np.array([len(x) for x in cal], np.int64))
    (run / "report.json").write_text("{}")
    return run


@pytest.fixture(scope="module")
def variants(run_dir, tmp_path_factory) -> dict[str, str]:
    from edgelite.convert.calibration import load_calibration
    from edgelite.convert.quantize import convert_variants

    meta = json.loads((run_dir / "metadata.json").read_text())
    out = tmp_path_factory.mktemp("variants")
    return convert_variants(run_dir / "saved_model", VARIANTS, meta, out, load_calibration(run_dir / "eval_data.npz"))


@pytest.fixture(scope="module")
def reference(run_dir):
    from edgelite.convert.parity import TFReference, load_eval_data

    ev = load_eval_data(run_dir / "eval_data.npz")
    ref = TFReference(run_dir / "saved_model", "accel", "probabilities")
    return ev, ref, ref.run_all(ev.samples)


# Thresholds on probabilities vs the TensorFlow model (held-out real windows).
# (max abs diff, mean abs diff, min top-1 agreement)
PARITY = {"fp32": (1e-5, 1e-6, 1.0), "fp16": (2e-2, 2e-3, 0.97), "int8-dynamic": (3e-2, 5e-3, 0.95),
          "int4-weights": (0.25, 0.03, 0.9), "int8": (0.12, 0.015, 0.9), "int16x8": (2e-2, 2e-3, 0.97)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_parity_on_real_samples(variants, reference, variant):
    from edgelite.convert.parity import accuracy, compare, tflite_outputs

    ev, _, ref_out = reference
    out = tflite_outputs(variants[variant], ev.samples)
    p = compare(ref_out, out)
    max_diff, mean_diff, min_agree = PARITY[variant]
    assert p["finite"]
    assert p["max_abs_diff"] < max_diff, p
    assert p["mean_abs_diff"] < mean_diff, p
    assert p["top1_agreement"] >= min_agree, p
    assert abs(accuracy(out, ev.y) - accuracy(ref_out, ev.y)) <= 0.06
    assert accuracy(ref_out, ev.y) > 0.5  # the model learned something: agreement is meaningful


def test_variants_keep_signature_and_quantize(variants):
    from edgelite.runtime.core.modelfile import read_model_info

    infos = {v: read_model_info(p) for v, p in variants.items()}
    for v, info in infos.items():
        sig = info.signatures["serving_default"]
        assert list(sig.inputs) == ["accel"] and list(sig.outputs) == ["probabilities"], v
        assert sig.inputs["accel"].dtype == "FLOAT32" and sig.outputs["probabilities"].dtype == "FLOAT32", v
        assert sig.inputs["accel"].shape_signature == [-1, 3], v
        assert info.metadata["quantization"]["variant"] == v
        assert info.metadata["labels"] == ["user1", "user2", "user3"]
        assert not info.custom_ops
    assert "FLOAT16" in infos["fp16"].tensor_types
    assert infos["fp16"].metadata["quantization"]["preprocessing"] == "float32"
    assert "INT8" in infos["int8-dynamic"].tensor_types and "QUANTIZE" not in infos["int8-dynamic"].op_histogram
    assert "INT4" in infos["int4-weights"].tensor_types and "QUANTIZE" not in infos["int4-weights"].op_histogram
    # tflite-runtime 2.14 knows FULLY_CONNECTED up to v11; per-channel dense emits v12.
    for v in ("int8-dynamic", "int8", "int16x8"):
        assert max(infos[v].op_versions["FULLY_CONNECTED"]) < 12, v
    # (this toy model is mostly graph, not weights: int4's DEQUANTIZE ops outweigh its savings here;
    # the packing itself is checked in test_int4_weights_take_half_a_byte)
    assert max(infos[v].size_bytes for v in ("int8-dynamic", "int4-weights", "int8")) < infos["fp32"].size_bytes


def test_int4_weights_take_half_a_byte(variants):
    """Every INT4 constant is packed two values per byte (and the big dense kernel is INT4)."""
    from edgelite.convert.graph import op_graph, tensor_name

    model, _ = op_graph(Path(variants["int4-weights"]).read_bytes())
    sg = model.subgraphs[0]
    int4 = [t for t in sg.tensors if t.type == 17]  # TensorType.INT4
    assert int4
    for t in int4:
        n = int(np.prod(t.shape))
        assert len(model.buffers[t.buffer].data) == (n + 1) // 2, (tensor_name(sg, sg.tensors.index(t)), n)
    assert max(int(np.prod(t.shape)) for t in int4) >= 16 * 96  # the Dense(96) kernel


def test_full_integer_keeps_preprocessing_float(variants):
    from edgelite.convert.graph import float_op_summary

    for v, kind in (("int8", "int8"), ("int16x8", "int16")):
        s = float_op_summary(Path(variants[v]).read_bytes())
        # NaN mask, select, the statistics and the channel GATHER on the raw input stay float.
        for op in ("SELECT_V2", "SUM", "DIV", "GATHER"):
            assert op in s["float"] and op not in s[kind], (v, op, s)
        for op in ("CONV_2D", "FULLY_CONNECTED", "SOFTMAX"):
            assert op in s[kind], (v, op, s)
        assert s["other"].get("QUANTIZE") == 1, (v, s)  # one float → integer boundary, after the preprocessing


def test_hard_inputs_widen_ranges_only_moderately():
    """All-NaN windows may widen a range a little (covered), a T=1 blow-up may not (saturates)."""
    from edgelite.convert.calibration import HARD_RANGE_FACTOR, merge_hard_ranges

    real = {"a": {"min": np.array([-1.0]), "max": np.array([2.0])}, "b": {"min": np.array([0.0]), "max": np.array([1.0])}}
    hard = {"a": {"min": np.array([-3.0]), "max": np.array([2.0])},
            "b": {"min": np.array([-7e5]), "max": np.array([1.0])}}
    out, widened, refused = merge_hard_ranges(real, hard)
    assert out["a"] is hard["a"] and out["b"] is real["b"] and (widened, refused) == (1, 1)
    assert 3.0 <= HARD_RANGE_FACTOR * 2.0 < 7e5


def test_preprocessing_found_by_name_scope(tmp_path, run_dir):
    """A model whose preprocessing sits under ``edgelite_preprocess/`` is split by scope (a regex
    recipe), not by graph structure; the NaN masking before the network stays float in int8."""
    import keras
    import tensorflow as tf

    from edgelite.convert.calibration import load_calibration
    from edgelite.convert.export import export_tflite
    from edgelite.convert.graph import float_op_summary
    from edgelite.convert.quantize import PREPROCESS_SCOPE, quantize_model
    from edgelite.runtime.core.metadata import make_metadata

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8, 3)), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])

    def serve(x):
        with tf.name_scope(PREPROCESS_SCOPE):
            x = tf.where(tf.math.is_nan(x), tf.zeros_like(x), x)
            idx = tf.cast(tf.round(tf.linspace(0.0, tf.cast(tf.shape(x)[0], tf.float32) - 1.0, 8)), tf.int32)
            x = tf.gather(x, idx)[None]
        return m(x)[0]

    meta = make_metadata("accel", list("abcd"), {"name": "accel", "dtype": "float32", "shape": [-1, 3]},
                         {"name": "probabilities", "kind": "probabilities"}, {})
    fp32 = export_tflite(m, serve, "accel", [None, 3], "probabilities", meta, tmp_path / "m.tflite")
    cal = load_calibration(run_dir / "eval_data.npz", max_samples=20)
    data, rep = quantize_model(fp32, "int8", "accel", cal, min_length=1)
    assert rep["preprocessing_found_by"] == "name scope"
    assert any(r["regex"].find(PREPROCESS_SCOPE) >= 0 and r["algorithm_key"] == "no_quantize" for r in rep["recipe"])
    s = float_op_summary(data)
    assert "SELECT_V2" in s["float"] and "GATHER" in s["float"] and "FULLY_CONNECTED" in s["int8"], s


def test_int8_nan_and_edge_lengths(variants, reference):
    from edgelite.convert.parity import edge_inputs
    from edgelite.runtime.core.model import EdgeModel

    ev, ref, _ = reference
    m = EdgeModel.open(variants["int8"], num_threads=1, validate=False)  # the graph's own NaN/T=1 handling
    cases = edge_inputs(ev.samples[0])
    assert {"all_nan", "nan_30pct_rows", "one_channel_nan", "T=2", "T=1"} <= set(cases)
    for name, x in cases.items():
        want = ref(x)
        got = m.predict(x)
        assert np.isfinite(got).all(), name
        assert abs(float(got.sum()) - 1.0) < 0.02, name
        assert np.abs(got - want).max() < 0.06, (name, got, want)
        assert np.argmax(got) == np.argmax(want) or np.sort(want)[-1] - np.sort(want)[-2] < 0.05, name
    # NaN rows are really handled (filled with the channel mean), not quantized into some value.
    x = ev.samples[1].copy()
    x_nan = x.copy()
    x_nan[::4] = np.nan
    filled = np.where(np.isnan(x_nan), np.nanmean(x_nan, axis=0), x_nan)
    assert np.abs(m.predict(x_nan) - m.predict(filled)).max() < 1e-6


def test_int8_requires_calibration(run_dir, tmp_path):
    from edgelite.convert.calibration import load_calibration
    from edgelite.convert.quantize import convert_variant
    from edgelite.runtime.core.errors import DataError

    meta = json.loads((run_dir / "metadata.json").read_text())
    for v in ("int8", "int16x8"):
        with pytest.raises(DataError, match="calibration"):
            convert_variant(run_dir / "saved_model", v, meta, None)
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(DataError, match="calib_x_flat"):
        load_calibration(bad)
    np.savez(bad, calib_x_flat=np.zeros((5, 3), np.float32), calib_lengths=np.array([2, 2], np.int64))
    with pytest.raises(DataError, match="lengths sum to 4"):
        load_calibration(bad)


def test_flex_model_rejected_naming_the_op(tmp_path):
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.errors import ModelError
    from edgelite.runtime.core.metadata import make_metadata

    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    meta = make_metadata("accel", ["a", "b"], {"name": "x", "dtype": "float32", "shape": [-1, 4]},
                         {"name": "y", "kind": "probabilities"}, {})
    with pytest.raises(ModelError, match=r"Cumprod.*Flex|Flex.*Cumprod|not TFLite builtins \(Cumprod\)"):
        export_tflite(m, lambda x: m(tf.math.cumprod(x, axis=0)[-1:])[0], "x", [None, 4], "y", meta,
                      tmp_path / "flex.tflite")
    assert not (tmp_path / "flex.tflite").exists()


@pytest.mark.parametrize("variant", VARIANTS)
def test_inspect_each_variant(variants, variant, capsys):
    from edgelite.cli import main
    from edgelite.convert.inspection import inspect_model, render_text

    d = inspect_model(variants[variant])
    sig = d["signatures"]["serving_default"]
    assert sig["inputs"]["accel"] == {"tensor": "serving_default_accel:0", "dtype": "FLOAT32", "shape": [-1, 3]} or \
        sig["inputs"]["accel"]["shape"] == [-1, 3]
    assert sig["outputs"]["probabilities"]["shape"] == [3]
    assert d["labels"] == ["user1", "user2", "user3"]
    assert d["flex_check"].startswith("ok")
    qs = d["quantization_summary"]
    assert qs["variant"] == variant
    expect = {"fp32": "float32", "fp16": "float16 weights", "int8-dynamic": "int8 weights (dynamic range)",
              "int4-weights": "int4 weights (weight-only)", "int8": "int8 (full-integer) with float parts",
              "int16x8": "int16x8 (full-integer) with float parts"}[variant]
    assert qs["kind"] == expect
    if variant == "fp32":
        assert qs["quantized_tensors"] == 0
    if variant == "int8":
        assert any(t["per_channel"] for t in d["quantized_tensor_list"])
    text = render_text(d)
    assert "input  accel: float32 [-1, 3]" in text and "flex check: ok" in text
    assert d["standard_metadata"]["labels"] == ["user1", "user2", "user3"]
    assert "standard metadata: 'edgelite-accel'" in text and "labels.txt: 3 labels" in text
    assert main(["inspect", variants[variant], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["op_histogram"] == d["op_histogram"]


def test_bad_model_files_give_clear_errors(variants, tmp_path, capsys):
    from edgelite.cli import main
    from edgelite.convert.inspection import inspect_model
    from edgelite.runtime.core.errors import ModelError

    good = Path(variants["fp32"]).read_bytes()
    cases = {
        "trunc.tflite": (good[: len(good) // 3], "truncated"),
        "tiny.tflite": (good[:10], "too small"),
        "empty.tflite": (b"", "too small"),
        "notes.tflite": (b"just some text, definitely not a model\n" * 3, "not a TFLite model"),
        "bundle.task": (b"PK\x03\x04" + b"\x00" * 60, "zip"),
    }
    for name, (data, msg) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ModelError, match=msg) as ei:
            inspect_model(p)
        assert str(p) in str(ei.value)
        assert main(["inspect", str(p)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("edgelite: error:") and str(p) in err and "\n" not in err
    with pytest.raises(ModelError, match="not found"):
        inspect_model(tmp_path / "missing.tflite")


def test_standard_metadata_read_back_by_mediapipe(variants):
    """Standard TFLite metadata (name, tensor descriptions, labels.txt) as MediaPipe's displayer sees
    it, next to the edgelite entry that the TF-free reader still finds."""
    from mediapipe.tasks.python.metadata import metadata as mdm

    from edgelite.convert.standard_metadata import read_standard_metadata
    from edgelite.runtime.core.modelfile import read_metadata

    for v in ("fp32", "int8"):
        buf = Path(variants[v]).read_bytes()
        disp = mdm.MetadataDisplayer.with_model_buffer(bytearray(buf))
        md = json.loads(disp.get_metadata_json())
        assert md["name"] == "edgelite-accel" and f"variant {v}" in md["description"]
        sub = md["subgraph_metadata"][0]
        assert sub["input_tensor_metadata"][0]["name"] == "accel"
        assert "m/s^2" in sub["input_tensor_metadata"][0]["description"]
        out = sub["output_tensor_metadata"][0]
        assert out["name"] == "probabilities"
        assert out["associated_files"][0] == {"name": "labels.txt", "description": out["associated_files"][0]["description"],
                                             "type": "TENSOR_AXIS_LABELS"}
        assert disp.get_packed_associated_file_list() == ["labels.txt"]
        assert disp.get_associated_file_buffer("labels.txt").decode().splitlines() == ["user1", "user2", "user3"]
        assert read_standard_metadata(buf)["labels"] == ["user1", "user2", "user3"]
        edl = read_metadata(variants[v])  # TF-free reader: the edgelite entry survives the zip append
        assert edl["labels"] == ["user1", "user2", "user3"] and edl["quantization"]["variant"] == v


def test_private_tf_apis_fail_loudly(monkeypatch):
    """The adapter names the missing internal API and the TensorFlow version instead of misbehaving."""
    import importlib

    import tensorflow as tf

    from edgelite.convert import tfcompat

    fbu = importlib.import_module("tensorflow.lite.tools.flatbuffer_utils")
    from edgelite.runtime.core.errors import ModelError

    monkeypatch.delattr(fbu, "convert_bytearray_to_object")
    with pytest.raises(ModelError, match=rf"TensorFlow {tf.__version__} has no .*convert_bytearray_to_object"):
        tfcompat.to_object(b"")
    schema = importlib.import_module("tensorflow.lite.python.schema_py_generated")
    monkeypatch.delattr(schema, "MetadataT")
    with pytest.raises(ModelError, match=rf"TensorFlow {tf.__version__} has no .*MetadataT"):
        tfcompat.schema()


def test_runtime_compatibility(variants, run_dir, tmp_path):
    import tensorflow as tf

    from edgelite.convert.compat import (LITERT, TFLITE214, check_compat, ensure_tflite214_env, static_blockers,
                                         variant_loads_in)
    from edgelite.convert.export import converter_from_saved_model

    paths = list(variants.values())
    res = check_compat(paths, runtimes=(LITERT,), build_env=False, length=N)
    for p in paths:
        assert res[os.path.abspath(p)][LITERT]["ok"] is True, res
    # int4 is refused for 2.14 from the file alone (what `export --target pi` asks before bundling)
    r = variant_loads_in(variants["int4-weights"], TFLITE214, measure=False)
    assert r["ok"] is False and "INT4" in r["reasons"][0]
    assert static_blockers(variants["int8"], TFLITE214) == [] and static_blockers(variants["int4-weights"], LITERT) == []
    py, note = ensure_tflite214_env(build=False)
    if py is None:  # under CI the environment is part of the run (make compat-env): missing = failure
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(f"tflite-runtime 2.14 environment not available: {note}")
    # The default dynamic-range conversion (per-channel dense) is what 2.14 rejects.
    conv = converter_from_saved_model(str(run_dir / "saved_model"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    default_dyn = tmp_path / "default_dynamic.tflite"
    default_dyn.write_bytes(conv.convert())
    res = check_compat(paths + [str(default_dyn)], runtimes=(TFLITE214,), build_env=False, length=N)
    # the 2.14 load matrix: everything but int4 loads and runs (standard metadata and all)
    for v, p in variants.items():
        assert res[os.path.abspath(p)][TFLITE214]["ok"] is (v != "int4-weights"), (v, res[os.path.abspath(p)])
    assert "DEQUANTIZE" in res[os.path.abspath(variants["int4-weights"])][TFLITE214]["error"]
    bad = res[str(default_dyn)][TFLITE214]
    assert bad["ok"] is False and "FULLY_CONNECTED" in bad["error"] and "12" in bad["error"]
    assert "FULLY_CONNECTED version 12" in static_blockers(default_dyn, TFLITE214)[0]


def test_convert_command_writes_report(run_dir, tmp_path, capsys):
    from edgelite.cli import main

    out = tmp_path / "conv"
    rc = main(["convert", str(run_dir), "--variants", "fp32,int8", "--out", str(out), "--latency-runs", "200",
               "--no-build-env"])
    assert rc == 0
    rep = json.loads((out / "convert.json").read_text())
    assert set(rep["variants"]) == {"fp32", "int8"}
    val = rep["variants"]["int8"]["validation"]  # the quantizer's per-tensor numbers on real samples
    (name, o), = val["outputs"].items()
    assert o["snr_db"] > 10 and o["cosine_similarity"] > 0.95 and val["samples"] > 0, val
    assert val["worst_intermediate"] and all("snr_db" in m for m in val["worst_intermediate"].values())
    q = rep["variants"]["int8"]["quantization"]
    assert q["preprocessing_found_by"] == "structure" and q["calibration"]["hard_inputs"] > 0
    assert rep["variants"]["fp32"]["validation"] is None
    for v, row in rep["variants"].items():
        assert (out / f"model_{v}.tflite").stat().st_size == row["size_bytes"]
        assert row["parity"]["n"] == rep["eval"]["n_samples"] > 20
        assert row["latency"]["runs"] == 200 and row["latency"]["threads"] == 1 and row["latency"]["median_ms"] > 0
        assert "ai-edge-litert" in row["loads_in"]
        assert all(e["finite"] for e in row["edge_inputs"].values()), row["edge_inputs"]
        assert row["op_versions"] and row["ops"]
    assert rep["variants"]["fp32"]["parity"]["max_abs_diff"] < 1e-5
    assert rep["variants"]["int8"]["parity"]["top1_agreement"] >= 0.9
    md = (out / "convert.md").read_text()
    assert "| int8 |" in md and "| fp32 |" in md and "max abs diff" in md
    # errors are one clear line
    assert main(["convert", str(run_dir), "--variants", "fp33", "--out", str(out)]) == 2
    assert "unknown variant 'fp33'" in capsys.readouterr().err
    assert main(["convert", str(run_dir / "model.tflite"), "--variants", "int8", "--out", str(out)]) == 2
    assert "SavedModel" in capsys.readouterr().err


@pytest.mark.parametrize("target,files", [
    ("android", {"ModelRunner.kt", "README.md"}),
    ("ios", {"ModelRunner.swift", "README.md"}),
])
def test_export_bundle(variants, target, files, tmp_path, accel_dir):
    from edgelite.cli import main
    from edgelite.runtime.core.modelfile import read_metadata

    model = variants["int8-dynamic"]
    out = tmp_path / target
    assert main(["export", model, "--target", target, "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == files | {"model_int8-dynamic.tflite", "labels.txt", "metadata.json"}
    assert (out / "labels.txt").read_text().splitlines() == ["user1", "user2", "user3"]
    assert json.loads((out / "metadata.json").read_text()) == read_metadata(model)
    readme = (out / "README.md").read_text()
    assert "`accel`" in readme and "`probabilities`" in readme
    example = (out / sorted(files - {"README.md"})[0]).read_text()
    assert '"accel"' in example and '"probabilities"' in example and '"serving_default"' in example
    assert "$" not in example.replace("$label", "").replace("$p", "").replace("$0", "").replace("$1", "")
    # the pi bundle (wheels/, install.sh, run_model.py = edgelite predict) is tested in tests/test_bundle_pi.py
