"""Webcam path: LiteRT hand tracker, landmark layout, segmentation, headless run, recording, errors.

No camera, display or network: the video is real asl-signs landmark motion rendered as hand drawings
(benchmarks/render_signs_video.py), which also gives ground truth; the sign model is a tiny one
built with TensorFlow (benchmarks/tiny_sign_model.py).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError
from edgelite.runtime.vision.hands import HandLandmarks, HandTrackerOptions, resolve_hand_model
from edgelite.runtime.vision.hands_litert import (
    decode_palms,
    landmarks_to_rect,
    rect_corners,
    ssd_anchors,
    weighted_nms,
    _warp_numpy,
)
from edgelite.runtime.vision.frames import PARTS, LandmarkBuffer, hands_to_frame, read_parquet
from edgelite.runtime.signs.recognize import Recognizer, RecognizerOptions, Segmenter, SegmenterOptions

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def hand_task(shared: Path) -> Path:
    p = shared / "models" / "hand_landmarker.task"
    if not p.exists():
        pytest.skip("hand_landmarker.task not in shared/models")
    return p


@pytest.fixture(scope="session")
def rendered(shared: Path, tmp_path_factory) -> dict:
    """3 real asl-signs sequences rendered as drawings: {'video', 'gt', 'frames' (RGB list)}."""
    pytest.importorskip("cv2")
    pytest.importorskip("pyarrow")
    import render_signs_video as rsv

    data = shared / "data" / "asl-signs"
    rows = rsv.pick_rows(data / "train.csv", 3, min_hand_frames=10, seed=1)
    out = tmp_path_factory.mktemp("video") / "signs.mp4"
    rsv.render(rows, data, out, gap_frames=12)
    gt = rsv.load_ground_truth(out)
    frames = rsv.read_frames_rgb(out)
    assert len(frames) == len(gt["seq"])
    return {"video": str(out), "gt": gt, "frames": frames}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    pytest.importorskip("tensorflow")
    from tiny_sign_model import make_tiny_sign_model

    return make_tiny_sign_model(str(tmp_path_factory.mktemp("model") / "tiny_signs.tflite"))


@pytest.fixture(scope="session")
def accel_model(tmp_path_factory) -> str:
    """A model with the wrong signature for signs: [T,3] → probabilities."""
    pytest.importorskip("tensorflow")
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata

    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    meta = make_metadata("accel", ["a", "b"], {"name": "accel", "dtype": "float32", "shape": [-1, 3]},
                         {"name": "probabilities", "kind": "probabilities"}, {})
    path = str(tmp_path_factory.mktemp("wrong") / "accel.tflite")
    export_tflite(m, lambda x: m(tf.reduce_mean(x, 0, keepdims=True))[0], "accel", [None, 3], "probabilities",
                  meta, path)
    return path


def _hand(label: str, x0: float = 0.3, y0: float = 0.5, score: float = 0.9) -> HandLandmarks:
    """A synthetic upright hand: wrist at (x0, y0+0.1), fingers upwards; coordinates exact and distinct."""
    k = np.arange(21, dtype=np.float32)
    norm = np.stack([x0 + 0.002 * k, y0 + 0.1 - 0.01 * k, -0.001 * k], 1)
    return HandLandmarks.from_norm(norm, 640, 480, label, score)


def _median_px(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(a - b, axis=1)))


# -- palm detector geometry ---------------------------------------------------------------------------

def test_ssd_anchors_match_mediapipe_layout():
    a = ssd_anchors()
    assert a.shape == (2016, 2)
    # stride 8: 24x24 cells, 2 anchors each; stride 16: 12x12 cells, 6 anchors each (3 layers x 2)
    np.testing.assert_allclose(a[0], [0.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 24, 0.5 / 24])
    np.testing.assert_allclose(a[24 * 2], [0.5 / 24, 1.5 / 24])
    np.testing.assert_allclose(a[1152], [0.5 / 12, 0.5 / 12])
    np.testing.assert_allclose(a[1152:1158], np.repeat([[0.5 / 12, 0.5 / 12]], 6, 0))
    np.testing.assert_allclose(a[-1], [11.5 / 12, 11.5 / 12])


def test_decode_and_weighted_nms():
    anchors = ssd_anchors()
    raw = np.zeros((2016, 18), np.float32)
    logits = np.full(2016, -10.0, np.float32)
    # two overlapping detections around anchor 0 and one apart at the last anchor
    raw[0, :4] = [0, 0, 48, 48]
    raw[1, :4] = [4.8, 0, 48, 48]  # shifted by 0.025 (normalised)
    raw[2015, :4] = [0, 0, 40, 40]
    raw[0, 4:] = 9.6  # keypoints 0.05 right/below the anchor
    logits[[0, 1, 2015]] = [3.0, 1.0, 2.0]
    boxes, kps, scores = decode_palms(raw, logits, anchors, 0.5)
    assert len(scores) == 3
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-np.array([3.0, 1.0, 2.0]))), rtol=1e-6)
    np.testing.assert_allclose(boxes[0], [a - 0.125 for a in anchors[0]] + [a + 0.125 for a in anchors[0]], atol=1e-6)
    np.testing.assert_allclose(kps[0, 3], anchors[0] + 0.05, atol=1e-6)
    dets = weighted_nms(boxes, kps, scores, 0.3, max_out=5)
    assert len(dets) == 2
    s0, s1 = scores[0], scores[1]
    expect_x0 = (boxes[0, 0] * s0 + boxes[1, 0] * s1) / (s0 + s1)
    assert dets[0][0][0] == pytest.approx(expect_x0, abs=1e-6)
    assert dets[0][2] == pytest.approx(s0)
    np.testing.assert_allclose(dets[1][0], boxes[2], atol=1e-6)
    assert len(weighted_nms(boxes, kps, scores, 0.3, max_out=1)) == 1


def test_landmarks_to_rect_upright_and_rotated():
    h = _hand("Right")
    cx, cy, w, hh, rot = landmarks_to_rect(h.px)
    assert w == pytest.approx(hh)
    # fingers point up, leaning right by 0.002*640 px per 0.01*480 px: rotation = that lean (clockwise)
    assert rot == pytest.approx(math.atan2(0.002 * 640, 0.01 * 480), abs=1e-6)
    # rotating the landmarks by 90° about a point rotates the rect by 90°
    c = h.px.mean(0)
    r90 = np.stack([-(h.px[:, 1] - c[1]), h.px[:, 0] - c[0]], 1) + c
    _, _, w2, _, rot2 = landmarks_to_rect(r90)
    assert math.remainder(rot2 - rot - math.pi / 2, 2 * math.pi) == pytest.approx(0, abs=1e-6)
    assert w2 == pytest.approx(w, rel=1e-6)


def test_warp_numpy_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 2)
    rect = (70.3, 55.1, 90.0, 90.0, 0.4)
    tl, tr, bl = rect_corners(rect)
    m = np.array([[(tr[0] - tl[0]) / 64, (bl[0] - tl[0]) / 64, tl[0]], [(tr[1] - tl[1]) / 64, (bl[1] - tl[1]) / 64, tl[1]]])
    a = _warp_numpy(img, m, 64, border_zero=False)
    b = cv2.warpAffine(img, m, (64, 64), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE).astype(np.float32) / 255
    assert np.abs(a - b).max() < 0.03  # OpenCV interpolates in 1/32-pixel fixed point


# -- trackers on real signing motion ----------------------------------------------------------------

def _track(backend: str, frames, hand_task) -> list:
    from edgelite.runtime.vision.hands import create_hand_tracker

    with create_hand_tracker(HandTrackerOptions(backend=backend, model_path=str(hand_task))) as tr:
        return [tr.process(f, i * 33) for i, f in enumerate(frames)]


@pytest.fixture(scope="session")
def litert_tracks(rendered, hand_task):
    return _track("litert", rendered["frames"], hand_task)


def test_litert_tracker_finds_rendered_hands(rendered, litert_tracks):
    gt = rendered["gt"]["px"]
    has = np.isfinite(gt[:, :, 0, 0]).any(1)
    found = np.array([bool(h) for h in litert_tracks])
    assert found[has].mean() >= 0.8, f"hands found in {found[has].mean():.0%} of drawn-hand frames"
    assert found[~has].mean() <= 0.1  # blank frames: (almost) no false hands
    d, sizes = [], []
    for i, hands in enumerate(litert_tracks):
        gts = [gt[i, k] for k in range(2) if np.isfinite(gt[i, k]).all()]
        for h in hands:
            if gts:
                g = min(gts, key=lambda g: _median_px(h.px, g))
                d.append(_median_px(h.px, g))
                sizes.append(np.linalg.norm(g[0] - g[9]))
    # drawings are not hands: the landmark model sees drawn fingers as shorter/bent, so joints land
    # within about a finger length of the drawn ones (a wrong hand or a lost track is far beyond this)
    assert np.median(d) < 0.25 * np.median(sizes), (np.median(d), np.median(sizes))


def test_litert_agrees_with_mediapipe(rendered, litert_tracks, hand_task):
    pytest.importorskip("mediapipe")
    mp_tracks = _track("mediapipe", rendered["frames"], hand_task)
    d, same = [], []
    for a, b in zip(litert_tracks, mp_tracks):
        for h in a:
            if b:
                o = min(b, key=lambda o: _median_px(h.px, o.px))
                d.append(_median_px(h.px, o.px))
                same.append(o.handedness == h.handedness)
    assert len(d) >= 0.6 * sum(bool(b) for b in mp_tracks)
    assert np.median(d) <= 3.0, f"median litert-vs-mediapipe distance {np.median(d):.2f} px"
    assert np.mean(same) >= 0.7


# -- layout ---------------------------------------------------------------------------------------------

def test_layout_raw_view_uses_handedness_and_keeps_x():
    r, l = _hand("Right", x0=0.2), _hand("Left", x0=0.7)
    f = hands_to_frame([r, l], mirrored=False)
    assert f.shape == (543, 3) and f.dtype == np.float32
    s, e = PARTS["right_hand"]
    np.testing.assert_array_equal(f[s:e], r.norm)
    s, e = PARTS["left_hand"]
    np.testing.assert_array_equal(f[s:e], l.norm)
    assert np.isnan(f[:468]).all() and np.isnan(f[489:522]).all()


def test_layout_mirrored_view_swaps_and_flips_x():
    r = _hand("Right", x0=0.6)
    f = hands_to_frame([r], mirrored=True)
    s, e = PARTS["left_hand"]
    expect = r.norm.copy()
    expect[:, 0] = 1.0 - expect[:, 0]
    np.testing.assert_allclose(f[s:e], expect, atol=1e-7)
    assert np.isnan(f[PARTS["right_hand"][0]:PARTS["right_hand"][1]]).all()
    # a mirrored frame of a scene equals the raw frame of the same scene
    raw_scene = _hand("Left", x0=1.0 - 0.6 - 0.002 * 20)
    raw_scene.norm[:, 0] = 1.0 - r.norm[:, 0]
    np.testing.assert_allclose(hands_to_frame([raw_scene], mirrored=False), f, atol=1e-7)


def test_layout_same_label_twice_and_pose():
    a, b = _hand("Right", x0=0.7), _hand("Right", x0=0.2)
    f = hands_to_frame([a, b])
    np.testing.assert_array_equal(f[PARTS["right_hand"][0]:PARTS["right_hand"][1]], b.norm)  # smaller x
    np.testing.assert_array_equal(f[PARTS["left_hand"][0]:PARTS["left_hand"][1]], a.norm)
    pose = np.stack([np.linspace(0, 1, 33), np.full(33, 0.5), np.zeros(33)], 1).astype(np.float32)
    fm = hands_to_frame([], mirrored=True, pose=pose)
    p = fm[489:522]
    assert p[11, 0] == pytest.approx(1 - pose[12, 0]) and p[12, 0] == pytest.approx(1 - pose[11, 0])
    assert p[0, 0] == pytest.approx(1 - pose[0, 0])
    assert np.isnan(fm[468:489]).all() and np.isnan(fm[522:]).all()


def test_ring_buffer_keeps_order():
    buf = LandmarkBuffer(4)
    for i in range(6):
        buf.append(np.full((543, 3), i, np.float32), i * 0.1)
    x, t = buf.last(10)
    assert len(buf) == 4 and x[:, 0, 0].tolist() == [2, 3, 4, 5]
    np.testing.assert_allclose(t, [0.2, 0.3, 0.4, 0.5])
    x, _ = buf.range(0, 4)  # frames 0, 1 are gone
    assert x[:, 0, 0].tolist() == [2, 3]


# -- segmentation ----------------------------------------------------------------------------------------

def _presence_frames(spec: list[tuple[str, int]]) -> list[np.ndarray]:
    """'move' frames: a hand moving 0.01/frame; 'rest': the same hand still; 'none': no hands."""
    out, x = [], 0.3
    for kind, n in spec:
        for _ in range(n):
            if kind == "none":
                out.append(hands_to_frame([]))
            else:
                if kind == "move":
                    x += 0.01
                out.append(hands_to_frame([_hand("Right", x0=x)]))
    return out


def test_segmenter_on_presence_sequences():
    frames = _presence_frames([("none", 5), ("move", 20), ("none", 10), ("move", 2), ("none", 12),
                               ("move", 15), ("rest", 12), ("none", 3), ("move", 6)])
    seg = Segmenter(SegmenterOptions(rest_frames=8, min_frames=4))
    got = []
    for i, f in enumerate(frames):
        s = seg.update(i, f, i / 30)
        if s:
            got.append((s.start, s.end))
    s = seg.flush()
    got.append((s.start, s.end))
    # [5,25): hands appear and leave; the 2-frame blip at 35 is ignored; [49,64) ends when the hands rest
    # (resting hands start nothing); the last one appears at 79 and is closed at the end of the stream
    assert got == [(5, 25), (49, 64), (79, 85)]
    assert got[0] and seg.flush() is None


def test_recognizer_threshold_and_sliding():
    frames = _presence_frames([("none", 3), ("move", 12), ("none", 10)])

    def probs(x):  # depends on the data: more hand frames → more confident "hello"
        n = np.isfinite(x[:, 522, 0]).sum()
        p = min(0.95, 0.05 * n)
        return np.array([p, 1 - p], np.float32)

    rec = Recognizer(probs, ["hello", "thankyou"], RecognizerOptions(threshold=0.5))
    out = [r for i, f in enumerate(frames) for r in rec.update(f, i / 30)] + rec.flush()
    assert len(out) == 1 and out[0].label == "hello" and out[0].score == pytest.approx(0.6)
    assert out[0].t_start == pytest.approx(3 / 30) and out[0].t_end == pytest.approx(14 / 30)
    j = out[0].to_json("clip.mp4")
    assert set(j) == {"input", "t_start", "t_end", "label", "score", "top"} and j["top"][0]["label"] == "hello"
    assert j["input"] == "clip.mp4" and set(j["top"][0]) == {"label", "score"}
    rec = Recognizer(probs, ["hello", "thankyou"], RecognizerOptions(threshold=0.7))
    out = [r for i, f in enumerate(frames) for r in rec.update(f, i / 30)] + rec.flush()
    assert [(r.label, r.accepted) for r in out] == [("no sign", False)]
    rec = Recognizer(probs, ["hello", "thankyou"], RecognizerOptions(mode="sliding", window=16, stride=2, smoothing=0.0))
    out = [r for i, f in enumerate(frames) for r in rec.update(f, i / 30)]
    assert [r.label for r in out] == ["thankyou", "hello"]  # reported once each, when it becomes the top


# -- end to end ---------------------------------------------------------------------------------------------

def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from edgelite.cli import main

    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_headless_run_prints_json_lines(rendered, tiny_model, hand_task, capsys):
    rc, out, err = _cli(["run", "webcam", "--model", tiny_model, "--video", rendered["video"], "--headless",
                         "--hands", "litert", "--hand-model", str(hand_task)], capsys)
    assert rc == 0, err
    lines = [json.loads(x) for x in out.strip().splitlines()]
    summary = lines[-1]["summary"]
    recs = lines[:-1]
    assert summary["frames"] == len(rendered["frames"])
    assert summary["frames_with_hands"] >= 0.8 * np.isfinite(rendered["gt"]["px"][:, :, 0, 0]).any(1).sum()
    assert 2 <= len(recs) <= 6  # 3 rendered signs (a sign may split where its hands vanish for a while)
    for r in recs:
        assert set(r) == {"input", "t_start", "t_end", "label", "score", "top"} and r["input"] == rendered["video"]
        assert r["label"] in ("hello", "thankyou", "no sign") and 0 <= r["score"] <= 1
        assert r["t_start"] <= r["t_end"]
        assert abs(sum(t["score"] for t in r["top"]) - 1) < 1e-3
    assert {"decode", "hands", "layout", "model"} <= set(summary["stages"])


def test_record_parquet_roundtrip(rendered, tiny_model, hand_task, tmp_path):
    pa = pytest.importorskip("pyarrow.parquet")
    from edgelite.runtime.vision.webcam import WebcamOptions, run_webcam

    seen = {}
    out_dir = tmp_path / "rec"
    opts = WebcamOptions(model=tiny_model, video=rendered["video"], hands="litert", hand_model=str(hand_task),
                         headless=True, record=str(out_dir), label="hello", participant=42)
    import io

    summary = run_webcam(opts, out=io.StringIO(), on_frame=lambda i, h, f: seen.__setitem__(i, f.copy()))
    rows = (out_dir / "train.csv").read_text().splitlines()
    assert rows[0] == "path,participant_id,sequence_id,sign"
    assert len(rows) - 1 == summary["recorded"] >= 2
    total = 0
    for line in rows[1:]:
        path, pid, seq, sign = line.split(",")
        assert pid == "42" and sign == "hello" and path == f"train_landmark_files/42/{seq}.parquet"
        t = pa.read_table(out_dir / path)
        assert t.column_names == ["frame", "row_id", "type", "landmark_index", "x", "y", "z"]
        assert t.num_rows % 543 == 0
        frames = t.column("frame").to_numpy()
        types = t.column("type").to_pylist()
        assert types[:543] == ["face"] * 468 + ["left_hand"] * 21 + ["pose"] * 33 + ["right_hand"] * 21
        assert t.column("row_id").to_pylist()[468] == f"{frames[0]}-left_hand-0"
        xyz = np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in "xyz"], -1)
        xyz = xyz.reshape(-1, 543, 3)
        for k, fi in enumerate(frames[::543]):
            np.testing.assert_array_equal(xyz[k], seen[int(fi)])  # NaN == NaN for assert_array_equal
        np.testing.assert_array_equal(read_parquet(out_dir / path), xyz)
        total += len(xyz)
    assert total >= 10


def test_interrupt_finishes_recording(rendered, hand_task, tmp_path):
    from edgelite.runtime.vision.webcam import WebcamOptions, run_webcam

    gt = rendered["gt"]["px"]
    first_hand = int(np.nonzero(np.isfinite(gt[:, :, 0, 0]).any(1))[0][0])

    def stop(i, hands, frame):
        if i == first_hand + 8:
            raise KeyboardInterrupt

    opts = WebcamOptions(video=rendered["video"], hand_model=str(hand_task), headless=True, record=str(tmp_path),
                         label="thankyou")
    import io

    s = run_webcam(opts, out=io.StringIO(), on_frame=stop)
    assert s["interrupted"] and s["recorded"] == 1 and s["frames"] == first_hand + 9
    assert (tmp_path / "train.csv").read_text().splitlines()[1].endswith(",thankyou")


# -- errors ---------------------------------------------------------------------------------------------------

def test_wrong_signature_model_is_a_clear_error(accel_model, rendered, capsys):
    from edgelite.runtime.signs.classifier import SignClassifier

    with pytest.raises(ModelError, match=r"expected float32 \[T,543,3\]"):
        SignClassifier(accel_model)
    rc, out, err = _cli(["run", "webcam", "--model", accel_model, "--video", rendered["video"], "--headless"], capsys)
    assert rc == 2 and "[T,543,3]" in err and "Traceback" not in err


def test_unreadable_and_missing_video(tiny_model, tmp_path, capsys):
    pytest.importorskip("cv2")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    rc, out, err = _cli(["run", "webcam", "--model", tiny_model, "--video", str(bad), "--headless"], capsys)
    assert rc == 2 and "bad.mp4" in err and ("cannot open" in err or "no decodable frames" in err)
    rc, out, err = _cli(["run", "webcam", "--model", tiny_model, "--video", str(tmp_path / "nope.mp4"),
                         "--headless"], capsys)
    assert rc == 2 and "not found" in err


def test_missing_camera_and_camera_failing_mid_run(tiny_model, capsys, monkeypatch):
    pytest.importorskip("cv2")
    from edgelite.runtime.vision import capture as webcam

    rc, out, err = _cli(["run", "webcam", "--model", tiny_model, "--camera", "97", "--headless"], capsys)
    assert rc == 2 and "camera 97" in err

    class DeadCap:
        def read(self):
            return False, None

        def release(self):
            pass

    src = webcam.FrameSource.__new__(webcam.FrameSource)
    src.cap, src.is_video, src.name, src.index, src.fps = DeadCap(), False, "camera 0", 5, 0.0
    monkeypatch.setattr(webcam.time, "sleep", lambda s: None)
    with pytest.raises(EdgeliteError, match="stopped delivering frames"):
        src.read()


def test_no_display_without_headless(tiny_model, rendered, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("display check is Linux-specific")
    rc, out, err = _cli(["run", "webcam", "--model", tiny_model, "--video", rendered["video"]], capsys)
    assert rc == 2 and "--headless" in err


def test_hand_model_resolution(tmp_path, monkeypatch, hand_task):
    monkeypatch.setenv("EDGELITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGELITE_SHARED", str(tmp_path / "noshared"))
    with pytest.raises(EdgeliteError, match="storage.googleapis.com"):
        resolve_hand_model(None, allow_download=False)
    with pytest.raises(EdgeliteError, match="not found"):
        resolve_hand_model(tmp_path / "missing.task")
    (tmp_path / "cache").mkdir(exist_ok=True)
    (tmp_path / "cache" / "hand_landmarker.task").write_bytes(b"x")
    assert resolve_hand_model(None) == tmp_path / "cache" / "hand_landmarker.task"
    assert resolve_hand_model(hand_task) == hand_task
    from edgelite.runtime.vision.hands_litert import LiteRTHandTracker

    with pytest.raises(ModelError, match="not a MediaPipe .task bundle"):
        LiteRTHandTracker.create_from_options(HandTrackerOptions(model_path=str(tmp_path / "cache" / "hand_landmarker.task")))


def test_runtime_modules_import_no_tensorflow_mediapipe_or_opencv():
    code = ("import sys; import edgelite.runtime.vision.hands, edgelite.runtime.vision.hands_litert, edgelite.runtime.vision.hands_mediapipe, "
            "edgelite.runtime.vision.frames, edgelite.runtime.signs.recognize, edgelite.runtime.vision.webcam; "
            "bad = [m for m in ('tensorflow', 'keras', 'mediapipe', 'cv2', 'pyarrow') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_litert_tracker_rejects_bad_frames(hand_task):
    from edgelite.runtime.vision.hands_litert import LiteRTHandTracker

    with LiteRTHandTracker.create_from_options(HandTrackerOptions(model_path=str(hand_task))) as tr:
        with pytest.raises(DataError, match="RGB"):
            tr.process(np.zeros((10, 10), np.uint8))
        assert tr.process(np.zeros((48, 64, 3), np.uint8)) == []
        assert tr.stats["detector_runs"] == 1


def test_pose_tracker_and_pose_layout(shared):
    pytest.importorskip("mediapipe")
    from edgelite.runtime.vision.frames import PoseTracker, check_trackable, required_parts

    task = shared / "models" / "pose_landmarker_full.task"
    if not task.exists():
        pytest.skip("pose_landmarker_full.task not in shared/models")
    with PoseTracker(task) as pose:
        assert pose.process(np.zeros((96, 128, 3), np.uint8), 0) is None  # nobody in a black frame
    assert required_parts("hands+pose") == {"left_hand", "right_hand", "pose"}
    with pytest.warns(UserWarning, match="face"):
        assert check_trackable("all", with_pose=True) == ["face"]


def test_recorded_parquet_reads_back_through_the_training_reader(tmp_path, shared):
    """A segment written by the recorder is read by `sign_io` (the training reader) with identical landmarks."""
    pytest.importorskip("pyarrow")
    from edgelite.runtime.vision.frames import write_parquet
    from edgelite.runtime.signs.io import read_parquet_sequence

    real = read_parquet_sequence(shared / "data/asl-signs/train_landmark_files/2044/185948800.parquet")
    path = tmp_path / "rec.parquet"
    write_parquet(path, real)
    back = read_parquet_sequence(path)
    assert back.shape == real.shape
    np.testing.assert_array_equal(np.isnan(back), np.isnan(real))
    np.testing.assert_allclose(back[~np.isnan(back)], real[~np.isnan(real)], atol=1e-6)


def test_required_parts_of_the_landmark_sets():
    from edgelite.runtime.vision.frames import check_trackable, required_parts

    assert required_parts("hands") == {"left_hand", "right_hand"}
    assert required_parts("hands+pose") == {"left_hand", "right_hand", "pose"}
    assert required_parts("kaggle") == {"left_hand", "right_hand", "pose", "face"}
    assert "face" in " ".join(check_trackable("kaggle", with_pose=True))
