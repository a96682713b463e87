"""The fast LiteRT hand tracker: detection schedule, motion gate, int8 landmark model, accuracy floors.

Accuracy is measured against MediaPipe Tasks on a short video rendered from real landmarks (three
Kaggle asl-signs sequences drawn as hands; no camera footage). Floors, not timings: speed is
measured by ``benchmarks/hands_speed.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from edgelite.runtime.core.errors import EdgeliteError, ModelError
from edgelite.runtime.vision.hands import HandTrackerOptions, create_hand_tracker
from edgelite.runtime.vision.motion import MotionGate, thumbnail
from edgelite.runtime.vision.stage_profile import StageProfile

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

# Floors vs MediaPipe Tasks on the 3-sequence clip. Measured here: the float tracker 1.47 px median /
# p90 5.7 / handedness 0.94 (most of it on the first frames after a palm detection, where the two
# trackers start from slightly different ROIs; after a few tracked frames they agree within 0.3 px),
# int8 0.93 px median from the float tracker. The 24-sequence numbers: benchmarks/results/hands_speed.md.
MEDIAN_PX = 2.0
P90_PX = 8.0
HANDEDNESS = 0.85
MISSED = 0.1  # share of MediaPipe's hands the tracker does not report
INT8_VS_FLOAT_MEDIAN_PX = 1.5
INT8_MEDIAN_PX = 2.5
INT8_HANDEDNESS = 0.75
MP_SCHEDULE = {"idle_detect_every": 1, "motion_threshold": 0.0, "redetect_every": 1}


@pytest.fixture(scope="session")
def hand_task(shared: Path) -> Path:
    p = shared / "models" / "hand_landmarker.task"
    if not p.exists():
        pytest.skip("hand_landmarker.task not in shared/models")
    return p


def _render(shared: Path, out: Path, seed: int) -> tuple[list[np.ndarray], dict]:
    pytest.importorskip("cv2")
    pytest.importorskip("pyarrow")
    import render_signs_video as rsv

    data = shared / "data" / "asl-signs"
    rows = rsv.pick_rows(data / "train.csv", 3, min_hand_frames=10, seed=seed)
    rsv.render(rows, data, out, gap_frames=12)
    return rsv.read_frames_rgb(out), rsv.load_ground_truth(out)


@pytest.fixture(scope="session")
def clip(shared: Path, tmp_path_factory) -> tuple[list[np.ndarray], dict]:
    """Evaluation clip (RGB frames, ground truth)."""
    return _render(shared, tmp_path_factory.mktemp("clip") / "signs.mp4", seed=1)


@pytest.fixture(scope="session")
def mp_tracks(clip, hand_task) -> list:
    pytest.importorskip("mediapipe")
    return _track(clip[0], hand_task, backend="mediapipe")


def _track(frames, hand_task, **over) -> list:
    with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), **over)) as tr:
        return [tr.process(f, i * 33) for i, f in enumerate(frames)]


def _deviation(tracks: list, ref: list) -> dict:
    from hands_speed import deviation

    return deviation([[(h.px, h.handedness) for h in hs] for hs in tracks],
                     [[(h.px, h.handedness) for h in hs] for hs in ref])


def _assert_close(tracks: list, ref: list, median_px: float, p90_px: float, handedness: float) -> dict:
    d = _deviation(tracks, ref)
    ref_hands = sum(len(r) for r in ref)
    assert ref_hands >= 25, ref_hands
    assert d["median_px"] <= median_px, d
    assert d["p90_px"] <= p90_px, d
    assert d["handedness_agreement"] >= handedness, d
    assert d["reference_hands_missed"] <= MISSED * ref_hands, d
    return d


# -- building blocks ------------------------------------------------------------------------------

def _scene(seed: int = 0) -> np.ndarray:
    """A smooth 480x640 RGB scene (a blurred random field, like an out-of-focus room)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(30, 220, (12, 16, 3)).astype(np.float32)
    ys, xs = np.linspace(0, 11, 480), np.linspace(0, 15, 640)
    y0, x0 = np.floor(ys).astype(int).clip(0, 10), np.floor(xs).astype(int).clip(0, 14)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = (small[y0][:, x0] * (1 - fy) * (1 - fx) + small[y0 + 1][:, x0] * fy * (1 - fx)
           + small[y0][:, x0 + 1] * (1 - fy) * fx + small[y0 + 1][:, x0 + 1] * fy * fx)
    return img.clip(0, 255).astype(np.uint8)


def test_motion_gate_ignores_noise_and_sees_a_hand():
    rng = np.random.default_rng(1)
    scene = _scene()
    gate = MotionGate(8.0)
    assert gate.changed(scene)  # no reference yet
    gate.set_reference(scene)
    assert not gate.changed(scene.copy())
    noisy = np.clip(scene + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8)  # sensor noise
    assert not gate.changed(noisy)
    hand = scene.copy()
    hand[400:480, 0:40] = (234, 206, 176)  # a hand-sized patch entering at the border
    assert gate.changed(hand)
    assert MotionGate(0.0).changed(scene)  # threshold 0 = gate off
    gate.reset()
    assert gate.changed(scene)
    assert thumbnail(scene).shape == (30, 40, 3)


def test_stage_profile_accumulates_per_stage():
    t = StageProfile()
    for _ in range(4):
        with t.stage("a"):
            sum(range(1000))
    with t.stage("b"):
        pass
    per = t.frame_ms(2)
    assert per["a"]["calls_per_frame"] == 2 and per["b"]["calls_per_frame"] == 0.5
    assert per["a"]["wall_ms"] > 0 and per["a"]["cpu_ms"] >= 0
    off = StageProfile(enabled=False)
    with off.stage("a"):
        pass
    assert off.totals() == {}


# -- detection schedule --------------------------------------------------------------------------

def test_idle_detection_schedule_on_an_empty_scene(hand_task):
    """No hand: detection on frame 0, then every ``idle_detect_every`` frames; with the motion gate
    only when the scene changed or ``max_idle_skip`` frames passed."""
    frames = [_scene()] * 30
    changed = [_scene()] * 10 + [_scene(5)] + [_scene(5)] * 9  # the scene changes at frame 10
    cases = [({"idle_detect_every": 1, "motion_threshold": 0.0}, frames, 30),
             ({"idle_detect_every": 2, "motion_threshold": 0.0}, frames, 15),
             ({"idle_detect_every": 2, "motion_threshold": 8.0, "max_idle_skip": 10}, frames, 3),  # 0, 10, 20
             ({"idle_detect_every": 2, "motion_threshold": 8.0, "max_idle_skip": 100}, changed, 2)]  # 0, 10
    for over, fr, runs in cases:
        with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model="float", **over)) as tr:
            assert all(tr.process(f, i) == [] for i, f in enumerate(fr))
            assert tr.stats["detector_runs"] == runs, (over, tr.stats)


def test_default_schedule_finds_hands_and_detects_less(clip, hand_task):
    """The default schedule finds the drawn hands in (almost) every frame MediaPipe's schedule does,
    with fewer detector runs."""
    frames, gt = clip
    has = np.isfinite(gt["px"][: len(frames), :, 0, 0]).any(1)
    stats = {}
    found = {}
    for name, over in (("every-frame", {"idle_detect_every": 1, "motion_threshold": 0.0, "redetect_every": 1}),
                       ("default", {})):
        with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model="float", **over)) as tr:
            found[name] = np.array([bool(tr.process(f, i * 33)) for i, f in enumerate(frames)])
            stats[name] = dict(tr.stats)
    assert stats["default"]["detector_runs"] < 0.5 * stats["every-frame"]["detector_runs"], stats
    assert found["default"][has].mean() >= found["every-frame"][has].mean() - 0.05, found
    assert found["default"][~has].mean() <= 0.1


# -- accuracy vs MediaPipe -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def float_tracks(clip, hand_task) -> list:
    return _track(clip[0], hand_task, landmark_model="float")


def test_float_tracker_matches_mediapipe(float_tracks, mp_tracks):
    _assert_close(float_tracks, mp_tracks, MEDIAN_PX, P90_PX, HANDEDNESS)


def test_fast_schedule_keeps_the_landmarks(clip, hand_task, float_tracks):
    """Detecting less often (default schedule) gives the landmarks of MediaPipe's schedule."""
    every = _track(clip[0], hand_task, landmark_model="float", **MP_SCHEDULE)
    d = _assert_close(float_tracks, every, 0.5, 3.0, 0.95)
    assert d["extra_hands"] <= MISSED * sum(len(r) for r in every), d


@pytest.fixture(scope="session")
def int8_cache(shared, hand_task, tmp_path_factory):
    """A cache folder holding the int8 landmark model, calibrated on a clip of other sequences."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("litert_quantizer")
    import os

    from edgelite.convert.hand_landmarks import make_cached_int8_landmarks

    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("EDGELITE_CACHE")
    os.environ["EDGELITE_CACHE"] = str(cache)
    try:
        frames, _ = _render(shared, tmp_path_factory.mktemp("calib") / "calib.mp4", seed=2)
        path, rep = make_cached_int8_landmarks(str(hand_task), frames)
        assert Path(path).is_file() and not rep["cached"] and rep["int8_ops"] > 30
        assert make_cached_int8_landmarks(str(hand_task), frames)[1]["cached"]
    finally:
        if old is None:
            os.environ.pop("EDGELITE_CACHE", None)
        else:
            os.environ["EDGELITE_CACHE"] = old
    return cache


def test_int8_tracker_stays_close(clip, hand_task, mp_tracks, int8_cache, monkeypatch):
    monkeypatch.setenv("EDGELITE_CACHE", str(int8_cache))
    with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model="auto")) as tr:
        assert tr.stats["landmark_model"] == "int8"  # "auto" picks the cached variant
    with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task))) as tr:
        assert tr.stats["landmark_model"] == "float"  # the default never depends on the cache
    int8 = _track(clip[0], hand_task, landmark_model="int8")
    _assert_close(int8, mp_tracks, INT8_MEDIAN_PX, 2 * P90_PX, INT8_HANDEDNESS)
    d = _deviation(int8, _track(clip[0], hand_task, landmark_model="float"))
    assert d["median_px"] <= INT8_VS_FLOAT_MEDIAN_PX, d


def test_int8_model_has_float_io_and_builtin_ops(int8_cache, hand_task, monkeypatch):
    monkeypatch.setenv("EDGELITE_CACHE", str(int8_cache))
    from edgelite.runtime.core.model import load_interpreter
    from edgelite.runtime.vision.hand_models import int8_landmarks_path

    it = load_interpreter(int8_landmarks_path(hand_task).read_bytes())
    it.allocate_tensors()
    assert [d["dtype"] for d in it.get_input_details()] == [np.float32]
    assert {np.dtype(d["dtype"]) for d in it.get_output_details()} == {np.dtype(np.float32)}
    assert len(it.get_output_details()) == 4


def test_float32_weights_is_exact(hand_task):
    pytest.importorskip("tensorflow")
    from edgelite.convert.hand_landmarks import float32_weights
    from edgelite.runtime.core.model import load_interpreter
    from edgelite.runtime.vision.hands import read_task_bundle

    f16 = read_task_bundle(hand_task)["hand_landmarks_detector.tflite"]
    x = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    outs = []
    for blob in (f16, float32_weights(f16)):
        it = load_interpreter(blob, num_threads=1)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append({d["name"]: it.get_tensor(d["index"]).copy() for d in it.get_output_details()})
    assert outs[0].keys() == outs[1].keys()
    for k in outs[0]:
        np.testing.assert_allclose(outs[1][k], outs[0][k], rtol=1e-5, atol=1e-4)


def test_landmark_model_choice_without_cache(hand_task, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELITE_CACHE", str(tmp_path))
    for choice in ("auto", "float"):
        with create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model=choice)) as tr:
            assert tr.stats["landmark_model"] == "float"  # auto: nothing cached
    with pytest.raises(ModelError, match="int8 hand landmark model not found"):
        create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model="int8"))
    with pytest.raises(EdgeliteError, match="expected one of auto, float, int8"):
        create_hand_tracker(HandTrackerOptions(model_path=str(hand_task), landmark_model="int4"))
