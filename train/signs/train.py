"""Train, evaluate (by signer) and export sign classifiers on MediaPipe landmark sequences.

Pipeline: read sequences (``[T, 543, 3]``, NaN = missing) → select the landmark set's points →
split by signer (a held-out list or group k-fold over signers) → per fold: train the conv+transformer
model on NumPy features of augmented points (early stopping on an inner split of the *training*
signers, best weights kept) → export ``.tflite`` (preprocessing in the graph, Kaggle signature
``inputs [None,543,3] → outputs [C]``) → evaluate the ``.tflite`` with LiteRT on the held-out
signers' raw sequences → ``report.json`` and plots.

Run folder (``--out RUN``): ``model.keras``, ``saved_model/``, ``model.tflite``, ``metadata.json``,
``report.json``, ``confusion_matrix.png``, ``training_curves.png``, ``eval_data.npz``,
``checkpoints/fold*.best.weights.h5``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError
from edgelite.runtime.signs.features import (
    SignPreprocessConfig,
    features_from_points,
    mirror_permutation,
)

FORMATS = ("asl-signs", "mp-data")
MAX_LEN_CAP = 64
EVAL_DATA_LIMIT = 600  # held-out sequences written to eval_data.npz (stratified subset beyond this)


@dataclass
class SignTrainConfig:
    data: str
    fmt: str
    out: str
    landmarks: str = "hands"
    signers: str | None = None
    holdout: list[str] = field(default_factory=list)
    folds: int = 5
    epochs: int = 40
    size: str = "small"
    max_len: int | None = None
    batch_size: int = 64
    learning_rate: float = 2e-3
    patience: int = 10
    augment: bool = True
    inner_val: float = 0.12
    label_map: str | None = None
    cache_dir: str | None = None
    workers: int = 2
    device: str = "auto"
    seed: int = 0
    verbose: bool = True
    continuous: bool = True  # also train the continuous-signing spotter (RUN/spotter.tflite)


def _log(cfg: SignTrainConfig, msg: str) -> None:
    if cfg.verbose:
        print(f"[signs] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- data
def load_sign_data(cfg: SignTrainConfig) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[str]]:
    """``(sequences [T,543,3] list, labels str [N], signers str [N], classes)`` for the config's data."""
    from edgelite.runtime.signs import io as sign_io
    from edgelite.train.signs import cache as sign_cache

    if cfg.fmt not in FORMATS:
        raise DataError(f"--format {cfg.fmt!r}: expected one of {', '.join(FORMATS)}")
    if not os.path.exists(cfg.data):
        raise DataError(f"--data {cfg.data}: no such file or folder")
    label_map: dict[str, int] | None = None
    if cfg.fmt == "asl-signs":
        samples = sign_io.list_asl_signs(cfg.data)
        lm = cfg.label_map or os.path.join(cfg.data, "sign_to_prediction_index_map.json")
        if os.path.exists(lm):
            label_map = sign_io.load_label_map(lm)
    else:
        signers = cfg.signers
        if signers is None:
            cand = os.path.join(os.path.dirname(os.path.abspath(cfg.data.rstrip("/"))), "signers.csv")
            if os.path.exists(cand):
                signers = cand
        if signers is None:
            raise DataError(f"--data {cfg.data}: mp-data needs --signers CSV (root,label,sequence,signer) "
                            "to split by signer")
        samples = sign_io.list_mp_data(cfg.data, signers)
        if cfg.label_map:
            label_map = sign_io.load_label_map(cfg.label_map)
    if not samples:
        raise DataError(f"--data {cfg.data}: no sequences found (format {cfg.fmt})")
    # streamed data path: lazy memory-mapped shards, nothing loaded here (edgelite.train.signs.data)
    xs, labels, signer = sign_cache.open_sequences(samples, cache_dir=cfg.cache_dir, workers=cfg.workers)
    labels = np.asarray(labels).astype(str)
    signer = np.asarray(signer).astype(str)
    unknown_signer = signer == ""
    if unknown_signer.all():
        raise DataError(f"--data {cfg.data}: no sequence has a signer (give --signers CSV); "
                        "edgelite validates by signer only")
    if unknown_signer.any():
        _log(cfg, f"warning: leaving out {int(unknown_signer.sum())} sequence(s) with no signer")
        keep = np.where(~unknown_signer)[0]
        xs = xs.take(keep)
        labels, signer = labels[keep], signer[keep]
    if label_map:
        classes = [k for k, _ in sorted(label_map.items(), key=lambda kv: int(kv[1]))]
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            raise DataError(f"labels {unknown[:5]} are not in the label map ({len(classes)} signs)")
    else:
        classes = sorted(set(labels.tolist()))
    if len(set(labels.tolist())) < 2:
        raise DataError(f"--data {cfg.data}: need at least 2 distinct signs, found {sorted(set(labels.tolist()))}")
    return xs, labels, signer, classes


def signer_folds(signers: np.ndarray, k: int, holdout: list[str] | None = None, seed: int = 0):
    """Splits that never share a signer: one fold holding out ``holdout``, else ``k`` folds of whole signers."""
    from edgelite.train.splits import Fold

    signers = np.asarray(signers).astype(str)
    uniq = sorted(set(signers.tolist()))
    if holdout:
        missing = [h for h in holdout if h not in uniq]
        if missing:
            raise DataError(f"--holdout-signers {','.join(missing)}: not in the data (signers: {', '.join(uniq[:30])})")
        val = np.isin(signers, holdout)
        if val.all():
            raise DataError("--holdout-signers holds out every signer; nothing left to train on")
        return [Fold(np.where(~val)[0], np.where(val)[0], sorted(holdout), "holdout-signers")]
    k = min(int(k), len(uniq))
    if k < 2:
        raise DataError(f"need at least 2 signers to hold one out, found {len(uniq)} ({', '.join(uniq)})")
    order = list(np.random.default_rng(seed).permutation(uniq))
    folds = []
    for f in range(k):
        held = sorted(order[f::k])
        val = np.isin(signers, held)
        folds.append(Fold(np.where(~val)[0], np.where(val)[0], held, f"signer-group-{k}-fold"))
    return folds


def inner_split(idx: np.ndarray, y: np.ndarray, signers: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Early-stopping split inside the training part: by signer when ≥ 3 signers, else stratified by class."""
    rng = np.random.default_rng(seed + 1)
    s = signers[idx]
    uniq = sorted(set(s.tolist()))
    if len(uniq) >= 3:
        n_hold = max(1, int(round(frac * len(uniq))))
        held = list(rng.permutation(uniq)[:n_hold])
        m = np.isin(s, held)
        return idx[~m], idx[m], f"signers {','.join(map(str, sorted(held)))}"
    val = []
    for c in np.unique(y[idx]):
        ci = idx[y[idx] == c]
        n = int(round(frac * len(ci)))
        if len(ci) >= 5 and n > 0:
            val.extend(rng.choice(ci, n, replace=False).tolist())
    m = np.isin(idx, val)
    return idx[~m], idx[m], f"random {frac:.0%} of training sequences per class (only {len(uniq)} training signer(s))"


# ------------------------------------------------------------------------------- augmentation
def augment_points(pts: np.ndarray, perm: list[int], rng: np.random.Generator) -> np.ndarray:
    """Random temporal resample, flip, affine (rotate/scale/shear/shift) and time masking of ``[T,P,3]`` points."""
    pts = np.array(pts, np.float32, copy=True)
    t = len(pts)
    if t > 1 and rng.random() < 0.8:
        n = max(1, int(round(t * rng.uniform(0.7, 1.3))))
        idx = np.minimum(((np.arange(n) + rng.random()) * t / n).astype(np.int64), t - 1)
        pts = pts[idx]
        t = n
    if rng.random() < 0.5:
        pts = pts[:, perm]
        pts[..., 0] = 1.0 - pts[..., 0]
    if rng.random() < 0.8:
        a = np.deg2rad(rng.uniform(-15, 15))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
        sc = np.array([[rng.uniform(0.8, 1.2), rng.uniform(-0.15, 0.15)], [0.0, rng.uniform(0.8, 1.2)]], np.float32)
        m = rot @ sc
        xy = pts[..., :2] - 0.5
        pts[..., :2] = xy @ m.T + 0.5 + rng.uniform(-0.05, 0.05, 2).astype(np.float32)
    if t >= 4 and rng.random() < 0.4:
        span = int(rng.integers(1, max(2, t // 4) + 1))
        s0 = int(rng.integers(0, t - span + 1))
        pts[s0:s0 + span] = np.nan
    return pts


def _batches_class():
    import keras

    class SignBatches(keras.utils.PyDataset):
        """Batches of ``((features, mask), one-hot)`` built from (augmented) points each epoch."""

        def __init__(self, pts, y, pre, num_classes, batch_size, augment, seed):
            super().__init__(workers=1, use_multiprocessing=False)
            self.pts, self.y, self.pre = pts, y, pre
            self.c, self.b, self.augment = num_classes, batch_size, augment
            self.rng = np.random.default_rng(seed)
            self.perm = mirror_permutation(pre.indices)
            self.order = self.rng.permutation(len(pts))

        def __len__(self):
            return math.ceil(len(self.pts) / self.b)

        def __getitem__(self, i):
            ids = self.order[i * self.b:(i + 1) * self.b]
            f = np.zeros((len(ids), self.pre.max_len, self.pre.num_features), np.float32)
            m = np.zeros((len(ids), self.pre.max_len), np.float32)
            for k, j in enumerate(ids):
                p = augment_points(self.pts[j], self.perm, self.rng) if self.augment else self.pts[j]
                f[k], m[k] = features_from_points(p, self.pre)
            return (f, m), np.eye(self.c, dtype=np.float32)[self.y[ids]]

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(self.pts))

    return SignBatches


def _features(pts: list[np.ndarray], pre: SignPreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    from edgelite.runtime.signs.features import batch_features_from_points

    return batch_features_from_points(pts, pre)


def train_fold(cfg: SignTrainConfig, pre: SignPreprocessConfig, classes: list[str], pts: list[np.ndarray],
               y: np.ndarray, tr: np.ndarray, iv: np.ndarray, ckpt: str, prefix: str = "", setup: Any = None):
    """Fit one model on ``tr`` with early stopping on ``iv``; returns ``(model, history)`` with the best weights."""
    import keras

    from edgelite.train.devices import float32_copy, resolve_device
    from edgelite.train.signs.data import make_datasets
    from edgelite.train.signs.model import build_sign_model

    keras.utils.set_random_seed(cfg.seed)
    setup = setup or resolve_device("cpu")
    setup.apply_policy()  # per fold: the previous fold's float32 export copy reset it
    with setup.scope():
        model = build_sign_model(pre.max_len, pre.num_features, len(classes), cfg.size)
        steps = max(1, math.ceil(len(tr) / setup.global_batch(cfg.batch_size))) * cfg.epochs
        sched = keras.optimizers.schedules.CosineDecay(setup.learning_rate(cfg.learning_rate), decay_steps=steps,
                                                       alpha=0.02, warmup_target=None)
        model.compile(optimizer=keras.optimizers.AdamW(sched, weight_decay=1e-4), jit_compile=setup.jit_compile,
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    train_ds, val = make_datasets(cfg, pre, pts, y, tr, iv, len(classes), setup.global_batch(cfg.batch_size))
    callbacks: list[Any] = []
    if len(iv):
        os.makedirs(os.path.dirname(ckpt), exist_ok=True)
        callbacks += [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
            keras.callbacks.ModelCheckpoint(ckpt, monitor="val_loss", save_best_only=True, save_weights_only=True),
        ]
    t0 = time.time()

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            _log(cfg, f"{prefix}epoch {epoch + 1:3d}/{cfg.epochs}  loss {logs.get('loss', 0):.3f}  "
                      f"acc {logs.get('accuracy', 0):.3f}  inner-val acc {logs.get('val_accuracy', float('nan')):.3f}  "
                      f"({time.time() - t0:.0f}s)")

    hist = model.fit(train_ds, validation_data=val, epochs=cfg.epochs, verbose=0, shuffle=False,  # the stream shuffles
                     callbacks=callbacks + [Progress()])
    if setup.precision != "float32":  # export and evaluate a float32 twin: same .tflite whatever the device
        model = float32_copy(model, lambda: build_sign_model(pre.max_len, pre.num_features, len(classes), cfg.size))
    return model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def sign_metadata(pre: SignPreprocessConfig, classes: list[str], training: dict[str, Any]) -> dict[str, Any]:
    from edgelite.runtime.core.metadata import make_metadata
    from edgelite.train.signs.preprocess import sign_metadata_input

    return make_metadata(
        task="signs",
        labels=classes,
        input=sign_metadata_input(pre),
        output={"name": "outputs", "kind": "probabilities", "shape": [len(classes)]},
        preprocessing={"name": "edgelite-signs/1", **pre.to_dict()},
        training=training,
    )


def export_sign_model(model: Any, pre: SignPreprocessConfig, meta: dict[str, Any], out_path: str,
                      saved_model_dir: str | None = None) -> bytes:
    """Keras model + in-graph preprocessing → ``.tflite`` with ``serving_default``: ``inputs [None,543,3] → outputs [C]``."""
    from edgelite.convert.export import export_tflite
    from edgelite.train.signs.preprocess import make_serve_fn

    if saved_model_dir and os.path.exists(saved_model_dir):
        shutil.rmtree(saved_model_dir)
    return export_tflite(model, make_serve_fn(model, pre), "inputs", [None, 543, 3], "outputs", meta, out_path,
                         saved_model_dir=saved_model_dir)


def tflite_predict(path: str, xs: list[np.ndarray]) -> np.ndarray:
    """Run a sign ``.tflite`` (LiteRT, no TF) on raw ``[T,543,3]`` sequences → ``[N, C]``."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    out = [m(inputs=np.asarray(x, np.float32))["outputs"] for x in xs]
    return np.stack(out) if out else np.zeros((0, len(m.labels)), np.float32)


def _flat(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in xs], np.int64)
    flat = np.concatenate(xs, 0).astype(np.float32) if xs else np.zeros((0, 543, 3), np.float32)
    return flat, lengths


def _subset(idx: np.ndarray, y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(idx) <= limit:
        return idx
    rng = np.random.default_rng(seed)
    return np.sort(idx[rng.permutation(len(idx))[:limit]])


def plot_sign_curves(histories: list[dict[str, list[float]]], path: str, title: str = "") -> None:
    """Loss/accuracy per epoch: training (augmented) and the early-stopping split of the *training* signers."""
    from edgelite.train.report import plot_curves

    plot_curves(histories, path, title, train_label="train (augmented)", val_label="early-stopping split")


# ------------------------------------------------------------------------------------- driver
def train_signs(cfg: SignTrainConfig) -> dict[str, Any]:
    """Read → split by signer → train per fold → export → evaluate the .tflite → write the run folder."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.convert.export import embed_metadata, write_atomic
    from edgelite.runtime.core.metadata import write_sidecar
    from edgelite.train.report import write_report
    from edgelite.train.devices import resolve_device
    from edgelite.train.signs.data import select_view, sequence_lengths, take
    from edgelite.train.signs.model import end_to_end, model_size, size_dict

    model_size(cfg.size)
    t0 = time.time()
    setup = resolve_device(cfg.device)
    xs, labels, signers, classes = load_sign_data(cfg)
    lens = sequence_lengths(xs)
    _log(cfg, f"read {len(xs)} sequences ({len(set(labels.tolist()))} signs, {len(set(signers.tolist()))} signers, "
              f"{lens.min()}–{lens.max()} frames) from {cfg.data} in {time.time() - t0:.1f}s")
    max_len = int(cfg.max_len or min(MAX_LEN_CAP, int(lens.max())))
    pre = SignPreprocessConfig(landmark_set=cfg.landmarks, max_len=max_len)
    cidx = {c: i for i, c in enumerate(classes)}
    y = np.array([cidx[v] for v in labels], np.int64)
    pts = select_view(xs, pre)
    folds = signer_folds(signers, cfg.folds, cfg.holdout or None, cfg.seed)
    _log(cfg, f"landmarks {pre.landmark_set} ({pre.num_points} points, {pre.num_features} features/frame), "
              f"max_len {max_len}, size {cfg.size}; split {folds[0].kind}: {len(folds)} fold(s)")
    os.makedirs(cfg.out, exist_ok=True)
    all_true, all_prob, all_seen, histories, fold_reports = [], [], [], [], []
    shipped = None
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            prefix = f"[fold {k + 1}/{len(folds)} held out: {textwrap.shorten(', '.join(fold.held_out), 50, placeholder=' …')}] "
            tr, iv, inner_kind = inner_split(fold.train, y, signers, cfg.inner_val, cfg.seed + k)
            _log(cfg, f"{prefix}train {len(tr)}, early-stopping split {len(iv)} ({inner_kind}), held-out {len(fold.val)}")
            ckpt = os.path.join(cfg.out, "checkpoints", f"fold{k + 1}.best.weights.h5")
            tf0 = time.time()
            model, hist = train_fold(cfg, pre, classes, pts, y, tr, iv, ckpt, prefix, setup)
            seq_per_s = len(tr) * len(hist.get("loss", [])) / max(time.time() - tf0, 1e-9)
            histories.append(hist)
            training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": fold.describe(),
                        "inner_split": inner_kind, "n_train": int(len(tr)), "n_val": int(len(fold.val)),
                        "epochs": cfg.epochs, "epochs_run": len(hist.get("loss", [])), "model": size_dict(cfg.size),
                        "params": int(model.count_params())}
            meta = sign_metadata(pre, classes, training)
            is_shipped = k == 0
            sm_dir = os.path.join(cfg.out, "saved_model") if is_shipped else os.path.join(tmp, f"sm{k}")
            tfl = os.path.join(cfg.out, "model.tflite") if is_shipped else os.path.join(tmp, f"fold{k}.tflite")
            te = time.time()
            export_sign_model(model, pre, meta, tfl, saved_model_dir=sm_dir)
            val_x = take(xs, fold.val)
            prob = tflite_predict(tfl, val_x)
            fk, mk = _features([pts[i] for i in fold.val[:64]], pre)
            tf_prob = model.predict([fk, mk], verbose=0) if len(fk) else np.zeros((0, len(classes)))
            diff = float(np.abs(tf_prob - prob[:len(tf_prob)]).max()) if len(tf_prob) else 0.0
            acc = float(np.mean(prob.argmax(1) == y[fold.val]))
            fold_reports.append({**fold.describe(), "accuracy": acc, "tf_vs_tflite_max_abs": diff,
                                 "train_seq_per_s": round(seq_per_s, 1),
                                 "epochs_run": len(hist.get("loss", []))})
            _log(cfg, f"{prefix}exported + evaluated in {time.time() - te:.0f}s: held-out .tflite accuracy {acc:.4f} "
                      f"({len(fold.val)} sequences), TF vs .tflite max |Δp| {diff:.2e}")
            all_true.append(y[fold.val])
            all_prob.append(prob)
            all_seen.append(np.isin(y[fold.val], y[fold.train]))
            if is_shipped:
                shipped = (meta, fold, tr)
                end_to_end(model, pre.to_dict()).save(os.path.join(cfg.out, "model.keras"))  # raw [B,T,543,3] → probabilities
                ev = _subset(fold.val, y, EVAL_DATA_LIMIT, cfg.seed)
                cal = _subset(tr, y, 200, cfg.seed + 7)
                vx, vl = _flat([xs[i] for i in ev])
                cx, cl = _flat([xs[i] for i in cal])
                tmpf = os.path.join(cfg.out, "eval_data.tmp.npz")
                np.savez_compressed(tmpf, x_flat=vx, lengths=vl, y=y[ev], calib_x_flat=cx, calib_lengths=cl,
                                    calib_y=y[cal])
                os.replace(tmpf, os.path.join(cfg.out, "eval_data.npz"))
    meta, fold0, tr0 = shipped
    y_true = np.concatenate(all_true)
    prob = np.concatenate(all_prob)
    split = {"kind": folds[0].kind, "by": "signer", "folds": fold_reports,
             "note": ("metrics pool every fold's held-out signers, each predicted by that fold's .tflite; "
                      "model.tflite is fold 1's model") if len(folds) > 1 else
                     "metrics of model.tflite on the held-out signer(s)"}
    report = write_report(
        cfg.out, y_true, prob, classes, split, n_train=len(tr0), n_val=len(y_true), histories=histories,
        extra={"task": "signs", "format": cfg.fmt, "landmark_set": pre.landmark_set, "preprocessing": pre.to_dict(),
               "model": size_dict(cfg.size), "params": meta["training"]["params"], "n_sequences": len(xs),
               "n_signers": len(set(signers.tolist())), "classes_present": sorted(set(labels.tolist())),
               "evaluated_with": "model.tflite via edgelite.runtime (LiteRT)", "device": setup.describe(),
               "data_path": "streamed (tf.data over memory-mapped cache shards)",
               "eval_data": {"n": int(min(len(fold0.val), EVAL_DATA_LIMIT)), "of": int(len(fold0.val))},
               "seconds": round(time.time() - t0, 1)},
        title=f"signs {cfg.fmt} ({pre.landmark_set})",
    )
    plot_sign_curves(histories, os.path.join(cfg.out, "training_curves.png"),
                     title=f"signs {cfg.fmt} ({pre.landmark_set}); held-out signers: see report.json")
    # classes the held-out signers show but no training signer ever did cannot be recognised: say so
    keep = np.concatenate(all_seen)
    unseen = sorted({classes[i] for i in y_true[~keep].tolist()})
    if unseen:
        from edgelite.train.report import classification_metrics

        ms = classification_metrics(y_true[keep], prob[keep], classes)
        report.update({"classes_never_trained": unseen, "n_val_never_trained": int((~keep).sum()),
                       "seen_classes_only": {"accuracy": ms["accuracy"], "top5": ms["top5"],
                                             "macro_f1": ms["macro_f1"], "n": ms["n"]}})
        tmpj = os.path.join(cfg.out, "report.json.tmp")
        with open(tmpj, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")
        os.replace(tmpj, os.path.join(cfg.out, "report.json"))
        _log(cfg, f"held-out classes never seen in training: {unseen} ({int((~keep).sum())} sequences); "
                  f"on the other classes: top-1 {ms['accuracy']:.4f}  macro-F1 {ms['macro_f1']:.4f}")
    meta["training"]["metrics"] = {"accuracy": report["accuracy"], "top5": report["top5"],
                                   "macro_f1": report["macro_f1"], "n_val": report["n_val"]}
    path = os.path.join(cfg.out, "model.tflite")
    with open(path, "rb") as f:
        data = f.read()
    write_atomic(path, embed_metadata(data, meta, source=path))
    write_sidecar(meta, os.path.join(cfg.out, "metadata.json"))
    _log(cfg, f"top-1 {report['accuracy']:.4f}  top-5 {report['top5']:.4f}  macro-F1 {report['macro_f1']:.4f} "
              f"({len(y_true)} held-out sequences, {time.time() - t0:.0f}s) → {cfg.out}")
    if cfg.continuous:  # continuous signing: spotter.tflite beside model.tflite, same training signers
        from edgelite.train.signs.spotter import train_run_spotter

        train_run_spotter(cfg, xs, labels, signers, fold0.train)
    return report
