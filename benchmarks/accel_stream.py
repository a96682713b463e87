"""Streaming accelerometer runtime throughput and memory, on one core.

Measures, on the real UCI walking recordings (all 18 users, replayed back to back many times):
  1. ingest: samples/s through the stream (unit conversion, cleaning, online resampling, windowing)
     with a no-op classifier — the cost of the runtime itself;
  2. classify: samples/s and windows/s with the .tflite model (LiteRT, 1 thread) at the given stride;
  3. model alone: windows/s of back-to-back interpreter calls on the same windows;
  4. Sensor Logger: JSON bodies parsed → batches (samples/s), and end-to-end over loopback HTTP
     (a client process posting 100-sample messages with both kinds, the server classifying);
  5. memory: RSS sampled during a long replay (start / end / max; flat = bounded buffers).

  taskset -c 0 .venv/bin/python benchmarks/accel_stream.py [--model ACCEL.tflite] [--minutes-of-data 600]

Without --model a stand-in with the real interface (50 Hz, 1.5 s windows, conv + statistics) is
built with TensorFlow once into the cache. Results: benchmarks/results/accel_stream.{json,md}.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgelite.runtime.accel.io import read_recordings  # noqa: E402
from edgelite.runtime.core.paths import cache_dir, shared_dir  # noqa: E402
from edgelite.runtime.accel.sources import SensorLoggerSource, SourceOptions, parse_sensorlogger, pump  # noqa: E402
from edgelite.runtime.accel.stream import Batch, Counters, StreamClassifier, options_from_metadata  # noqa: E402

G = 9.80665


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def standin_model(path: Path) -> Path:
    """Build a small accel model with the real interface (needs TensorFlow; cached)."""
    if path.exists():
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata

    keras.utils.set_random_seed(0)
    raw = keras.Input((75, 4))
    feats = keras.Input((8,))
    h = keras.layers.Conv1D(16, 5, activation="relu")(raw)
    h = keras.layers.Conv1D(16, 5, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Concatenate()([h, feats])
    out = keras.layers.Dense(18, activation="softmax")(keras.layers.Dense(32, activation="relu")(h))
    model = keras.Model([raw, feats], out)

    def serve(x):
        mag = tf.norm(x, axis=1, keepdims=True)
        xm = tf.concat([x, mag], 1)
        # resample any length to 75 samples (linear), as the real model does in its graph
        r = tf.image.resize(xm[None, :, None, :], [75, 1], method="bilinear")[:, :, 0, :]
        f = tf.concat([tf.reduce_mean(xm, 0), tf.math.reduce_std(xm, 0)], 0)[None]
        return model([r, f])[0]

    meta = make_metadata(
        "accel", [str(i) for i in range(1, 19)],
        {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": 50.0,
         "window_s": 1.5, "window_samples": 75, "gravity": True, "axes": ["x", "y", "z"]},
        {"name": "probabilities", "kind": "probabilities"}, {"note": "benchmark stand-in"})
    export_tflite(model, serve, "accel", [None, 3], "probabilities", meta, path)
    return path


def long_stream(minutes: float) -> tuple[np.ndarray, np.ndarray]:
    """All UCI users back to back (time shifted, 0.03 s joins), repeated to ``minutes`` of data."""
    recs = read_recordings(shared_dir() / "data" / "accel" / "uci-walking" / "Dataset")
    ts, xs, t_off = [], [], 0.0
    while t_off < minutes * 60:
        for r in recs:
            t = r.t - r.t[0] + t_off
            ts.append(t)
            xs.append(r.data)
            t_off = float(t[-1]) + 0.03
    return np.concatenate(ts), np.concatenate(xs).astype(np.float32)


def run_stream(clf: StreamClassifier, t: np.ndarray, x: np.ndarray, batch: int, rss: list | None = None
               ) -> tuple[float, float]:
    """Push the stream in batches; return (wall seconds, CPU seconds of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i, a in enumerate(range(0, len(t), batch)):
        clf.push(Batch("phone", t[a:a + batch], x[a:a + batch], gravity=True))
        if rss is not None and i % 500 == 0:
            rss.append((clf.samples_in, round(rss_mb(), 2)))
    return time.perf_counter() - t0, time.process_time() - c0


def _client(port: int, bodies: list[bytes], q) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.perf_counter()
    ok = 0
    for b in bodies:
        c.request("POST", "/data", body=b, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        ok += r.status == 200
    q.put((ok, time.perf_counter() - t0))


def sl_bodies(t: np.ndarray, x: np.ndarray, per: int = 100) -> list[bytes]:
    tn = (t * 1e9).astype(np.int64)
    out = []
    for a in range(0, len(t), per):
        p = []
        for i in range(a, min(a + per, len(t))):
            v = x[i].tolist()
            p.append({"name": "totalacceleration", "time": int(tn[i]), "values": {"x": v[0], "y": v[1], "z": v[2]}})
            p.append({"name": "accelerometer", "time": int(tn[i]), "values": {"x": v[0], "y": v[1], "z": v[2] - G}})
        out.append(json.dumps({"messageId": len(out), "sessionId": "s", "deviceId": "phone", "payload": p}).encode())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--minutes-of-data", type=float, default=600.0, help="length of the long replay (data time)")
    ap.add_argument("--stride", type=float, default=0.75, help="seconds between windows (default half a window)")
    ap.add_argument("--batch", type=int, default=100, help="samples per pushed batch")
    ap.add_argument("--http-seconds-of-data", type=float, default=600.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "accel_stream"))
    a = ap.parse_args()

    from edgelite.runtime.core.model import EdgeModel, runtime_version

    model_path = Path(a.model) if a.model else standin_model(cache_dir() / "bench_accel_stream_standin.tflite")
    model = EdgeModel.open(model_path, num_threads=1)
    opts = options_from_metadata(model.metadata, stride_s=a.stride)
    t, x = long_stream(a.minutes_of_data)
    res: dict = {"model": str(model_path) if a.model else "stand-in (conv+stats, 50 Hz, 75 samples)",
                 "rate_hz": opts.rate_hz, "window_samples": opts.window_samples, "stride": opts.stride,
                 "data_samples": int(len(t)), "data_minutes": round(float(t[-1] - t[0]) / 60, 1),
                 "batch": a.batch, "cpu_affinity": sorted(os.sched_getaffinity(0)),
                 "loadavg": [round(v, 2) for v in os.getloadavg()], "python": platform.python_version(), "runtime": runtime_version(), "machine": platform.machine()}
    print(f"data: {len(t)} samples, {res['data_minutes']} min; affinity {res['cpu_affinity']}", flush=True)

    # 1. ingest only (no-op classifier)
    probs = np.ones(len(model.labels), np.float32) / len(model.labels)
    clf = StreamClassifier(lambda w: probs, model.labels, opts)
    dt, cpu = run_stream(clf, t, x, a.batch)
    res["ingest"] = {"samples_per_s": round(clf.samples_in / dt), "samples_per_cpu_s": round(clf.samples_in / cpu),
                     "windows": clf.windows_out, "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3)}
    print("ingest:", res["ingest"], flush=True)

    # 2. classify (and 5. memory over the long replay)
    rss: list = []
    clf = StreamClassifier.for_model(model, stride_s=a.stride)
    rss.append((0, round(rss_mb(), 2)))
    dt, cpu = run_stream(clf, t, x, a.batch, rss)
    rss.append((clf.samples_in, round(rss_mb(), 2)))
    res["classify"] = {"samples_per_s": round(clf.samples_in / dt), "windows_per_s": round(clf.windows_out / dt, 1),
                       "samples_per_cpu_s": round(clf.samples_in / cpu), "windows_per_cpu_s": round(clf.windows_out / cpu, 1),
                       "windows": clf.windows_out, "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3)}
    warm = [r for s, r in rss if s >= len(t) // 10]
    res["memory"] = {"rss_mb_start": rss[1][1] if len(rss) > 1 else rss[0][1], "rss_mb_end": rss[-1][1],
                     "rss_mb_max": max(r for _, r in rss), "rss_mb_growth_after_10pct": round(max(warm) - min(warm), 2),
                     "samples": [list(p) for p in rss[:: max(1, len(rss) // 20)]]}
    print("classify:", res["classify"], "memory:", {k: v for k, v in res["memory"].items() if k != "samples"}, flush=True)

    # 3. model alone
    W = np.stack([x[i:i + opts.window_samples] for i in range(0, 2000 * opts.stride, opts.stride)])
    t0, c0 = time.perf_counter(), time.process_time()
    for w in W:
        model.predict(w)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    res["model_only"] = {"windows_per_s": round(len(W) / dt, 1), "windows_per_cpu_s": round(len(W) / cpu, 1),
                         "ms_per_window": round(1000 * dt / len(W), 4)}
    print("model only:", res["model_only"], flush=True)

    # 4. Sensor Logger parsing and HTTP end to end
    n_http = int(min(len(t), a.http_seconds_of_data * 33))
    bodies = sl_bodies(t[:n_http], x[:n_http])
    c = Counters()
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(len(b) for body in bodies for b in parse_sensorlogger(body, c))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    res["sensorlogger_parse"] = {"samples_per_s": round(n / dt), "samples_per_cpu_s": round(n / cpu),
                                 "note": "both kinds counted (2 per time stamp)",
                                 "bytes_per_sample": round(sum(map(len, bodies)) / n, 1)}
    print("sensorlogger parse:", res["sensorlogger_parse"], flush=True)

    src = SensorLoggerSource(SourceOptions(port=0, queue_size=4096)).start()
    clf = StreamClassifier.for_model(model, stride_s=a.stride)
    q = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_client, args=(src.address[1], bodies, q))
    stop = threading.Event()
    stamps: list[float] = []

    def on_message(msg):
        if not stamps:
            stamps.append(time.perf_counter())
        clf.push_many(msg)
        stamps[1:] = [time.perf_counter()]

    c0 = time.process_time()
    proc.start()
    th = threading.Thread(target=pump, args=(src, on_message), kwargs={"stop": stop, "max_seconds": 600})
    th.start()
    ok, client_s = q.get(timeout=600)
    proc.join(30)
    deadline = time.monotonic() + 60
    while src.queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    stop.set()
    th.join(30)
    dt = stamps[-1] - stamps[0]  # first message handled → last message classified (process start excluded)
    cpu = time.process_time() - c0  # server process only (HTTP threads + classifier)
    src.close()
    res["sensorlogger_http"] = {"messages_ok": ok, "messages": len(bodies), "timestamps": n_http,
                                "samples_per_s": round(clf.samples_in / dt), "windows": clf.windows_out,
                                "server_samples_per_cpu_s": round(clf.samples_in / cpu),
                                "windows_per_s": round(clf.windows_out / dt, 1), "seconds": round(dt, 3),
                                "client_seconds": round(client_s, 3),
                                "note": "client in a separate process on the same machine; samples = both kinds"}
    print("sensorlogger http:", res["sensorlogger_http"], flush=True)

    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=2) + "\n")
    os.replace(tmp, out.with_suffix(".json"))
    md = [f"# Streaming accel runtime benchmark\n",
          f"`{' '.join(sys.argv)}` — CPU affinity {res['cpu_affinity']}, {res['runtime']}, Python {res['python']}\n",
          f"Model: {res['model']}; {res['window_samples']} samples @ {res['rate_hz']:g} Hz, stride {res['stride']} samples. "
          f"Data: UCI walking (18 users back to back, repeated), {res['data_samples']} samples = {res['data_minutes']} min, "
          f"batches of {res['batch']}.\n",
          f"Machine load average at start: {res['loadavg']} on {os.cpu_count()} cores (shared): wall-clock rates "
          "depend on it; per-CPU-second rates much less.\n",
          "| measure | samples/s (wall) | samples per CPU-s | windows/s (wall) | windows per CPU-s |",
          "|---|---:|---:|---:|---:|",
          f"| ingest (resample + window, no model) | {res['ingest']['samples_per_s']:,} | {res['ingest']['samples_per_cpu_s']:,} | – | – |",
          f"| ingest + classify (LiteRT, 1 thread) | {res['classify']['samples_per_s']:,} | {res['classify']['samples_per_cpu_s']:,} "
          f"| {res['classify']['windows_per_s']:,} | {res['classify']['windows_per_cpu_s']:,} |",
          f"| model alone | – | – | {res['model_only']['windows_per_s']:,} | {res['model_only']['windows_per_cpu_s']:,} |",
          f"| Sensor Logger JSON parse | {res['sensorlogger_parse']['samples_per_s']:,} | {res['sensorlogger_parse']['samples_per_cpu_s']:,} | – | – |",
          f"| Sensor Logger HTTP end to end (loopback; CPU = server process) | {res['sensorlogger_http']['samples_per_s']:,} "
          f"| {res['sensorlogger_http']['server_samples_per_cpu_s']:,} | {res['sensorlogger_http']['windows_per_s']:,} | – |",
          "", f"Memory (RSS) over the long replay: start {res['memory']['rss_mb_start']} MB, end {res['memory']['rss_mb_end']} MB, "
          f"max {res['memory']['rss_mb_max']} MB; growth after the first 10%: {res['memory']['rss_mb_growth_after_10pct']} MB.", ""]
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(md))
    os.replace(tmp, out.with_suffix(".md"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
