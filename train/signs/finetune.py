"""``edgelite train signs --init RUN DATA...``: adapt a sign run to a new signer (or new signs) on the CPU in minutes.

Reads the new recordings in any supported landmark format (``edgelite record webcam`` output / asl-signs
parquet + train.csv, ``.npy`` ``[T,543,3]`` or ``[T,D]`` MP frames, MP_Data folders or ``.tar.xz``, a folder
of ``<label>/`` sub-folders holding sequence files), keeps RUN's preprocessing and label order (new signs are
appended, their output units imprinted from the class-mean embedding), trains every layer but BatchNorm at
a low learning rate for a fixed number of steps with the trainer's augmentation, mixing in RUN's own
calibration samples (``eval_data.npz``: training sequences of RUN) so the old signers are not forgotten, and
writes a new run folder (:mod:`edgelite.train.finetune`). Defaults chosen on the k-shot benchmark
(``benchmarks/kshot.py``).
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError
from edgelite.runtime.layout import N_LANDMARKS

SEQUENCE_SUFFIXES = (".npy", ".parquet")


@dataclass
class SignFinetuneConfig:
    init: str
    data: list[str]
    out: str
    label: str | None = None        # label of bare sequence files (default: their folder's name)
    signers: str | None = None      # MP_Data: CSV root,label,sequence,signer
    signer: str | None = None       # keep only this signer's sequences (MP_Data with signers / asl-signs)
    new_signs: str = "extend"       # "extend" the label set or "skip" recordings of signs RUN does not know
    train: str = "all"              # "all" (BatchNorm frozen) or "head"
    steps: int = 150                # optimisation steps (epochs = ceil(steps / batches per epoch))
    batch_size: int = 16
    learning_rate: float = 5e-4
    augment: bool = True
    replay: bool = True             # mix RUN's calibration (training) samples in
    eval_data: list[str] = field(default_factory=list)  # held-out recordings of the new signer (report)
    seed: int = 0
    verbose: bool = True
    overwrite: bool = False


def _log(cfg: SignFinetuneConfig, msg: str) -> None:
    if cfg.verbose:
        print(f"[signs fine-tune] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- data
def _samples(path: str, label: str | None, signers: str | None):
    """``[(name, path, label, signer)]`` of one DATA argument (see the module doc for the layouts)."""
    from edgelite.runtime.signs import io as sign_io

    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: not found")
    if p.is_file() and p.suffix.lower() in SEQUENCE_SUFFIXES:
        return [(str(p), str(p), label or p.parent.name, None)]
    if (p / "train.csv").is_file():
        return [(s.name, s.path, s.label, s.signer) for s in sign_io.list_asl_signs(p, missing="skip")]
    if sign_io._is_archive(p) or (p.is_dir() and sign_io._find_mp_root(p) is not None):
        return [(s.name, s.path, s.label, s.signer) for s in sign_io.list_mp_data(p, signers)]
    if p.is_dir() and sign_io._has_npy(p) and not any(c.is_dir() for c in p.iterdir()):
        return [(str(p), str(p), label or p.parent.name, None)]  # one MP_Data sequence folder
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SEQUENCE_SUFFIXES)
        if files:
            return [(str(f), str(f), label or f.parent.name, None) for f in files]
    raise DataError(f"{path}: no sign recordings found (expected an asl-signs folder with train.csv, e.g. "
                    "`edgelite record webcam` output; an MP_Data folder or .tar.xz; .npy/.parquet sequence files)")


def read_finetune_data(paths: list[str], label: str | None = None, signers: str | None = None,
                       signer: str | None = None) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """``(sequences [T,543,3] float32, labels [N] str, names)`` of every DATA path."""
    from edgelite.runtime.signs.io import read_sample

    if not paths:
        raise DataError("no fine-tune data given (recordings of the signs to adapt to)")
    rows = [r for p in paths for r in _samples(p, label, signers)]
    if signer is not None:
        rows = [r for r in rows if r[3] == signer]
        if not rows:
            raise DataError(f"signer {signer!r}: no sequence of the fine-tune data is by this signer")
    xs, labels, names, empty = [], [], [], []
    for name, path, lab, _ in rows:
        x = read_sample(path)
        if x.ndim != 3 or x.shape[1:] != (N_LANDMARKS, 3):
            raise DataError(f"{path}: landmarks of shape {x.shape}; expected [T, {N_LANDMARKS}, 3] (MediaPipe Holistic)")
        if not np.isfinite(x).any():
            empty.append(name)
            continue
        xs.append(x)
        labels.append(str(lab))
        names.append(name)
    if empty:
        warnings.warn(f"left out {len(empty)} recording(s) with no landmark detected in any frame, e.g. {empty[0]}")
    if not xs:
        raise DataError(f"{', '.join(paths)}: no recording holds any detected landmark")
    return xs, np.array(labels), names


def check_layout(xs: list[np.ndarray], names: list[str], pre: Any, run: str) -> None:
    """DataError when the model's landmark set is absent from the data (e.g. a hands+pose model, hands-only
    recordings): each part the model reads must be seen in at least one frame."""
    from edgelite.runtime.layout import PARTS

    seen = np.zeros(N_LANDMARKS, bool)
    for x in xs:
        seen |= np.isfinite(x[..., 0]).any(0)
    idx = np.asarray(pre.indices)
    missing = [part for part, (a, b) in PARTS.items() if np.isin(np.arange(a, b), idx).any() and not
               seen[idx[(idx >= a) & (idx < b)]].any() and part != "face"]
    hands = [p for p in missing if "hand" in p]
    blocking = [p for p in missing if "hand" not in p] + (hands if len(hands) == 2 else [])  # one hand may be idle
    if blocking:
        raise DataError(f"{names[0] if len(names) == 1 else f'{len(xs)} recordings'}: no {', '.join(blocking)} "
                        f"landmarks in any frame, but {run} uses the {pre.landmark_set!r} landmark set")


# ------------------------------------------------------------------------------------------ training
def _replay(base, pre) -> tuple[list[np.ndarray], np.ndarray]:
    """RUN's calibration samples (a subset of its training sequences) as ``(points, base class index)``."""
    from edgelite.runtime.core.evaldata import read_eval_data
    from edgelite.runtime.signs.features import select_points

    p = os.path.join(base.path, "eval_data.npz")
    if not os.path.isfile(p):
        return [], np.zeros(0, np.int64)
    ev = read_eval_data(p)
    if ev.calib_y is None or not len(ev.calib_x):
        return [], np.zeros(0, np.int64)
    return [select_points(x, pre) for x in ev.calib_x], np.asarray(ev.calib_y, np.int64)


def fit_signs(cfg: SignFinetuneConfig, base, xs: list[np.ndarray], labels: np.ndarray):
    """Fine-tune ``base`` on ``xs``/``labels`` → ``(keras model, classes, FinetuneSummary, pre, kept mask)``."""
    import keras

    from edgelite.runtime.signs.features import SignPreprocessConfig, batch_features_from_points, select_points
    from edgelite.train.finetune import FinetuneSummary, embedding_model, label_set, progress, set_trainable, with_head
    from edgelite.train.signs.data import make_stream

    t0, c0 = time.time(), time.process_time()
    pre = SignPreprocessConfig.from_dict(base.meta["preprocessing"])
    classes, keep = label_set(base.classes, labels, cfg.new_signs)
    xs = [x for x, k in zip(xs, keep) if k]
    labels = labels[keep]
    cidx = {c: i for i, c in enumerate(classes)}
    y = np.array([cidx[v] for v in labels], np.int64)
    pts = [select_points(x, pre) for x in xs]
    keras.utils.set_random_seed(cfg.seed)
    f, m = batch_features_from_points(pts, pre)
    emb = embedding_model(base.model, base.head).predict([f, m], verbose=0)
    reimprint = [c for c in base.never_trained() if c in set(labels.tolist())]
    model = with_head(base.model, base.head, base.classes, classes, emb, y, reimprint)
    n_trainable = set_trainable(model, base.head, cfg.train)
    rp, ry = _replay(base, pre) if cfg.replay else ([], np.zeros(0, np.int64))
    reps = max(1, int(round(len(ry) / max(len(y), 1)))) if len(ry) else 1  # new data ≈ replay in each batch
    train_pts = pts * reps + rp
    train_y = np.concatenate([np.tile(y, reps), ry])
    spe = math.ceil(len(train_y) / cfg.batch_size)
    epochs = max(1, math.ceil(cfg.steps / spe))
    ds = make_stream(train_pts, train_y, np.arange(len(train_y)), pre, len(classes), cfg.batch_size,
                     augment=cfg.augment, shuffle=True, seed=cfg.seed)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=epochs * spe, alpha=0.1)
    model.compile(optimizer=keras.optimizers.AdamW(sched, weight_decay=1e-4),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    _log(cfg, f"{len(y)} recordings ({len(set(y.tolist()))} signs; added {classes[len(base.classes):] or 'none'}), "
              f"replay {len(ry)} of RUN's samples, {epochs} epochs × {spe} steps, {n_trainable:,} trainable parameters")
    hist = model.fit(ds, epochs=epochs, verbose=0, shuffle=False,  # the stream shuffles
                     callbacks=[progress(lambda m: _log(cfg, m), epochs)])
    summary = FinetuneSummary(
        base, list(cfg.data), classes, classes[len(base.classes):], reimprint, len(y),
        {c: int((y == i).sum()) for i, c in enumerate(classes) if (y == i).any()}, epochs, epochs * spe, cfg.train,
        cfg.learning_rate, cfg.augment, len(ry), time.time() - t0, time.process_time() - c0,
        {k: [float(v) for v in vals] for k, vals in hist.history.items()})
    return model, classes, summary, pre, keep


# ------------------------------------------------------------------------------------------- the run
def finetune_signs(cfg: SignFinetuneConfig) -> dict[str, Any]:
    """Read RUN and DATA → fine-tune → write the new run folder; returns report.json's dict."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.common import prepare_run_dir
    from edgelite.train.finetune import load_base_run

    base = load_base_run(cfg.init, "signs")
    xs, labels, names = read_finetune_data(cfg.data, cfg.label, cfg.signers, cfg.signer)
    pre = SignPreprocessConfig.from_dict(base.meta["preprocessing"])
    check_layout(xs, names, pre, cfg.init)
    ev = None
    if cfg.eval_data:
        ex, el, en = read_finetune_data(cfg.eval_data, cfg.label, cfg.signers, cfg.signer)
        check_layout(ex, en, pre, cfg.init)
        ev = (ex, el)
    _log(cfg, f"fine-tuning {cfg.init} ({len(base.classes)} signs) on {len(xs)} recordings from {', '.join(cfg.data)}")
    prepare_run_dir(cfg.out, cfg.overwrite)
    return finetune_sign_arrays(cfg, base, xs, labels, ev)


def finetune_sign_arrays(cfg: SignFinetuneConfig, base, xs: list[np.ndarray], labels: np.ndarray,
                         ev: tuple[list[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """Fine-tune on in-memory sequences and write ``cfg.out`` (an empty/prepared folder); ``ev``: held-out
    ``(sequences, labels)`` of the new signer for the report (else the fine-tune recordings themselves)."""
    from edgelite.train.finetune import write_finetune_run
    from edgelite.train.signs.model import end_to_end
    from edgelite.train.signs.train import REJECT_LABELS, export_sign_model, tflite_predict

    model, _, s, pre, keep = fit_signs(cfg, base, xs, labels)
    report = write_finetune_run(
        cfg.out, s, model, lambda m, meta, path, sm: export_sign_model(m, pre, meta, path, sm),
        lambda m, path: end_to_end(m, pre.to_dict()).save(path), tflite_predict,
        [x for x, k in zip(xs, keep) if k], labels[keep], ev, REJECT_LABELS,
        {"landmark_set": pre.landmark_set, "preprocessing": pre.to_dict()})
    ev_ = report["evaluation"]
    _log(cfg, f"accuracy {ev_['accuracy']:.4f} on {ev_['n']} {'held-out' if ev else 'fine-tune'} recordings "
              f"(base run: {ev_.get('base_accuracy', float('nan')):.4f}); {s.seconds / 60:.1f} min training → {cfg.out}")
    return report
