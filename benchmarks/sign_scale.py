"""Streamed sign training at ISLR scale: peak RSS and input-pipeline vs model throughput at 10k/30k/94,477.

Data: generated once into ``~/.cache/edgelite/synth/asl-signs-94477`` directly as cache shards
(``train.signs.cache.write_shard``, float16, 1,000 sequences per shard; no parquet files): sequence
``i`` is a copy of a real asl-signs sequence drawn at random from the 210 shared files, so shapes
(``[T, 543, 3]``), NaN patterns and the frame-count distribution are the real ones; labels are
random over 250 signs. The 10k and 30k sets are the first 10 / 30 shards of the same folder.

For each N, in a fresh process (so ``ru_maxrss`` is that N's peak):

* ``pipeline``: ``train.signs.data.make_stream`` alone (shard-order shuffle + 2,048-sequence
  shuffle buffer, in-graph augmentation + features, batch 64, prefetch), ``--pipeline-batches``
  batches → sequences/s into the model;
* ``model``: the model's CPU training step alone (``fit`` on one repeated in-memory batch);
* ``train``: ``fit`` on the stream (after a 2-step warm-up fit that traces it) for ``--train-steps`` steps (a full 94,477 epoch would take
  far too long on 2 shared cores), peak RSS of the whole process.

    python benchmarks/sign_scale.py                # → benchmarks/results/sign_scale.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
FULL = 94_477
SYNTH = Path(os.environ.get("EDGELITE_SYNTH", Path.home() / ".cache" / "edgelite" / "synth")) / f"asl-signs-{FULL}"


def generate(root: str, n: int = FULL, shard_size: int = 1000, seed: int = 0) -> Path:
    """Write the synthetic shard set once (skips complete shards); returns its folder."""
    import numpy as np

    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence
    from edgelite.train.signs.cache import shard_complete, write_shard

    SYNTH.mkdir(parents=True, exist_ok=True)
    real = [read_parquet_sequence(s.path).astype(np.float16) for s in list_asl_signs(root)]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(real), n)
    labels = rng.integers(0, 250, n)
    t0 = time.time()
    for s in range(0, n, shard_size):
        key = f"synth{s // shard_size:03d}"
        if shard_complete(SYNTH, key):
            continue
        ids = range(s, min(n, s + shard_size))
        write_shard(SYNTH, key, [f"synth{i}" for i in ids], [real[pick[i]] for i in ids], [None] * len(ids), "float16")
    np.save(SYNTH / "labels.npy", labels)
    (SYNTH / "info.json").write_text(json.dumps({"n": n, "shard_size": shard_size, "seed": seed, "dtype": "float16",
                                                 "source": "copies of the 210 shared asl-signs sequences",
                                                 "seconds": round(time.time() - t0, 1)}))
    return SYNTH


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _rate(n_seq: int, wall: float, cpu: float, cores: int = 2) -> dict:
    """Wall rate (what this busy box gave) and CPU-bound rate (``cores`` idle cores, all used)."""
    return {"wall": round(n_seq / wall, 1), "cpu_s": round(cpu, 2), "idle_cores": round(n_seq / (cpu / cores), 1)}


def _rss_mb() -> float:
    """Peak RSS (ru_maxrss) in MB. Linux keeps the parent's value across fork + exec: a lower bound."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _now_rss_mb() -> float:
    """Current RSS (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def measure_one(n: int, pipeline_batches: int, train_steps: int, batch: int, size: str) -> dict:
    """One N in this process: pipeline alone, model step alone, then streamed fit; peak RSS."""
    import numpy as np

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.signs.data import make_stream
    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.shards import open_shards

    metas = sorted(SYNTH.glob("synth*.json"))
    ss = open_shards(metas).take(np.arange(n))
    y = np.load(SYNTH / "labels.npy")[:n]
    pre = SignPreprocessConfig(landmark_set="hands", max_len=64)
    pts = ss.select(pre.indices, 3)
    out = {"n": n, "shards": int(len(np.unique(ss.shard_of))), "rss_after_index_mb": round(_now_rss_mb(), 1)}
    ds = make_stream(pts, y, np.arange(n), pre, 250, batch, augment=True, shuffle=True, seed=0)
    it = iter(ds)
    next(it)  # trace + fill the shuffle buffer
    c, t = _cpu(), time.perf_counter()
    for _ in range(pipeline_batches):
        next(it)
    r = _rate(pipeline_batches * batch, time.perf_counter() - t, _cpu() - c)
    out.update(pipeline_seq_per_s=r["wall"], pipeline_idle_2core_seq_per_s=r["idle_cores"], pipeline_batches=pipeline_batches)
    del it
    keras.utils.set_random_seed(0)
    model = build_sign_model(pre.max_len, pre.num_features, 250, size)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    (f, m), oh = next(iter(ds))
    one = __import__("tensorflow").data.Dataset.from_tensors(((f, m), oh)).repeat()
    model.fit(one, steps_per_epoch=3, epochs=1, verbose=0)
    c, t = _cpu(), time.perf_counter()
    model.fit(one, steps_per_epoch=train_steps, epochs=1, verbose=0)
    r = _rate(train_steps * batch, time.perf_counter() - t, _cpu() - c)
    out.update(model_step_seq_per_s=r["wall"], model_step_idle_2core_seq_per_s=r["idle_cores"])
    stream = ds.repeat()
    model.fit(stream, steps_per_epoch=2, epochs=1, verbose=0)  # retrace for the stream's [None, ...] batch shape
    c, t = _cpu(), time.perf_counter()
    model.fit(stream, steps_per_epoch=train_steps, epochs=1, verbose=0)
    r = _rate(train_steps * batch, time.perf_counter() - t, _cpu() - c)
    out.update(streamed_train_seq_per_s=r["wall"], streamed_train_idle_2core_seq_per_s=r["idle_cores"])
    out.update(train_steps=train_steps, batch=batch, size=size, peak_rss_mb=round(_rss_mb(), 1))
    return out


def full_pass() -> dict:
    """Read every generated sequence once in the stream's shuffled shard-block order (no TF): peak RSS."""
    import numpy as np

    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.signs.data import read_order
    from edgelite.train.signs.shards import open_shards

    pts = open_shards(sorted(SYNTH.glob("synth*.json"))).select(SignPreprocessConfig("hands").indices, 3)
    r0, marks, frames = _now_rss_mb(), {}, 0
    c, t = _cpu(), time.perf_counter()
    for k, i in enumerate(read_order(pts, np.arange(len(pts)), True, np.random.default_rng(0))):
        frames += len(pts[int(i)])
        if k + 1 in (10_000, 30_000):
            marks[f"rss_after_{(k + 1) // 1000}k_mb"] = round(_now_rss_mb(), 1)
    pts.close()
    return {"sequences": len(pts), "frames": frames, "rss_start_mb": round(r0, 1), **marks,
            "peak_rss_mb": round(_rss_mb(), 1), "wall_s": round(time.perf_counter() - t, 1),
            "cpu_s": round(_cpu() - c, 1)}


def _full_pass_md(fp: dict) -> str:
    return (f"\n## One full pass over all {fp['sequences']:,} sequences (reading only)\n\n"
            "Every sequence read once from the memory-mapped shards in the stream's order (shard blocks of 4 in "
            "random order, shuffled inside a block), hands points selected, no TensorFlow: peak RSS "
            f"{fp['rss_start_mb']} MB at start, {fp.get('rss_after_10k_mb')} MB after 10k, "
            f"{fp.get('rss_after_30k_mb')} MB after 30k, {fp['peak_rss_mb']} MB peak after all "
            f"({fp['frames']:,} frames, {fp['wall_s']} s wall, {fp['cpu_s']} CPU s): closed shards leave RSS.\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "asl-signs"))
    ap.add_argument("--sizes", default=f"10000,30000,{FULL}")
    ap.add_argument("--pipeline-batches", type=int, default=30)
    ap.add_argument("--train-steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", default="small")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process: one N
    ap.add_argument("--full-pass", action="store_true", help=argparse.SUPPRESS)  # child process: full pass
    ap.add_argument("--full-pass-only", action="store_true", help="add the full-pass row to existing results")
    args = ap.parse_args()
    if args.full_pass:
        print(json.dumps(full_pass()))
        return 0
    fp_cmd = [sys.executable, __file__, "--full-pass"]
    if args.full_pass_only:
        from bench_common import RESULTS, save

        fp = json.loads(subprocess.run(fp_cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        data = json.loads(Path(RESULTS, "sign_scale.json").read_text())
        md = Path(RESULTS, "sign_scale.md").read_text().split("\n## One full pass")[0]
        data["full_pass"] = fp
        save("sign_scale", data, md + _full_pass_md(fp))
        print(fp)
        return 0
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.pipeline_batches, args.train_steps, args.batch, args.size)))
        return 0
    from bench_common import command_line, header, machine, md_table, save

    m = machine()
    t = time.time()
    generate(args.data)
    info = json.loads((SYNTH / "info.json").read_text())
    info["generate_call_s"] = round(time.time() - t, 1)
    info["bytes"] = sum(p.stat().st_size for p in SYNTH.iterdir())
    procs = []
    for n in [int(v) for v in args.sizes.split(",")]:  # concurrently: each its own process and ru_maxrss
        cmd = [sys.executable, __file__, "--one", str(n), "--pipeline-batches", str(args.pipeline_batches),
               "--train-steps", str(args.train_steps), "--batch", str(args.batch), "--size", args.size]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    rows = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"measurement process failed ({p.returncode})")
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    m["load_avg_end"] = list(os.getloadavg())
    cols = [("n", "sequences"), ("shards", "shards"), ("rss_after_index_mb", "RSS after opening the index MB"),
            ("pipeline_seq_per_s", "pipeline seq/s wall (aug on)"), ("pipeline_idle_2core_seq_per_s", "pipeline seq/s idle 2 cores"),
            ("model_step_seq_per_s", "model step seq/s wall"), ("model_step_idle_2core_seq_per_s", "model step seq/s idle 2 cores"),
            ("streamed_train_seq_per_s", "streamed fit seq/s wall"),
            ("streamed_train_idle_2core_seq_per_s", "streamed fit seq/s idle 2 cores"), ("peak_rss_mb", "peak RSS MB")]
    md = header("Streamed sign training at scale (generated asl-signs-shaped data)", m, command_line())
    md += "\n" + md_table(rows, cols, nd=1) + "\n\n"
    md += (f"- data: {info['n']} sequences generated once into `~/.cache/edgelite/synth` as float16 cache shards "
           f"({info['bytes'] / 1e9:.1f} GB; copies of the 210 real asl-signs sequences, real frame-count distribution); "
           "10k/30k = first shards of the same set.\n"
           f"- per N a fresh process: pipeline alone {args.pipeline_batches} batches of {args.batch}; model step alone and "
           f"streamed fit {args.train_steps} steps (not a full epoch: 2 shared cores), model `{args.size}`, hands, max_len 64.\n"
           "- peak RSS = ru_maxrss of that process (TF runtime + model + shuffle buffer + open shard pages).\n"
           "- the three N ran concurrently (separate processes) on a box shared with other jobs at load > 20: wall rates "
           "are what we got; 'idle 2 cores' = sequences / (process CPU s / 2), the CPU-bound rate on 2 free cores.\n"
           f"- GPU: not lent to this task (no numbers). Load average at end: {m['load_avg_end']}\n")
    fp = json.loads(subprocess.run(fp_cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    md += _full_pass_md(fp)
    save("sign_scale", {"machine": m, "data": info, "args": vars(args), "rows": rows, "full_pass": fp}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
