"""The sign page on Chromium's fake camera (its own module: the browser needs launch flags naming the video).

Skips with a note when chromium / playwright / the npm runtime cache are missing; fails under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web_models import RESULTS, record, require_tools, tiny_runs, tiny_sites

_record = record


@pytest.fixture(scope="module")
def sites() -> Path:
    require_tools()
    return tiny_sites()


def test_web_camera_fake_capture(sites, tmp_path):
    """Real asl-signs landmarks rendered as a video (benchmarks/render_signs_video.py) → Y4M → Chromium's fake
    camera → the sign page tracks hands with MediaPipe tasks-vision and recognises signs, every frame processed
    (4 fps). The page's labels are compared with `edgelite run webcam --video --hands mediapipe` on the same
    file and recorded, not asserted equal: Chromium's fake camera converts the Y4M to RGB its own way (other pixels
    than OpenCV's decoder) and plays it in real time, so a borderline frame can tip a segment. Equality on the same
    frames is asserted by test_web_camera_frame_stepped_labels_equal_python."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import render_signs_video as R

    from edgelite.runtime.core.paths import shared_dir
    from edgelite.runtime.web.browser import browser
    from edgelite.runtime.web.server import WebServer, WebServerOptions
    from edgelite.runtime.web.y4m import write_y4m

    pytest.importorskip("cv2")
    root = shared_dir() / "data" / "asl-signs"
    rows = R.pick_rows(root / "train.csv", 2)
    R.render(rows, root, tmp_path / "signs.avi", gap_frames=10)
    n = write_y4m(tmp_path / "signs.y4m", R.read_frames_rgb(tmp_path / "signs.avi"), 4)
    r = subprocess.run([sys.executable, "-m", "edgelite.cli", "run", "webcam", "--model",
                        str(tiny_runs() / "signs" / "model.tflite"), "--video", str(tmp_path / "signs.y4m"),
                        "--headless", "--hands", "mediapipe"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    py_labels = [d["label"] for d in lines if "label" in d]
    py_hands = lines[-1]["summary"]["frames_with_hands"]
    failed = []
    args = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={tmp_path / 'signs.y4m'}",
            "--use-fake-ui-for-media-stream"]
    with WebServer(WebServerOptions(str(sites / "site_signs"), port=0)) as srv, browser(args) as ctx:
        ctx.grant_permissions(["camera"])
        page = ctx.new_page()
        page.on("requestfailed", lambda q: failed.append([q.url, q.failure]))
        page.goto(srv.url + "signs.html?autostart=1")
        page.wait_for_function(f"() => window.edgelite && window.edgelite.frames >= {n}", timeout=300000, polling=50)
        got = page.evaluate("() => { const e = window.edgelite; return {frames: e.frames, dropped: e.dropped, fps: e.fps,"
                            "hands: e.handFrames, labels: e.results.map(r => r.label),"
                            "handMs: e.handMs.slice().sort((a, b) => a - b)[Math.floor(e.handMs.length / 2)]}; }")
        # the fake camera loops the file: take the screenshot while hands are in view
        page.wait_for_function(
            "() => { const e = window.edgelite; if ((e.lastResult?.landmarks?.length || 0) > 0) {"
            " e.paused = true; document.getElementById('video').pause(); return true; } return false; }",
            timeout=120000, polling=20)
        page.screenshot(path=str(RESULTS / "web_signs.png"), full_page=True)
        page.close()
    _record("camera_fake_capture", "asl_signs_rendered", {
        "video_frames": n, "page_frames": got["frames"], "dropped": got["dropped"], "page_fps": got["fps"],
        "page_frames_with_hands": got["hands"], "python_frames_with_hands": py_hands, "page_labels": got["labels"],
        "python_labels": py_labels, "labels_equal": got["labels"] == py_labels, "page_hand_ms_median": got["handMs"],
        "failed_requests": failed})
    # nothing leaves the machine: tasks-vision's usage log POST (odml.pa.googleapis.com) is refused by the pages'
    # Content-Security-Policy (connect-src 'self')
    assert all("csp" in (why or "").lower() for u, why in failed if "127.0.0.1" not in u), failed
    assert got["dropped"] == 0 and got["frames"] >= n
    assert got["hands"] >= 0.5 * py_hands, (got["hands"], py_hands)
    assert len(got["labels"]) >= 1


def test_web_camera_frame_stepped_labels_equal_python(sites, tmp_path):
    """The same frames on both sides (video rendered from real landmarks; frames decoded by `run webcam --video`'s
    reader, fed to the page's frame-stepped source with exact indices and timestamps): the page's recognitions
    (label, t_start, t_end) EQUAL `edgelite run webcam --video FILE --hands mediapipe`, with close probabilities;
    the page's HandLandmarker lands within a few px of the Python MediaPipe tracker (and near the LiteRT tracker)."""
    pytest.importorskip("cv2")
    pytest.importorskip("mediapipe")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import web_landmarks as W

    res = W.measure(tiny_runs() / "signs" / "model.tflite", sites / "site_signs", 2, 30, tmp_path, gap=10)
    shot = res.pop("_screenshot")
    (RESULTS / "web_signs_stepped.png").write_bytes(shot)
    _record("camera_frame_stepped", "asl_signs_rendered", res)
    lab, lm = res["labels"], res["landmarks_px"]
    assert len(lab["python"]) >= 2, lab  # segments were found (equal empty lists prove nothing)
    assert lab["page"] == lab["python"], lab
    assert lab["max_abs_dp_top"] is not None and lab["max_abs_dp_top"] <= 0.05, lab
    mp = lm["page_vs_python_mediapipe"]
    assert res["page"]["frames"] == res["video"]["frames"]
    assert mp["same_hand_count"] >= 0.95 and mp["handedness_agreement"] >= 0.95, mp
    assert mp["median_px"] <= 2.0 and mp["p90_px"] <= 5.0, mp
    lt = lm["page_vs_python_litert"]
    assert lt["matched_hands"] >= 0.5 * mp["matched_hands"] and lt["median_px"] <= 8.0, lt
