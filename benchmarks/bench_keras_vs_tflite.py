"""The same model in Keras (predict, direct call, tf.function), TF SavedModel and LiteRT, in one run.

    python benchmarks/bench_keras_vs_tflite.py ../main/runs/wand --name wand

RUN holds ``model.keras`` (fixed-length windows ``[B,n,...]``), ``saved_model/`` (serving_default on raw
input, preprocessing included), ``model.tflite`` (same graph as the SavedModel) and ``eval_data.npz``.
One real held-out sample per call (batch 1, the streaming case); Keras gets the sample fitted to its
window length ``n`` (centre crop / tiling, as in ``edgelite.runtime.bench.fit_length``), the SavedModel
and LiteRT get the same fitted window. All methods are timed interleaved (``--rounds``). TensorFlow uses
its default thread pools (all cores); LiteRT is shown with 1 and 2 threads.
Saves ``benchmarks/results/keras_vs_tflite_<name>.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import bench_common as bc  # noqa: E402


def time_interleaved(fns: dict, inputs: list, runs: int, warmup: int, rounds: int, progress=None) -> dict:
    """``{label: fn}`` each called as ``fn(x)`` on ``inputs`` cyclically; returns ``{label: stats + latencies}``."""
    from edgelite.runtime.bench import latency_stats

    out = {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        fn(inputs[0])
        first = (time.perf_counter() - t0) * 1e3
        for i in range(warmup):
            fn(inputs[i % len(inputs)])
        out[k] = {"first_ms": first, "lat": [], "cpu_s": 0.0}
    per = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    labels = list(fns)
    perf = time.perf_counter_ns
    for r, n in enumerate(per):
        for k in labels[r % len(labels):] + labels[: r % len(labels)]:
            fn, lat = fns[k], out[k]["lat"]
            c0 = time.process_time()
            for i in range(n):
                x = inputs[(len(lat)) % len(inputs)]
                t = perf()
                fn(x)
                lat.append(perf() - t)
            out[k]["cpu_s"] += time.process_time() - c0
        if progress:
            progress(r + 1, rounds)
    res = {}
    for k, o in out.items():
        lat_ms = np.asarray(o["lat"], float) / 1e6
        res[k] = {"method": k, "first_ms": o["first_ms"], **latency_stats(lat_ms), "cpu_ms": o["cpu_s"] * 1e3 / runs,
                  "throughput_per_s": runs / (lat_ms.sum() / 1e3), "latencies_ms": [round(float(v), 4) for v in lat_ms]}
    return res


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="run folder with model.keras, saved_model/, model.tflite, eval_data.npz")
    ap.add_argument("--name", default=None)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=None, help="sign models: input length (default: Keras input length or 64)")
    args = ap.parse_args()
    name = args.name or os.path.basename(os.path.normpath(args.run))
    run = args.run
    t_imp = time.perf_counter()
    import keras
    import tensorflow as tf

    for mod in ("edgelite.train.accel.model", "edgelite.train.signs.model", "edgelite.train.signs.preprocess"):
        try:  # registers the custom layers that model.keras refers to
            __import__(mod)
        except ImportError:
            pass
    import_tf_s = time.perf_counter() - t_imp

    from edgelite.runtime.bench import fit_length, load_samples, machine_info, read_model_info
    from edgelite.runtime.core.model import load_interpreter

    tfl = os.path.join(run, "model.tflite")
    info = read_model_info(tfl)
    in_name = next(iter(info.signatures["serving_default"].inputs))
    out_name = next(iter(info.signatures["serving_default"].outputs))
    t0 = time.perf_counter()
    model = keras.models.load_model(os.path.join(run, "model.keras"), compile=False)
    keras_load_ms = (time.perf_counter() - t0) * 1e3
    meta = info.metadata or {}
    samples = load_samples(os.path.join(run, "eval_data.npz"))
    pick = np.linspace(0, len(samples) - 1, min(32, len(samples))).round().astype(int)
    keras_note = "Keras gets the same window as LiteRT"
    if meta.get("task") == "signs":
        # Sign runs: model.keras takes (features [B,L,F], mask [B,L]); the raw [T,543,3] → features step
        # is done beforehand by the NumPy twin (edgelite.runtime.signs.features), outside the Keras timing.
        from edgelite.runtime.signs.features import SignPreprocessConfig, sign_features

        cfg = SignPreprocessConfig.from_dict(meta.get("preprocessing", {}))
        n = args.frames or cfg.max_len
        xs = [np.ascontiguousarray(fit_length(samples[i], n), np.float32) for i in pick]
        feats = {id(x): sign_features(x, cfg) for x in xs}
        kin = lambda x: [v[None].astype(np.float32) for v in feats[id(x)]]  # noqa: E731
        keras_note = ("Keras gets precomputed features+mask (NumPy preprocessing not timed); SavedModel and LiteRT "
                      "get the raw frames and run the preprocessing in their graph")
        if len(model.inputs) == 1:  # end-to-end model.keras: raw frames in, preprocessing in the Keras graph
            kin = lambda x: x[None]  # noqa: E731
            keras_note = "Keras, SavedModel and LiteRT all get the raw frames and run the preprocessing in their graph"
        shape = (None, n, 543, 3)
    else:
        shape = model.inputs[0].shape  # (None, n, ...)
        n = shape[1] if shape[1] is not None else (args.frames or meta.get("input", {}).get("window_samples") or 64)
        xs = [np.ascontiguousarray(fit_length(samples[i], n), np.float32) for i in pick]
        if list(xs[0].shape[1:]) != [d for d in shape[2:]]:
            print(f"model.keras expects {shape} but samples are {xs[0].shape}: not the same input; skipped", file=sys.stderr)
            return 2
        kin = lambda x: x[None]  # noqa: E731
    t0 = time.perf_counter()
    sm = tf.saved_model.load(os.path.join(run, "saved_model"))
    serve = sm.signatures["serving_default"]
    sm_load_ms = (time.perf_counter() - t0) * 1e3
    graph_call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    runners = {}
    for t in (1, 2):
        runners[t] = load_interpreter(tfl, num_threads=t).get_signature_runner("serving_default")

    fns = {
        "keras predict": lambda x: model.predict(kin(x), verbose=0),
        "keras call (eager)": lambda x: model(kin(x), training=False).numpy(),
        "keras call in tf.function": lambda x: graph_call(tf.nest.map_structure(tf.constant, kin(x))).numpy(),
        "TF SavedModel serving_default": lambda x: serve(**{in_name: tf.constant(x)})[out_name].numpy(),
        "LiteRT 1 thread": lambda x: runners[1](**{in_name: x})[out_name],
        "LiteRT 2 threads": lambda x: runners[2](**{in_name: x})[out_name],
    }
    # the same answers (sanity): Keras and LiteRT agree on the first sample
    pk = fns["keras call (eager)"](xs[0])[0]
    pl = fns["LiteRT 1 thread"](xs[0])
    max_diff = float(np.abs(pk - pl).max())
    m = bc.machine()
    res = time_interleaved(fns, xs, args.runs, args.warmup, args.rounds,
                           progress=lambda r, k: print(f"  round {r}/{k}", file=sys.stderr))
    base = res["LiteRT 1 thread"]
    rows = []
    for k, r in res.items():
        r["p50_vs_litert1"] = r["p50_ms"] / base["p50_ms"]
        r["mean_vs_litert1"] = r["mean_ms"] / base["mean_ms"]
        rows.append(r)
    cols = [("method", "method"), ("first_ms", "first ms"), ("mean_ms", "mean ms"), ("p50_ms", "p50 ms"),
            ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("cpu_ms", "cpu ms"), ("throughput_per_s", "calls/s"),
            ("p50_vs_litert1", "p50 × LiteRT-1t")]
    md = bc.header(f"Keras vs TF vs LiteRT: {name}", m, bc.command_line())
    md += (f"- one real held-out sample per call (batch 1), window [{n}, {', '.join(map(str, shape[2:]))}], "
           f"{args.runs} timed calls per method after {args.warmup} warm-up, interleaved in {args.rounds} rounds; "
           f"{keras_note}\n"
           f"- load: TensorFlow+Keras import {import_tf_s:.1f} s, model.keras {keras_load_ms:.0f} ms, SavedModel "
           f"{sm_load_ms:.0f} ms; LiteRT needs neither (see `init ms` of the variants table)\n"
           f"- Keras and LiteRT outputs on the first sample differ by at most {max_diff:.2e}\n\n")
    md += bc.md_table(rows, cols) + "\n"
    png = os.path.join(bc.RESULTS, f"keras_vs_tflite_{name}.png")
    os.makedirs(bc.RESULTS, exist_ok=True)
    bc.plot_distributions({k: r["latencies_ms"] for k, r in res.items()},
                          f"{name}: Keras / TF / LiteRT latency per call (batch 1, load {m['load_avg_1_5_15'][0]})", png)
    md += f"\n![latency distributions]({os.path.basename(png)})\n"
    data = {"name": name, "run": run, "machine": m, "runtime_machine": machine_info(), "command": bc.command_line(),
            "window": [n, *shape[2:]], "keras_inputs": keras_note, "import_tf_s": import_tf_s, "keras_load_ms": keras_load_ms,
            "saved_model_load_ms": sm_load_ms, "max_abs_diff_keras_litert": max_diff, "methods": rows}
    out = bc.save(f"keras_vs_tflite_{name}", data, md)
    print(md)
    print("saved", *out, png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
