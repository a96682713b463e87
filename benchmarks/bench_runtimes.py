"""ai-edge-litert (this Python) vs tflite-runtime 2.14 (its own venv, see ``edgelite.convert.compat``).

    python benchmarks/bench_runtimes.py runs/wand_convert/model_fp32.tflite runs/wand_convert/model_int8.tflite --name wand

Each runtime runs in a *subprocess* (tflite-runtime 2.14 needs Python <= 3.11 and numpy < 2, so it lives
in ``<cache>/venv-tflite214``, built on first use by ``ensure_tflite214_env``) executing
:data:`WORKER` (numpy + the runtime only). The inputs are prepared here once (real held-out samples of
the run fitted to the model's length, or random of the signature's shape) and passed as an ``.npz``.
``--rounds`` alternates the runtimes (each round: a fresh process per runtime, ``--runs/--rounds``
timed calls per model x threads x XNNPACK); init/first-call times come from the first round.
Saves ``benchmarks/results/runtimes_<name>.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import bench_common as bc  # noqa: E402

# argv: runtime module, spec json. spec: {"models": [{"path","inputs_npz","input_name"}], "threads": [..],
# "xnnpack": [..], "runs": n, "warmup": n}. Prints one JSON line {label: {...}}.
WORKER = r'''
import gc, json, sys, time
import numpy as np
mod, spec = sys.argv[1], json.loads(sys.argv[2])
if mod == "tflite_runtime":
    import tflite_runtime
    from tflite_runtime.interpreter import Interpreter, OpResolverType
    version = "tflite-runtime " + getattr(tflite_runtime, "__version__", "?")
else:
    from importlib.metadata import version as _v
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    version = "ai-edge-litert " + _v("ai-edge-litert")
out = {"_version": version, "_numpy": np.__version__, "_python": sys.version.split()[0]}
for m in spec["models"]:
    with np.load(m["inputs_npz"], allow_pickle=False) as z:
        xs = [np.ascontiguousarray(v) for v in z["x"]]
    for t in spec["threads"]:
        for x in spec["xnnpack"]:
            label = "%s|%d|%s" % (m["path"], t, "on" if x else "off")
            r = {}
            try:
                kw = {"model_path": m["path"], "num_threads": t}
                if not x:
                    kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
                t0 = time.perf_counter()
                it = Interpreter(**kw)
                it.allocate_tensors()
                run = it.get_signature_runner("serving_default")
                r["init_ms"] = (time.perf_counter() - t0) * 1e3
                t0 = time.perf_counter()
                run(**{m["input_name"]: xs[0]})
                r["first_ms"] = (time.perf_counter() - t0) * 1e3
                for i in range(spec["warmup"]):
                    run(**{m["input_name"]: xs[i % len(xs)]})
                lat = []
                c0 = time.process_time()
                for i in range(spec["runs"]):
                    f = {m["input_name"]: xs[i % len(xs)]}
                    s = time.perf_counter_ns()
                    run(**f)
                    lat.append(time.perf_counter_ns() - s)
                r["cpu_s"] = time.process_time() - c0
                r["lat_ns"] = lat
                del run, it
                gc.collect()
            except Exception as e:
                msg = [l for l in str(e).strip().splitlines() if l.strip()]
                r["error"] = "%s: %s" % (type(e).__name__, (msg[-1] if msg else "")[-300:])
            out[label] = r
print(json.dumps(out))
'''


def run_worker(python: str, module: str, spec: dict, timeout_s: float = 600) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    r = subprocess.run([python, "-c", WORKER, module, json.dumps(spec)], capture_output=True, text=True,
                       timeout=timeout_s, env=env, cwd=tempfile.gettempdir())
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        err = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        return {"_error": f"worker failed (exit {r.returncode}): {err[-300:]}"}
    return json.loads(lines[-1])


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help=".tflite files")
    ap.add_argument("--name", default="models")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--xnnpack", default="on,off")
    ap.add_argument("--frames", type=int, default=None, help="input length for dynamic-length models")
    ap.add_argument("--inputs", default=None, help=".npz with x_flat/lengths (default: eval_data.npz near each model)")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-build", action="store_true", help="do not build the tflite-runtime 2.14 venv when missing")
    args = ap.parse_args()

    from edgelite.convert.compat import ensure_tflite214_env
    from edgelite.runtime.bench import latency_stats, plan_for

    threads = [int(t) for t in args.threads.split(",")]
    xnn = [x.strip() == "on" for x in args.xnnpack.split(",")]
    runtimes = {"ai-edge-litert": (sys.executable, "ai_edge_litert", "this Python")}
    py214, note214 = ensure_tflite214_env(build=not args.no_build)
    if py214:
        runtimes["tflite-runtime 2.14"] = (py214, "tflite_runtime", note214)
    m = bc.machine()
    with tempfile.TemporaryDirectory() as tmp:
        spec_models = []
        for i, p in enumerate(args.models):
            plan = plan_for(p, args.frames, inputs=args.inputs or "auto")
            name_in = next(iter(plan.feeds[0]))
            npz = os.path.join(tmp, f"in{i}.npz")
            np.savez(npz, x=np.stack([f[name_in] for f in plan.feeds]))
            spec_models.append({"path": os.path.abspath(p), "inputs_npz": npz, "input_name": name_in,
                                "frames": plan.frames, "source": plan.source})
        per = [args.runs // args.rounds + (1 if r < args.runs % args.rounds else 0) for r in range(args.rounds)]
        acc: dict[tuple[str, str], dict] = {}
        versions = {}
        for r, n in enumerate(per):
            order = list(runtimes.items())
            if r % 2:
                order.reverse()
            for rt, (py, mod, _) in order:
                spec = {"models": [{k: v for k, v in sm.items() if k in ("path", "inputs_npz", "input_name")}
                                   for sm in spec_models], "threads": threads, "xnnpack": xnn, "runs": n,
                        "warmup": args.warmup}
                print(f"  round {r + 1}/{args.rounds}: {rt}", file=sys.stderr)
                out = run_worker(py, mod, spec)
                if "_error" in out:
                    versions[rt] = out["_error"]
                    continue
                versions[rt] = f"{out['_version']} (Python {out['_python']}, numpy {out['_numpy']})"
                for label, res in out.items():
                    if label.startswith("_"):
                        continue
                    a = acc.setdefault((rt, label), {"lat": [], "cpu_s": 0.0})
                    if "error" in res:
                        a["error"] = res["error"]
                        continue
                    a.setdefault("init_ms", res["init_ms"])
                    a.setdefault("first_ms", res["first_ms"])
                    a["lat"] += res["lat_ns"]
                    a["cpu_s"] += res["cpu_s"]
    rows = []
    for (rt, label), a in acc.items():
        path, t, x = label.rsplit("|", 2)
        row = {"runtime": rt, "model": os.path.basename(path), "path": path, "threads": int(t), "xnnpack": x == "on"}
        if a.get("error") or not a["lat"]:
            row["error"] = a.get("error", "no result")
        else:
            lat_ms = np.asarray(a["lat"], float) / 1e6
            row.update(init_ms=a["init_ms"], first_ms=a["first_ms"], **latency_stats(lat_ms),
                       cpu_ms=a["cpu_s"] * 1e3 / len(lat_ms), runs=len(lat_ms),
                       latencies_ms=[round(float(v), 4) for v in lat_ms])
        rows.append(row)
    base = {(r["model"], r["threads"], r["xnnpack"]): r for r in rows if r["runtime"] == "ai-edge-litert" and "p50_ms" in r}
    for r in rows:
        b = base.get((r["model"], r["threads"], r["xnnpack"]))
        if b and "p50_ms" in r:
            r["p50_vs_litert"] = r["p50_ms"] / b["p50_ms"]
    rows.sort(key=lambda r: (r["model"], r["threads"], not r["xnnpack"], r["runtime"]))
    cols = [("model", "model"), ("runtime", "runtime"), ("threads", "threads"), ("xnnpack", "XNNPACK"),
            ("init_ms", "init ms"), ("first_ms", "first ms"), ("mean_ms", "mean ms"), ("p50_ms", "p50 ms"),
            ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("cpu_ms", "cpu ms"), ("p50_vs_litert", "p50 × litert"),
            ("error", "error")]
    md = bc.header(f"Runtimes: {args.name}", m, bc.command_line())
    md += "".join(f"- {rt}: {versions.get(rt, '?')}; environment: {runtimes[rt][2]}\n" for rt in runtimes)
    if not py214:
        md += f"- tflite-runtime 2.14: skipped ({note214})\n"
    md += (f"- inputs: {spec_models[0]['source']} at length {spec_models[0]['frames']}; {args.runs} timed calls per "
           f"configuration after {args.warmup} warm-up per round, runtimes alternating over {args.rounds} rounds\n\n")
    md += bc.md_table(rows, cols) + "\n"
    png = os.path.join(bc.RESULTS, f"runtimes_{args.name}.png")
    os.makedirs(bc.RESULTS, exist_ok=True)
    short = {"ai-edge-litert": "litert", "tflite-runtime 2.14": "tfl2.14"}
    bc.plot_distributions({f"{r['model'].replace('model_', '').replace('.tflite', '')} {short.get(r['runtime'], r['runtime'])} "
                           f"t{r['threads']} {'xnn' if r['xnnpack'] else 'ref'}": r["latencies_ms"]
                           for r in rows if "latencies_ms" in r},
                          f"{args.name}: ai-edge-litert vs tflite-runtime 2.14 (load {m['load_avg_1_5_15'][0]})", png)
    md += f"\n![latency distributions]({os.path.basename(png)})\n"
    data = {"name": args.name, "machine": m, "command": bc.command_line(), "runtimes": versions, "configs": rows}
    out = bc.save(f"runtimes_{args.name}", data, md)
    print(md)
    print("saved", *out, png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
