"""Accelerometer model: NumPy ↔ TF preprocessing parity, TF ↔ .tflite parity, edge inputs, end-to-end CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.accel import features as af
from edgelite.runtime.accel.io import read_recordings
from edgelite.runtime.accel.windows import recording_samples


@pytest.fixture(scope="module")
def real_windows(accel_dir) -> dict[str, np.ndarray]:
    """Real windows from three datasets at their model rates, fitted to n samples."""
    out = {}
    for name, path, fmt, rate, win in [
        ("uci", accel_dir / "uci-walking/Dataset", "continuous", 33.0, 1.5),
        ("wand", accel_dir / "magic-wand", "magic-wand", 25.0, 3.0),
        ("shapes", accel_dir / "sensorlogger-wand/training/square", "sensorlogger", 50.0, 4.0),
    ]:
        recs = read_recordings(path, fmt=fmt)[:6]
        n = int(round(rate * win))
        xs = [x for r in recs for x, _, _ in recording_samples(r.data, r.t, r.rate_hz, rate, win, win)][:40]
        out[name] = np.stack([af.fit_length(af.clean(x), n) for x in xs])
    return out


def test_numpy_vs_tf_features_on_real_windows(real_windows):
    from edgelite.train.accel.model import feature_extractor

    for name, w in real_windows.items():
        tf_feats = feature_extractor(w.shape[1]).predict(w, verbose=0)
        np_feats = af.window_features(af.add_magnitude(w))
        assert tf_feats.shape == np_feats.shape == (len(w), len(af.feature_names()))
        err = np.abs(tf_feats - np_feats).max()
        assert err <= 1e-4, f"{name}: max abs feature difference {err}"
        assert np.isfinite(np_feats).all()


def test_numpy_vs_tf_window_scale_on_real_windows(real_windows):
    """``scale="window"`` (the gesture formats' default): the twins agree on real windows and on a flat
    (still) window, where the RMS floor keeps the output small and finite instead of blowing noise up."""
    import tensorflow as tf

    from edgelite.train.accel import model as am

    flat = np.full((1, 50, 3), [0.1, -9.81, 0.3], np.float32)
    for name, w in {**real_windows, "flat": flat}.items():
        ref = af.signal(w, "window")
        got = am.AccelSignal("window")(tf.constant(w)).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-4, err_msg=name)
        assert np.isfinite(ref).all()
        if name != "flat":  # RMS r → r / sqrt(r² + SCALE_EPS) (≈ 1 for any real motion), zero mean per axis
            d = w - w.mean(axis=1, keepdims=True)
            r2 = np.mean(d.astype(np.float64) ** 2, axis=(1, 2))
            np.testing.assert_allclose(np.sqrt(np.mean(ref[..., :3].astype(np.float64) ** 2, axis=(1, 2))),
                                       np.sqrt(r2 / (r2 + af.SCALE_EPS)), rtol=1e-4, err_msg=name)
            np.testing.assert_allclose(ref[..., :3].mean(axis=1), 0.0, atol=1e-4, err_msg=name)
    assert np.abs(af.signal(flat, "window")).max() < 1e-3
    ref = af.signal(real_windows["shapes"], "window")
    np.testing.assert_allclose(af.signal(real_windows["shapes"] + np.float32(3.0), "window"), ref, atol=1e-4)  # offset
    big = af.signal(real_windows["shapes"] * 2.5, "window")  # size, up to the RMS floor's share (< 2 % here)
    np.testing.assert_allclose(big, ref, rtol=2e-2, atol=1e-3)
    assert np.abs(big).max() > 1.0 and not np.allclose(big, 2.5 * ref, rtol=0.1)
    with pytest.raises(ValueError, match="scale"):
        af.signal(flat, "per-axis")


@pytest.mark.parametrize("features,temporal", [(False, 12), (True, 12)])
def test_gesture_architecture_matches_numpy_preprocessing(real_windows, features, temporal):
    """The window model's ``signal`` layer output equals the NumPy twin's ``preprocess`` on raw recordings,
    and time-warp augmentation is the identity outside training."""
    import keras

    from edgelite.train.accel.model import build_model, fit_length_tf

    w = real_windows["shapes"]
    n = w.shape[1]
    f = len(af.feature_names())
    keras.utils.set_random_seed(0)
    core = build_model(n, 2, (np.zeros(f), np.ones(f)), (np.zeros(4), np.ones(4)), width=16, augment_deg=0,
                       scale="window", temporal=temporal, features=features, warp=0.25)
    assert ("features" in [lay.name for lay in core.layers]) is features
    sig_model = keras.Model(core.inputs, core.get_layer("signal").output)
    raw = w[3, 20:150]  # a short recording: padded to n by the graph's fit_length
    ref_sig, _ = af.preprocess(raw, n, mode="pad", scale="window")
    got = sig_model.predict(fit_length_tf(raw, n, "pad").numpy()[None], verbose=0)[0]
    np.testing.assert_allclose(got, ref_sig, atol=1e-4)
    np.testing.assert_array_equal(core.get_layer("time_warp")(w[:4], training=False).numpy(), w[:4])
    warped = core.get_layer("time_warp")(w[:4], training=True).numpy()
    assert warped.shape == w[:4].shape and not np.allclose(warped, w[:4])


def test_twins_share_feature_order(real_windows):
    """Both twins compute every statistic of STATS by name, stacked in the runtime's order: a statistic
    added, renamed or reordered in one twin only fails here (and in the parity test above)."""
    import tensorflow as tf

    from edgelite.train.accel import model as am

    assert am.STATS is af.STATS and am.CHANNELS is af.CHANNELS  # imported, not rewritten
    sig = af.add_magnitude(real_windows["wand"][:8])
    assert sig.shape[-1] == len(af.CHANNELS)
    np.testing.assert_allclose(am.AccelSignal()(tf.constant(real_windows["wand"][:8])).numpy(), sig, atol=1e-5)
    for a, b in af.segments(sig.shape[1], 3):
        ref = af.segment_stats(sig[:, a:b].astype(np.float64))
        got = am.segment_stats_tf(tf.constant(sig[:, a:b]))
        assert list(ref) == list(af.STATS) and set(got) == set(af.STATS)
        for k in af.STATS:
            np.testing.assert_allclose(got[k].numpy(), ref[k], atol=1e-4, rtol=1e-4, err_msg=k)
    names = af.feature_names()
    feats = af.window_features(sig)
    i = names.index("w1.max.mag")  # a named feature sits where feature_names says
    a, b = af.segments(sig.shape[1], 3)[2]
    np.testing.assert_allclose(feats[:, i], sig[:, a:b, 3].max(axis=1), rtol=1e-6)


def test_end_to_end_model_keras_reloads_with_plain_load_model(real_windows, tmp_path):
    """model.keras = raw [B,T,3] → probabilities; a fresh process loads it after `import edgelite.train`."""
    import keras

    from edgelite.train.accel.model import build_model, end_to_end, serving_fn

    w = real_windows["uci"]
    n = w.shape[1]
    f = len(af.feature_names())
    keras.utils.set_random_seed(0)
    core = build_model(n, 3, (np.zeros(f), np.ones(f)), (np.zeros(4), np.ones(4)), width=16)
    core.compile("adam", "sparse_categorical_crossentropy")
    core.fit(w, np.arange(len(w)) % 3, epochs=2, batch_size=16, verbose=0)
    model = end_to_end(core, n, "stretch")
    raw = np.concatenate([w[:4], w[4:8]], axis=1)  # 2n samples: cropped to the centre n
    raw[0, 3, 1] = np.nan
    before = model.predict(raw, verbose=0)
    np.testing.assert_allclose(model.predict(w[:4], verbose=0), core.predict(w[:4], verbose=0), atol=1e-6)
    np.testing.assert_allclose(serving_fn(model, n)(raw[1]).numpy(), before[1], atol=1e-5)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "raw.npy", raw)
    code = ("import sys, numpy as np, keras, edgelite.train; m = keras.saving.load_model(sys.argv[1]); "
            "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))")
    r = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "raw.npy"), str(tmp_path / "out.npy")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    after = np.load(tmp_path / "out.npy")
    assert after.shape == (4, 3) and np.isfinite(after).all()
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_numpy_vs_tf_raw_input_handling():
    import tensorflow as tf

    from edgelite.train.accel.model import clean_tf, fit_length_tf

    rng = np.random.default_rng(0)
    for mode in af.FIT_MODES:
        for t_len in [1, 2, 3, 49, 50, 51, 151, 5000]:
            x = (rng.standard_normal((t_len, 3)) * 4).astype(np.float32)
            x[rng.random((t_len, 3)) < 0.1] = np.nan
            x[0, 2] = 1e9
            ref = af.fit_length(af.clean(x), 50, mode)
            got = fit_length_tf(clean_tf(tf.constant(x)), 50, mode).numpy()
            np.testing.assert_allclose(got, ref, atol=1e-4, err_msg=f"T={t_len} {mode}")
            assert np.isfinite(ref).all()


def test_fit_length_is_identity_at_n_and_crops_the_centre():
    x = np.arange(60, dtype=np.float32)[:, None].repeat(3, 1)
    for mode in af.FIT_MODES:
        np.testing.assert_array_equal(af.fit_length(x[:50], 50, mode), x[:50])
        np.testing.assert_array_equal(af.fit_length(x, 50, mode), x[5:55])
    # pad keeps the time scale: a 10-sample gesture is centred, edges repeated
    p = af.fit_length(x[:10], 16, "pad")[:, 0]
    np.testing.assert_array_equal(p, [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9])
    s = af.fit_length(x[:10], 19, "stretch")[:, 0]
    np.testing.assert_allclose(s, np.linspace(0, 9, 19), atol=1e-6)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, accel_dir) -> Path:
    """A tiny real training run through the CLI: 3 UCI users, first 1,200 rows each, 3 epochs, 2 time folds."""
    data = tmp_path_factory.mktemp("uci3")
    for u in ["1", "4", "16"]:
        lines = (accel_dir / "uci-walking/Dataset" / f"{u}.csv").read_text().splitlines()[:1200]
        (data / f"{u}.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("run") / "uci3"
    r = subprocess.run([sys.executable, "-m", "edgelite", "train", "accel", "--data", str(data), "--format", "continuous",
                        "--epochs", "3", "--folds", "2", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["split"] == "time-block-k-fold"
    return out


def test_run_artefacts(small_run):
    for f in ["model.keras", "model.tflite", "metadata.json", "report.json", "confusion_matrix.png",
              "training_curves.png", "eval_data.npz", "saved_model/saved_model.pb"]:
        assert (small_run / f).exists(), f
    rep = json.loads((small_run / "report.json").read_text())
    for k in ["accuracy", "macro_f1", "classes", "split", "n_train", "n_val", "per_class", "confusion_matrix"]:
        assert k in rep, k
    assert rep["classes"] == ["1", "4", "16"]
    assert np.array(rep["confusion_matrix"]).sum() == rep["n_val"]
    meta = json.loads((small_run / "metadata.json").read_text())
    from edgelite.train.accel.train import FORMAT_DEFAULTS

    n = round(33.0 * FORMAT_DEFAULTS["continuous"]["window"])
    assert meta["input"]["sample_rate_hz"] == pytest.approx(33.0) and meta["input"]["window_samples"] == n
    assert meta["preprocessing"]["scale"] == "none" and meta["preprocessing"]["n_features"] == len(af.feature_names())
    assert meta["labels"] == ["1", "4", "16"] and meta["input"]["units"] == "m/s^2"


def test_time_folds_never_overlap_in_time(accel_dir):
    from edgelite.train.accel.train import make_samples
    from edgelite.train.splits import time_block_folds

    recs = read_recordings(accel_dir / "uci-walking/Dataset", fmt="continuous")[:4]
    s = make_samples(recs, 33.0, 1.5, 0.25)
    for fold in time_block_folds(s.recording, s.start_s, s.end_s, 5, gap_s=1.5):
        for r in set(s.recording):
            tr = fold.train[s.recording[fold.train] == r]
            va = fold.val[s.recording[fold.val] == r]
            if len(tr) and len(va):
                v0, v1 = s.start_s[va].min(), s.end_s[va].max()
                # every training window ends ≥ 1 window before the held-out block or starts ≥ 1 window after it
                assert np.all((s.end_s[tr] <= v0 - 1.5 + 1e-6) | (s.start_s[tr] >= v1 + 1.5 - 1e-6)), r


def test_keras_vs_tflite_parity_on_real_windows(small_run):
    import keras

    import edgelite.train.accel.model  # noqa: F401  (registers the custom layers for loading)
    from edgelite.runtime.core.model import EdgeModel

    ev = np.load(small_run / "eval_data.npz", allow_pickle=False)
    xs = np.split(ev["x_flat"], np.cumsum(ev["lengths"])[:-1])[:50]
    model = keras.models.load_model(small_run / "model.keras")
    em = EdgeModel.open(small_run / "model.tflite")
    n = em.metadata["input"]["window_samples"]
    ref = model.predict(np.stack([af.fit_length(af.clean(x), n) for x in xs]), verbose=0)
    got = np.stack([em.predict(x) for x in xs])
    # float order differs (oneDNN vs XNNPACK); a mean-crossing count may flip on a near-zero sample
    assert np.abs(ref - got).max() < 2e-3
    assert np.median(np.abs(ref - got)) < 1e-6
    assert (ref.argmax(1) == got.argmax(1)).all()
    assert not np.isnan(got).any()
    # the report's accuracy is the .tflite's
    assert em.metadata["training"]["metrics"]["accuracy"] == json.loads((small_run / "report.json").read_text())["accuracy"]


@pytest.mark.parametrize("t_len", [1, 2, 3, 50, 51, 10_000])
def test_tflite_edge_lengths_and_nan(small_run, t_len):
    from edgelite.runtime.core.model import EdgeModel

    from edgelite.runtime.core.errors import DataError

    em = EdgeModel.open(small_run / "model.tflite")
    rng = np.random.default_rng(t_len)
    half_nan = rng.standard_normal((t_len, 3)).astype(np.float32)
    half_nan[::2] = np.nan
    for x in [rng.standard_normal((t_len, 3)).astype(np.float32) * 3, half_nan,
              np.full((t_len, 3), 1e30, np.float32)]:
        if t_len < 2:  # one sample is not a window: a clear error, never a confident class
            with pytest.raises(DataError, match="at least 2"):
                em.predict(x)
            continue
        p = em.predict(x)
        assert p.shape == (3,) and np.isfinite(p).all() and abs(p.sum() - 1) < 1e-4
    with pytest.raises(DataError, match="no finite values"):
        em.predict(np.full((max(t_len, 2), 3), np.nan, np.float32))


def test_predict_cli_json_lines(small_run, accel_dir):
    f = accel_dir / "uci-walking/Dataset/4.csv"
    r = subprocess.run([sys.executable, "-m", "edgelite", "predict", str(small_run / "model.tflite"), str(f), "--aggregate"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    # input = the path as given; no "true": a UCI file stem (the user id) is a name, not a known label
    assert len(rows) == 1 and rows[0]["input"] == str(f) and "true" not in rows[0]
    assert set(rows[0]["top"][0]) == {"label", "score"} and rows[0]["windows"] > 1
    assert rows[0]["label"] in ["1", "4", "16"] and len(rows[0]["top"]) == 3
    r = subprocess.run([sys.executable, "-m", "edgelite", "predict", str(small_run / "model.tflite"), str(f)],
                       capture_output=True, text=True, timeout=300)
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    n = json.loads((small_run / "metadata.json").read_text())["input"]["window_samples"]
    readings = len(f.read_text().splitlines()) - 1
    assert len(rows) >= readings // n - 1 and all({"input", "label", "score", "top", "t_start", "t_end"} <= set(x) for x in rows)


@pytest.mark.parametrize("content,expect", [
    ("", "empty"),
    ("1.0,2.0,3.0,4.0\n", "at least 2"),
    ("a,b,c,d\ne,f,g,h\n", "not a number"),
    ("1,2\n3,4\n5,6\n", "4 columns"),
])
def test_train_cli_bad_files_are_one_line_errors(tmp_path, content, expect):
    d = tmp_path / "data"
    d.mkdir()
    (d / "1.csv").write_text(content)
    (d / "2.csv").write_text(content)
    r = subprocess.run([sys.executable, "-m", "edgelite", "train", "accel", "--data", str(d), "--format", "continuous",
                        "--out", str(tmp_path / "out"), "--epochs", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("edgelite:")]
    assert len(err) == 1 and "1.csv" in err[0] and "Traceback" not in r.stderr, r.stderr
    assert expect in err[0]


def test_strict_turns_malformed_rows_into_errors(tmp_path, accel_dir):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(accel_dir / "uci-walking/Dataset/11.csv", d / "11.csv")
    r = subprocess.run([sys.executable, "-m", "edgelite", "train", "accel", "--data", str(d), "--format", "continuous",
                        "--out", str(tmp_path / "out"), "--strict"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "11.csv line 1608" in r.stderr, r.stderr
