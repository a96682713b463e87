"""Sign model: NumPy vs TF preprocessing parity, signer splits, TF vs .tflite parity, Kaggle signature, end-to-end CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.layout import PARTS
from edgelite.runtime.signs.features import (
    HAND_SLOTS,
    LANDMARK_SETS,
    SignPreprocessConfig,
    mirror_permutation,
    select_points,
    sign_features,
)

N_REAL = 8
LH = slice(*PARTS["left_hand"])
RH = slice(*PARTS["right_hand"])


@pytest.fixture(scope="module")
def real_seqs(asl_root: Path) -> list[np.ndarray]:
    """Real parquet sequences plus edge cases: 1 frame, all-NaN hands, all-NaN, only a left hand, 2 frames."""
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence

    samples = list_asl_signs(asl_root)
    picks = [samples[i] for i in np.linspace(0, len(samples) - 1, N_REAL).astype(int)]
    seqs = [read_parquet_sequence(s.path) for s in picks]
    longest = max(seqs, key=len)
    one = seqs[1][:1].copy()
    no_hands = seqs[0].copy()
    no_hands[:, LH] = np.nan
    no_hands[:, RH] = np.nan
    all_nan = np.full((4, 543, 3), np.nan, np.float32)
    left_only = longest.copy()
    left_only[:, RH] = np.nan
    return seqs + [one, no_hands, all_nan, left_only, seqs[2][:2].copy()]


def _tf_fn(cfg):
    import tensorflow as tf

    from edgelite.train.signs.preprocess import tf_sign_features

    return tf.function(lambda x: tf_sign_features(x, cfg), input_signature=[tf.TensorSpec([None, 543, 3], tf.float32)])


@pytest.mark.parametrize("landmarks", LANDMARK_SETS)
def test_numpy_tf_preprocessing_parity(real_seqs, landmarks):
    cfg = SignPreprocessConfig(landmark_set=landmarks, max_len=24)
    fn = _tf_fn(cfg)
    for k, x in enumerate(real_seqs):
        f_np, m_np = sign_features(x, cfg)
        f_tf, m_tf = (t.numpy() for t in fn(x))
        assert f_np.shape == f_tf.shape == (cfg.max_len, cfg.num_features)
        assert np.isfinite(f_np).all()
        np.testing.assert_array_equal(m_np, m_tf)
        assert np.abs(f_np - f_tf).max() <= 1e-4, (landmarks, k)
    # the edge cases produce what they should: one real frame; all-NaN → all zeros with one... frames kept
    f, m = sign_features(real_seqs[N_REAL], cfg)
    assert m.sum() == 1
    f, m = sign_features(real_seqs[N_REAL + 2], cfg)
    assert m.sum() == 4 and not f.any()


def test_twins_share_hand_slots():
    """The hand slots come from the one layout and the TF twin imports them (no literal slices of its own)."""
    import inspect

    from edgelite.train.signs import preprocess as tp

    assert tp.HAND_SLOTS is HAND_SLOTS
    for ls in LANDMARK_SETS:
        idx = SignPreprocessConfig(landmark_set=ls).indices
        (l0, l1), (r0, r1) = HAND_SLOTS
        assert idx[l0:l1] == list(range(*PARTS["left_hand"])) and idx[r0:r1] == list(range(*PARTS["right_hand"]))
    src = inspect.getsource(tp) + inspect.getsource(__import__("edgelite.runtime.signs.features", fromlist=["x"]))
    for literal in ("0:21", "21:42", "h0 + 21", "(0, 21)", "42 * c", "21 * c"):
        assert literal not in src, f"a hand slice is written out again: {literal!r}"


def test_end_to_end_sign_model_reloads_with_plain_load_model(real_seqs, tmp_path):
    """model.keras = raw [B,T,543,3] → probabilities; a fresh process loads it after `import edgelite.train`."""
    import subprocess
    import sys

    import keras

    from edgelite.train.signs.model import build_sign_model, end_to_end
    from edgelite.train.signs.preprocess import make_serve_fn

    cfg = SignPreprocessConfig(landmark_set="hands", max_len=16)
    seqs = real_seqs[:N_REAL]
    f = np.stack([sign_features(x, cfg)[0] for x in seqs])
    m = np.stack([sign_features(x, cfg)[1] for x in seqs])
    keras.utils.set_random_seed(0)
    core = build_sign_model(cfg.max_len, cfg.num_features, 2, "tiny")
    core.compile("adam", "sparse_categorical_crossentropy")
    core.fit([f, m], np.arange(len(seqs)) % 2, epochs=2, batch_size=4, verbose=0)
    model = end_to_end(core, cfg.to_dict())
    t = 20
    batch = np.stack([x[:t] if len(x) >= t else np.concatenate([x, np.full((t - len(x), 543, 3), np.nan, np.float32)])
                      for x in seqs[:3]])
    before = model.predict(batch, verbose=0)
    ref = core.predict([np.stack([sign_features(x, cfg)[0] for x in batch]),
                        np.stack([sign_features(x, cfg)[1] for x in batch])], verbose=0)
    np.testing.assert_allclose(before, ref, atol=1e-5)  # the in-model preprocessing is the NumPy twin's
    np.testing.assert_allclose(make_serve_fn(model)(batch[0]).numpy(), before[0], atol=1e-5)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "raw.npy", batch)
    code = ("import sys, numpy as np, keras, edgelite.train; m = keras.saving.load_model(sys.argv[1]); "
            "np.save(sys.argv[3], m.predict(np.load(sys.argv[2]), verbose=0))")
    r = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "raw.npy"), str(tmp_path / "out.npy")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    after = np.load(tmp_path / "out.npy")
    assert after.shape == (3, 2) and np.isfinite(after).all()
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_dominant_hand_mirroring(real_seqs):
    """A left-handed sequence gives the same features as its mirror image (right hand)."""
    cfg = SignPreprocessConfig(landmark_set="hands+pose", max_len=32)
    x = real_seqs[N_REAL + 3]  # left hand only
    assert np.isnan(x[:, RH]).all() and (~np.isnan(x[:, LH, 0])).any()
    idx = cfg.indices
    perm = mirror_permutation(idx)
    assert sorted(perm) == list(range(len(idx))) and [perm[p] for p in perm] == list(range(len(idx)))
    mirrored = np.full_like(x, np.nan)
    mirrored[:, idx] = x[:, idx][:, perm]
    mirrored[..., 0] = 1.0 - mirrored[..., 0]
    a, ma = sign_features(x, cfg)
    b, mb = sign_features(mirrored, cfg)
    np.testing.assert_array_equal(ma, mb)
    assert np.abs(a - b).max() < 1e-5
    # without mirroring they differ (the test can fail)
    cfg2 = SignPreprocessConfig(landmark_set="hands+pose", max_len=32, mirror=False)
    assert np.abs(sign_features(x, cfg2)[0] - sign_features(mirrored, cfg2)[0]).max() > 0.1


def test_frame_selection_and_resampling():
    cfg = SignPreprocessConfig(landmark_set="hands", max_len=8)
    x = np.full((30, 543, 3), np.nan, np.float32)
    rng = np.random.default_rng(0)
    x[10:25, RH] = rng.uniform(0.3, 0.7, (15, 21, 3))  # 15 frames with a right hand
    _, m = sign_features(x, cfg)
    assert m.sum() == 8
    y = x[10:25].copy()  # dropping the hand-less frames must not change anything
    np.testing.assert_allclose(sign_features(x, cfg)[0], sign_features(y, cfg)[0], atol=1e-6)
    short = SignPreprocessConfig(landmark_set="hands", max_len=64)
    assert sign_features(x, short)[1].sum() == 15


def test_signer_split_never_mixes_signers(asl_root):
    from edgelite.runtime.signs.io import list_asl_signs
    from edgelite.train.signs.train import inner_split, signer_folds

    samples = list_asl_signs(asl_root)
    signers = np.array([s.signer for s in samples]).astype(str)
    y = np.array([s.label == "hello" for s in samples], np.int64)
    folds = signer_folds(signers, 5, seed=3)
    assert len(folds) == 5
    seen = []
    for f in folds:
        assert not set(signers[f.train]) & set(signers[f.val])
        assert sorted(set(signers[f.val])) == f.held_out
        seen.extend(f.held_out)
        tr, iv, kind = inner_split(f.train, y, signers, 0.15, 0)
        assert kind.startswith("signers") and not set(signers[tr]) & set(signers[iv])
        assert not set(signers[iv]) & set(f.held_out)
    assert sorted(seen) == sorted(set(signers))  # every signer held out exactly once
    (h,) = signer_folds(signers, 5, holdout=["2044", "16069"])
    assert set(signers[h.val]) == {"2044", "16069"} and not {"2044", "16069"} & set(signers[h.train])
    from edgelite.runtime.core.errors import DataError

    with pytest.raises(DataError, match="nobody|not in the data"):
        signer_folds(signers, 5, holdout=["nobody"])


@pytest.fixture(scope="module")
def kaggle_model(real_seqs, tmp_path_factory):
    """A 250-class model trained one epoch on generated data of the exact asl-signs shape, exported."""
    import keras

    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.train import _features, export_sign_model, sign_metadata

    rng = np.random.default_rng(0)
    cfg = SignPreprocessConfig(landmark_set="kaggle", max_len=32)
    gen = []
    for _ in range(250):
        t = int(rng.integers(1, 60))
        x = rng.uniform(0, 1, (t, 543, 3)).astype(np.float32)
        x[:, LH][rng.random(t) < 0.5] = np.nan
        x[:, RH][rng.random(t) < 0.5] = np.nan
        gen.append(x)
    f, m = _features([select_points(x, cfg) for x in gen], cfg)
    keras.utils.set_random_seed(0)
    model = build_sign_model(cfg.max_len, cfg.num_features, 250, "tiny")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit([f, m], np.arange(250), epochs=1, batch_size=64, verbose=0)
    labels = [f"sign{i}" for i in range(250)]
    meta = sign_metadata(cfg, labels, {"data": "generated"})
    out = tmp_path_factory.mktemp("kaggle") / "model.tflite"
    export_sign_model(model, cfg, meta, str(out))
    return model, cfg, out


@pytest.mark.slow
def test_kaggle_signature_and_builtin_ops(kaggle_model):
    from edgelite.runtime.core.modelfile import read_model_info

    _, cfg, path = kaggle_model
    info = read_model_info(path)
    assert list(info.signatures) == ["serving_default"]
    sig = info.signatures["serving_default"]
    assert list(sig.inputs) == ["inputs"] and list(sig.outputs) == ["outputs"]
    assert sig.inputs["inputs"].dtype.lower() == "float32" and sig.inputs["inputs"].shape_signature == [-1, 543, 3]
    assert sig.outputs["outputs"].shape == [250]
    assert not info.custom_ops and not info.flex_ops
    assert info.metadata["task"] == "signs" and info.metadata["input"]["landmark_set"] == "kaggle"
    assert SignPreprocessConfig.from_dict(info.metadata["preprocessing"]) == cfg


@pytest.mark.slow
def test_tf_vs_tflite_parity_on_real_inputs(kaggle_model, real_seqs):
    import tensorflow as tf

    from edgelite.runtime.core.model import EdgeModel
    from edgelite.train.signs.preprocess import make_serve_fn

    model, cfg, path = kaggle_model
    serve = tf.function(make_serve_fn(model, cfg), input_signature=[tf.TensorSpec([None, 543, 3], tf.float32)])
    em = EdgeModel.open(path, num_threads=1, validate=False)  # the graph's own handling of all-NaN input
    worst = 0.0
    for x in real_seqs:
        p_tfl = em(inputs=x)["outputs"]
        p_tf = serve(x).numpy()
        assert p_tfl.shape == (250,) and np.isfinite(p_tfl).all()
        assert abs(float(p_tfl.sum()) - 1.0) < 1e-4
        worst = max(worst, float(np.abs(p_tf - p_tfl).max()))
        # the NumPy twin + Keras gives the same too
        f, m = sign_features(x, cfg)
        p_np = model.predict([f[None], m[None]], verbose=0)[0]
        worst = max(worst, float(np.abs(p_np - p_tfl).max()))
    assert worst < 1e-4


@pytest.mark.slow
def test_train_signs_cli_end_to_end(asl_root, tmp_path):
    from edgelite.cli import main

    out = tmp_path / "run"
    rc = main(["train", "signs", "--data", str(asl_root), "--format", "asl-signs", "--holdout-signers",
               "2044,16069,61333", "--epochs", "2", "--size", "tiny", "--max-len", "24", "--quiet",
               "--out", str(out)])
    assert rc == 0
    for name in ["model.keras", "model.tflite", "metadata.json", "report.json", "confusion_matrix.png",
                 "training_curves.png", "eval_data.npz", "saved_model", "spotter.tflite"]:
        assert (out / name).exists(), name
    rep = json.loads((out / "report.json").read_text())
    for k in ["accuracy", "top5", "macro_f1", "classes", "split", "n_train", "n_val", "per_class", "confusion_matrix"]:
        assert k in rep, k
    assert len(rep["classes"]) == 250 and rep["classes"][0] == "TV" and rep["classes"][249] == "zipper"
    assert rep["n_val"] == 30 and rep["split"]["folds"][0]["held_out"] == ["16069", "2044", "61333"]
    # 2 real signs (hello / thankyou) from 3 unseen signers: chance is 0.5; this tiny run reaches 1.0
    assert rep["accuracy"] >= 0.8, rep["accuracy"]
    assert rep["split"]["folds"][0]["tf_vs_tflite_max_abs"] < 1e-4
    import keras

    import edgelite.train  # noqa: F401  (registers the edgelite layers)

    km = keras.saving.load_model(out / "model.keras")  # end-to-end: raw landmarks in
    assert len(km.inputs) == 1 and tuple(km.inputs[0].shape[1:]) == (None, 543, 3)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["task"] == "signs" and meta["input"]["landmark_set"] == "hands" and len(meta["labels"]) == 250
    with np.load(out / "eval_data.npz") as z:
        assert z["x_flat"].shape[1:] == (543, 3) and z["lengths"].sum() == len(z["x_flat"])
        assert len(z["y"]) == len(z["lengths"]) == 30
        assert 0 < len(z["calib_lengths"]) <= 200 and z["calib_lengths"].sum() == len(z["calib_x_flat"])
