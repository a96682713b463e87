"""Robust models: an ensemble exported as ONE .tflite equals the mean of its members on real samples (both
modalities, both runtimes), seed spread in report.json, and the demo's held-out tail is never trained on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

USERS = ["1", "4", "16"]


def _tflite_outputs(path, xs):
    """An accel .tflite (ai-edge-litert) on raw ``[T,3]`` samples → ``[N, C]``."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1, validate=False)
    return np.stack([m.predict(x) for x in xs])


def _tflite214(paths: list[str], xs: list[np.ndarray], input_name: str) -> list[np.ndarray] | None:
    """Outputs of every model in ``paths`` on ``xs``, run by tflite-runtime 2.14 (None when its env is missing)."""
    from edgelite.convert.compat import ensure_tflite214_env

    py, note = ensure_tflite214_env(build=False)
    if py is None:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(f"tflite-runtime 2.14 environment not available: {note}")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "x.npz"), *xs)
        script = (
            "import sys, numpy as np\n"
            "from tflite_runtime.interpreter import Interpreter\n"
            "z = np.load(sys.argv[1]); xs = [z[f'arr_{i}'] for i in range(len(z.files))]\n"
            "for k, p in enumerate(sys.argv[3:]):\n"
            "    run = Interpreter(model_path=p, num_threads=1).get_signature_runner('serving_default')\n"
            "    out = [list(run(**{sys.argv[2]: x}).values())[0] for x in xs]\n"
            "    np.save(sys.argv[1] + f'.{k}.npy', np.stack(out))\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        r = subprocess.run([py, "-c", script, os.path.join(tmp, "x.npz"), input_name, *paths], capture_output=True,
                           text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        return [np.load(os.path.join(tmp, f"x.npz.{k}.npy")) for k in range(len(paths))]


@pytest.fixture(scope="module")
def accel_windows(accel_dir):
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.train.accel.train import make_samples

    recs = [r for r in read_recordings(accel_dir / "uci-walking/Dataset", fmt="continuous") if r.name in USERS]
    s = make_samples(recs, 33.0, 1.5, 0.5)
    y = np.array([USERS.index(v) for v in s.label])
    return s, y


@pytest.fixture(scope="module")
def accel_ensemble(accel_windows, tmp_path_factory):
    """Three members (different seeds, one epoch on real windows), each and their ensemble exported."""
    import keras

    from edgelite.runtime.core.metadata import make_metadata
    from edgelite.convert.export import export_tflite
    from edgelite.train.accel.model import build_model, serving_fn
    from edgelite.train.accel.train import _fit_all, _stats
    from edgelite.train.ensemble import ensemble_model

    s, y = accel_windows
    w = _fit_all(s.x, 50, "stretch")
    fst, sst = _stats(w, 3)
    members = []
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        m = build_model(50, 3, fst, sst, width=32, augment_deg=0)
        m.compile("adam", "sparse_categorical_crossentropy")
        m.fit(w[seed::3], y[seed::3], epochs=1, batch_size=64, verbose=0)
        members.append(m)
    out = tmp_path_factory.mktemp("accel_ens")
    meta = make_metadata("accel", USERS, {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2",
                                          "sample_rate_hz": 33.0, "window_samples": 50, "min_samples": 2},
                         {"name": "probabilities", "kind": "probabilities", "shape": [3]},
                         {"name": "accel-window-stats/1"}, {"data": "uci-walking users 1,4,16"})
    paths = []
    for i, m in enumerate(members + [ensemble_model(members)]):
        p = out / ("ensemble.tflite" if i == len(members) else f"member{i}.tflite")
        export_tflite(m, serving_fn(m, 50), "accel", [None, 3], "probabilities", meta, p)
        paths.append(str(p))
    return paths, members


def test_accel_ensemble_tflite_is_the_mean_of_its_members(accel_ensemble, accel_windows):
    from edgelite.runtime.core.modelfile import read_model_info

    paths, _ = accel_ensemble
    s, _ = accel_windows
    xs = [s.x[i] for i in np.linspace(0, len(s.x) - 1, 60).astype(int)]
    xs[0] = xs[0].copy()
    xs[0][::3, 1] = np.nan  # missing values go through the one in-graph preprocessing too
    xs.append(np.concatenate(xs[1:4]))  # a longer recording (cropped in the graph)
    outs = [_tflite_outputs(p, xs) for p in paths]
    mean = np.mean(outs[:-1], axis=0)
    assert np.abs(outs[-1] - mean).max() < 1e-5
    spread = max(np.abs(outs[i] - outs[j]).max() for i in range(3) for j in range(i))
    assert spread > 1e-2  # the members really differ: the comparison can fail
    info = read_model_info(paths[-1])
    sig = info.signatures["serving_default"]
    assert list(sig.inputs) == ["accel"] and sig.inputs["accel"].shape_signature == [-1, 3]
    assert list(sig.outputs) == ["probabilities"] and not info.custom_ops and not info.flex_ops
    # the raw-input part (NaN fill, crop/stretch) runs once, not once per member
    single = read_model_info(paths[0]).op_histogram
    assert info.op_histogram.get("FLOOR", 0) == single.get("FLOOR", 0) == 1


def test_accel_ensemble_in_tflite_runtime_214(accel_ensemble, accel_windows):
    paths, _ = accel_ensemble
    s, _ = accel_windows
    xs = [s.x[i] for i in range(0, len(s.x), max(1, len(s.x) // 20))]
    outs = _tflite214(paths, xs, "accel")
    assert np.abs(outs[-1] - np.mean(outs[:-1], axis=0)).max() < 1e-5
    np.testing.assert_allclose(outs[-1], _tflite_outputs(paths[-1], xs), atol=1e-5)  # same numbers as ai-edge-litert


@pytest.fixture(scope="module")
def sign_ensemble(shared, tmp_path_factory):
    """Two tiny sign models (different seeds) and their ensemble, exported with the Kaggle signature."""
    import keras

    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.ensemble import ensemble_model
    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.train import export_sign_model, sign_metadata

    pre = SignPreprocessConfig(landmark_set="hands", max_len=24)
    members = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        members.append(build_sign_model(pre.max_len, pre.num_features, 2, "tiny"))
    out = tmp_path_factory.mktemp("sign_ens")
    paths = []
    for i, m in enumerate(members + [ensemble_model(members)]):
        p = out / ("ensemble.tflite" if i == len(members) else f"member{i}.tflite")
        export_sign_model(m, pre, sign_metadata(pre, ["hello", "thankyou"], {"data": "test"}), str(p))
        paths.append(str(p))
    return paths


def _asl_sequences(shared: Path, n: int = 8) -> list[np.ndarray]:
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence

    samples = list_asl_signs(shared / "data" / "asl-signs")
    return [read_parquet_sequence(samples[i].path) for i in np.linspace(0, len(samples) - 1, n).astype(int)]


def test_sign_ensemble_tflite_is_the_mean_of_its_members(sign_ensemble, shared):
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.core.modelfile import read_model_info

    xs = _asl_sequences(shared)
    outs = []
    for p in sign_ensemble:
        m = EdgeModel.open(p, num_threads=1)
        outs.append(np.stack([m(inputs=x)["outputs"] for x in xs]))
    assert np.abs(outs[-1] - (outs[0] + outs[1]) / 2).max() < 1e-5
    assert np.abs(outs[0] - outs[1]).max() > 1e-3
    info = read_model_info(sign_ensemble[-1])
    sig = info.signatures["serving_default"]
    assert list(sig.inputs) == ["inputs"] and sig.inputs["inputs"].shape_signature == [-1, 543, 3]
    assert list(sig.outputs) == ["outputs"] and not info.custom_ops and not info.flex_ops
    outs214 = _tflite214(sign_ensemble, xs, "inputs")
    assert np.abs(outs214[-1] - (outs214[0] + outs214[1]) / 2).max() < 1e-5
    np.testing.assert_allclose(outs214[-1], outs[-1], atol=1e-5)


def test_ensemble_kind_rules():
    from edgelite.runtime.core.errors import EdgeliteError
    from edgelite.train.ensemble import resolve_kind, seed_list

    assert resolve_kind(None, True, 5) == "none" and resolve_kind(None, True, 5, 3) == "seeds"
    assert resolve_kind(None, False, 5, 3) == "none" and resolve_kind("seeds", True, 1, 2) == "seeds"
    assert resolve_kind("folds", True, 5) == "folds"
    with pytest.raises(EdgeliteError, match="at least 2 seeds"):
        resolve_kind("seeds", True, 5, 1)
    with pytest.raises(EdgeliteError, match="fold 1"):
        resolve_kind("folds", False, 5)
    with pytest.raises(EdgeliteError, match="at least 2"):
        resolve_kind("folds", True, 1)
    with pytest.raises(EdgeliteError, match="expected one of"):
        resolve_kind("bag", True, 5)
    assert seed_list(3, 2) == [3, 4]
    with pytest.raises(EdgeliteError, match="at least 1"):
        seed_list(0, 0)


# ------------------------------------------------------------------------------ held-out tail
def test_holdout_tail_rows_are_never_in_training_windows(accel_dir, tmp_path):
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.train.accel.train import make_samples
    from edgelite.train.holdout import split_tail, write_tail_csvs

    recs = read_recordings(accel_dir / "uci-walking/Dataset", fmt="continuous")
    train, test, info = split_tail(recs, 10.0)
    s = make_samples(train, 33.0, 1.5, 0.25)
    for rec, tr, te, inf in zip(recs, train, test, info):
        assert len(tr.data) + len(te.data) == len(rec.data) and len(te.data) > 250
        assert tr.t.max() < inf["cut_s"] <= te.t.min()
        ends = s.end_s[s.recording == rec.name]
        # training windows are cut from the training rows alone: the last sample of every window (at
        # end - 1/rate) lies at or before the last training row, i.e. before the cut
        assert len(ends) and ends.max() - 1 / 33.0 <= tr.t.max() + 1e-6 < inf["cut_s"], rec.name
    files = write_tail_csvs(str(tmp_path), test)
    seven = [f for f in files if f.endswith(os.sep + "7.csv")][0]
    rows = np.genfromtxt(seven, delimiter=",")
    src = np.genfromtxt(accel_dir / "uci-walking/Dataset/7.csv", delimiter=",")
    cut = [i for i in info if i["recording"] == "7"][0]["file_cut_t"]
    tail = src[src[:, 0] >= cut - 1e-6]
    assert rows.shape == tail.shape  # exactly the file's last rows ...
    np.testing.assert_allclose(rows, tail, rtol=1e-6, equal_nan=True)
    # ... and none of them before the cut of any training window
    assert rows[:, 0].min() >= cut - 1e-6 and src[:, 0].max() - cut == pytest.approx(10.0, abs=0.05)
    back = read_recordings(seven, fmt="continuous")[0]  # the demo's input reads back as a recording
    assert len(back.data) == len(tail)


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory, accel_dir) -> Path:
    """A tiny real CLI run: 3 UCI users (first 1,200 rows), 2 folds × 2 seeds, 2 epochs, 8 s tails held out,
    1.5 s windows (50 samples; the format's default is 5 s)."""
    data = tmp_path_factory.mktemp("uci3s")
    for u in USERS:
        lines = (accel_dir / "uci-walking/Dataset" / f"{u}.csv").read_text().splitlines()[:1200]
        (data / f"{u}.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("run") / "seeds"
    r = subprocess.run([sys.executable, "-m", "edgelite", "train", "accel", "--data", str(data), "--format", "continuous",
                        "--epochs", "2", "--folds", "2", "--seeds", "2", "--ensemble", "folds", "--holdout-tail", "8", "--width", "32",
                        "--window", "1.5",
                        "--out", str(out)], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_report_has_mean_and_sd_over_seeds_and_the_ensemble(seeds_run):
    rep = json.loads((seeds_run / "report.json").read_text())
    cv = rep["cv"]
    assert cv["seeds"] == [0, 1] and cv["n_seeds"] == 2 and cv["n_runs"] == 4 and rep["seeds"] == [0, 1]
    accs = [f["accuracy"] for f in rep["split"]["folds"]]
    assert [f["seed"] for f in rep["split"]["folds"]] == [0, 0, 1, 1]
    assert cv["accuracy_mean"] == pytest.approx(np.mean(accs)) and cv["accuracy_sd"] == pytest.approx(np.std(accs, ddof=1))
    assert {"macro_f1_mean", "macro_f1_sd", "per_seed", "pooled_accuracy_sd_over_seeds"} <= set(cv)
    assert [p["seed"] for p in cv["per_seed"]] == [0, 1]
    ens = rep["ensemble"]
    assert ens["kind"] == "folds" and ens["members"] == 4 and ens["seeds"] == [0, 1]
    assert rep["final_fit"]["ensemble"] == ens and rep["counts"]["shipped_model"]["ensemble"] == ens
    meta = json.loads((seeds_run / "metadata.json").read_text())
    assert meta["training"]["final_fit"]["ensemble"]["members"] == 4 and meta["labels"] == USERS
    # the held-out tails: the shipped .tflite and each member on never-trained data
    t = rep["test"]
    assert t["n"] > 50 and len(t["members"]) == 4 and 0 <= t["accuracy"] <= 1 and "members_sd" in t
    assert rep["holdout"]["tail_s"] == 8 and sorted(rep["holdout"]["files"]) == sorted(f"holdout/{u}.csv" for u in USERS)
    from edgelite.runtime.core.evaldata import read_eval_data

    ev = read_eval_data(seeds_run / "eval_data.npz")
    assert ev.heldout_for_model is True and len(ev.x) == t["n"]


def test_run_ensemble_equals_its_fold_models_and_converts(seeds_run, tmp_path):
    """The shipped model.tflite of a run is the mean of the fold models it names (rebuilt from model.keras)."""
    import keras

    import edgelite.train  # noqa: F401  (registers the edgelite layers)
    from edgelite.convert.pipeline import convert_run
    from edgelite.runtime.core.evaldata import read_eval_data

    km = keras.saving.load_model(seeds_run / "model.keras")
    inner = km.layers[-1]  # raw input layer → the ensemble window model
    members = [layer for layer in inner.layers if layer.name.startswith("member")]
    assert len(members) == 4
    ev = read_eval_data(seeds_run / "eval_data.npz")
    xs = ev.x[:40]
    from edgelite.runtime.accel import features as af

    w = np.stack([af.fit_length(af.clean(x), 50) for x in xs])
    mean = np.mean([m.predict(w, verbose=0) for m in members], axis=0)
    got = _tflite_outputs(seeds_run / "model.tflite", xs)
    assert np.abs(got - mean).max() < 1e-4
    res = convert_run(seeds_run, ["fp32", "int8-dynamic"], tmp_path / "convert", latency_runs=5, build_env=False,
                      runtimes=("ai-edge-litert",), log=lambda m: None)
    assert res["failed"] == [] and res.get("ensemble", {}).get("members") == 4
    for v in ("fp32", "int8-dynamic"):
        assert res["variants"][v]["accuracy"] >= 0.5 and "ai-edge-litert" in res["variants"][v]["loads_in"]


def test_ship_seeds_averages_every_seeds_final_fit():
    import keras

    from edgelite.train.ensemble import ship

    def fit_all(seed):
        keras.utils.set_random_seed(seed)
        inp = keras.Input((4,))
        return keras.Model(inp, keras.layers.Dense(3, activation="softmax")(inp), name="net"), 7

    sh = ship("seeds", [], [3, 4], fit_all, None, 100, [80, 80], "mean best epoch")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    mean = np.mean([m.predict(x, verbose=0) for m in sh.members], axis=0)
    np.testing.assert_allclose(sh.model.predict(x, verbose=0), mean, atol=1e-6)
    assert sh.record["used"] is True and sh.record["epochs"] == 7 and sh.record["ensemble"]["seeds"] == [3, 4]
    assert sh.record["ensemble"]["members"] == 2 and "2 final fits" in sh.describe()
    one = ship("none", [], [3], fit_all, None, 100, [80], "mean best epoch")
    assert one.record["used"] is True and "ensemble" not in one.record and len(one.members) == 1
