"""Train, evaluate (on the ``.tflite``) and export an accelerometer classifier from real recordings.

Run folder written by :func:`train_accel`::

    RUN/model.keras          end-to-end Keras model (raw [B,T,3] → probabilities; load after `import edgelite.train`)
    RUN/saved_model/         SavedModel with serving_default (raw [T,3] → probabilities), for `edgelite convert`
    RUN/model.tflite         float32, preprocessing in the graph, metadata embedded
    RUN/metadata.json        the same metadata as a sidecar (checked against the model when both exist)
    RUN/report.json          held-out metrics of the .tflite (accuracy, macro_f1, per class, confusion matrix, split)
    RUN/confusion_matrix.png, RUN/training_curves.png
    RUN/eval_data.npz        held-out raw inputs + labels, and calibration inputs from training (no pickle)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.accel import features as af
from edgelite.runtime.core.errors import DataError

FORMAT_DEFAULTS: dict[str, dict[str, Any]] = {
    # window/stride in seconds; rate None = median of the recordings' measured rates
    "continuous": {"window": 1.5, "stride": 0.25, "rate": None, "split": "time", "fit": "stretch"},
    "unibuc": {"window": 1.5, "stride": 0.5, "rate": 100.0, "split": "group", "fit": "stretch"},
    "sensorlogger": {"window": 4.0, "stride": 0.5, "rate": 50.0, "split": "group", "fit": "pad"},
    "magic-wand": {"window": 3.0, "stride": 1.0, "rate": 25.0, "split": "group", "fit": "pad"},
}


@dataclass
class AccelTrainConfig:
    data: str
    fmt: str
    out: str
    window: float | None = None
    stride: float | None = None
    rate: float | None = None
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    n_windows: int = 3
    width: int = 128
    split: str | None = None  # "time" | "group" | "recording" (group k-fold over recordings)
    weight_decay: float = 0.0
    fit: str | None = None  # "stretch" | "pad" (how a short recording reaches the window length)
    val_fraction: float = 0.2
    folds: int = 5
    dropout: float = 0.3
    augment_deg: float = 0.0
    holdout: list[str] = field(default_factory=list)
    strict: bool = False
    labels_csv: str | None = None
    seed: int = 0
    verbose: int = 1


@dataclass
class Samples:
    """Raw samples at the model rate, each ``[T_i,3]`` float32 m/s², with where they came from."""

    x: list[np.ndarray]
    label: np.ndarray
    group: np.ndarray
    recording: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray


def _natural_key(s: str):
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def _log(cfg: AccelTrainConfig, msg: str) -> None:
    if cfg.verbose:
        print(msg, file=sys.stderr, flush=True)


def make_samples(recordings: list, rate: float, window_s: float, stride_s: float) -> Samples:
    """Bring every recording to ``rate`` Hz and cut it into samples.

    Recordings with timestamps are resampled from them (segments split at gaps longer than a
    window); others are resampled from their nominal rate. A segment at least two windows long is
    cut into sliding windows; a shorter one is one variable-length sample (the model's graph
    crops/stretches it exactly as it will on the device).
    """
    from edgelite.runtime.accel.windows import recording_samples

    xs, labels, groups, recs, starts, ends = [], [], [], [], [], []
    for rec in recordings:
        if rec.label is None:
            continue
        for x, s0, s1 in recording_samples(rec.data, rec.t, rec.rate_hz, rate, window_s, stride_s):
            xs.append(x)
            starts.append(s0)
            ends.append(s1)
            labels.append(rec.label)
            groups.append(rec.group)
            recs.append(rec.name)
    if not xs:
        raise DataError("no labelled samples of at least 2 readings after reading and resampling")
    return Samples(xs, np.array(labels), np.array(groups), np.array(recs), np.array(starts), np.array(ends))


def _fit_all(xs: list[np.ndarray], n: int, mode: str) -> np.ndarray:
    return np.stack([af.fit_length(af.clean(x), n, mode) for x in xs]).astype(np.float32)


def _stats(windows: np.ndarray, n_windows: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    sig = af.add_magnitude(windows)
    feats = af.window_features(sig, n_windows)
    fvar = np.maximum(feats.var(axis=0), 1e-6)
    svar = np.maximum(sig.reshape(-1, 4).var(axis=0), 1e-6)
    return (feats.mean(axis=0), fvar), (sig.reshape(-1, 4).mean(axis=0), svar)


def _flat(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in xs], np.int64)
    flat = np.concatenate(xs, axis=0).astype(np.float32) if xs else np.zeros((0, 3), np.float32)
    return flat, lengths


def _train_fold(cfg, n, classes, xtr, ytr, xva, yva, log_prefix=""):
    import keras

    from edgelite.train.accel.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    fstats, sstats = _stats(xtr, cfg.n_windows)
    model = build_model(n, len(classes), fstats, sstats, n_windows=cfg.n_windows, width=cfg.width,
                        dropout=cfg.dropout, augment_deg=cfg.augment_deg)
    steps = max(1, int(np.ceil(len(xtr) / cfg.batch_size))) * cfg.epochs
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.05)
    opt = keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay) if cfg.weight_decay else keras.optimizers.Adam(sched)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    counts = np.bincount(ytr, minlength=len(classes)).astype(np.float64)
    cw = {i: float(len(ytr) / (len(classes) * c)) for i, c in enumerate(counts) if c > 0}

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if cfg.verbose and (epoch == 0 or (epoch + 1) % max(1, cfg.epochs // 10) == 0 or epoch + 1 == cfg.epochs):
                _log(cfg, f"{log_prefix}epoch {epoch + 1:3d}/{cfg.epochs}  loss {logs.get('loss', 0):.3f}  "
                          f"acc {logs.get('accuracy', 0):.3f}  held-out acc {logs.get('val_accuracy', float('nan')):.3f}")

    hist = model.fit(xtr, ytr, validation_data=(xva, yva), epochs=cfg.epochs, batch_size=cfg.batch_size,
                     class_weight=cw, verbose=0, callbacks=[Progress()], shuffle=True)
    return model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def accel_metadata(cfg, classes, rate, n, gravity, units_note, training: dict, fit: str = "stretch") -> dict:
    from edgelite.runtime.core.metadata import make_metadata

    return make_metadata(
        task="accel",
        labels=classes,
        input={"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": rate,
               "window_s": n / rate, "window_samples": n, "gravity": bool(gravity), "axes": ["x", "y", "z"],
               "min_samples": 2},
        output={"name": "probabilities", "kind": "probabilities", "shape": [len(classes)]},
        preprocessing={"name": "accel-window-stats/1", "nan": "axis finite mean", "clip": af.CLIP,
                       "fit_length": fit, "n": n, "n_windows": cfg.n_windows,
                       "eps": af.EPS, "mcr_deadband": af.MCR_DEADBAND, "channels": list(af.CHANNELS), "stats": list(af.STATS),
                       "n_features": len(af.feature_names(cfg.n_windows))},
        training=training,
        source_units=units_note,
    )


def _tflite_predict(path: str, xs: list[np.ndarray]) -> np.ndarray:
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    return np.stack([m.predict(x) for x in xs]) if xs else np.zeros((0, len(m.labels)), np.float32)


def train_accel(cfg: AccelTrainConfig) -> dict[str, Any]:
    """Read → resample/window → split → train per fold → export .tflite → evaluate the .tflite → report."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.convert.export import embed_metadata, export_tflite, write_atomic
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.runtime.core.metadata import write_sidecar
    from edgelite.train.accel.model import end_to_end, serving_fn
    from edgelite.train.report import write_report
    from edgelite.train.splits import group_folds, time_block_folds, time_block_split

    if cfg.fmt not in FORMAT_DEFAULTS:
        raise DataError(f"--format {cfg.fmt!r}: expected one of {', '.join(FORMAT_DEFAULTS)}")
    d = FORMAT_DEFAULTS[cfg.fmt]
    window = cfg.window or d["window"]
    stride = cfg.stride or d["stride"]
    split_kind = cfg.split or d["split"]
    fit = cfg.fit or d["fit"]
    t0 = time.time()
    recs = read_recordings(cfg.data, fmt=cfg.fmt, strict=cfg.strict, labels_csv=cfg.labels_csv)
    skipped = int(sum(r.skipped_rows for r in recs))
    labelled = [r for r in recs if r.label is not None]
    if not labelled:
        raise DataError(f"{cfg.data}: no labelled recordings (format {cfg.fmt})")
    rate = float(cfg.rate or d["rate"] or round(float(np.median([r.rate_hz for r in labelled]))))
    n = int(round(window * rate))
    if n < 8:
        raise DataError(f"--window {window} s at {rate} Hz gives {n} samples; need at least 8")
    _log(cfg, f"read {len(recs)} recordings ({len(labelled)} labelled, {skipped} malformed rows skipped) "
              f"from {cfg.data} in {time.time() - t0:.1f}s; model rate {rate:g} Hz, window {window:g} s = {n} samples")
    s = make_samples(labelled, rate, window, stride)
    classes = sorted(set(s.label.tolist()), key=_natural_key)
    if len(classes) < 2:
        raise DataError(f"{cfg.data}: need at least 2 classes, found {classes}")
    y = np.array([classes.index(v) for v in s.label], np.int64)
    if split_kind == "time":
        if cfg.folds > 1:
            folds = time_block_folds(s.recording, s.start_s, s.end_s, cfg.folds, gap_s=window)
        else:
            folds = [time_block_split(s.recording, s.start_s, s.end_s, cfg.val_fraction, gap_s=window)]
    elif split_kind == "recording":
        folds = group_folds(s.label, s.recording, max_folds=cfg.folds, seed=cfg.seed)
        folds = [type(f)(f.train, f.val, f.held_out, "recording-k-fold") for f in folds]
    else:
        folds = group_folds(s.label, s.group, max_folds=cfg.folds, holdout=cfg.holdout or None, seed=cfg.seed)
    _log(cfg, f"{len(s.x)} samples, {len(classes)} classes, split: {folds[0].kind}, {len(folds)} fold(s)")
    windows = _fit_all(s.x, n, fit)
    os.makedirs(cfg.out, exist_ok=True)
    gravity = all(getattr(r, "gravity", True) for r in labelled)
    units_note = sorted({str(getattr(r, "meta", {}).get("units_in_file", "m/s^2")) for r in labelled})

    all_true, all_prob, histories, fold_reports = [], [], [], []
    shipped = None
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            prefix = f"[fold {k + 1}/{len(folds)} held out: {textwrap.shorten(', '.join(fold.held_out), 60, placeholder=' …')}] " if len(folds) > 1 else ""
            model, hist = _train_fold(cfg, n, classes, windows[fold.train], y[fold.train], windows[fold.val], y[fold.val], prefix)
            histories.append(hist)
            training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": fold.describe(),
                        "n_train": int(len(fold.train)), "n_val": int(len(fold.val)), "epochs": cfg.epochs,
                        "skipped_rows": skipped}
            meta = accel_metadata(cfg, classes, rate, n, gravity, units_note, training, fit)
            is_shipped = k == 0
            sm_dir = os.path.join(cfg.out, "saved_model") if is_shipped else os.path.join(tmp, f"sm{k}")
            if is_shipped and os.path.exists(sm_dir):
                shutil.rmtree(sm_dir)
            tfl = os.path.join(cfg.out, "model.tflite") if is_shipped else os.path.join(tmp, f"fold{k}.tflite")
            export_tflite(model, serving_fn(model, n, fit), "accel", [None, 3], "probabilities", meta, tfl, saved_model_dir=sm_dir)
            val_x = [s.x[i] for i in fold.val]
            prob = _tflite_predict(tfl, val_x)
            acc = float(np.mean(prob.argmax(1) == y[fold.val]))
            fold_reports.append({**fold.describe(), "accuracy": acc})
            _log(cfg, f"{prefix}held-out accuracy of the .tflite: {acc:.4f} ({len(fold.val)} samples)")
            all_true.append(y[fold.val])
            all_prob.append(prob)
            if is_shipped:
                shipped = (model, meta, fold)
                end_to_end(model, n, fit).save(os.path.join(cfg.out, "model.keras"))  # raw [B,T,3] → probabilities
                calib = fold.train[np.random.default_rng(cfg.seed).permutation(len(fold.train))[:200]]
                vx, vl = _flat(val_x)
                cx, cl = _flat([s.x[i] for i in calib])
                np.savez(os.path.join(cfg.out, "eval_data.npz"), x_flat=vx, lengths=vl, y=y[fold.val],
                         calib_x_flat=cx, calib_lengths=cl, calib_y=y[calib])
    model, meta, fold0 = shipped
    y_true = np.concatenate(all_true)
    prob = np.concatenate(all_prob)
    split = {"kind": folds[0].kind, "folds": fold_reports,
             "note": "metrics pool every fold's held-out predictions, each made by that fold's .tflite; "
                     "model.tflite is fold 1's model" if len(folds) > 1 else "metrics of model.tflite on the held-out block"}
    report = write_report(
        cfg.out, y_true, prob, classes, split, n_train=len(fold0.train), n_val=len(y_true), histories=histories,
        extra={"task": "accel", "format": cfg.fmt, "fit_length": fit, "sample_rate_hz": rate, "window_s": window, "window_samples": n,
               "stride_s": stride, "skipped_rows": skipped, "n_recordings": len(labelled),
               "evaluated_with": "model.tflite via edgelite.runtime (LiteRT)", "seconds": round(time.time() - t0, 1)},
        title=f"accel {cfg.fmt}",
    )
    meta["training"]["metrics"] = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
    # re-embed metadata now that the metrics are known (labels/input unchanged)
    path = os.path.join(cfg.out, "model.tflite")
    with open(path, "rb") as f:
        data = f.read()
    write_atomic(path, embed_metadata(data, meta, source=path))
    write_sidecar(meta, os.path.join(cfg.out, "metadata.json"))
    _log(cfg, f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  ({len(y_true)} held-out samples) → {cfg.out}")
    return report
