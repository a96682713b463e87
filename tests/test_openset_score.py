"""The in-graph open-set score: cosine similarity to class prototypes, the ``openset`` signature of the
``.tflite`` (next to an unchanged ``serving_default``), and the decision every consumer applies with it."""

from __future__ import annotations

import numpy as np
import pytest
from edgelite.runtime.core.openset import (
    UNKNOWN,
    cosine_score,
    decide,
    l2_normalize,
    mahalanobis_score,
)

N = 48
LABELS = ["a", "b", "c"]


def _windows(seed: int, k: int) -> np.ndarray:
    """``k`` windows ``[N,3]`` m/s²: gravity plus one of three motion patterns (class = index % 3)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, N)
    out = []
    for i in range(k):
        f = 1 + i % 3
        x = np.stack([np.sin(f * t), np.cos(f * t), np.full(N, 9.81)], axis=1) * (1 + 0.1 * rng.normal())
        out.append(x + rng.normal(0, 0.2, x.shape))
    return np.asarray(out, np.float32)


@pytest.fixture(scope="module")
def scored_accel(tmp_path_factory):
    """An untrained accel model exported with prototypes from its own embeddings → (path, keras model, prototypes)."""
    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata
    from edgelite.train.accel.model import build_model, openset_embedding, serving_fn
    from edgelite.train.openset import (
        OPENSET_SIGNATURE,
        embeddings,
        fit_head,
        scored_model,
        split_serve,
    )

    f = len(__import__("edgelite.runtime.accel.features", fromlist=["x"]).feature_names())
    model = build_model(N, 3, (np.zeros(f), np.ones(f)), (np.zeros(4), np.ones(4)))
    xs = _windows(0, 60)
    head = fit_head(embeddings(model, openset_embedding, xs), np.arange(60) % 3, 3, "cosine")
    meta = make_metadata(
        "accel", LABELS,
        {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": 32.0,
         "window_s": 1.5, "window_samples": N, "gravity": True, "axes": ["x", "y", "z"]},
        {"name": "probabilities", "kind": "probabilities"}, {"n": N, "n_windows": 3},
    )
    meta["openset"] = {"method": "cosine", "temperature": 1.0, "threshold": 0.5, "signature": OPENSET_SIGNATURE,
                       "score_output": "ood_score", "fallback": {"method": "msp", "threshold": 0.0}}
    out = tmp_path_factory.mktemp("scored") / "model.tflite"
    ends = {OPENSET_SIGNATURE: split_serve(serving_fn(scored_model(model, openset_embedding, head), N), 3,
                                           "probabilities")}
    export_tflite(model, serving_fn(model, N), "accel", [None, 3], "probabilities", meta, out, endpoints=ends)
    return out, model, head["prototypes"]


def test_cosine_score_numpy_twin():
    p = l2_normalize(np.array([[1.0, 0.0], [0.0, 1.0]]))
    s = cosine_score(np.array([[2.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [0.0, 0.0]]), p)
    np.testing.assert_allclose(s, [1.0, np.sqrt(0.5), 0.0, 0.0], atol=1e-9)
    assert cosine_score(np.array([[np.nan, 1.0]]), p)[0] == -1e9


def test_mahalanobis_head_whitens_the_shared_covariance():
    from edgelite.train.openset import fit_head

    rng = np.random.default_rng(0)
    y = np.arange(3000) % 2
    e = rng.normal(size=(3000, 2)) * [10.0, 1.0] + np.where(y[:, None] == 1, [0.0, 1.0], [0.0, 0.0])
    h = fit_head(e, y, 3, "mahalanobis")  # class 2 has no samples: unreachable
    s = mahalanobis_score(np.array([[20.0, 0.0], [0.0, -4.0], [0.0, 0.5]]), h["prototypes"], h["whiten"])
    np.testing.assert_allclose(s, [-(2.0 ** 2) / 2, -(4.0 ** 2) / 2, -(0.5 ** 2) / 2], rtol=0.1)
    assert s[0] > s[1]  # 20 away along the wide axis is more "known" than 4 away along the narrow one


def test_prototypes_are_unit_class_means():
    from edgelite.train.openset import fit_head

    e = np.array([[3.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    p = fit_head(e, np.array([0, 1, 1]), 3, "cosine")["prototypes"]
    np.testing.assert_allclose(np.linalg.norm(p[:2], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p[0], [1.0, 0.0], atol=1e-6)
    assert (p[2] == 0).all()  # a class without samples is close to nothing


def test_decide_uses_the_graph_score_and_falls_back_to_msp():
    meta = {"labels": LABELS, "openset": {"method": "cosine", "temperature": 1.0, "threshold": 0.8,
                                          "fallback": {"method": "msp", "threshold": 0.6}}}
    p = np.array([0.9, 0.05, 0.05])
    assert decide(p, meta, ood=0.95)[0] == "a"
    assert decide(p, meta, ood=0.5)[0] == UNKNOWN  # confident softmax, far from every prototype
    assert decide(np.array([0.4, 0.3, 0.3]), meta, ood=0.95)[0] == "a"  # unsure softmax, near a prototype
    assert decide(p, meta)[0] == "a"  # no score (e.g. quantized re-export): max-softmax fallback
    assert decide(np.array([0.4, 0.3, 0.3]), meta)[0] == UNKNOWN
    assert decide(p, meta, ood=float("nan"))[0] == "a"  # a NaN score falls back too


def test_openset_signature_matches_keras_and_keeps_serving_default(scored_accel):
    from edgelite.runtime.accel import features as af
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.train.accel.model import openset_embedding
    from edgelite.train.openset import embeddings

    path, model, protos = scored_accel
    m = EdgeModel.open(path)
    assert m.output_names == ["probabilities"] and m.has_ood_score
    assert set(m.info.signatures["openset"].outputs) == {"probabilities", "ood_score"}
    xs = _windows(1, 9)
    w = np.stack([af.fit_length(af.clean(x), N) for x in xs])
    p_k, e_k = model.predict(w, verbose=0), embeddings(model, openset_embedding, w)
    want = cosine_score(e_k, protos)
    for x, pk, w in zip(xs, p_k, want):
        p, s = m.predict_scored(x)
        np.testing.assert_allclose(p, m.predict(x), atol=1e-6)  # same probabilities as serving_default
        np.testing.assert_allclose(p, pk, atol=1e-5)
        assert s == pytest.approx(w, abs=1e-4)
    assert max(want) > 0.5  # the training-like windows are close to their prototypes
    x = xs[0].copy()
    x[::2] = np.nan  # NaN rows: the graph fills them, the score stays finite
    assert np.isfinite(m.predict_scored(x)[1])


def test_consumers_pass_the_score(scored_accel, tmp_path):
    from edgelite.convert.export import embed_metadata
    from edgelite.runtime.accel.classifier import AccelClassifier, AccelClassifierOptions
    from edgelite.runtime.accel.stream import StreamClassifier
    from edgelite.runtime.core.model import EdgeModel

    path, _, _ = scored_accel
    meta = EdgeModel.open(path).metadata
    x = _windows(2, 1)[0]
    _, s = EdgeModel.open(path).predict_scored(x)
    for thr, want_unknown in ((s + 0.01, True), (s - 0.01, False)):  # only the graph score decides
        p = tmp_path / f"m{thr:.3f}.tflite"
        os_ = {**meta["openset"], "threshold": thr}
        p.write_bytes(embed_metadata(path.read_bytes(), {**meta, "openset": os_}))
        with AccelClassifier.create_from_options(AccelClassifierOptions(model_path=p)) as c:
            assert (c.classify(x).label == UNKNOWN) == want_unknown
            sc = StreamClassifier.for_model(c)
            assert (sc._classify(sc._device("d"), "d", 10.0, x).label == UNKNOWN) == want_unknown
        with AccelClassifier.create_from_options(AccelClassifierOptions(model_path=p, closed_set=True)) as c:
            assert c.classify(x).label in LABELS


# -- webcam: signs outside the vocabulary are "unknown"/"no sign" -------------------------------------
OOV_WORDS = ("coffee", "water", "please")  # traduttore words, not in the asl-signs model's vocabulary


@pytest.fixture(scope="module")
def asl_model(shared, tmp_path_factory) -> str:
    """A real sign model (hands, tiny) trained on asl-signs hello/thankyou by ``train_signs``: CV on 5 held-out
    signers fits the threshold of the in-graph Mahalanobis score; fold 1's model is shipped (no final fit)."""
    from edgelite.train.signs.train import SignTrainConfig, train_signs

    out = tmp_path_factory.mktemp("asl") / "run"
    holdout = ["16069", "18796", "2044", "22343", "25571"]
    train_signs(SignTrainConfig(data=str(shared / "data" / "asl-signs"), fmt="asl-signs", out=str(out), landmarks="hands",
                                holdout=holdout, epochs=12, size="tiny", continuous=False, final=False,
                                verbose=False))
    return str(out / "model.tflite")


def _render(rows: list[dict], seqs: dict, out, monkeypatch) -> str:
    import sys as _sys
    from pathlib import Path

    _sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import render_signs_video as rsv

    monkeypatch.setattr(rsv, "read_sequence", lambda p: seqs[Path(p).name])  # landmarks given, not parquet paths
    rsv.render(rows, Path("/"), out, gap_frames=15, repeat=2)
    return str(out)


def _webcam(model: str, video: str, hand_task, capsys, *flags: str) -> list[dict]:
    import json

    from edgelite.cli import main

    rc = main(["run", "webcam", "--model", model, "--video", video, "--headless", "--hands", "litert",
               "--hand-model", str(hand_task), *flags])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    return [json.loads(x) for x in cap.out.strip().splitlines()][:-1]  # the last line is the summary


def test_webcam_answers_unknown_to_signs_outside_the_vocabulary(shared, asl_model, tmp_path, monkeypatch, capsys):
    pytest.importorskip("cv2")
    from edgelite.runtime.signs import io as sign_io

    hand_task = shared / "models" / "hand_landmarker.task"
    d = shared / "data" / "mp-data" / "traduttore"
    samples = sign_io.list_mp_data(d / "MP_Data_16actions.tar.xz", d / "signers.csv")
    picked = [next(s for s in samples if s.label == w and s.signer == "TheCamNelson") for w in OOV_WORDS]
    seqs = {f"{s.label}_{i}": sign_io.read_sample(s) for i, s in enumerate(picked)}
    rows = [{"path": k, "sign": k.split("_")[0]} for k in seqs]
    video = _render(rows, seqs, tmp_path / "oov.mp4", monkeypatch)
    recs = _webcam(asl_model, video, hand_task, capsys)
    assert recs, "no sign segment was recognised at all"
    assert all(r["label"] in ("unknown", "no sign") for r in recs), [(r["label"], r["score"]) for r in recs]
    from edgelite.convert.export import embed_metadata
    from edgelite.runtime.core.model import EdgeModel

    meta = dict(EdgeModel.open(asl_model).metadata)
    assert meta["openset"]["method"] == "mahalanobis"
    meta.pop("openset")
    closed = tmp_path / "closed_set.tflite"  # the same model without its reject option...
    closed.write_bytes(embed_metadata(open(asl_model, "rb").read(), meta))
    labels = [r["label"] for r in _webcam(str(closed), video, hand_task, capsys, "--threshold", "0")]
    assert any(v in ("hello", "thankyou") for v in labels), labels  # ...labels the same video as known signs


def test_webcam_still_recognises_signs_of_the_vocabulary(shared, asl_model, tmp_path, capsys):
    """The reject option is no blanket "unknown": held-out signers' hello/thankyou still get their label."""
    pytest.importorskip("cv2")
    import csv
    import sys as _sys
    from pathlib import Path

    _sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import render_signs_video as rsv

    data = shared / "data" / "asl-signs"
    rows = [r for r in csv.DictReader(open(data / "train.csv")) if r["participant_id"] in ("16069", "2044")][:4]
    video = tmp_path / "known.mp4"
    rsv.render(rows, data, video, gap_frames=15)
    recs = _webcam(asl_model, str(video), shared / "models" / "hand_landmarker.task", capsys)
    assert any(r["label"] in ("hello", "thankyou") for r in recs), [r["label"] for r in recs]


def test_prototype_openset_threshold_and_fallback():
    from edgelite.train.openset import prototype_openset

    base = {"method": "msp", "temperature": 1.3, "threshold": 0.7, "fitted_on": "oof"}
    s = np.linspace(-10.0, 0.0, 101)
    correct = np.ones(101, bool)
    correct[:50] = False  # only correctly classified known samples place the threshold
    os_ = prototype_openset(base, s, correct, 0.1, "outputs", "mahalanobis")
    assert os_["method"] == "mahalanobis" and os_["signature"] == "openset" and os_["score_output"] == "ood_score"
    assert os_["threshold"] == pytest.approx(-4.5, abs=1e-6)  # 10 % quantile of -5..0
    assert os_["fallback"] == {"method": "msp", "threshold": 0.7} and os_["temperature"] == 1.3
    assert prototype_openset(base, s[:5], correct[:5], 0.1, "outputs") == base  # too few scores: max-softmax only
    assert prototype_openset(None, s, correct, 0.1, "outputs") is None
