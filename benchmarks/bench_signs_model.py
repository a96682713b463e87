"""Sign preprocessing and model measurements on the real asl-signs parquet data.

- NumPy twin vs TF preprocessing: max |Δ| over every shared parquet sequence, per landmark set;
- NumPy preprocessing cost per sequence;
- optionally a trained sign ``.tflite`` (``--model RUN/model.tflite``): LiteRT latency per sequence
  (1 thread) and, if ``RUN/model.keras`` exists, TF (NumPy features + Keras) vs ``.tflite`` max |Δp|.

Prints a table and writes ``benchmarks/results/signs_model.json`` and ``.md``.

    python benchmarks/bench_signs_model.py --model runs/asl2/model.tflite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

HERE = Path(__file__).resolve().parent


def main() -> None:
    from edgelite.runtime.core.paths import shared_dir
    from edgelite.runtime.signs.features import LANDMARK_SETS, SignPreprocessConfig, sign_features
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="asl-signs folder (default shared data)")
    ap.add_argument("--model", default=None, help="a sign model.tflite to time and check")
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--out", default=str(HERE / "results" / "signs_model"))
    a = ap.parse_args()
    root = Path(a.data) if a.data else shared_dir() / "data" / "asl-signs"
    seqs = [read_parquet_sequence(s.path) for s in list_asl_signs(root)]
    one = seqs[0][:1]
    nohands = seqs[0].copy()
    nohands[:, 468:489] = np.nan
    nohands[:, 522:543] = np.nan
    seqs_all = seqs + [one, nohands]
    res: dict = {"data": str(root), "n_sequences": len(seqs), "frames": int(sum(len(s) for s in seqs)),
                 "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "preprocessing": {}}

    import tensorflow as tf

    from edgelite.train.signs.preprocess import tf_sign_features

    for ls in LANDMARK_SETS:
        cfg = SignPreprocessConfig(landmark_set=ls, max_len=a.max_len)
        t0 = time.perf_counter()
        feats = [sign_features(x, cfg)[0] for x in seqs_all]
        dt = (time.perf_counter() - t0) / len(seqs_all)
        fn = tf.function(lambda x: tf_sign_features(x, cfg)[0],
                         input_signature=[tf.TensorSpec([None, 543, 3], tf.float32)])
        diff = max(float(np.abs(fn(x).numpy() - f).max()) for x, f in zip(seqs_all, feats))
        res["preprocessing"][ls] = {"num_features": cfg.num_features, "numpy_ms_per_seq": round(dt * 1e3, 3),
                                    "numpy_vs_tf_max_abs": diff}
        print(f"{ls:11s} F={cfg.num_features:4d}  numpy {dt * 1e3:6.2f} ms/seq  numpy-vs-TF max|Δ| {diff:.2e}")
    if a.model:
        from edgelite.runtime.core.model import EdgeModel

        m = EdgeModel.open(a.model, num_threads=1)
        for x in seqs_all[:5]:
            m(inputs=x)
        lat, probs = [], []
        for x in seqs_all:
            t0 = time.perf_counter()
            probs.append(m(inputs=x)["outputs"])
            lat.append(time.perf_counter() - t0)
        lat_ms = np.array(lat) * 1e3
        res["tflite"] = {"model": a.model, "size_bytes": os.path.getsize(a.model), "labels": len(m.labels),
                         "landmark_set": m.metadata.get("input", {}).get("landmark_set"),
                         "latency_ms_median": round(float(np.median(lat_ms)), 3),
                         "latency_ms_p90": round(float(np.percentile(lat_ms, 90)), 3), "threads": 1}
        keras_path = Path(a.model).with_name("model.keras")
        if keras_path.exists():
            import keras

            import edgelite.train.signs.model  # noqa: F401  (registers the custom layers)

            from edgelite.runtime.signs.features import SignPreprocessConfig as C

            km = keras.models.load_model(keras_path)
            cfg = C.from_dict(m.metadata["preprocessing"])
            worst = 0.0
            for x, p in zip(seqs_all, probs):
                f, mk = sign_features(x, cfg)
                kin = x[None] if len(km.inputs) == 1 else [f[None], mk[None]]  # end-to-end model.keras: raw input
                worst = max(worst, float(np.abs(km.predict(kin, verbose=0)[0] - p).max()))
            res["tflite"]["keras_vs_tflite_max_abs"] = worst
        print(f"tflite: median {res['tflite']['latency_ms_median']} ms/seq, p90 {res['tflite']['latency_ms_p90']} ms "
              f"(1 thread); Keras vs .tflite max|Δp| {res['tflite'].get('keras_vs_tflite_max_abs', 'n/a')}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    lines = ["# Sign preprocessing / model measurements", "", f"{res['n_sequences']} asl-signs sequences "
             f"(+1-frame, no-hands cases), {res['frames']} frames; {res['cpus']} CPUs, shared.", "",
             "| landmark set | features/frame | NumPy ms/seq | NumPy vs TF max abs |", "|---|---|---|---|"]
    for ls, r in res["preprocessing"].items():
        lines.append(f"| {ls} | {r['num_features']} | {r['numpy_ms_per_seq']} | {r['numpy_vs_tf_max_abs']:.2e} |")
    if "tflite" in res:
        t = res["tflite"]
        lines += ["", f"`.tflite` ({t['labels']} classes, {t['landmark_set']}, {t['size_bytes']} bytes): median "
                      f"{t['latency_ms_median']} ms, p90 {t['latency_ms_p90']} ms per sequence (1 thread); "
                      f"Keras vs .tflite max |Δp| {t.get('keras_vs_tflite_max_abs', 'n/a')}"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
