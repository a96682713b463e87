"""Train, evaluate (on the ``.tflite``) and export an accelerometer classifier from real recordings.

Run folder written by :func:`train_accel`::

    RUN/model.keras          end-to-end Keras model (raw [B,T,3] → probabilities; load after `import edgelite.train`) — the shipped model:
                             fitted on ALL the data for the folds' mean best epoch (fold 1's model with final=False)
    RUN/saved_model/         SavedModel with serving_default (raw [T,3] → probabilities), for `edgelite convert`
    RUN/model.tflite         float32, preprocessing in the graph, metadata embedded
    RUN/metadata.json        the same metadata as a sidecar (checked against the model when both exist)
    RUN/report.json          cross-validation metrics of each fold's .tflite on its held-out part (pooled, and
                             mean ± sd over folds), counts per fold / in total / of the shipped model, final fit, open set
    RUN/confusion_matrix.png, RUN/training_curves.png
    RUN/eval_data.npz        out-of-fold raw inputs + labels, and calibration inputs (no pickle); see
                             edgelite.runtime.core.evaldata (heldout_for_model says whether the shipped model saw them)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.accel import features as af
from edgelite.runtime.core.errors import DataError

EVAL_DATA_LIMIT = 2000  # evaluation samples written to eval_data.npz (random subset beyond this)
FORMAT_DEFAULTS: dict[str, dict[str, Any]] = {
    # window/stride in seconds; rate None = median of the recordings' measured rates
    # architecture keys (ARCH_DEFAULTS) chosen per kind of data, see benchmarks/results/baselines.md:
    # continuous (who is walking): 5 s = several gait cycles per decision (UCI time blocks 0.927 at 1.5 s,
    #   0.946 at 5 s);
    # sensorlogger (few recordings per phone): the window-scaled signal's course in 40 steps (0.1 s) only: the
    #   window statistics and the conv texture learn the phone, not the shape (leave-one-device-out 0.51 → 0.93;
    #   by recording 0.99 → 0.96);
    # magic-wand: the order of the strokes (temporal head) + time-warp augmentation (LOUO 0.996 → 1.000).
    "continuous": {"window": 5.0, "stride": 0.25, "rate": None, "split": "time", "fit": "stretch"},
    "unibuc": {"window": 1.5, "stride": 0.5, "rate": 100.0, "split": "group", "fit": "stretch"},
    "sensorlogger": {"window": 4.0, "stride": 0.5, "rate": 50.0, "split": "group", "fit": "pad",
                     "scale": "window", "temporal": 40, "features": False, "conv": False},
    "magic-wand": {"window": 3.0, "stride": 1.0, "rate": 25.0, "split": "group", "fit": "pad",
                   "temporal": 12, "warp": 0.25},
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
    patience: int = 8
    monitor: str = "accuracy"  # early stopping on the inner split's "accuracy" (UCI: 0.927 vs 0.919 with "loss") or "loss"
    inner_val: float = 0.15
    final: bool = True
    overwrite: bool = False
    openset_reject: float = 0.05
    keep_labels: list[str] = field(default_factory=list)
    keep_groups: list[str] = field(default_factory=list)
    scale: str | None = None  # "none" | "window" (see features.scale_window); None = the format's default
    temporal: int | None = None  # time steps of the order-keeping signal head (0 = none); None = the format's default
    features: bool | None = None  # window-statistics branch; None = the format's default
    conv: bool | None = None  # convolutional (order-free) signal branch; None = the format's default
    warp: float | None = None  # training-only time-warp augmentation (max speed change); None = the format's default
    seeds: int = 1  # cross-validate (and, for a seed ensemble, final-fit) with seeds seed … seed+seeds-1
    ensemble: str | None = None  # "folds" | "seeds" | "none"; None = seeds with seeds > 1, else none
    holdout_tail: float = 0.0  # seconds at the end of every recording never trained on (0 = none)


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


ARCH_DEFAULTS = {"scale": "none", "temporal": 0, "features": True, "conv": True, "warp": 0.0}


def _arch(cfg: AccelTrainConfig) -> dict[str, Any]:
    """Architecture options of the model (``ARCH_DEFAULTS`` keys): the config's, else the format's default."""
    d = FORMAT_DEFAULTS.get(cfg.fmt, {})
    return {k: getattr(cfg, k) if getattr(cfg, k) is not None else d.get(k, v) for k, v in ARCH_DEFAULTS.items()}


def _stats(windows: np.ndarray, n_windows: int, scale: str = "none"):
    """(feature mean, variance), (signal mean, variance) of training windows ``[N,n,3]`` for the Normalization layers."""
    sig = af.signal(windows, scale)
    feats = af.window_features(sig, n_windows)
    fvar = np.maximum(feats.var(axis=0), 1e-6)
    svar = np.maximum(sig.reshape(-1, 4).var(axis=0), 1e-6)
    return (feats.mean(axis=0), fvar), (sig.reshape(-1, 4).mean(axis=0), svar)


def _train_model(cfg, n, classes, xtr, ytr, val, epochs: int, log_prefix: str = ""):
    """Fit one model on windows ``xtr [N,n,3]``; with ``val=(x, y)`` early-stop on it (best weights kept).

    The learning rate follows a cosine decay over ``cfg.epochs`` epochs whatever ``epochs`` is, so a
    final fit stopped at the folds' best epoch retraces their schedule.
    """
    import keras

    from edgelite.train.accel.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    arch = _arch(cfg)
    fstats, sstats = _stats(xtr, cfg.n_windows, arch["scale"])
    model = build_model(n, len(classes), fstats, sstats, n_windows=cfg.n_windows, width=cfg.width,
                        dropout=cfg.dropout, augment_deg=cfg.augment_deg, **arch)
    steps = max(1, int(np.ceil(len(xtr) / cfg.batch_size))) * cfg.epochs
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps, alpha=0.05)
    opt = keras.optimizers.AdamW(sched, weight_decay=cfg.weight_decay) if cfg.weight_decay else keras.optimizers.Adam(sched)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    counts = np.bincount(ytr, minlength=len(classes)).astype(np.float64)
    cw = {i: float(len(ytr) / (len(classes) * c)) for i, c in enumerate(counts) if c > 0}

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if cfg.verbose and (epoch == 0 or (epoch + 1) % max(1, epochs // 10) == 0 or epoch + 1 == epochs):
                _log(cfg, f"{log_prefix}epoch {epoch + 1:3d}/{epochs}  loss {logs.get('loss', 0):.3f}  "
                          f"acc {logs.get('accuracy', 0):.3f}  early-stopping loss {logs.get('val_loss', float('nan')):.3f}")

    cbs: list = [Progress()]
    if val is not None:
        from edgelite.train.common import early_stopping

        cbs.append(early_stopping(cfg.monitor, cfg.patience))
    hist = model.fit(xtr, ytr, validation_data=val, epochs=epochs, batch_size=cfg.batch_size,
                     class_weight=cw, verbose=0, callbacks=cbs, shuffle=True)
    return model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def accel_inner_split(s: "Samples", y: np.ndarray, idx: np.ndarray, split_kind: str, cfg, window: float, seed: int):
    """Early-stopping split of the training indices ``idx``: the last ``inner_val`` of each recording's
    training time (time splits, one-window gap), else whole users/devices (≥ 3), else whole recordings."""
    from edgelite.train.common import inner_split
    from edgelite.train.splits import time_block_split

    if split_kind == "time":
        f = time_block_split(s.recording[idx], s.start_s[idx], s.end_s[idx], cfg.inner_val, gap_s=window)
        if len(f.train) < len(idx) // 2 or not len(f.val):  # training time too short for a split and its gap
            return idx, idx[:0], "none (training time too short for an early-stopping split and its gap)"
        return idx[f.train], idx[f.val], f"last {cfg.inner_val:.0%} of each recording's training time (gap {window:g} s)"
    groups = s.group if split_kind == "group" and len(set(s.group[idx].tolist())) >= 3 else s.recording
    what = "groups" if groups is s.group else "recordings"
    return inner_split(idx, y, groups, cfg.inner_val, seed, what=what)


def accel_metadata(cfg, classes, rate, n, gravity, units_note, training: dict, fit: str = "stretch") -> dict:
    from edgelite.runtime.core.metadata import make_metadata

    arch = _arch(cfg)
    return make_metadata(
        task="accel",
        labels=classes,
        input={"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": rate,
               "window_s": n / rate, "window_samples": n, "gravity": bool(gravity), "axes": ["x", "y", "z"],
               "min_samples": 2},
        output={"name": "probabilities", "kind": "probabilities", "shape": [len(classes)]},
        preprocessing={"name": "accel-window-stats/2", "nan": "axis finite mean", "clip": af.CLIP,
                       "fit_length": fit, "n": n, "n_windows": cfg.n_windows, "scale": arch["scale"],
                       "scale_eps": af.SCALE_EPS, "eps": af.EPS, "mcr_deadband": af.MCR_DEADBAND,
                       "channels": list(af.CHANNELS), "stats": list(af.STATS) if arch["features"] else [],
                       "n_features": len(af.feature_names(cfg.n_windows)) if arch["features"] else 0},
        architecture={k: arch[k] for k in ("temporal", "features", "conv", "warp")},
        training=training,
        source_units=units_note,
    )


def _tflite_predict(path: str, xs: list[np.ndarray]) -> np.ndarray:
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    return np.stack([m.predict(x) for x in xs]) if xs else np.zeros((0, len(m.labels)), np.float32)


@dataclass
class AccelData:
    """Samples, labels, folds and the model's input geometry of one training run."""

    s: Samples
    classes: list[str]
    y: np.ndarray
    windows: np.ndarray  # [N, n, 3] fitted to the window length (training input)
    rate: float
    n: int
    window: float
    stride: float
    fit: str
    split_kind: str
    folds: list
    skipped: int
    n_recordings: int
    gravity: bool
    units_note: list[str]
    test: Samples | None = None  # the held-out tails (never trained on), see edgelite.train.holdout
    test_recordings: list = field(default_factory=list)
    holdout: dict | None = None


def _make_folds(cfg: AccelTrainConfig, s: Samples, split_kind: str, window: float) -> list:
    from edgelite.train.splits import group_folds, time_block_folds, time_block_split

    if split_kind == "time":
        if cfg.folds > 1:
            return time_block_folds(s.recording, s.start_s, s.end_s, cfg.folds, gap_s=window)
        return [time_block_split(s.recording, s.start_s, s.end_s, cfg.val_fraction, gap_s=window)]
    if split_kind == "recording":
        folds = group_folds(s.label, s.recording, max_folds=cfg.folds, seed=cfg.seed)
        return [type(f)(f.train, f.val, f.held_out, "recording-k-fold") for f in folds]
    return group_folds(s.label, s.group, max_folds=cfg.folds, holdout=cfg.holdout or None, seed=cfg.seed)


def load_accel_data(cfg: AccelTrainConfig) -> AccelData:
    """Read → resample → window → classes → leak-free folds."""
    from edgelite.runtime.accel.io import read_recordings

    if cfg.fmt not in FORMAT_DEFAULTS:
        raise DataError(f"format {cfg.fmt!r}: expected one of {', '.join(FORMAT_DEFAULTS)}")
    d = FORMAT_DEFAULTS[cfg.fmt]
    window, stride = cfg.window or d["window"], cfg.stride or d["stride"]
    t0 = time.time()
    recs = read_recordings(cfg.data, fmt=cfg.fmt, strict=cfg.strict, labels_csv=cfg.labels_csv)
    skipped = int(sum(r.skipped_rows for r in recs))
    labelled = [r for r in recs if r.label is not None and (not cfg.keep_labels or r.label in cfg.keep_labels)
                and (not cfg.keep_groups or r.group in cfg.keep_groups)]
    if not labelled:
        raise DataError(f"{cfg.data}: no labelled recordings (format {cfg.fmt})")
    rate = float(cfg.rate or d["rate"] or round(float(np.median([r.rate_hz for r in labelled]))))
    n = int(round(window * rate))
    if n < 8:
        raise DataError(f"window {window} s at {rate} Hz gives {n} samples; need at least 8")
    test, test_recs, holdout = None, [], None
    if cfg.holdout_tail:
        from edgelite.train.holdout import split_tail, tail_record

        labelled, test_recs, info = split_tail(labelled, cfg.holdout_tail)
        test, holdout = make_samples(test_recs, rate, window, stride), tail_record(cfg.holdout_tail, info)
    _log(cfg, f"read {len(recs)} recordings ({len(labelled)} labelled, {skipped} malformed rows skipped) "
              f"from {cfg.data} in {time.time() - t0:.1f}s; model rate {rate:g} Hz, window {window:g} s = {n} samples")
    if test is not None:
        _log(cfg, f"held out the last {cfg.holdout_tail:g} s of every recording: {len(test.x)} test samples")
    s = make_samples(labelled, rate, window, stride)
    classes = sorted(set(s.label.tolist()), key=_natural_key)
    if len(classes) < 2:
        raise DataError(f"{cfg.data}: need at least 2 classes, found {classes}")
    y = np.array([classes.index(v) for v in s.label], np.int64)
    split_kind = cfg.split or d["split"]
    fit = cfg.fit or d["fit"]
    folds = _make_folds(cfg, s, split_kind, window)
    _log(cfg, f"{len(s.x)} samples, {len(classes)} classes, split: {folds[0].kind}, {len(folds)} fold(s)")
    return AccelData(s, classes, y, _fit_all(s.x, n, fit), rate, n, window, stride, fit, split_kind, folds, skipped,
                     len(labelled), all(getattr(r, "gravity", True) for r in labelled),
                     sorted({str(getattr(r, "meta", {}).get("units_in_file", "m/s^2")) for r in labelled}),
                     test, test_recs, holdout)


def _export(cfg: AccelTrainConfig, d: AccelData, model, training: dict, path: str, saved_model_dir=None,
            openset: dict | None = None, head: dict | None = None) -> dict:
    """``.tflite`` of ``model``; with a score ``head`` also the ``openset`` signature (:mod:`edgelite.train.openset`)."""
    from edgelite.convert.export import export_tflite
    from edgelite.train.accel.model import openset_embedding, serving_fn
    from edgelite.train.openset import OPENSET_SIGNATURE, scored_model, split_serve

    meta = accel_metadata(cfg, d.classes, d.rate, d.n, d.gravity, d.units_note, training, d.fit)
    if openset:
        meta["openset"] = openset
    if saved_model_dir and os.path.exists(saved_model_dir):
        shutil.rmtree(saved_model_dir)
    endpoints = None
    if head is not None:
        scored = serving_fn(scored_model(model, openset_embedding, head), d.n, d.fit)
        endpoints = {OPENSET_SIGNATURE: split_serve(scored, len(d.classes), "probabilities")}
    export_tflite(model, serving_fn(model, d.n, d.fit), "accel", [None, 3], "probabilities", meta, path,
                  saved_model_dir=saved_model_dir, endpoints=endpoints)
    return meta


def _score_head(model, windows: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    """Open-set score head of ``model`` from its training ``windows [N,n,3]`` (labels ``y``)."""
    from edgelite.train.accel.model import OPENSET_METHOD, openset_embedding
    from edgelite.train.openset import embeddings, fit_head

    return fit_head(embeddings(model, openset_embedding, windows), y, num_classes, OPENSET_METHOD)


def _cross_validate(cfg: AccelTrainConfig, d: AccelData, keep_models: bool = False):
    from edgelite.train.common import FoldFit, best_epoch, cross_validate

    def fit(k, fold, prefix):
        tr, iv, how = accel_inner_split(d.s, d.y, fold.train, d.split_kind, cfg, d.window, cfg.seed + k)
        val = (d.windows[iv], d.y[iv]) if len(iv) else None
        model, hist = _train_model(cfg, d.n, d.classes, d.windows[tr], d.y[tr], val, cfg.epochs, prefix)
        return FoldFit(model, hist, best_epoch(hist, cfg.monitor), len(tr), len(iv), how if len(iv) else "none")

    def evaluate(k, fold, ff, path):
        from edgelite.train.openset import tflite_scored

        training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": fold.describe()}
        head = _score_head(ff.model, d.windows[fold.train], d.y[fold.train], len(d.classes))
        _export(cfg, d, ff.model, training, path, head=head)
        prob, oof_scores[k] = tflite_scored(path, [d.s.x[i] for i in fold.val])
        return prob, {}

    oof_scores: dict[int, np.ndarray] = {}
    tag = f"[seed {cfg.seed}] " if cfg.seeds > 1 else ""
    cv = cross_validate(d.folds, d.y, fit, evaluate, lambda m: _log(cfg, tag + m), keep_first=not cfg.final,
                        keep_models=keep_models)
    return cv, np.concatenate([oof_scores[k] for k in range(len(d.folds))])


def train_accel(cfg: AccelTrainConfig) -> dict[str, Any]:
    """Read → split → cross-validate (each fold's .tflite on its held-out part) → final fit on all the
    data (or fold 1's model with ``final=False``) → open-set calibration → run folder."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import dataclasses

    from edgelite.train.common import final_epoch_count, fit_openset_from_cv, merge_seed_runs, prepare_run_dir
    from edgelite.train.ensemble import resolve_kind, seed_list, ship
    from edgelite.train.openset import for_shipped, prototype_openset

    t0 = time.time()
    seeds = seed_list(cfg.seed, cfg.seeds)
    d = load_accel_data(cfg)
    kind = resolve_kind(cfg.ensemble, cfg.final, len(d.folds), len(seeds))
    prepare_run_dir(cfg.out, cfg.overwrite)
    runs = [_cross_validate(dataclasses.replace(cfg, seed=s), d, kind == "folds") for s in seeds]
    cv = merge_seed_runs([r[0] for r in runs], seeds)
    oof_scores = np.concatenate([r[1] for r in runs])  # same row order as merge_seed_runs: seed by seed
    openset = fit_openset_from_cv(cv, d.classes, cfg.openset_reject)
    if openset:
        from edgelite.runtime.core.openset import fit_input_range
        from edgelite.train.accel.model import OPENSET_METHOD

        openset["input_range"] = fit_input_range(d.s.x)
        openset = prototype_openset(openset, oof_scores[cv.seen], (cv.prob.argmax(1) == cv.y_true)[cv.seen],
                                    cfg.openset_reject, "probabilities", OPENSET_METHOD)
    epochs = final_epoch_count(cv.best_epochs, cfg.epochs)

    def fit_all(seed: int):
        _log(cfg, f"final fit (seed {seed}) on all {len(d.y)} samples for {epochs} epochs (mean best epoch of the folds)")
        model, _ = _train_model(dataclasses.replace(cfg, seed=seed), d.n, d.classes, d.windows, d.y, None, epochs,
                                f"[final seed {seed}] ")
        return model, epochs

    rule = (f"mean best epoch of the CV folds (early stopping on the {cfg.monitor} of an inner split of each fold's "
            "training part), same learning-rate schedule")
    shipped = ship(kind, cv.models, seeds, fit_all, None if cfg.final else cv.first, len(d.y),
                   [r["n_train"] for r in cv.folds], rule)
    return _write_run(cfg, d, cv, shipped, seeds, for_shipped(openset, len(shipped.members)), t0)


def _test_block(d: AccelData, shipped, path: str) -> dict | None:
    """The shipped ``.tflite`` (and each ensemble member, in Keras) on the held-out tails, or None without them."""
    from edgelite.train.ensemble import test_metrics

    if d.test is None or not len(d.test.x):
        return None
    y = np.array([d.classes.index(v) for v in d.test.label], np.int64)
    return test_metrics(y, _tflite_predict(path, d.test.x), _fit_all(d.test.x, d.n, d.fit), shipped.members,
                        d.classes, what=d.holdout["note"] if d.holdout else "")


def _write_run(cfg: AccelTrainConfig, d: AccelData, cv, shipped, seeds: list[int], openset, t0: float) -> dict:
    from edgelite.runtime.core.metadata import write_sidecar
    from edgelite.train.accel.model import end_to_end
    from edgelite.train.common import counts, seed_summary
    from edgelite.train.report import write_report

    final, model = shipped.record, shipped.model
    summary = seed_summary(cv, d.classes, seeds)
    cnt = counts(cv, len(d.y), final)
    split = {"kind": d.folds[0].kind, "folds": cv.folds,
             "note": "metrics pool every fold's held-out predictions, each made by that fold's .tflite"}
    report = write_report(
        cfg.out, cv.y_true, cv.prob, d.classes, split, n_train=cnt["folds_total"]["n_train"],
        n_val=cnt["folds_total"]["n_val"], histories=cv.histories,
        extra={"task": "accel", "format": cfg.fmt, "fit_length": d.fit, "sample_rate_hz": d.rate,
               "window_s": d.window, "window_samples": d.n, "stride_s": d.stride, "skipped_rows": d.skipped,
               "n_recordings": d.n_recordings, "cv": summary, "counts": cnt, "final_fit": final, "openset": openset,
               "seeds": seeds, "ensemble": final.get("ensemble") or {"kind": "none", "members": 1},
               "holdout": d.holdout,
               "counts_note": "n_train/n_val are summed over the folds; counts.shipped_model is the shipped model",
               "evaluated_with": "each fold's .tflite via edgelite.runtime (LiteRT)",
               "seconds": round(time.time() - t0, 1)},
        title=f"accel {cfg.fmt}")
    training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": {"kind": d.folds[0].kind,
                "n_folds": len(d.folds)}, "final_fit": final, "cv": summary, "skipped_rows": d.skipped,
                "metrics": {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
                            "source": "pooled out-of-fold predictions"}}
    head = _score_head(model, d.windows if cfg.final else d.windows[d.folds[0].train],
                       d.y if cfg.final else d.y[d.folds[0].train], len(d.classes)) if openset and "signature" in openset else None
    meta = _export(cfg, d, model, training, os.path.join(cfg.out, "model.tflite"),
                   os.path.join(cfg.out, "saved_model"), openset, head)
    end_to_end(model, d.n, d.fit).save(os.path.join(cfg.out, "model.keras"))  # raw [B,T,3] → probabilities
    write_sidecar(meta, os.path.join(cfg.out, "metadata.json"))
    report = _finish_report(cfg, d, cv, shipped, report)
    _log(cfg, f"CV accuracy {report['accuracy']:.4f} (seeds × folds {summary['accuracy_mean']:.4f} ± "
              f"{summary['accuracy_sd']:.4f})  macro-F1 {report['macro_f1']:.4f}; shipped: {shipped.describe()} → {cfg.out}")
    return report


def _finish_report(cfg: AccelTrainConfig, d: AccelData, cv, shipped, report: dict) -> dict:
    """eval_data.npz (the held-out tails when there are some: truly unseen), RUN/holdout/*.csv and the
    report's ``test`` entry (the shipped .tflite on the tails)."""
    from edgelite.train.common import subset, write_run_eval_data
    from edgelite.train.report import update_report

    if d.test is None:
        ev = np.unique(cv.index) if cfg.final else d.folds[0].val
        write_run_eval_data(cfg.out, d.s.x, d.y, subset(ev, EVAL_DATA_LIMIT, cfg.seed),
                            subset(np.arange(len(d.y)) if cfg.final else d.folds[0].train, 200, cfg.seed + 7),
                            heldout_for_model=not cfg.final)
        return report
    from edgelite.train.holdout import write_tail_csvs

    yt = np.array([d.classes.index(v) for v in d.test.label], np.int64)
    n = len(d.y)
    write_run_eval_data(cfg.out, list(d.s.x) + list(d.test.x), np.concatenate([d.y, yt]),
                        subset(np.arange(n, n + len(yt)), EVAL_DATA_LIMIT, cfg.seed),
                        subset(np.arange(n), 200, cfg.seed + 7), heldout_for_model=True)
    files = write_tail_csvs(cfg.out, d.test_recordings)
    test = _test_block(d, shipped, os.path.join(cfg.out, "model.tflite"))
    _log(cfg, f"held-out tails: shipped model accuracy {test['accuracy']:.4f} on {test['n']} samples"
              + (f" (members {test['members_mean']:.4f} ± {test['members_sd']:.4f})" if test.get("members") else ""))
    return update_report(cfg.out, {"test": test, "holdout": {**d.holdout, "files": [os.path.relpath(f, cfg.out)
                                                                                    for f in files]}})
