"""Run a .tflite on recording files/folders through the LiteRT runtime (no TensorFlow); print JSON lines.

The model's embedded metadata says what it expects. Accelerometer models take files in any
supported recording format (UniBuc CSV folders, t,x,y,z continuous CSV, Sensor Logger zips/folders,
magic-wand captures); recordings are resampled to the model's rate and cut with the same rule as in
training (long recordings → one line per window every --stride seconds). Sign models take Kaggle
parquet files, MP_Data sequence folders and dataset folders.

Each line (the JSON shape of every edgelite command):
  {"input": <file>, "label", "score", "top": [{"label", "score"}, ...]}
  + "t_start"/"t_end" (seconds) for windows of a recording, "windows" for --aggregate,
  "true" when the data names the class (labels file, train.csv, class folders).
A model with open-set metadata (`openset`: temperature + threshold fitted in training) answers
"unknown" when its calibrated score is below the threshold ("no sign" for MP_Data's "-" class);
"top" then lists calibrated probabilities (--closed-set: plain argmax and raw probabilities).

examples:
  edgelite predict runs/uci/model.tflite ../shared/data/accel/uci-walking/Dataset/7.csv
  edgelite predict runs/wand/model.tflite ../shared/data/accel/magic-wand/ring --format magic-wand
  edgelite predict runs/asl/model.tflite ../shared/data/asl-signs/train_landmark_files/2044/185948800.parquet
  edgelite predict runs/words/model.tflite stream.npy --continuous --fps 30   # signs back to back
"""

from __future__ import annotations

import argparse
import json
import sys

PATH = ("predict",)
HELP = "classify recordings with a .tflite (runtime only) and print JSON lines"

FLAGS = {"stride_s": "--stride", "top_k": "--top", "fmt": "--format", "num_threads": "--threads"}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="edgelite .tflite model")
    p.add_argument("inputs", nargs="+", help="recording files or folders")
    p.add_argument("--format", help="accel recording format (default: detected)")
    p.add_argument("--stride", type=float, help="accel: seconds between windows of long recordings (default: one window)")
    p.add_argument("--top", type=int, default=3, help="how many top classes to list (default 3)")
    p.add_argument("--aggregate", action="store_true", help="accel: one line per recording (mean of its windows)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
    p.add_argument("--closed-set", action="store_true",
                   help="never answer 'unknown': ignore the model's open-set threshold and temperature "
                        "(--continuous: the spotter's out-of-vocabulary reject)")
    p.add_argument("--continuous", action="store_true",
                   help="signs: spot signs in a landmark stream (one JSON line per sign + a summary line); "
                        "uses spotter.tflite beside the model")
    p.add_argument("--fps", type=float, default=30.0, help="--continuous: frame rate of the stream (default 30)")


def _print(result) -> None:
    print(json.dumps(result.to_json()), file=sys.stdout)


def _predict_accel(args: argparse.Namespace) -> None:
    from edgelite.runtime.accel.classifier import AccelClassifier, AccelClassifierOptions

    opts = AccelClassifierOptions(args.model, num_threads=args.threads, top_k=args.top, stride_s=args.stride,
                                  closed_set=args.closed_set)
    with AccelClassifier.create_from_options(opts) as clf:
        for path in args.inputs:
            for r in clf.classify_recording(path, fmt=args.format, aggregate=args.aggregate):
                _print(r)


def _predict_signs(args: argparse.Namespace) -> None:
    from edgelite.runtime.signs.classifier import SignRecognizer, SignRecognizerOptions
    from edgelite.runtime.signs.io import iter_labelled_inputs

    opts = SignRecognizerOptions(args.model, num_threads=args.threads, top_k=args.top, closed_set=args.closed_set)
    with SignRecognizer.create_from_options(opts) as rec:
        for path, frames, label in iter_labelled_inputs(args.inputs):
            _print(rec.classify(frames, input=path, true=label))


def run(args: argparse.Namespace) -> int:
    from edgelite.commands._flags import cli_names
    from edgelite.runtime.core.errors import ModelError
    from edgelite.runtime.core.metadata import load_model_metadata

    if args.continuous:
        from edgelite.runtime.signs.spotting import SpotterOptions, continuous_lines

        opts = SpotterOptions(openset=not args.closed_set)
        for line in continuous_lines(args.model, args.inputs, args.fps, args.threads or 1, opts):
            print(line, flush=True)
        return 0
    with cli_names(FLAGS):
        task = load_model_metadata(args.model).get("task")
        if task == "accel":
            _predict_accel(args)
        elif task == "signs":
            _predict_signs(args)
        else:
            raise ModelError(f"{args.model}: unknown task {task!r} in metadata (expected accel or signs)")
    return 0
