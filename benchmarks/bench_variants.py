"""fp32 vs fp16 vs dynamic-range int8 vs int8 of the same model, in one run, as ratios to fp32.

    python benchmarks/bench_variants.py runs/wand/convert --name wand
    python benchmarks/bench_variants.py ../main/runs/wand --convert-to runs/wand_convert --name wand

SOURCE is a folder with ``model_<variant>.tflite`` (``edgelite convert`` output), or a run folder
whose ``convert/`` holds them; with ``--convert-to DIR`` missing variants are first converted into DIR
(needs TensorFlow). Every variant x threads (1,2) x XNNPACK (on,off) is opened once and timed
*interleaved* (``--rounds`` rounds of ``--runs/--rounds`` calls each, order rotating), on the real
held-out inputs of the run (``eval_data.npz``) at the model's window length (sign models: ``--frames``).
Saves ``benchmarks/results/variants_<name>.{json,md}`` and ``variants_<name>_{violin,bars}.png``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_common as bc  # noqa: E402

VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8")


def find_variants(source: str) -> dict[str, str]:
    for d in (source, os.path.join(source, "convert")):
        found = {v: os.path.join(d, f"model_{v}.tflite") for v in VARIANTS}
        found = {v: p for v, p in found.items() if os.path.isfile(p)}
        if found:
            return found
    return {}


def ensure_variants(source: str, convert_to: str | None) -> tuple[dict[str, str], str | None]:
    found = find_variants(source)
    if len(found) == len(VARIANTS) or not convert_to:
        return found, None
    if not os.path.isdir(os.path.join(source, "saved_model")):
        return found, f"{source}: no saved_model/ to convert from"
    have = find_variants(convert_to)
    if len(have) < len(VARIANTS):
        exe = os.path.join(os.path.dirname(sys.executable), "edgelite")
        cmd = [exe, "convert", source, "--variants", ",".join(VARIANTS), "--out", convert_to]
        print("converting:", " ".join(cmd), file=sys.stderr)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return found, "convert failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return find_variants(convert_to), None


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="folder with model_<variant>.tflite, or a run folder")
    ap.add_argument("--name", default=None)
    ap.add_argument("--convert-to", default=None, help="convert missing variants into this folder")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--xnnpack", default="on,off")
    ap.add_argument("--frames", type=int, default=None, help="input length for dynamic-length models")
    ap.add_argument("--inputs", default=None, help=".npz with x_flat/lengths (default: eval_data.npz near the models/run)")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()

    from edgelite.runtime.bench import Case, bench_cases, find_inputs, plan_for

    name = args.name or os.path.basename(os.path.normpath(args.source))
    paths, err = ensure_variants(args.source, args.convert_to)
    if not paths:
        print(f"no variants found for {args.source}: {err or 'run edgelite convert first or pass --convert-to'}", file=sys.stderr)
        return 2
    # eval_data.npz of the run: SOURCE/ or SOURCE/.. (a convert/ folder), else next to the variants
    inputs = (args.inputs or find_inputs(os.path.join(args.source, "model.tflite"))
              or find_inputs(next(iter(paths.values()))))
    threads = [int(t) for t in args.threads.split(",")]
    xnn = [x.strip() == "on" for x in args.xnnpack.split(",")]
    cases = []
    for v, p in paths.items():
        plan = plan_for(p, args.frames, inputs=inputs)
        for t in threads:
            for x in xnn:
                cases.append(Case(f"{v} t{t} {'xnn' if x else 'ref'}", p, plan, t, x))
    m = bc.machine()
    print(f"{len(cases)} configurations, {args.runs} calls each, interleaved in {args.rounds} rounds", file=sys.stderr)
    res = bench_cases(cases, runs=args.runs, warmup=args.warmup, rounds=args.rounds,
                      progress=lambda r, n: print(f"  round {r}/{n}", file=sys.stderr))
    rows = []
    for c in cases:
        r = res[c.label]
        v = c.label.split()[0]
        base = res.get(f"fp32 t{c.threads} {'xnn' if c.xnnpack else 'ref'}")
        r.update(variant=v, size_kb=round(r["size_bytes"] / 1024, 1))
        if base:
            r["p50_vs_fp32"] = r["p50_ms"] / base["p50_ms"]
            r["cpu_vs_fp32"] = r["cpu_ms"] / base["cpu_ms"]
            r["size_vs_fp32"] = r["size_bytes"] / base["size_bytes"]
        rows.append(r)
    cols = [("variant", "variant"), ("size_kb", "KB"), ("size_vs_fp32", "size ×fp32"), ("threads", "threads"),
            ("xnnpack", "XNNPACK"), ("init_ms", "init ms"), ("first_ms", "first ms"), ("mean_ms", "mean ms"),
            ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("cpu_ms", "cpu ms"),
            ("p50_vs_fp32", "p50 ×fp32"), ("cpu_vs_fp32", "cpu ×fp32")]
    frames = rows[0]["frames"]
    md = bc.header(f"Variants: {name}", m, bc.command_line())
    md += (f"- inputs: {rows[0]['inputs']} at length {frames} ({rows[0]['input_shapes']}); {args.runs} timed calls per "
           f"configuration after {args.warmup} warm-up, interleaved in {args.rounds} rounds; latency = one "
           f"`serving_default` call (copy in + invoke + copy out). `×fp32` = ratio to fp32 with the same threads/XNNPACK.\n")
    if err:
        md += f"- note: {err}\n"
    md += "\n" + bc.md_table(rows, cols) + "\n"
    png_v = os.path.join(bc.RESULTS, f"variants_{name}_violin.png")
    png_b = os.path.join(bc.RESULTS, f"variants_{name}_bars.png")
    os.makedirs(bc.RESULTS, exist_ok=True)
    bc.plot_distributions({c.label: res[c.label]["latencies_ms"] for c in cases},
                          f"{name}: latency per call by variant/threads/XNNPACK (load {m['load_avg_1_5_15'][0]})", png_v)
    bc.plot_bars({v: {f"t{r['threads']} {'xnn' if r['xnnpack'] else 'ref'}": r["p50_ms"] for r in rows if r["variant"] == v}
                 for v in dict.fromkeys(r["variant"] for r in rows)},
                 f"{name}: p50 latency per variant", png_b, ylabel="p50 ms per call")
    md += f"\n![latency distributions]({os.path.basename(png_v)})\n![p50 bars]({os.path.basename(png_b)})\n"
    data = {"name": name, "source": args.source, "machine": m, "command": bc.command_line(), "runs": args.runs,
            "rounds": args.rounds, "configs": rows}
    out = bc.save(f"variants_{name}", data, md)
    print(md)
    print("saved", *out, png_v, png_b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
