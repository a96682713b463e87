"""Hand-tracking speed and accuracy: the LiteRT tracker vs MediaPipe Tasks on the same frames.

Videos: Kaggle asl-signs landmark sequences *rendered from real landmarks* as hand drawings
(``render_signs_video.py``; no camera footage here), two videos from different sequence picks. Every
tracker configuration runs on every decoded frame, interleaved (the order rotates per frame) so
that load from other processes on a shared machine hits all alike; ratios and CPU ms are therefore
more trustworthy than absolute wall times. Per configuration and video it reports:

- wall and CPU ms per frame (mean = frame-rate equivalent; median), split into frames with drawn
  hands and blank frames; the frame-rate ratio to MediaPipe (mean wall ms of MediaPipe / of the
  configuration) and the CPU ratio. CPU ms is ``time.process_time`` (all threads): the Raspberry Pi proxy.
- per-stage wall and CPU ms per frame of the LiteRT tracker (detector crop/model/decode, motion gate,
  landmark crop/model/projection, the rest = tracking bookkeeping) and the decode stage (OpenCV).
- landmark deviation from MediaPipe (hands found by both, matched by median distance): median and
  p90 px, handedness agreement, hands MediaPipe found that the configuration missed and vice versa.

Configurations: ``mediapipe`` (Tasks HandLandmarker, VIDEO mode, its own threading);
``litert-mp-schedule`` (detector on the same frames as MediaPipe: the implementation alone);
``litert-previous`` (the schedule before this benchmark: detect every frame while no hand is tracked);
``litert float`` (the default schedule: while no hand is tracked, detect on every frame unless the
scene is unchanged since the last empty detection (at least every 15 frames),
redetect every 5 frames while one of two hands is tracked; the bundle's float landmark model);
``litert int8`` (the same with the int8 landmark model, ``landmark_model="int8"``; ``"auto"`` picks it once it
is cached; made here once, calibrated on a third rendered video) at each ``--threads`` value.

    python benchmarks/hands_speed.py                      # renders 2 videos (12 sequences each)
    python benchmarks/hands_speed.py --threads 1,2 --n 12

Results: ``benchmarks/results/hands_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

STEADY_FRAMES = 3  # "steady tracking": this tracker ran no palm detection on this or the 2 previous frames
PREVIOUS = {"idle_detect_every": 1, "motion_threshold": 0.0, "redetect_every": 5}
MP_SCHEDULE = {"idle_detect_every": 1, "motion_threshold": 0.0, "redetect_every": 1}


def configurations(threads: list[int | None], int8: bool) -> dict[str, dict]:
    """``{name: HandTrackerOptions overrides}``; MediaPipe first."""
    out: dict[str, dict] = {"mediapipe": {"backend": "mediapipe"}}
    t0 = threads[0]
    out["litert-mp-schedule"] = {"backend": "litert", "num_threads": t0, "landmark_model": "float", **MP_SCHEDULE}
    out["litert-previous"] = {"backend": "litert", "num_threads": t0, "landmark_model": "float", **PREVIOUS}
    out[f"litert float threads={t0}"] = {"backend": "litert", "num_threads": t0, "landmark_model": "float"}
    if int8:
        for t in threads:
            out[f"litert int8 threads={t}"] = {"backend": "litert", "num_threads": t, "landmark_model": "int8"}
    return out


def ensure_int8(hand_model: str | None, workdir: Path, n: int, seed: str) -> dict | None:
    """Make (once) the cached int8 landmark model, calibrated on a rendered video of other sequences
    than the evaluation videos. Needs the convert extra (TensorFlow); ``None`` when it is missing."""
    import render_signs_video as rsv
    from edgelite.runtime.vision.hands import resolve_hand_model

    try:
        from edgelite.convert.hand_landmarks import make_cached_int8_landmarks
    except ImportError as e:
        print(f"int8 landmark model not made ({e}); measuring the float model only", flush=True)
        return None
    task = resolve_hand_model(hand_model)
    v = str(workdir / f"calibration_n{n}_seed{seed}.mp4")
    if not Path(v).with_suffix(".npz").exists():
        rsv.main(["--out", v, "--n", str(n), "--seed", seed])
    path, rep = make_cached_int8_landmarks(str(task), rsv.read_frames_rgb(v))
    return {"path": path, "calibration_video": v, **rep}


def decode_frames(video: str) -> tuple[list[np.ndarray], dict]:
    """RGB frames of ``video`` and the decode stage's wall/CPU ms per frame (OpenCV read + BGR→RGB)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    frames, w0, c0 = [], time.perf_counter(), time.process_time()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    n = max(1, len(frames))
    return frames, {"wall_ms": (time.perf_counter() - w0) * 1e3 / n, "cpu_ms": (time.process_time() - c0) * 1e3 / n}


def run_interleaved(frames: list[np.ndarray], configs: dict[str, dict], hand_model: str | None, num_hands: int) -> dict:
    """Every configuration on every frame (rotating order). Returns per configuration: ``wall``/``cpu``
    ``[N]`` ms, ``hands`` (per frame: list of (px [21,2], handedness)), ``stats``, ``stages``."""
    from edgelite.runtime.vision.hands import HandTrackerOptions, create_hand_tracker

    trackers = {}
    for name, over in configs.items():
        opts = HandTrackerOptions(model_path=hand_model, num_hands=num_hands, profile=True, **over)
        trackers[name] = create_hand_tracker(opts)
    names = list(trackers)
    res = {n: {"wall": np.zeros(len(frames)), "cpu": np.zeros(len(frames)), "hands": [],
               "since_detect": np.zeros(len(frames), int)} for n in names}
    since = dict.fromkeys(names, 0)
    for i, f in enumerate(frames):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            w0, c0 = time.perf_counter(), time.process_time()
            runs = getattr(trackers[name], "stats", {}).get("detector_runs")
            hands = trackers[name].process(f, i * 33)
            res[name]["wall"][i] = (time.perf_counter() - w0) * 1e3
            res[name]["cpu"][i] = (time.process_time() - c0) * 1e3
            since[name] = 0 if runs is None or trackers[name].stats["detector_runs"] > runs else since[name] + 1
            res[name]["since_detect"][i] = since[name]
            res[name]["hands"].append([(h.px.copy(), h.handedness) for h in hands])
        if (i + 1) % 100 == 0:
            print(f"  frame {i + 1}/{len(frames)}", flush=True)
    for name, t in trackers.items():
        res[name]["stats"] = dict(getattr(t, "stats", {}))
        timer = getattr(t, "timer", None)
        res[name]["stages"] = timer.frame_ms(len(frames)) if timer is not None else {}
        t.close()
    return res


def match_hands(a: list[np.ndarray], b: list[np.ndarray]) -> list[tuple[int, int, float]]:
    """Greedy pairing of hands (``[21,2]`` px) by median landmark distance; ``(i, j, median_px)``."""
    pairs = sorted((float(np.median(np.linalg.norm(x - y, axis=1))), i, j) for i, x in enumerate(a) for j, y in enumerate(b))
    ua, ub, out = set(), set(), []
    for d, i, j in pairs:
        if i not in ua and j not in ub:
            ua.add(i)
            ub.add(j)
            out.append((i, j, d))
    return out


def deviation(hands: list, ref: list) -> dict:
    """Landmark deviation of ``hands`` from ``ref`` (per frame lists of (px, handedness))."""
    dist, same, missed, extra = [], [], 0, 0
    for a, b in zip(hands, ref):
        pairs = match_hands([h for h, _ in a], [h for h, _ in b])
        for i, j, d in pairs:
            dist.append(d)
            same.append(a[i][1] == b[j][1])
        missed += len(b) - len(pairs)
        extra += len(a) - len(pairs)
    r = lambda x, k=3: round(float(x), k)
    return {"hands_compared": len(dist), "median_px": r(np.median(dist)) if dist else None,
            "p90_px": r(np.percentile(dist, 90)) if dist else None,
            "handedness_agreement": r(np.mean(same), 4) if same else None,
            "reference_hands_missed": missed, "extra_hands": extra}


def timing(wall: np.ndarray, cpu: np.ndarray, has: np.ndarray) -> dict:
    r = lambda x: round(float(x), 3)
    out = {"wall_mean_ms": r(wall.mean()), "wall_median_ms": r(np.median(wall)), "cpu_mean_ms": r(cpu.mean())}
    for key, m in (("hand", has), ("blank", ~has)):
        if m.any():
            out[f"{key}_wall_mean_ms"] = r(wall[m].mean())
            out[f"{key}_cpu_mean_ms"] = r(cpu[m].mean())
    return out


def summarize(res: dict, has: np.ndarray, decode: dict) -> dict:
    """Per configuration: timing, ratios to mediapipe, deviation from mediapipe, stages, detector runs."""
    mp = res["mediapipe"]
    out = {"decode": {k: round(v, 3) for k, v in decode.items()}, "configs": {}}
    for name, v in res.items():
        t = timing(v["wall"], v["cpu"], has)
        t["fps_ratio_vs_mediapipe"] = round(float(mp["wall"].mean() / v["wall"].mean()), 2)
        t["cpu_ratio_vs_mediapipe"] = round(float(mp["cpu"].mean() / v["cpu"].mean()), 2)
        t["median_wall_ratio_vs_mediapipe"] = round(float(np.median(mp["wall"]) / np.median(v["wall"])), 2)
        for key, m in (("hand", has), ("blank", ~has)):
            if m.any():
                t[f"{key}_fps_ratio_vs_mediapipe"] = round(float(mp["wall"][m].mean() / v["wall"][m].mean()), 2)
                t[f"{key}_cpu_ratio_vs_mediapipe"] = round(float(mp["cpu"][m].mean() / v["cpu"][m].mean()), 2)
        stages = {k: {kk: round(vv, 3) for kk, vv in s.items()} for k, s in v["stages"].items()}
        if stages:
            other_w = v["wall"].mean() - sum(s["wall_ms"] for s in v["stages"].values())
            other_c = v["cpu"].mean() - sum(s["cpu_ms"] for s in v["stages"].values())
            stages["other (tracking bookkeeping, result objects)"] = {"wall_ms": round(other_w, 3), "cpu_ms": round(other_c, 3)}
        out["configs"][name] = {"timing": t, "stats": v["stats"], "stages": stages,
                                "frames_with_hands": int(sum(bool(h) for h in v["hands"])),
                                "vs_mediapipe": deviation(v["hands"], mp["hands"]) if name != "mediapipe" else None}
        if name != "mediapipe":
            steady = v["since_detect"] >= STEADY_FRAMES
            out["configs"][name]["vs_mediapipe_steady_tracking"] = deviation(
                [h if s else [] for h, s in zip(v["hands"], steady)], [h if s else [] for h, s in zip(mp["hands"], steady)])
    return out


def machine_info() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("ai-edge-litert", "mediapipe", "opencv-python-headless", "numpy"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return info


def _threads(s: str) -> list[int | None]:
    return [None if x.strip() in ("", "default") else int(x) for x in s.split(",")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", action="append", default=None,
                    help="rendered video with its .npz ground truth (repeatable; default: render two)")
    ap.add_argument("--n", type=int, default=12, help="sequences per rendered video")
    ap.add_argument("--seeds", default="0,3", help="sequence-pick seeds of the rendered videos")
    ap.add_argument("--threads", default="1,2", help="LiteRT thread counts to try ('default' = the runtime's)")
    ap.add_argument("--num-hands", type=int, default=2)
    ap.add_argument("--hand-model", default=None)
    ap.add_argument("--calibration-seed", default="7", help="sequence-pick seed of the int8 calibration video")
    ap.add_argument("--no-int8", action="store_true", help="do not make/measure the int8 landmark model")
    ap.add_argument("--workdir", default="/tmp/edgelite_hands_speed")
    ap.add_argument("--out", default=str(HERE / "results" / "hands_speed"))
    args = ap.parse_args(argv)
    import render_signs_video as rsv

    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    videos = args.video or []
    if not videos:
        for seed in args.seeds.split(","):
            v = str(Path(args.workdir) / f"signs_n{args.n}_seed{seed}.mp4")
            if not Path(v).with_suffix(".npz").exists():
                rsv.main(["--out", v, "--n", str(args.n), "--seed", seed])
            videos.append(v)
    int8 = None if args.no_int8 else ensure_int8(args.hand_model, Path(args.workdir), args.n, args.calibration_seed)
    configs = configurations(_threads(args.threads), int8 is not None)
    report = {"machine": machine_info(), "loadavg_start": list(os.getloadavg()), "num_hands": args.num_hands,
              "int8_landmark_model": int8, "configs": configs, "videos": {}}
    for v in videos:
        gt = rsv.load_ground_truth(v)
        frames, decode = decode_frames(v)
        has = np.isfinite(gt["px"][: len(frames), :, 0, 0]).any(1)
        print(f"{v}: {len(frames)} frames ({int(has.sum())} with drawn hands), {len(configs)} configurations", flush=True)
        res = run_interleaved(frames, configs, args.hand_model, args.num_hands)
        report["videos"][v] = {"frames": len(frames), "hand_frames": int(has.sum()),
                               "sequences": [str(p) for p in gt["paths"]], **summarize(res, has, decode)}
    report["loadavg_end"] = list(os.getloadavg())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=2) + "\n"), (".md", to_markdown(report))):
        tmp = out.with_suffix(suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out.with_suffix(suffix))
    print(to_markdown(report))
    return 0


def to_markdown(r: dict) -> str:
    m = r["machine"]
    la = lambda x: "/".join(f"{v:.1f}" for v in x)
    lines = [
        "# Hand tracking speed: LiteRT tracker vs MediaPipe Tasks (same frames, interleaved)",
        "",
        f"Machine: {m.get('cpu', '?')}, {m['cpus']} CPUs, {m['platform']}; ai-edge-litert {m.get('ai-edge-litert')}, "
        f"mediapipe {m.get('mediapipe')}, opencv {m.get('opencv-python-headless')}. Load average (1/5/15 min) "
        f"{la(r['loadavg_start'])} at start, {la(r['loadavg_end'])} at end: a shared machine, so wall times are "
        "inflated and noisy; ratios (interleaved) and CPU ms are the numbers to compare. CPU ms is the Raspberry Pi proxy.",
        "",
        f"Videos rendered from real landmarks (Kaggle asl-signs sequences drawn as hands, no camera footage), num_hands={r['num_hands']}.",
        "",
    ]
    q = r.get("int8_landmark_model")
    if q:
        lines += [f"int8 landmark model: {q.get('int8_ops')} ops int8 (stem of {q.get('float_stem_ops')} ops, pooling and heads "
                  f"float), calibrated ({q.get('calibration')}) on {q.get('calibration_crops')} tracker crops of "
                  f"{Path(q['calibration_video']).name} (other sequences than the videos below); {q.get('bytes')} bytes.", ""]
    for v, d in r["videos"].items():
        lines += [f"## {Path(v).name}: {d['frames']} frames, {d['hand_frames']} with drawn hands; decode "
                  f"{d['decode']['wall_ms']:.2f} ms wall / {d['decode']['cpu_ms']:.2f} ms CPU per frame", "",
                  "| config | FPS ratio vs MP (all / hand / blank frames) | CPU ratio (all / hand / blank) | wall ms mean (all / hand / blank) | "
                  "CPU ms mean (all / hand / blank) | detector runs | frames with hands | vs MP: median / p90 px, handedness, MP hands missed | "
                  "vs MP in steady tracking: median / p90 px (hands) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, c in d["configs"].items():
            t, dev = c["timing"], c["vs_mediapipe"]
            dv = "reference" if dev is None else (f"{dev['median_px']} / {dev['p90_px']}, {dev['handedness_agreement']}, "
                                                  f"{dev['reference_hands_missed']}")
            sd = c.get("vs_mediapipe_steady_tracking")
            st = "-" if not sd else f"{sd['median_px']} / {sd['p90_px']} ({sd['hands_compared']})"
            lines.append(
                f"| {name} | {t['fps_ratio_vs_mediapipe']} / {t.get('hand_fps_ratio_vs_mediapipe')} / {t.get('blank_fps_ratio_vs_mediapipe')} | "
                f"{t['cpu_ratio_vs_mediapipe']} / {t.get('hand_cpu_ratio_vs_mediapipe')} / {t.get('blank_cpu_ratio_vs_mediapipe')} | "
                f"{t['wall_mean_ms']} / {t.get('hand_wall_mean_ms')} / {t.get('blank_wall_mean_ms')} | "
                f"{t['cpu_mean_ms']} / {t.get('hand_cpu_mean_ms')} / {t.get('blank_cpu_mean_ms')} | "
                f"{c['stats'].get('detector_runs', '-')} | {c['frames_with_hands']} | {dv} | {st} |")
        lines += ["", f"Steady tracking: frames where the LiteRT configuration ran no palm detection on that frame or the "
                  f"{STEADY_FRAMES - 1} before (the deviation from MediaPipe is mostly on the frames right after a detection).",
                  "", "Stages (ms per frame, averaged over all frames; wall / CPU):", "",
                  "| stage | " + " | ".join(n for n in d["configs"] if n != "mediapipe") + " |",
                  "|---|" + "---|" * (len(d["configs"]) - 1)]
        names = [n for n in d["configs"] if n != "mediapipe"]
        stages = sorted({s for n in names for s in d["configs"][n]["stages"]}, key=lambda s: (s.startswith("other"), s))
        for s in stages:
            cells = []
            for n in names:
                x = d["configs"][n]["stages"].get(s)
                cells.append(f"{x['wall_ms']:.2f} / {x['cpu_ms']:.2f}" if x else "-")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
