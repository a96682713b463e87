"""The public Python API: README snippets run for real, input validation, one JSON shape, context managers.

Models are the small ones the other tests build (``tiny_accel_model`` from conftest, the tiny sign model
of ``benchmarks/tiny_sign_model.py``); data is the real shared data.
"""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
PARQUET = "data/asl-signs/train_landmark_files/2044/1363780437.parquet"
UCI7 = "data/accel/uci-walking/Dataset/7.csv"


@pytest.fixture(scope="session")
def tiny_sign_model(tmp_path_factory) -> str:
    pytest.importorskip("tensorflow")
    from tiny_sign_model import make_tiny_sign_model

    return make_tiny_sign_model(str(tmp_path_factory.mktemp("api_signs") / "tiny_signs.tflite"))


@pytest.fixture(scope="session")
def hand_task(shared: Path) -> Path:
    p = shared / "models" / "hand_landmarker.task"
    if not p.exists():
        pytest.skip("hand_landmarker.task not in shared/models")
    return p


@pytest.fixture(scope="session")
def rendered_video(shared: Path, tmp_path_factory) -> str:
    """Real asl-signs landmark motion rendered as hand drawings (as in test_webcam)."""
    pytest.importorskip("cv2")
    import render_signs_video as rsv

    data = shared / "data" / "asl-signs"
    rows = rsv.pick_rows(data / "train.csv", 2, min_hand_frames=10, seed=1)
    out = tmp_path_factory.mktemp("api_video") / "signs.mp4"
    rsv.render(rows, data, out, gap_frames=12)
    return str(out)


def _cli(argv: list[str], capsys) -> tuple[int, list[dict], str]:
    from edgelite.cli import main

    rc = main(argv)
    cap = capsys.readouterr()
    return rc, [json.loads(x) for x in cap.out.splitlines() if x.startswith("{")], cap.err


# ------------------------------------------------------------------------------------------ README


def readme_snippets() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_the_api_snippets():
    blocks = readme_snippets()
    runnable = [b for b in blocks if not b.startswith("# not run")]
    assert len(runnable) == 2 and len(blocks) == 3
    assert "recognize_for_video" in blocks[2] and "classify_recording" in runnable[0]


@pytest.mark.parametrize("index", [0, 1])
def test_readme_snippet_runs(index, tiny_accel_model, tiny_sign_model, shared, capsys):
    code = [b for b in readme_snippets() if not b.startswith("# not run")][index]
    subs = {"runs/uci-walking/model.tflite": str(tiny_accel_model), "runs/words/model.tflite": tiny_sign_model,
            "../shared": str(shared)}
    for a, b in subs.items():
        code = code.replace(a, b)
    compile(code, f"README snippet {index}", "exec")
    exec(compile(code, f"README snippet {index}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    if index == 0:
        assert out[0].split()[0] in ("a", "b", "c")
        j = ast.literal_eval(out[1])
        assert j["input"].endswith("7.csv") and j["windows"] > 10 and "true" not in j
        assert out[2].startswith("bad input:") and "at least 2" in out[2]
    else:
        j = ast.literal_eval(out[0])
        assert j["label"] in ("hello", "thankyou") and j["input"].endswith(".parquet")
        assert len(out) >= 2  # at least one sign recognised in the streamed frames


def test_readme_video_sketch_compiles():
    compile(readme_snippets()[2], "README video sketch", "exec")


# --------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("x, what", [
    (np.zeros((1, 3), np.float32), "at least 2"),
    (np.zeros((0, 3), np.float32), "at least 2"),
    (np.zeros((80, 4), np.float32), r"shape \[T,3\], got \[80, 4\]"),
    (np.zeros((80,), np.float32), r"shape \[T,3\]"),
    (np.zeros((2, 80, 3), np.float32), r"shape \[T,3\]"),
    (np.full((80, 3), np.nan, np.float32), "no finite values"),
    (np.array([["1", "2", "3"]] * 80), "expected numbers"),
    (np.array([[1 + 1j, 0, 0]] * 80), "expected numbers"),
])
def test_accel_bad_inputs_are_data_errors(tiny_accel_model, x, what):
    from edgelite import AccelClassifier

    with AccelClassifier.create_from_model_path(tiny_accel_model) as clf:
        with pytest.raises(DataError, match=what):
            clf.classify(x)
        r = clf.classify(np.ones((2, 3), np.float32))  # the minimum works: a valid distribution
        assert abs(sum(c.score for c in r.categories) - 1) < 1e-4 and len(r.categories) == 3


def test_int_and_partly_nan_inputs_are_accepted(tiny_accel_model):
    from edgelite import EdgeModel

    with EdgeModel.open(tiny_accel_model) as m:
        p_int = m.predict(np.full((60, 3), 9, np.int64))
        np.testing.assert_allclose(p_int, m.predict(np.full((60, 3), 9.0, np.float32)), atol=1e-6)
        x = np.random.default_rng(0).normal(0, 1, (60, 3)).astype(np.float32)
        x[::3] = np.nan
        assert np.isfinite(m.predict(x)).all()
    with EdgeModel.open(tiny_accel_model, validate=False) as raw:  # the graph's own NaN handling, unchecked
        assert np.isfinite(raw.predict(np.full((60, 3), np.nan, np.float32))).all()


@pytest.mark.parametrize("x, what", [
    (np.zeros((0, 543, 3), np.float32), r"\[T,543,3\] with T >= 1"),
    (np.zeros((5, 543, 2), np.float32), r"\[T,543,3\]"),
    (np.zeros((543, 3), np.float32), r"\[T,543,3\]"),
    (np.full((5, 543, 3), np.nan, np.float32), "no finite values"),
    (np.full((5, 543, 3), "0.5"), "expected numbers"),
])
def test_sign_bad_inputs_are_data_errors(tiny_sign_model, x, what):
    from edgelite import SignRecognizer

    with SignRecognizer.create_from_model_path(tiny_sign_model) as rec:
        with pytest.raises(DataError, match=what):
            rec.classify(x)
        with pytest.raises(DataError, match=r"\[543,3\]"):
            rec.recognize_landmarks(np.zeros((21, 3), np.float32), 0.0)


def test_wrong_task_is_a_model_error(tiny_accel_model, tiny_sign_model):
    from edgelite import AccelClassifier, SignRecognizer

    with pytest.raises(ModelError, match="expected 'accel'"):
        AccelClassifier.create_from_model_path(tiny_sign_model)
    with pytest.raises(ModelError, match=r"\[T,543,3\]"):
        SignRecognizer.create_from_model_path(tiny_accel_model)


def test_library_errors_name_parameters_and_the_cli_maps_them(tiny_accel_model, shared, capsys):
    from edgelite import AccelClassifier, AccelClassifierOptions

    with pytest.raises(ValueError, match="stride_s must be > 0"):
        AccelClassifier.create_from_options(AccelClassifierOptions(tiny_accel_model, stride_s=-1))
    rc, _, err = _cli(["predict", str(tiny_accel_model), str(shared / UCI7), "--stride", "-1"], capsys)
    assert rc == 2 and "--stride must be > 0" in err and "stride_s" not in err
    # no library message names a CLI flag
    hits = subprocess.run(["grep", "-rnE", r"(raise|warn).*[\"'][^\"']*--[a-z]", str(REPO / "runtime")],
                          capture_output=True, text=True).stdout
    assert hits == "", hits


# ------------------------------------------------------------------------------------ results / JSON


def test_classification_result_json_shape():
    from edgelite import Category, ClassificationResult

    r = ClassificationResult.from_probabilities(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], 2, input="x.csv",
                                                t_start=1.0, t_end=2.5, recording="x#1")
    assert r.top1 == Category(1, "b", pytest.approx(0.7)) and r.label == "b" and r.score == pytest.approx(0.7)
    assert r.to_json() == {"input": "x.csv", "label": "b", "score": 0.7,
                           "top": [{"label": "b", "score": 0.7}, {"label": "c", "score": 0.2}],
                           "t_start": 1.0, "t_end": 2.5, "recording": "x#1"}
    rej = ClassificationResult(r.categories, rejected_label="no sign")
    assert rej.label == "no sign" and rej.score == pytest.approx(0.7) and rej.to_json()["top"][0]["label"] == "b"


TOP_KEYS = {"label", "score"}


def _check_line(j: dict, extra: set[str]) -> None:
    assert {"input", "label", "score", "top"} <= set(j) <= {"input", "label", "score", "top"} | extra
    assert all(set(t) == TOP_KEYS for t in j["top"]) and j["top"][0]["label"] == j["label"] or j["label"] == "no sign"
    assert isinstance(j["input"], str) and 0 <= j["score"] <= 1


def test_one_json_shape_across_commands(tiny_accel_model, tiny_sign_model, shared, rendered_video, hand_task,
                                        capsys, tmp_path):
    uci = str(shared / UCI7)
    rc, pred, err = _cli(["predict", str(tiny_accel_model), uci], capsys)
    assert rc == 0, err
    for j in pred:
        _check_line(j, {"t_start", "t_end"})
        assert j["input"] == uci  # the path as given; no "true": a UCI file stem is a name, not a known class
    rc, live, err = _cli(["run", "accel", "--model", str(tiny_accel_model), "--source", f"replay:{uci}",
                          "--quiet"], capsys)
    assert rc == 0, err
    for j in live:
        _check_line(j, {"t_start", "t_end", "device"})
        assert j["input"] == uci  # the replayed path as given
    rc, cam, err = _cli(["run", "webcam", "--model", tiny_sign_model, "--video", rendered_video, "--headless",
                         "--hand-model", str(hand_task)], capsys)
    assert rc == 0, err
    assert len(cam) >= 2 and "summary" in cam[-1]
    for j in cam[:-1]:
        _check_line(j, {"t_start", "t_end"})
        assert j["input"] == rendered_video
    rc, signs, err = _cli(["predict", tiny_sign_model, str(shared / PARQUET)], capsys)
    assert rc == 0, err
    _check_line(signs[0], set())


def test_true_only_when_the_data_names_the_class(tiny_accel_model, tiny_sign_model, shared, capsys, tmp_path):
    rc, wand, _ = _cli(["predict", str(tiny_accel_model), str(shared / "data/accel/magic-wand/ring"),
                        "--format", "magic-wand", "--aggregate"], capsys)
    assert rc == 0 and wand and all(j["true"] == "ring" for j in wand)
    assert all("recording" in j for j in wand)  # a capture file holds several gestures
    z = sorted((shared / "data/accel/sensorlogger-wand/training/square").glob("*.zip"))[0]
    rc, sl, _ = _cli(["predict", str(tiny_accel_model), str(z), "--aggregate"], capsys)
    assert rc == 0 and [(j["input"], j["true"]) for j in sl] == [(str(z), "square")]
    root = tmp_path / "asl"
    (root / "train_landmark_files").mkdir(parents=True)
    (root / "train_landmark_files" / "2044").symlink_to(shared / "data/asl-signs/train_landmark_files/2044")
    (root / "train.csv").write_text("path,participant_id,sequence_id,sign\n"
                                    "train_landmark_files/2044/1363780437.parquet,2044,1363780437,hello\n")
    rc, signs, err = _cli(["predict", tiny_sign_model, str(root)], capsys)
    assert rc == 0, err
    assert [j["true"] for j in signs] == ["hello"] and signs[0]["input"].endswith("1363780437.parquet")
    rc, single, _ = _cli(["predict", tiny_sign_model, str(shared / PARQUET)], capsys)
    assert "true" not in single[0]


# ------------------------------------------------------------------------------- lifecycle, imports


def test_context_managers_close(tiny_accel_model, tiny_sign_model):
    from edgelite import AccelClassifier, EdgeModel, SignRecognizer

    with AccelClassifier.create_from_model_path(tiny_accel_model) as clf:
        clf.classify(np.ones((10, 3), np.float32))
    with pytest.raises(ModelError, match="closed"):
        clf.classify(np.ones((10, 3), np.float32))
    with SignRecognizer.create_from_model_path(tiny_sign_model) as rec:
        assert rec.labels == ["hello", "thankyou"]
    with pytest.raises(ModelError, match="closed"):
        rec.classify(np.zeros((3, 543, 3), np.float32) + 0.5)
    m = EdgeModel.open(tiny_accel_model)
    m.close()
    m.close()  # twice is fine
    assert issubclass(DataError, EdgeliteError) and issubclass(ModelError, EdgeliteError)


def test_recognize_for_video_matches_run_webcam(tiny_sign_model, rendered_video, hand_task):
    """The API's video path and `run webcam` give the same signs at the same times."""
    import render_signs_video as rsv

    from edgelite import SignRecognizer, SignRecognizerOptions
    from edgelite.runtime.vision.webcam import WebcamOptions, run_webcam

    buf = io.StringIO()
    run_webcam(WebcamOptions(model=tiny_sign_model, video=rendered_video, hand_model=str(hand_task),
                             headless=True), out=buf)
    cli = [json.loads(x) for x in buf.getvalue().splitlines()][:-1]
    frames = rsv.read_frames_rgb(rendered_video)
    fps = float(rsv.load_ground_truth(rendered_video)["fps"])
    opts = SignRecognizerOptions(model_path=tiny_sign_model, hand_model_path=hand_task)
    got = []
    with SignRecognizer.create_from_options(opts) as rec:
        for i, rgb in enumerate(frames):
            got += rec.recognize_for_video(rgb, int(round(i * 1000 / fps)))
        got += rec.flush()
        assert rec._tracker is not None
    assert rec._tracker is None  # closed with the recognizer
    assert len(got) == len(cli) >= 2
    assert [r.label for r in got] == [j["label"] for j in cli]
    np.testing.assert_allclose([r.t_start for r in got], [j["t_start"] for j in cli], atol=2e-3)
    np.testing.assert_allclose([r.score for r in got], [j["score"] for j in cli], atol=1e-5)


def test_import_edgelite_is_cheap_and_lazy():
    code = ("import sys, edgelite\n"
            "assert 'numpy' not in sys.modules and 'edgelite.runtime.core.model' not in sys.modules\n"
            "from edgelite import AccelClassifier, SignRecognizer, ClassificationResult, EdgeModel\n"
            "assert 'tensorflow' not in sys.modules and 'cv2' not in sys.modules\n"
            "assert set(edgelite.__all__) >= {'AccelClassifier', 'AccelClassifierOptions', 'SignRecognizer',\n"
            "    'SignRecognizerOptions', 'SignClassifier', 'EdgeModel', 'Category', 'ClassificationResult',\n"
            "    'EdgeliteError', 'DataError', 'ModelError'}\n"
            "import edgelite.runtime as rt\n"
            "assert rt.AccelClassifier is AccelClassifier and rt.SignRecognizer is SignRecognizer\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
