"""``edgelite train accel --init RUN --data D --format F``: adapt an accelerometer run to a new user (or new
gestures) on the CPU in minutes.

The new recordings are read in any supported format, resampled to RUN's rate and cut into RUN's windows
(its metadata: ``sample_rate_hz``, ``window_samples``, ``fit_length``); RUN's label order is kept, new gestures
appended (output units imprinted from the class-mean embedding); every layer is trained (the in-graph
normalisation statistics are kept) at a low learning rate for a fixed number of steps, with RUN's calibration
windows mixed in; the new run folder is written by :func:`edgelite.train.finetune.write_finetune_run`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError


@dataclass
class AccelFinetuneConfig:
    init: str
    data: str
    fmt: str
    out: str
    new_signs: str = "extend"   # new gestures: "extend" the label set or "skip" them
    train: str = "all"          # "all" or "head"
    steps: int = 150
    batch_size: int = 32
    learning_rate: float = 5e-4
    stride: float | None = None  # seconds between windows (default: a quarter window)
    labels_csv: str | None = None
    strict: bool = False
    replay: bool = True
    eval_data: str | None = None  # held-out recordings (same format) for the report
    seed: int = 0
    verbose: bool = True
    overwrite: bool = False


def _log(cfg: AccelFinetuneConfig, msg: str) -> None:
    if cfg.verbose:
        print(f"[accel fine-tune] {msg}", file=sys.stderr, flush=True)


def _geometry(base) -> tuple[float, int, str]:
    inp, pre = base.meta["input"], base.meta["preprocessing"]
    try:
        return float(inp["sample_rate_hz"]), int(inp["window_samples"]), str(pre.get("fit_length", "stretch"))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{base.path}: metadata lacks input.sample_rate_hz / window_samples") from None


def read_windows(cfg: AccelFinetuneConfig, rate: float, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``(samples [T,3] m/s² at RUN's rate, labels)`` of ``cfg.data``."""
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.train.accel.train import make_samples

    recs = [r for r in read_recordings(cfg.data, fmt=cfg.fmt, strict=cfg.strict, labels_csv=cfg.labels_csv)
            if r.label is not None]
    if not recs:
        raise DataError(f"{cfg.data}: no labelled recordings (format {cfg.fmt})")
    bad = next((r for r in recs if np.asarray(r.data).ndim != 2 or np.asarray(r.data).shape[1] != 3), None)
    if bad is not None:
        raise DataError(f"{bad.name}: samples of shape {np.asarray(bad.data).shape}; expected [T, 3] accelerometer x, y, z")
    window = n / rate
    s = make_samples(recs, rate, window, cfg.stride or window / 4)
    return list(s.x), np.asarray(s.label).astype(str)


def _fit(xs: list[np.ndarray], n: int, fit: str) -> np.ndarray:
    from edgelite.train.accel.train import _fit_all

    return _fit_all(xs, n, fit)


def fit_accel(cfg: AccelFinetuneConfig, base, xs: list[np.ndarray], labels: np.ndarray):
    """Fine-tune ``base`` on raw samples ``xs`` → ``(keras window model, FinetuneSummary, kept mask)``."""
    import keras

    from edgelite.runtime.core.evaldata import read_eval_data
    from edgelite.train.finetune import FinetuneSummary, embedding_model, label_set, progress, set_trainable, with_head

    t0, c0 = time.time(), time.process_time()
    _, n, fit = _geometry(base)
    classes, keep = label_set(base.classes, labels, cfg.new_signs, "gestures")
    labels = labels[keep]
    w = _fit([x for x, k in zip(xs, keep) if k], n, fit)
    cidx = {c: i for i, c in enumerate(classes)}
    y = np.array([cidx[v] for v in labels], np.int64)
    keras.utils.set_random_seed(cfg.seed)
    emb = embedding_model(base.model, base.head).predict(w, verbose=0)
    model = with_head(base.model, base.head, base.classes, classes, emb, y, [])
    n_trainable = set_trainable(model, base.head, cfg.train)
    rw, ry = np.zeros((0, n, 3), np.float32), np.zeros(0, np.int64)
    ev_path = os.path.join(base.path, "eval_data.npz")
    if cfg.replay and os.path.isfile(ev_path):
        ev = read_eval_data(ev_path)
        if ev.calib_y is not None and len(ev.calib_x):
            rw, ry = _fit(ev.calib_x, n, fit), np.asarray(ev.calib_y, np.int64)
    reps = max(1, int(round(len(ry) / max(len(y), 1)))) if len(ry) else 1
    tx, ty = np.concatenate([np.tile(w, (reps, 1, 1)), rw]), np.concatenate([np.tile(y, reps), ry])
    spe = math.ceil(len(ty) / cfg.batch_size)
    epochs = max(1, math.ceil(cfg.steps / spe))
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=epochs * spe, alpha=0.1)
    model.compile(optimizer=keras.optimizers.Adam(sched), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _log(cfg, f"{len(y)} windows ({len(set(y.tolist()))} gestures; added {classes[len(base.classes):] or 'none'}), "
              f"replay {len(ry)}, {epochs} epochs × {spe} steps, {n_trainable:,} trainable parameters")
    hist = model.fit(tx, ty, epochs=epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0,
                     callbacks=[progress(lambda m: _log(cfg, m), epochs)])
    s = FinetuneSummary(base, [os.path.abspath(cfg.data)], classes, classes[len(base.classes):], [], len(y),
                        {c: int((y == i).sum()) for i, c in enumerate(classes) if (y == i).any()}, epochs,
                        epochs * spe, cfg.train, cfg.learning_rate, False, len(ry), time.time() - t0,
                        time.process_time() - c0, {k: [float(v) for v in vals] for k, vals in hist.history.items()})
    return model, s, keep


def finetune_accel(cfg: AccelFinetuneConfig) -> dict[str, Any]:
    """Read RUN and the new recordings → fine-tune → write ``cfg.out``; returns report.json's dict."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.convert.export import export_tflite
    from edgelite.train.accel.model import end_to_end, serving_fn
    from edgelite.train.accel.train import _tflite_predict
    from edgelite.train.common import prepare_run_dir
    from edgelite.train.finetune import load_base_run, write_finetune_run

    base = load_base_run(cfg.init, "accel")
    rate, n, fit = _geometry(base)
    xs, labels = read_windows(cfg, rate, n)
    ev = read_windows(dataclasses.replace(cfg, data=cfg.eval_data), rate, n) if cfg.eval_data else None
    _log(cfg, f"fine-tuning {cfg.init} ({len(base.classes)} gestures) on {len(xs)} windows from {cfg.data}")
    prepare_run_dir(cfg.out, cfg.overwrite)
    model, s, keep = fit_accel(cfg, base, xs, labels)

    def export(m, meta, path, sm):
        export_tflite(m, serving_fn(m, n, fit), "accel", [None, 3], "probabilities", meta, path, saved_model_dir=sm)

    report = write_finetune_run(cfg.out, s, model, export, lambda m, p: end_to_end(m, n, fit).save(p), _tflite_predict,
                                [x for x, k in zip(xs, keep) if k], labels[keep], ev,
                                extra={"sample_rate_hz": rate, "window_samples": n, "fit_length": fit,
                                       "format": cfg.fmt})
    e = report["evaluation"]
    _log(cfg, f"accuracy {e['accuracy']:.4f} on {e['n']} {'held-out' if ev else 'fine-tune'} windows "
              f"(base run {e.get('base_accuracy', float('nan')):.4f}); {s.seconds / 60:.1f} min → {cfg.out}")
    return report
