"""Run every latency benchmark for the trained models found, and write an index (``make bench``).

    python benchmarks/run_all.py                                  # runs/*/ of this checkout
    python benchmarks/run_all.py --run ../main/runs/wand --run runs/signs-words --quick

For each run folder (``model.tflite`` + ``saved_model/`` + ``eval_data.npz``; task from the embedded
metadata) it runs, each in its own process:

1. ``edgelite bench RUN/model.tflite --threads 1,2 --xnnpack on,off`` (sign models: ``--frames 16,64,256``)
   → ``results/bench_<name>.json``;
2. ``bench_variants.py`` (fp32/fp16/int8-dynamic/int8; converted into ``runs/bench_convert/<name>`` when
   the run has no ``convert/``) → ``results/variants_<name>.*``;
3. ``bench_keras_vs_tflite.py`` → ``results/keras_vs_tflite_<name>.*``;
4. ``bench_runtimes.py`` on the fp32 and int8 variants → ``results/runtimes_<name>.*``;

then, once, the webcam pipeline (``webcam_pipeline.py``, from the webcam work; skipped with a note
when it is not in this checkout) with a per-stage bar plot, and writes ``results/README.md`` with the
machine, load average and the main tables. A step that fails is recorded and the others still run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_common as bc  # noqa: E402

ROOT = bc.repo_root()


def find_runs(patterns: list[str]) -> list[str]:
    out = []
    for pat in patterns:
        for d in sorted(glob.glob(pat)):
            if os.path.isfile(os.path.join(d, "model.tflite")) and d not in out:
                out.append(d)
    return out


def task_of(run: str) -> str | None:
    from edgelite.runtime.core.modelfile import read_model_info

    try:
        return (read_model_info(os.path.join(run, "model.tflite")).metadata or {}).get("task")
    except Exception:  # noqa: BLE001
        return None


def step(log: list[dict], title: str, cmd: list[str], timeout_s: float) -> bool:
    print(f"\n=== {title}\n$ {' '.join(cmd)}", flush=True)
    t0 = time.time()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout_s, capture_output=True, text=True)
        ok, err = r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]
        print(r.stdout[-6000:])
        if not ok:
            print(r.stderr[-3000:], file=sys.stderr)
    except subprocess.TimeoutExpired:
        ok, err = False, f"timed out after {timeout_s:.0f} s"
    log.append({"step": title, "command": " ".join(cmd), "ok": ok, "seconds": round(time.time() - t0, 1),
                "error": None if ok else err})
    return ok


def webcam_stage_plot(path_json: str) -> tuple[str, str | None]:
    """Markdown table + per-stage bar PNG from ``webcam_pipeline.json`` (the webcam benchmark's output)."""
    d = json.load(open(path_json))
    backends = d.get("backends", {})
    rows, bars = [], {}
    for be, r in backends.items():
        for stage, s in (r.get("stages") or {}).items():
            rows.append({"backend": be, "stage": stage, "median_ms": s.get("median_ms"), "p95_ms": s.get("p95_ms"),
                         "n": s.get("n")})
            bars.setdefault(stage, {})[f"{be} p50"] = s.get("median_ms")
            bars[stage][f"{be} p95"] = s.get("p95_ms")
        rows.append({"backend": be, "stage": "**end-to-end FPS**", "median_ms": r.get("fps")})
    png = os.path.join(bc.RESULTS, "webcam_stages.png")
    la = (d.get("machine") or {}).get("loadavg_1m")
    bc.plot_bars(bars, f"webcam pipeline per stage (ms, load {la})", png, ylabel="ms per frame", log=True)
    md = bc.md_table(rows, [("backend", "backend"), ("stage", "stage"), ("median_ms", "p50 ms (FPS)"),
                            ("p95_ms", "p95 ms"), ("n", "n")])
    return md, png


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", default=None, help="run folder (repeatable; default runs/*/)")
    ap.add_argument("--quick", action="store_true", help="fewer calls per configuration (smoke run)")
    ap.add_argument("--skip", default="", help="comma list of steps to skip: cli,variants,keras,runtimes,webcam")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per step")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    py = sys.executable
    edgelite = os.path.join(os.path.dirname(py), "edgelite")
    runs = find_runs(args.run or [os.path.join(ROOT, "runs", "*")])
    n_runs, n_keras = ("60", "30") if args.quick else ("300", "100")
    log: list[dict] = []
    m = bc.machine()
    names = {}
    for run in runs:
        name = os.path.basename(os.path.normpath(run))
        task = task_of(run)
        names[name] = task
        tfl = os.path.join(run, "model.tflite")
        frames = ["--frames", "16,64,256"] if task == "signs" else []
        vframes = ["--frames", "64"] if task == "signs" else []
        if "cli" not in skip:
            step(log, f"{name}: edgelite bench", [edgelite, "bench", tfl, "--threads", "1,2", "--xnnpack", "on,off",
                                                  *frames, "--runs", n_runs, "--json",
                                                  os.path.join(bc.RESULTS, f"bench_{name}.json")], args.timeout)
        conv = os.path.join(run, "convert") if os.path.isdir(os.path.join(run, "convert")) else \
            os.path.join(ROOT, "runs", "bench_convert", name)
        if "variants" not in skip:
            step(log, f"{name}: variants", [py, "benchmarks/bench_variants.py", run, "--convert-to", conv, "--name", name,
                                            *vframes, "--runs", n_runs], args.timeout)
        if "keras" not in skip:
            step(log, f"{name}: Keras vs TFLite", [py, "benchmarks/bench_keras_vs_tflite.py", run, "--name", name,
                                                   "--runs", n_keras, *vframes], args.timeout)
        if "runtimes" not in skip:
            models = [os.path.join(conv, f"model_{v}.tflite") for v in ("fp32", "int8")]
            models = [p for p in models if os.path.isfile(p)] or [tfl]
            step(log, f"{name}: runtimes", [py, "benchmarks/bench_runtimes.py", *models, "--name", name,
                                            "--inputs", os.path.join(run, "eval_data.npz"), *vframes,
                                            "--runs", n_runs], args.timeout)
    webcam_note = None
    webcam_script = os.path.join(bc.HERE, "webcam_pipeline.py")
    if "webcam" in skip:
        webcam_note = "skipped (--skip webcam)"
    elif os.path.isfile(webcam_script):
        sign_tfl = next((os.path.join(r, "model.tflite") for r in runs if names.get(os.path.basename(os.path.normpath(r))) == "signs"), None)
        step(log, "webcam pipeline", [py, "benchmarks/webcam_pipeline.py", *(["--model", sign_tfl] if sign_tfl else [])],
             args.timeout)
    else:
        webcam_note = ("benchmarks/webcam_pipeline.py is not in this checkout (webcam work not merged): the per-stage "
                       "webcam breakdown is not part of this run")

    # ---- index
    md = bc.header("Benchmark results", m, bc.command_line())
    md += ("- each table below links to its full Markdown; JSON next to it has the raw latencies and machine info\n"
           "- latency = one call of the model's `serving_default` signature from Python (copy in + invoke + copy out)\n\n")
    for name, task in names.items():
        md += f"## {name} ({task or '?'} model)\n\n"
        for kind, title in (("variants", "Variants × threads × XNNPACK"), ("keras_vs_tflite", "Keras vs TFLite"),
                            ("runtimes", "Runtimes")):
            p = os.path.join(bc.RESULTS, f"{kind}_{name}.md")
            if os.path.isfile(p):
                text = open(p, encoding="utf-8").read()
                table = "\n".join(ln for ln in text.splitlines() if ln.startswith("|"))
                md += f"### {title} ([{kind}_{name}.md]({kind}_{name}.md))\n\n{table}\n\n"
        bj = os.path.join(bc.RESULTS, f"bench_{name}.json")
        if os.path.isfile(bj):
            from edgelite.runtime.bench import render_table

            md += f"### `edgelite bench` ([bench_{name}.json](bench_{name}.json))\n\n{render_table(json.load(open(bj)))}\n\n"
    wj = os.path.join(bc.RESULTS, "webcam_pipeline.json")
    md += "## Webcam pipeline per stage\n\n"
    if webcam_note:
        md += f"{webcam_note}.\n\n"
    if os.path.isfile(wj) and not webcam_note:
        table, png = webcam_stage_plot(wj)
        md += f"From `benchmarks/webcam_pipeline.py` ([webcam_pipeline.md](webcam_pipeline.md)).\n\n{table}\n\n"
        if png:
            md += f"![per-stage]({os.path.basename(png)})\n\n"
    md += "## Steps\n\n" + bc.md_table([{**s, "ok": "yes" if s["ok"] else "FAILED"} for s in log], [("step", "step"), ("ok", "ok"), ("seconds", "s"), ("error", "error")]) + "\n"
    out = bc.save("run_all", {"machine": m, "runs": names, "steps": log, "webcam_note": webcam_note}, md)
    os.replace(out[1], os.path.join(bc.RESULTS, "README.md"))
    print("\n" + md)
    print("saved", out[0], os.path.join(bc.RESULTS, "README.md"))
    return 0 if all(s["ok"] for s in log) else 1


if __name__ == "__main__":
    sys.exit(main())
