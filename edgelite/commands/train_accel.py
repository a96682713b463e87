"""Train an accelerometer classifier on real recordings and export it as a .tflite with in-graph preprocessing.

Reads one of the supported recording formats, resamples everything to the model's rate, cuts
windows, splits without leakage (contiguous time blocks per recording for user identification
from continuous recordings; leave-one-user/device-out or group k-fold otherwise), trains, exports
model.tflite (signature serving_default: accel [None,3] m/s² → probabilities) and evaluates the
.tflite itself on the held-out data of every fold (the report). Each fold early-stops on an inner
split of its training part. The shipped model is then fitted on ALL the data for the folds' mean
best epoch (--no-final: ship fold 1's model instead), and an open-set "unknown" threshold with a
temperature fitted on the out-of-fold predictions goes into its metadata (`openset`).

examples:
  edgelite train accel --data ../shared/data/accel/uci-walking/Dataset --format continuous --out runs/uci
  edgelite train accel --data ../shared/data/accel/magic-wand --format magic-wand --out runs/wand
  edgelite train accel --data ../shared/data/accel/uci-walking/Dataset --format continuous --holdout-tail 10 \
      --seeds 3 --out runs/uci-robust   # tested on unseen tails; 3 seeds × 5 folds; ships the mean of 3 final fits
  edgelite train accel --data ../shared/data/accel/sensorlogger-wand/training --format sensorlogger --out runs/shapes
  edgelite train accel --data unibuc/train --format unibuc --out runs/unibuc   # needs unibuc/train_labels.csv

fine-tune (--init RUN): adapt an existing accel run to a new user or new gestures on the CPU in minutes.
--data/--format are the new recordings; RUN's rate, window and label order are kept, new gestures are
appended (output units imprinted from their mean embedding); writes a new run folder whose report.json
says which run it fine-tunes and on what data (--eval: held-out recordings of the same format).
  edgelite train accel --init runs/wand --data my_wand/ --format magic-wand --out runs/wand-me

defaults per format (window s / stride s / rate Hz / fit / split):
  continuous    1.5 / 0.25 / measured / stretch / 5 contiguous time blocks per recording, 1-window gaps
  unibuc        1.5 / 0.5  / 100      / stretch / 5-fold over recordings
  sensorlogger  4.0 / 0.5  / 50       / pad     / leave-one-device-out
  magic-wand    3.0 / 1.0  / 25       / pad     / leave-one-user-out
"""

from __future__ import annotations

import argparse

from edgelite.commands._run_args import add_run_arguments

PATH = ("train", "accel")
HELP = "train an accelerometer classifier (UCI walking, UniBuc, Sensor Logger, magic wand)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset folder or file")
    p.add_argument("--format", required=True, choices=["unibuc", "continuous", "sensorlogger", "magic-wand"],
                   help="recording format of --data")
    p.add_argument("--out", required=True, help="run folder to write (created)")
    p.add_argument("--window", type=float, help="window length in seconds (default: per format)")
    p.add_argument("--stride", type=float, help="stride between training windows in seconds (default: per format)")
    p.add_argument("--rate", type=float, help="model sample rate in Hz (default: per format / measured)")
    p.add_argument("--fit", choices=["stretch", "pad"],
                   help="how a recording shorter than the window is fitted: stretch (resample) or pad (keep time scale); default per format")
    p.add_argument("--epochs", type=int, default=40,
                   help="maximum epochs per fold (early stopping; the final fit uses the folds' mean best epoch; default 40)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    p.add_argument("--split", choices=["time", "group", "recording"],
                   help="override the split: time blocks, held-out groups (users/devices), or k-fold over recordings")
    p.add_argument("--val-fraction", type=float, default=0.2, help="time split: held-out share of each recording")
    p.add_argument("--folds", type=int, default=5, help="group split: at most this many folds when groups are recordings")
    p.add_argument("--holdout", default="", help="comma-separated groups (users/devices) to hold out as the only fold")
    p.add_argument("--holdout-tail", type=float, default=0.0, metavar="SECONDS",
                   help="never train on the last SECONDS of every recording: the shipped model is tested on them "
                        "(report.json 'test') and they are written to RUN/holdout/<recording>.csv")
    p.add_argument("--labels", dest="labels_csv", help="UniBuc: train_labels.csv (default: next to the data folder)")
    p.add_argument("--strict", action="store_true", help="malformed rows are errors instead of skipped with a warning")
    p.add_argument("--width", type=int, default=128, help="network width (dense units; conv filters = width/2, width)")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout rate (default 0.3)")
    p.add_argument("--augment-deg", type=float, default=0.0,
                   help="training-only random rotation up to this many degrees, with ±10%% amplitude scaling (default 0 = off: on UCI walking, orientation is a real user cue and rotation hurt)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default 0 = Adam)")
    p.add_argument("--patience", type=int, default=8,
                   help="early stopping: epochs without improvement on the inner split of the training part (default 8)")
    p.add_argument("--monitor", choices=["loss", "accuracy"], default="accuracy",
                   help="early stopping watches the inner split's accuracy (default; on UCI walking the loss "
                        "rises from epoch 2 while accuracy still improves) or loss")
    p.add_argument("--init", metavar="RUN", help="fine-tune this accel run folder on --data instead of training from scratch")
    p.add_argument("--new-gestures", choices=["extend", "skip"], default="extend",
                   help="--init: gestures RUN does not know extend the label set (default) or are left out")
    p.add_argument("--steps", type=int, default=150, help="--init: optimisation steps (default 150)")
    p.add_argument("--eval", metavar="DATA", help="--init: held-out recordings (same --format) for the report")
    add_run_arguments(p)


def run(args: argparse.Namespace) -> int:
    from edgelite.extras import require

    require("tensorflow", "keras")  # before reading any data: one line naming edgelite[train]
    import json

    from edgelite.train.accel.train import AccelTrainConfig, train_accel
    from edgelite.train.common import RunFolderError

    if args.init:
        return _finetune(args)
    cfg = AccelTrainConfig(
        data=args.data, fmt=args.format, out=args.out, window=args.window, stride=args.stride, rate=args.rate,
        fit=args.fit, epochs=args.epochs, batch_size=args.batch_size, split=args.split, val_fraction=args.val_fraction,
        folds=args.folds, holdout=[h for h in args.holdout.split(",") if h], strict=args.strict,
        labels_csv=args.labels_csv, seed=args.seed, width=args.width, dropout=args.dropout, augment_deg=args.augment_deg, weight_decay=args.weight_decay, verbose=0 if args.quiet else 1,
        patience=args.patience, monitor=args.monitor, final=args.final, overwrite=args.overwrite, openset_reject=args.openset_reject,
        seeds=args.seeds, ensemble=args.ensemble, holdout_tail=args.holdout_tail,
    )
    try:
        rep = train_accel(cfg)
    except RunFolderError as e:
        raise RunFolderError(f"{e} (--overwrite)") from None
    print(json.dumps({"out": args.out, "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"],
                      "cv": rep["cv"], "counts": {k: rep["counts"][k] for k in ("n_samples", "folds_total")},
                      "final_fit": rep["final_fit"]["used"], "ensemble": rep["ensemble"], "split": rep["split"]["kind"],
                      **({"test": {k: rep["test"][k] for k in ("accuracy", "n")}} if rep.get("test") else {})}))
    return 0


def _finetune(args: argparse.Namespace) -> int:
    import json

    from edgelite.train.accel.finetune import AccelFinetuneConfig, finetune_accel
    from edgelite.train.common import RunFolderError

    cfg = AccelFinetuneConfig(init=args.init, data=args.data, fmt=args.format, out=args.out,
                              new_signs=args.new_gestures, steps=args.steps, stride=args.stride,
                              labels_csv=args.labels_csv, strict=args.strict, eval_data=args.eval, seed=args.seed,
                              verbose=not args.quiet, overwrite=args.overwrite)
    try:
        rep = finetune_accel(cfg)
    except RunFolderError as e:
        raise RunFolderError(f"{e} (--overwrite)") from None
    print(json.dumps({"out": args.out, "fine_tune_of": rep["fine_tune"]["fine_tune_of"],
                      "labels_added": rep["fine_tune"]["labels_added"], "evaluation": rep["evaluation"]}))
    return 0
