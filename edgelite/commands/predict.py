"""Run a .tflite on recording files/folders through the LiteRT runtime (no TensorFlow); print JSON lines.

The model's embedded metadata says what it expects. Accelerometer models take files in any
supported recording format (UniBuc CSV folders, t,x,y,z continuous CSV, Sensor Logger zips/folders,
magic-wand captures); recordings are resampled to the model's rate and cut with the same rule as in
training (long recordings → one line per window every --stride seconds). Sign models take Kaggle
parquet files, MP_Data sequence folders and dataset folders.

Each line: {"input", "label", "score", "top": [[label, p], ...]} (+ "t_start"/"t_end" in seconds for
windows of a recording, "true" when the file carries a label). A model with open-set metadata
(`openset`: temperature + threshold fitted in training) answers "unknown" when its calibrated score is
below the threshold ("no sign" for MP_Data's "-" class); "score" is then that calibrated score and "top"
lists calibrated probabilities (--closed-set: plain argmax and raw probabilities).

examples:
  edgelite predict runs/uci/model.tflite ../shared/data/accel/uci-walking/Dataset/7.csv
  edgelite predict runs/wand/model.tflite ../shared/data/accel/magic-wand/ring --format magic-wand
  edgelite predict runs/asl/model.tflite ../shared/data/asl-signs/train_landmark_files/2044/185948800.parquet
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

PATH = ("predict",)
HELP = "classify recordings with a .tflite (runtime only) and print JSON lines"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="edgelite .tflite model")
    p.add_argument("inputs", nargs="+", help="recording files or folders")
    p.add_argument("--format", help="accel recording format (default: detected)")
    p.add_argument("--stride", type=float, help="accel: seconds between windows of long recordings (default: one window)")
    p.add_argument("--top", type=int, default=3, help="how many top classes to list (default 3)")
    p.add_argument("--aggregate", action="store_true", help="accel: one line per recording (mean of its windows)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
    p.add_argument("--closed-set", action="store_true",
                   help="never answer 'unknown': ignore the model's open-set threshold and temperature")


def _line(name: str, prob: np.ndarray, meta: dict, top: int, x: np.ndarray | None = None, **extra) -> str:
    from edgelite.runtime.core.openset import decide

    labels = meta["labels"]
    label, score, prob = decide(prob, meta, x)  # "unknown"/"no sign" per the model's open-set metadata
    order = np.argsort(-prob)[:top]
    rec = {"input": name, "label": label, "score": round(float(score), 6),
           "top": [[labels[i], round(float(prob[i]), 6)] for i in order]}
    rec.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(rec)


def run(args: argparse.Namespace) -> int:
    from edgelite.runtime.core.errors import ModelError
    from edgelite.runtime.core.model import EdgeModel

    model = EdgeModel.open(args.model, num_threads=args.threads)
    meta = dict(model.metadata)
    if args.closed_set:
        meta.pop("openset", None)
    labels = model.labels
    if not labels:
        raise ModelError(f"{args.model}: no edgelite metadata with labels inside the model")
    task = meta.get("task")
    out = sys.stdout
    if task == "accel":
        from edgelite.runtime.accel.io import read_recordings
        from edgelite.runtime.accel.windows import recording_samples

        inp = meta["input"]
        rate, window = float(inp["sample_rate_hz"]), float(inp["window_s"])
        stride = args.stride or window
        for path in args.inputs:
            for rec in read_recordings(path, fmt=args.format):
                samples = recording_samples(rec.data, rec.t, rec.rate_hz, rate, window, stride)
                probs = [model.predict(x) for x, _, _ in samples]
                if not probs:
                    print(f"edgelite: warning: {rec.source}: fewer than 2 samples, skipped", file=sys.stderr)
                    continue
                if args.aggregate or len(samples) == 1:
                    print(_line(rec.name, np.mean(probs, axis=0), meta, args.top,
                                x=samples[0][0] if len(samples) == 1 else None, true=rec.label,
                                windows=len(probs) if len(probs) > 1 else None), file=out)
                else:
                    for (x, s0, s1), p in zip(samples, probs):
                        print(_line(rec.name, p, meta, args.top, x=x, t_start=round(s0, 3), t_end=round(s1, 3),
                                    true=rec.label), file=out)
    elif task == "signs":
        from edgelite.runtime.signs.io import iter_prediction_inputs

        for name, frames in iter_prediction_inputs(args.inputs):
            print(_line(name, model.predict(frames), meta, args.top), file=out)
    else:
        raise ModelError(f"{args.model}: unknown task {task!r} in metadata (expected accel or signs)")
    return 0
