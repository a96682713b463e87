"""Emulated Raspberry Pi check with real models: bundle installed offline on arm64, predict vs host.

For each runtime (ai-edge-litert + numpy 2; tflite-runtime 2.14 + numpy 1.26): export the Pi bundle
with wheels, install it offline in the arm64 bookworm root (qemu-user), run `edgelite predict` there on
all 100 Sensor Logger recordings, the UCI walking files, the magic-wand captures and (sign model) the
asl-signs parquet files, plus `edgelite run accel --source replay:` and `edgelite run webcam --video
--hands litert` (OpenCV + LiteRT only, no MediaPipe on the device), and compare with the host.
Emulated timings mean nothing; only the wall time of the whole check is recorded.

    python benchmarks/pi_check.py --accel-model runs/shapes/model.tflite --sign-model runs/asl/model.tflite
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def accel_cases(model: str, shared: Path, n_labels: int, wand_max_dp: float = 1e-5) -> list:
    """The accel comparisons; ``wand_max_dp``: |Δp| accepted on the magic-wand captures (see ``main``)."""
    from edgelite.convert.deploy.picheck import Case

    acc = shared / "data/accel"
    top = ["--top", str(n_labels)]
    uci = sorted(str(p) for p in (acc / "uci-walking/Dataset").glob("*.csv"))
    wand = sorted(str(p) for p in (acc / "magic-wand").iterdir())
    return [
        Case("sensorlogger-wand 100 recordings (--aggregate)", model, [str(acc / "sensorlogger-wand/training")],
             ["--format", "sensorlogger", "--aggregate", *top]),
        Case("sensorlogger-wand 100 recordings (per window)", model, [str(acc / "sensorlogger-wand/training")],
             ["--format", "sensorlogger", *top]),
        Case(f"uci-walking {len(uci)} files (per window)", model, uci, ["--format", "continuous", *top]),
        Case("magic-wand captures (per gesture)", model, wand, ["--format", "magic-wand", *top], max_dp=wand_max_dp),
        Case("run accel --source replay: (uci 1.csv)", model, [uci[0]], ["--top", str(n_labels)], replay=True),
    ]


def sign_cases(model: str, shared: Path, n_labels: int, limit: int) -> list:
    from edgelite.convert.deploy.picheck import Case

    files = sorted(str(p) for p in (shared / "data/asl-signs/train_landmark_files").rglob("*.parquet"))[:limit]
    return [Case(f"asl-signs {len(files)} parquet files", model, files, ["--top", str(n_labels)])]


def webcam_case(model: str, shared: Path, n_labels: int, out_dir: Path, n_signs: int = 2) -> list:
    """`run webcam --video` on real asl-signs landmark motion rendered as a short hand video (no mediapipe)."""
    import render_signs_video as rsv

    from edgelite.convert.deploy.picheck import Case

    video = out_dir / f"signs{n_signs}.mp4"
    if not video.exists():
        data = shared / "data/asl-signs"
        out_dir.mkdir(parents=True, exist_ok=True)
        rsv.render(rsv.pick_rows(data / "train.csv", n_signs, min_hand_frames=10, seed=1), data, video, gap_frames=12)
    task = shared / "models/hand_landmarker.task"
    # max_dp: the device tracks the hands itself; the hand CNNs' float rounding differs between x86 and
    # ARM kernels and the tracker feeds each frame's landmarks into the next crop, so landmarks differ by
    # up to ~2e-3 (1.3 px; on the host alone XNNPACK vs builtin kernels already do) and the sign
    # probabilities by 1.0e-3 (device LiteRT) and 4.5e-3 (device tracker on tflite-runtime 2.14) as
    # measured (pi_check_summary.md). Labels and segment times must match.
    return [Case(f"run webcam --video ({n_signs} rendered signs, --hands litert)", model, [str(video)],
                 ["--hand-model", str(task), "--pose", "off"], webcam=True, max_dp=1e-2)]


def render(report: dict, wall_s: float) -> str:
    rows = ["| runtime | comparison | lines | inputs | same label | max abs dp | ok |", "|---|---|---|---|---|---|---|"]
    for rt, comps in report["runtimes"].items():
        for c in comps:
            rows.append(f"| {rt} | {c['name']} | {c['lines']} | {c['inputs']} | {c['label_matches']}/{c['lines']} "
                        f"| {c['max_abs_dp']:.2e} | {'yes' if c['ok'] else 'NO'} |")
    return ("\n".join(rows) + f"\n\nWall time of the whole check: {wall_s:.0f} s (emulated with qemu-user on a shared "
            "machine: emulated timings mean nothing about a real Pi).\n")


def main() -> int:
    from bench_common import command_line, header, machine, save

    from edgelite.convert.deploy.picheck import run_pi_check
    from edgelite.runtime.core.modelfile import read_metadata
    from edgelite.runtime.core.paths import cache_dir, shared_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accel-model", required=True)
    ap.add_argument("--sign-model", default=None)
    ap.add_argument("--sign-files", type=int, default=210, help="how many asl-signs parquet files (default all 210)")
    ap.add_argument("--runtimes", default="litert,tflite-runtime")
    ap.add_argument("--name", default="pi_check")
    ap.add_argument("--no-webcam", action="store_true", help="skip the emulated `run webcam --video` case")
    ap.add_argument("--wand-max-dp", type=float, default=5e-5, help="|dp| accepted on the magic-wand captures")
    a = ap.parse_args()
    shared = shared_dir()
    # The magic-wand captures are far outside a Sensor Logger model's training data; there the model is
    # sensitive to float32 summation order: on the host alone, XNNPACK vs the builtin kernels differ by
    # 1.6e-5 on them (runs/shapes model), so the device gets the same 5e-5 allowance (labels must match).
    cases = accel_cases(os.path.abspath(a.accel_model), shared, len(read_metadata(a.accel_model)["labels"]),
                        wand_max_dp=a.wand_max_dp)
    if a.sign_model:
        cases += sign_cases(os.path.abspath(a.sign_model), shared, len(read_metadata(a.sign_model)["labels"]),
                            a.sign_files)
        if not a.no_webcam:
            cases += webcam_case(os.path.abspath(a.sign_model), shared, len(read_metadata(a.sign_model)["labels"]),
                                 cache_dir() / "pi-check")
    t0 = time.time()
    rep = run_pi_check(cases, tuple(a.runtimes.split(",")), cache_dir() / "pi-check")
    wall = time.time() - t0
    rep["wall_s"] = round(wall, 1)
    m = machine()
    md = header("Emulated Raspberry Pi (arm64 bookworm, qemu-user): bundle vs host `edgelite predict`", m,
                command_line()) + render(rep, wall)
    save(a.name, {"machine": m, **rep}, md)
    print(md)
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
