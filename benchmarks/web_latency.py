"""In-browser latency of the web target (headless Debian Chromium, LiteRT.js wasm), side by side with Python
LiteRT on the same machine in the same run:

- model inference ms: accel ([window,3]) and sign ([192,543,3]) web variants; LiteRT.js single-thread wasm
  ("1 thread") and threaded wasm with its default thread count ("default"; the page is cross-origin isolated
  by the edgelite server), vs Python ai-edge-litert with 1 thread and the default;
- hand tracking ms/frame in the browser (MediaPipe tasks-vision HandLandmarker, VIDEO mode, CPU/wasm) and
  end-to-end page FPS on Chromium's fake camera (a 30 fps Y4M of real asl-signs landmarks rendered by
  benchmarks/render_signs_video.py), vs Python MediaPipe on the same video;
- size of each exported site in MB.

Models: the tiny test models (tests/web_models.py: untrained, real export paths and in-graph preprocessing)
unless --accel-model / --signs-model (each next to its run's saved_model/) are given.

    python benchmarks/web_latency.py            # → benchmarks/results/web_latency.{md,json}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

JS_BENCH = """async ([runs, warmup, which]) => {
  const e = window.edgelite; const m = e[which]; const x = new Float32Array(m.size);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1000) / 1000;
  for (let i = 0; i < warmup; i++) await m.predict(x);
  const ms = [];
  for (let i = 0; i < runs; i++) { const t = performance.now(); await m.predict(x); ms.push(performance.now() - t); }
  const info = (await import('./js/edgelite.js')).runtimeInfo;
  return {ms, isolated: self.crossOriginIsolated, threaded_wasm: info.threads};
}"""


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, np.float64)
    return {"median_ms": round(float(np.median(a)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3), "n": int(a.size)}


def python_latency(model: str, shape: list[int], runs: int, threads: int | None) -> dict[str, float]:
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(model, num_threads=threads)
    x = (np.arange(int(np.prod(shape))) * 7919 % 1000 / 1000).astype(np.float32).reshape(shape)
    for _ in range(5):
        m.predict(x)
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        m.predict(x)
        ms.append((time.perf_counter() - t) * 1e3)
    return _stats(ms)


def browser_latency(ctx, url: str, runs: int, which: str = "model") -> dict[str, dict[str, float]]:
    """LiteRT.js ms per call of the page's ``window.edgelite[which]`` (``model`` or ``spotterModel``)."""
    from edgelite.runtime.web.browser import open_page

    out = {}
    for name, q in (("1 thread", ""), ("default", "&threads=1")):
        page = open_page(ctx, url + q)
        r = page.evaluate(JS_BENCH, [runs, 5, which])
        out[name] = {**_stats(r["ms"]), "cross_origin_isolated": r["isolated"], "threaded_wasm": r["threaded_wasm"]}
        page.close()
    return out


def camera_run(site: Path, work: Path, fps: int, seconds: float) -> dict:
    """Page FPS + hand ms on the fake camera (a Y4M of rendered real landmarks), and Python MediaPipe on it."""
    import render_signs_video as R

    from edgelite.runtime.core.paths import shared_dir
    from edgelite.runtime.web.browser import browser
    from edgelite.runtime.web.server import WebServer, WebServerOptions
    from edgelite.runtime.web.y4m import write_y4m

    root = shared_dir() / "data" / "asl-signs"
    R.render(R.pick_rows(root / "train.csv", 4), root, work / "signs.avi", fps=fps, gap_frames=10)
    frames = R.read_frames_rgb(work / "signs.avi")
    write_y4m(work / "signs.y4m", frames, fps)
    args = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={work / 'signs.y4m'}",
            "--use-fake-ui-for-media-stream"]
    with WebServer(WebServerOptions(str(site), port=0)) as srv, browser(args) as ctx:
        ctx.grant_permissions(["camera"])
        page = ctx.new_page()
        page.goto(srv.url + "signs.html?autostart=1")
        page.wait_for_function("() => window.edgelite && window.edgelite.frames >= 5", timeout=180000)
        f0, c0, t0 = page.evaluate("() => [window.edgelite.frames, window.edgelite.cameraFrames, performance.now()]")
        page.wait_for_timeout(seconds * 1000)
        r = page.evaluate("() => ({frames: window.edgelite.frames, camera: window.edgelite.cameraFrames, t: performance.now(),"
                          "handMs: window.edgelite.handMs})")
        page.close()
    page_fps = (r["frames"] - f0) / ((r["t"] - t0) / 1e3)
    py = _python_hands(frames[: min(len(frames), 150)], fps)
    return {"video_fps": fps, "page_fps": round(page_fps, 2), "camera_frames_presented": r["camera"] - c0,
            "frames_processed": r["frames"] - f0, "hands_browser": _stats(r["handMs"][-300:]), "hands_python_mediapipe": py,
            "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}"}


def _python_hands(frames: list, fps: int) -> dict[str, float]:
    from edgelite.runtime.vision.hands import HandTrackerOptions, create_hand_tracker

    ms = []
    with create_hand_tracker(HandTrackerOptions(backend="mediapipe")) as tr:
        for i, rgb in enumerate(frames):
            t = time.perf_counter()
            tr.process(rgb, int(i * 1000 / fps))
            ms.append((time.perf_counter() - t) * 1e3)
    return _stats(ms[5:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accel-model", help="accel .tflite next to its run's saved_model/ (default: tiny test model)")
    ap.add_argument("--signs-model", help="sign .tflite next to its run's saved_model/ (default: tiny test model)")
    ap.add_argument("--spotter", help="continuous-signing spotter .tflite (default: the run's spotter.tflite beside "
                    "--signs-model, else an untrained one with the default window)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--camera-fps", type=int, default=30)
    ap.add_argument("--camera-seconds", type=float, default=20.0)
    ap.add_argument("--out", default=str(HERE / "results"))
    a = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from bench_common import command_line, header, machine, save

    from edgelite.convert.web import export_web_site, site_size_mb
    from edgelite.runtime.web.browser import browser, missing_tools
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    miss = missing_tools()
    if miss:
        print("web_latency: missing " + "; ".join(miss), file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="edgelite-web-bench-"))
    if not (a.accel_model and a.signs_model):
        from web_models import tiny_runs

        runs = tiny_runs()
    models = {"accel": a.accel_model or str(runs / "accel" / "model.tflite"),
              "signs": a.signs_model or str(runs / "signs" / "model.tflite")}
    res: dict = {"machine": machine(), "models": models, "inference": {}, "site_mb": {}}
    from edgelite.convert.web import find_spotter

    spotter = a.spotter or find_spotter(models["signs"])
    if not spotter:
        from web_models import tiny_spotter

        spotter = str(tiny_spotter())
    models["spotter"] = spotter
    for task, model in list(models.items())[:2]:
        site = work / f"site_{task}"
        export_web_site(model, str(site), spotter=spotter if task == "signs" else None)
        res["site_mb"][task] = round(site_size_mb(str(site)), 1)
        cfg = json.loads((site / "model" / "config.json").read_text())
        web_model = str(site / "model" / "model.tflite")
        page = "accel.html?x=1" if task == "accel" else "signs.html?tracker=0"
        with WebServer(WebServerOptions(str(site), port=0)) as srv, browser() as ctx:
            row = {f"browser {k}": v for k, v in browser_latency(ctx, srv.url + page, a.runs).items()}
        row["python 1 thread"] = python_latency(web_model, cfg["input_shape"], a.runs, 1)
        row["python default"] = python_latency(web_model, cfg["input_shape"], a.runs, None)
        res["inference"][task] = {"input_shape": cfg["input_shape"], **row}
        print(task, json.dumps(row), flush=True)
        if task == "signs":  # the spotter runs once every `stride` frames: per-frame cost = ms / stride
            sc = cfg["spotter"]
            with WebServer(WebServerOptions(str(site), port=0)) as srv, browser() as ctx:
                row = {f"browser {k}": v for k, v in browser_latency(ctx, srv.url + page, a.runs, "spotterModel").items()}
            for k, th in (("python 1 thread", 1), ("python default", None)):
                row[k] = python_latency(str(site / "model" / "spotter.tflite"), sc["input_shape"], a.runs, th)
            res["inference"]["spotter"] = {"input_shape": sc["input_shape"], "stride": sc["spotting"]["stride"], **row}
            print("spotter", json.dumps(row), flush=True)
    res["camera"] = camera_run(work / "site_signs", work, a.camera_fps, a.camera_seconds)
    print("camera", json.dumps(res["camera"]), flush=True)
    m = res["machine"]
    md = [header("Web target latency (headless Chromium, LiteRT.js wasm) vs Python LiteRT", m, command_line()), "",
          "| model | input | browser 1 thread | browser default (threaded) | python 1 thread | python default |",
          "|---|---|---|---|---|---|"]
    for task, r in res["inference"].items():
        cell = lambda k: f"{r[k]['median_ms']:.3f} ms (p95 {r[k]['p95_ms']:.3f})"  # noqa: E731
        md.append(f"| {task} | {r['input_shape']} | {cell('browser 1 thread')} | {cell('browser default')} | "
                  f"{cell('python 1 thread')} | {cell('python default')} |")
    c = res["camera"]
    md += ["", f"Hand tracking (MediaPipe HandLandmarker, {c['size']} frames): browser tasks-vision wasm "
           f"{c['hands_browser']['median_ms']:.1f} ms/frame median (p95 {c['hands_browser']['p95_ms']:.1f}); "
           f"Python MediaPipe {c['hands_python_mediapipe']['median_ms']:.1f} ms/frame (p95 {c['hands_python_mediapipe']['p95_ms']:.1f}).",
           f"Sign page on Chromium's fake camera ({c['video_fps']} fps Y4M of real asl-signs landmarks): "
           f"{c['page_fps']:.1f} FPS end to end ({c['frames_processed']} frames processed of {c['camera_frames_presented']} "
           "the video element presented; the rest arrived while a frame was still being tracked).", "",
           f"Spotter (continuous signing) runs once every {res['inference']['spotter']['stride']} frames: per frame "
           f"{res['inference']['spotter']['browser 1 thread']['median_ms'] / res['inference']['spotter']['stride']:.3f} ms "
           f"in the browser (1 thread), {res['inference']['spotter']['python 1 thread']['median_ms'] / res['inference']['spotter']['stride']:.3f} ms in Python (1 thread).", "",
           "Site size: " + ", ".join(f"{k} {v} MB" for k, v in res["site_mb"].items()) +
           " (LiteRT.js wasm: plain, compat (no relaxed SIMD) and threaded builds; sign sites add tasks-vision wasm "
           "(SIMD + no-SIMD) and hand_landmarker.task).", "",
           "Models: " + ", ".join(f"{k}: {v}" for k, v in models.items()) + ". Browser flags: headless, --disable-gpu "
           "(no WebGPU: wasm/XNNPACK only)."]
    save("web_latency", res, "\n".join(md) + "\n", a.out)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
