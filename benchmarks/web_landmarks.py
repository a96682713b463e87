"""The sign page's camera path vs the Python webcam path on the same frames: labels and hand landmarks.

A video rendered from real landmarks (asl-signs parquet, :mod:`render_signs_video`) is written as Y4M (what
Chromium's fake camera plays). Its frames, decoded by the reader of ``edgelite run webcam --video``
(``FrameSource``, OpenCV), go to the page's frame-stepped source (``api.runFrames``: frame ``i`` at ``i/fps`` s,
tracker timestamp ``round(1000 i/fps)`` ms, every frame processed), so both sides see the same pixels at the same
times. Compared:

- the page's recognitions vs ``edgelite run webcam --video FILE --headless --hands mediapipe`` (label, t_start,
  t_end, probabilities);
- the page's HandLandmarker (tasks-vision wasm) vs the Python trackers (MediaPipe Tasks and the LiteRT tracker of
  ``runtime/vision``) on every frame: pixel distance of the 21 points of matched hands (median, p90), how often
  both find the same number of hands, handedness agreement of matched hands; and each tracker vs the drawn
  ground truth.

    python benchmarks/web_landmarks.py --model RUN/model.tflite --n 6     # writes results/web_landmarks.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def render_video(out_dir: Path, n: int, fps: int, gap: int = 15, seed: int = 0,
                 size: tuple[int, int] = (480, 640)) -> tuple[Path, dict]:
    """``n`` real asl-signs sequences rendered at ``size`` (width, height) → ``out_dir/signs.y4m`` (and the ground
    truth npz)."""
    sys.path.insert(0, str(HERE))
    import render_signs_video as R
    from edgelite.runtime.core.paths import shared_dir
    from edgelite.runtime.web.y4m import write_y4m

    root = shared_dir() / "data" / "asl-signs"
    rows = R.pick_rows(root / "train.csv", n, seed=seed)
    gt = R.render(rows, root, out_dir / "signs.avi", size[0], size[1], gap_frames=gap, fps=float(fps))
    write_y4m(out_dir / "signs.y4m", R.read_frames_rgb(out_dir / "signs.avi"), fps)
    return out_dir / "signs.y4m", gt


def decode(video: Path) -> tuple[np.ndarray, float]:
    """All frames as ``[N,H,W,3]`` uint8 RGB and the fps, read by the ``run webcam --video`` reader."""
    from edgelite.runtime.vision.capture import FrameSource

    src = FrameSource(video=str(video))
    frames = []
    try:
        while (got := src.read()) is not None:
            frames.append(got[0])
    finally:
        src.close()
    return np.stack(frames), src.fps


def python_hands(frames: np.ndarray, fps: float, backend: str) -> list[list[tuple[str, np.ndarray]]]:
    """Per frame: ``[(handedness, px [21,2])]`` from a Python tracker, timestamps as in ``run webcam``."""
    from edgelite.runtime.vision.hands import HandTrackerOptions, create_hand_tracker

    out = []
    with create_hand_tracker(HandTrackerOptions(backend=backend)) as tr:
        for i, rgb in enumerate(frames):
            out.append([(h.handedness, np.asarray(h.px, np.float64)[:, :2]) for h in tr.process(rgb, round(i / fps * 1000))])
    return out


def page_hands(trace: list, width: int, height: int) -> list[list[tuple[str, np.ndarray]]]:
    """The page's ``api.trace`` (normalised x, y) → per frame ``[(handedness, px [21,2])]``."""
    scale = np.array([width, height], np.float64)
    return [[(h["handedness"], np.asarray(h["xy"], np.float64).reshape(21, 2) * scale) for h in fr] for fr in trace]


def ground_truth_hands(gt: dict) -> list[list[tuple[str, np.ndarray]]]:
    """Drawn positions: slot 0 = Kaggle left_hand, 1 = right_hand (MediaPipe's raw-view labels)."""
    out = []
    for f in gt["px"]:
        out.append([(("Left", "Right")[s], f[s].astype(np.float64)) for s in range(2) if np.isfinite(f[s]).all()])
    return out


def _pairs(a: list, b: list) -> list[tuple[int, int]]:
    """Match hands of two trackers in one frame by mean position (≤ 2 hands each)."""
    if not a or not b:
        return []
    cost = {(i, j): float(np.linalg.norm(a[i][1].mean(0) - b[j][1].mean(0))) for i in range(len(a)) for j in range(len(b))}
    if len(a) == 2 and len(b) == 2:
        straight, crossed = cost[0, 0] + cost[1, 1], cost[0, 1] + cost[1, 0]
        return [(0, 0), (1, 1)] if straight <= crossed else [(0, 1), (1, 0)]
    i, j = min(cost, key=cost.get)
    return [(i, j)]


def compare(a: list, b: list) -> dict:
    """Landmark pixel distances and agreement between two per-frame hand lists of the same frames."""
    if len(a) != len(b):
        raise ValueError(f"compare: {len(a)} vs {len(b)} frames")
    d, same_label, pairs = [], 0, 0
    for fa, fb in zip(a, b):
        for i, j in _pairs(fa, fb):
            d.append(np.linalg.norm(fa[i][1] - fb[j][1], axis=1))
            same_label += fa[i][0] == fb[j][0]
            pairs += 1
    dist = np.concatenate(d) if d else np.zeros(0)
    return {"frames": len(a), "frames_with_hands": [sum(bool(f) for f in a), sum(bool(f) for f in b)],
            "same_hand_count": round(float(np.mean([len(x) == len(y) for x, y in zip(a, b)])), 4),
            "matched_hands": pairs, "handedness_agreement": round(same_label / pairs, 4) if pairs else None,
            "median_px": round(float(np.median(dist)), 3) if dist.size else None,
            "p90_px": round(float(np.percentile(dist, 90)), 3) if dist.size else None,
            "max_px": round(float(dist.max()), 3) if dist.size else None}


def run_page(site: Path, frames: np.ndarray, fps: float) -> dict:
    """The sign page's frame-stepped source on ``frames``: {results, trace, hand_ms_median}."""
    from edgelite.runtime.web.browser import browser, open_page
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    _, h, w, _ = frames.shape
    d = site / "_frames"
    d.mkdir(exist_ok=True)
    raw = d / f"frames-{os.getpid()}.rgb"
    raw.write_bytes(np.ascontiguousarray(frames, np.uint8).tobytes())
    try:
        with WebServer(WebServerOptions(str(site), port=0)) as srv, browser() as ctx:
            page = open_page(ctx, srv.url + "signs.html")
            page.wait_for_function("() => !!window.edgelite.hands", timeout=120000)
            got = page.evaluate(
                "async ([url, o]) => { const e = window.edgelite; const r = await e.runFrames(url, o);"
                "const ms = e.handMs.slice().sort((a, b) => a - b);"
                "return {results: r.map(x => ({label: x.label, score: x.score, t_start: x.tStart, t_end: x.tEnd,"
                " start: x.start, end: x.end, probs: x.probs})), trace: e.trace, frames: e.frames,"
                " hand_ms_median: ms[Math.floor(ms.length / 2)]}; }",
                [f"_frames/{raw.name}", {"width": w, "height": h, "fps": fps, "trace": True}])
            got["screenshot"] = page.screenshot(full_page=True)
            page.close()
    finally:
        raw.unlink(missing_ok=True)
    return got


JS_GRAB = """async (n) => { const s = await navigator.mediaDevices.getUserMedia({video: true});
  const v = document.createElement('video'); v.srcObject = s; v.muted = true; await v.play();
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', {willReadFrequently: true}); const out = [];
  for (let i = 0; i < n; i++) { await new Promise((r) => v.requestVideoFrameCallback(r)); g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let b = '';
    for (let k = 0; k < d.length; k += 4) b += String.fromCharCode(d[k], d[k + 1], d[k + 2]);
    out.push(btoa(b)); }
  return {w: c.width, h: c.height, frames: out}; }"""


def fake_capture_pixels(site: Path, video: Path, frames: np.ndarray, n: int = 8) -> dict:
    """Why Chromium's fake camera cannot give labels equal to ``run webcam --video``: the first ``n`` frames the
    page receives from ``--use-file-for-fake-video-capture=video``, each matched to the closest frame OpenCV decodes
    from the same file: which frame it is, and how far its pixels are (RGB levels)."""
    import base64

    from edgelite.runtime.web.browser import browser
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    args = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}",
            "--use-fake-ui-for-media-stream"]
    with WebServer(WebServerOptions(str(site), port=0)) as srv, browser(args) as ctx:
        ctx.grant_permissions(["camera"])
        page = ctx.new_page()
        page.goto(srv.url + "index.html")
        got = page.evaluate(JS_GRAB, n)
        page.close()
    rows = []
    ref = frames.astype(np.int16).reshape(len(frames), -1)
    for b in got["frames"]:
        x = np.frombuffer(base64.b64decode(b), np.uint8).astype(np.int16)
        d = np.abs(ref - x[None])
        j = int(d.mean(1).argmin())
        rows.append({"closest_frame": j, "mean_abs": round(float(d[j].mean()), 3), "max_abs": int(d[j].max()),
                     "pixels_differing": round(float((d[j] > 0).mean()), 4)})
    return {"video": str(video), "frames_grabbed": rows}


def run_python(model: Path, video: Path, hands: str = "mediapipe") -> dict:
    """``edgelite run webcam --video`` (headless): {results: [{label, score, top, t_start, t_end}], summary}."""
    r = subprocess.run([sys.executable, "-m", "edgelite.cli", "run", "webcam", "--model", str(model), "--video",
                        str(video), "--headless", "--hands", hands], check=False, capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"run webcam failed: {r.stderr[-2000:]}")
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return {"results": [x for x in lines if "label" in x], "summary": lines[-1]["summary"]}


def label_rows(page: list[dict], py: list[dict]) -> dict:
    """Page vs Python recognitions: (label, t_start, t_end) lists (times at the JSON lines' 3 decimals) and the
    largest probability difference over the labels both report in the Python top list."""
    pr = [(r["label"], round(r["t_start"], 3), round(r["t_end"], 3)) for r in page]
    yr = [(r["label"], round(r["t_start"], 3), round(r["t_end"], 3)) for r in py]
    dp = None
    if len(page) == len(py) and page and page[0].get("probs") is not None:
        dp = 0.0
        for a, b in zip(page, py):
            for t in b["top"]:
                lab_i = a["labels"].index(t["label"]) if "labels" in a else None
                if lab_i is not None:
                    dp = max(dp, abs(a["probs"][lab_i] - t["score"]))
    return {"page": pr, "python": yr, "equal": pr == yr, "max_abs_dp_top": dp}


def measure(model: Path, site: Path, n: int, fps: int, work: Path, gap: int = 15,
            size: tuple[int, int] = (480, 640)) -> dict:
    """The whole comparison on ``n`` rendered sequences (``gap`` blank frames around each, ``size`` = width,
    height); returns the result dict (``seconds``: wall time of each step)."""
    sec = {}
    t0 = time.perf_counter()
    video, gt = render_video(work, n, fps, gap, size=size)
    frames, vfps = decode(video)
    sec["render_decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = run_page(site, frames, vfps)
    sec["page"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    py = run_python(model, video)
    sec["run_webcam"] = time.perf_counter() - t0
    labels = json.loads((site / "model" / "config.json").read_text())["labels"]
    for r in page["results"]:
        r["labels"] = labels
    ph = page_hands(page["trace"], frames.shape[2], frames.shape[1])
    t0 = time.perf_counter()
    mp, lt, truth = python_hands(frames, vfps, "mediapipe"), python_hands(frames, vfps, "litert"), ground_truth_hands(gt)
    sec["python_trackers"] = time.perf_counter() - t0
    return {"video": {"frames": len(frames), "fps": vfps, "size": [int(frames.shape[2]), int(frames.shape[1])],
                      "sequences": [str(s) for s in gt["signs"]], "source": "rendered from real landmarks (asl-signs)"},
            "labels": label_rows(page["results"], py["results"]),
            "landmarks_px": {"page_vs_python_mediapipe": compare(ph, mp), "page_vs_python_litert": compare(ph, lt),
                             "python_mediapipe_vs_litert": compare(mp, lt), "page_vs_drawn": compare(ph, truth),
                             "python_mediapipe_vs_drawn": compare(mp, truth), "python_litert_vs_drawn": compare(lt, truth)},
            "page": {"frames": page["frames"], "hand_ms_median": page["hand_ms_median"]},
            "seconds": {k: round(v, 1) for k, v in sec.items()},
            "python_summary": {k: py["summary"][k] for k in ("frames", "frames_with_hands", "segments", "fps")},
            "_screenshot": page["screenshot"]}


def to_markdown(res: dict, machine: dict | None = None) -> str:
    lines = ["# Sign page (browser) vs Python webcam path on the same frames", "",
             (f"Video rendered from real landmarks: {res['video']['frames']} frames at {res['video']['fps']} fps, "
              f"{res['video']['size'][0]}x{res['video']['size'][1]}, signs {', '.join(res['video']['sequences'])}."), "",
             f"Labels (page vs `edgelite run webcam --video --hands mediapipe`): equal = {res['labels']['equal']}",
             f"- page:   {res['labels']['page']}", f"- python: {res['labels']['python']}", "",
             "| comparison | frames with hands (a, b) | same hand count | handedness agreement | median px | p90 px | max px |",
             "|---|---|---|---|---|---|---|"]
    for k, v in res["landmarks_px"].items():
        lines.append(f"| {k} | {v['frames_with_hands']} | {v['same_hand_count']} | {v['handedness_agreement']} | "
                     f"{v['median_px']} | {v['p90_px']} | {v['max_px']} |")
    if res.get("seconds"):
        lines += ["", f"Wall seconds per step: {res['seconds']}; page hand tracking median {res['page']['hand_ms_median']:.1f} ms/frame."]
    if res.get("model"):
        lines += ["", f"Model: {res['model']}. Command: `{res.get('command', '')}`"]
    if machine:
        lines += ["", f"Machine: {json.dumps(machine)}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="sign model.tflite of a run folder (its saved_model/ beside it)")
    ap.add_argument("--n", type=int, default=6, help="rendered sequences")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--gap", type=int, default=15, help="blank frames between sequences")
    ap.add_argument("--size", default="480x640", help="video WIDTHxHEIGHT")
    ap.add_argument("--fake-capture-check", action="store_true",
                    help="only compare the fake camera's frames with OpenCV's decode (→ results/web_fakecapture.json)")
    ap.add_argument("--out", default=str(RESULTS / "web_landmarks"), help="result path without extension")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent.parent))
    from edgelite.convert.web import export_web_site
    from edgelite.runtime.bench.machine import machine_info

    if args.fake_capture_check:
        with tempfile.TemporaryDirectory(prefix="edgelite-web-fakecap-") as tmp:
            video, _ = render_video(Path(tmp), 1, 4, gap=4)
            frames, _ = decode(video)
            res = fake_capture_pixels(HERE.parent / "convert" / "web" / "site", video, frames)
        res.update(machine=machine_info(), command="python benchmarks/web_landmarks.py --fake-capture-check")
        (RESULTS / "web_fakecapture.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res["frames_grabbed"], indent=1))
        return 0
    if not args.model:
        ap.error("--model is required (except with --fake-capture-check)")
    with tempfile.TemporaryDirectory(prefix="edgelite-web-landmarks-") as tmp:
        site = Path(tmp) / "site"
        export_web_site(args.model, str(site))
        res = measure(Path(args.model), site, args.n, args.fps, Path(tmp), args.gap,
                      tuple(int(v) for v in args.size.split("x")))
    shot = res.pop("_screenshot")
    res["model"] = args.model
    res["machine"] = machine_info()
    res["command"] = "python benchmarks/web_landmarks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((out.with_suffix(".json"), json.dumps(res, indent=1) + "\n"), (out.with_suffix(".md"), to_markdown(res, res["machine"]))):
        tmp_p = path.with_name(path.name + ".tmp")
        tmp_p.write_text(text)
        tmp_p.replace(path)
    (out.parent / (out.name + ".png")).write_bytes(shot)
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
