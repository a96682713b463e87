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

import math
import os
import shutil
import sys
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
EVAL_DATA_LIMIT = 600  # out-of-fold sequences written to eval_data.npz (random subset beyond this)
BACKGROUND_LABEL = "other"
REJECT_LABELS = {"-": "no sign", BACKGROUND_LABEL: "unknown"}  # MP_Data's idle class; the --background class


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
    final: bool = True
    overwrite: bool = False
    openset_reject: float = 0.05
    keep_labels: list[str] = field(default_factory=list)
    background: str | None = None
    background_fmt: str | None = None
    background_signers: str | None = None  # CSV root,label,sequence,signer for MP_Data background
    seeds: int = 1  # cross-validate (and, for a seed ensemble, final-fit) with seeds seed … seed+seeds-1
    ensemble: str | None = None  # "folds" | "seeds" | "none"; None = seeds with seeds > 1, else none


def _log(cfg: SignTrainConfig, msg: str) -> None:
    if cfg.verbose:
        print(f"[signs] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- data
def load_sign_data(cfg: SignTrainConfig) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[str]]:
    """``(sequences [T,543,3] list, labels str [N], signers str [N], classes)`` for the config's data."""
    from edgelite.runtime.signs import io as sign_io
    from edgelite.train.signs import cache as sign_cache
    from edgelite.train.signs.data import take

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
        xs = take(xs, keep)
        labels, signer = labels[keep], signer[keep]
    if cfg.keep_labels:
        keep = np.where(np.isin(labels, cfg.keep_labels))[0]
        xs, labels, signer = take(xs, keep), labels[keep], signer[keep]
    if cfg.background:
        bx, bs = load_background(cfg)
        xs = list(xs) + bx  # background data: an in-memory list (small by nature)
        labels = np.concatenate([labels, np.full(len(bx), BACKGROUND_LABEL)])
        signer = np.concatenate([signer, bs])
        if label_map is not None and BACKGROUND_LABEL not in label_map:
            label_map = {**label_map, BACKGROUND_LABEL: max(label_map.values()) + 1}
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


def load_background(cfg: SignTrainConfig) -> tuple[list[np.ndarray], np.ndarray]:
    """Sequences of other signs (asl-signs folder, or MP_Data folder/archive) for the explicit "other" class;
    ``(sequences, signers)``, signers prefixed ``bg:`` so they form their own groups."""
    from edgelite.runtime.signs import io as sign_io
    from edgelite.train.signs import cache as sign_cache

    path = cfg.background
    if not path or not os.path.exists(path):
        raise DataError(f"background data {path}: no such file or folder")
    fmt = cfg.background_fmt or ("asl-signs" if os.path.exists(os.path.join(path, "train.csv")) else "mp-data")
    if fmt == "asl-signs":
        samples = sign_io.list_asl_signs(path)
    else:
        cand = cfg.background_signers or os.path.join(os.path.dirname(os.path.abspath(path.rstrip("/"))), "signers.csv")
        samples = sign_io.list_mp_data(path, cand if os.path.exists(cand) else None)
        if cfg.background_signers:  # an explicit signer list also selects the sequences
            samples = [s for s in samples if s.signer]
    if not samples:
        raise DataError(f"background data {path}: no sequences found (format {fmt})")
    bx, _, bs = sign_cache.load_dataset(samples, cache_dir=cfg.cache_dir, workers=cfg.workers)
    bs = np.array([f"bg:{v or 'unknown'}" for v in np.asarray(bs).astype(str)])
    _log(cfg, f"background: {len(bx)} sequences from {path} ({fmt}) → class {BACKGROUND_LABEL!r}")
    return list(bx), bs


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
    from edgelite.train.common import inner_split as _inner

    return _inner(idx, y, signers, frac, seed, what="signers")






def _features(pts: list[np.ndarray], pre: SignPreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    from edgelite.runtime.signs.features import batch_features_from_points

    return batch_features_from_points(pts, pre)


def train_fold(cfg: SignTrainConfig, pre: SignPreprocessConfig, classes: list[str], pts: list[np.ndarray],
               y: np.ndarray, tr: np.ndarray, iv: np.ndarray, ckpt: str, prefix: str = "", setup: Any = None):
    """Fit one model on ``tr`` with early stopping on ``iv``; returns ``(model, history)`` with the best weights.

    The data streams from the memory-mapped cache (:func:`edgelite.train.signs.data.make_datasets`);
    ``setup`` is the device/precision/strategy (:func:`edgelite.train.devices.resolve_device`)."""
    import keras

    from edgelite.train.devices import float32_copy, resolve_device
    from edgelite.train.signs.data import make_datasets
    from edgelite.train.signs.model import build_sign_model

    keras.utils.set_random_seed(cfg.seed)
    setup = setup or resolve_device(cfg.device)
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
                      saved_model_dir: str | None = None, head: dict[str, Any] | None = None) -> bytes:
    """Keras model + in-graph preprocessing → ``.tflite`` with ``serving_default``: ``inputs [None,543,3] → outputs [C]``;
    with a score ``head`` also the ``openset`` signature (outputs + ``ood_score``, :mod:`edgelite.train.openset`)."""
    from edgelite.convert.export import export_tflite
    from edgelite.train.openset import OPENSET_SIGNATURE, scored_model, split_serve
    from edgelite.train.signs.model import openset_embedding
    from edgelite.train.signs.preprocess import make_serve_fn

    if saved_model_dir and os.path.exists(saved_model_dir):
        shutil.rmtree(saved_model_dir)
    endpoints = None
    if head is not None:
        scored = make_serve_fn(scored_model(model, openset_embedding, head), pre)
        endpoints = {OPENSET_SIGNATURE: split_serve(scored, len(meta["labels"]), "outputs")}
    return export_tflite(model, make_serve_fn(model, pre), "inputs", [None, 543, 3], "outputs", meta, out_path,
                         saved_model_dir=saved_model_dir, endpoints=endpoints)


def sign_score_head(model: Any, pre: SignPreprocessConfig, pts: list[np.ndarray], y: np.ndarray,
                    num_classes: int) -> dict[str, Any]:
    """Open-set score head of ``model`` from training sequences (selected points ``pts``, labels ``y``)."""
    from edgelite.train.openset import embeddings, fit_head
    from edgelite.train.signs.model import OPENSET_METHOD, openset_embedding

    f, m = _features(pts, pre)
    return fit_head(embeddings(model, openset_embedding, [f, m]), y, num_classes, OPENSET_METHOD)


def tflite_predict(path: str, xs: list[np.ndarray]) -> np.ndarray:
    """Run a sign ``.tflite`` (LiteRT, no TF) on raw ``[T,543,3]`` sequences → ``[N, C]``."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    out = [m(inputs=np.asarray(x, np.float32))["outputs"] for x in xs]
    return np.stack(out) if out else np.zeros((0, len(m.labels)), np.float32)


def plot_sign_curves(histories: list[dict[str, list[float]]], path: str, title: str = "") -> None:
    """Loss/accuracy per epoch: training (augmented) and the early-stopping split of the *training* signers."""
    from edgelite.train.report import plot_curves

    plot_curves(histories, path, title, train_label="train (augmented)", val_label="early-stopping split")


# ------------------------------------------------------------------------------------- driver
def _cross_validate(cfg: SignTrainConfig, pre: SignPreprocessConfig, classes, xs, pts, y, signers, folds, setup,
                    keep_models: bool = False):
    from edgelite.train.common import FoldFit, best_epoch, cross_validate
    from edgelite.train.signs.data import take
    from edgelite.train.signs.model import size_dict

    def fit(k, fold, prefix):
        tr, iv, how = inner_split(fold.train, y, signers, cfg.inner_val, cfg.seed + k)
        _log(cfg, f"{prefix}train {len(tr)}, early-stopping split {len(iv)} ({how}), held-out {len(fold.val)}")
        ckpt = os.path.join(cfg.out, "checkpoints", f"fold{k + 1}.best.weights.h5")
        tf0 = time.time()
        model, hist = train_fold(cfg, pre, classes, pts, y, tr, iv, ckpt, prefix, setup)
        _log(cfg, f"{prefix}{len(tr) * len(hist.get('loss', [])) / max(time.time() - tf0, 1e-9):.0f} sequences/s")
        return FoldFit(model, hist, best_epoch(hist), len(tr), len(iv), how if len(iv) else "none")

    def evaluate(k, fold, ff, path):
        from edgelite.train.openset import tflite_scored

        training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": fold.describe(),
                    "model": size_dict(cfg.size)}
        head = sign_score_head(ff.model, pre, [pts[i] for i in fold.train], y[fold.train], len(classes))
        export_sign_model(ff.model, pre, sign_metadata(pre, classes, training), path, head=head)
        prob, oof_scores[k] = tflite_scored(path, take(xs, fold.val), classes.index("-") if "-" in classes else None)
        fk, mk = _features([pts[i] for i in fold.val[:64]], pre)
        tf_prob = ff.model.predict([fk, mk], verbose=0) if len(fk) else np.zeros((0, len(classes)))
        diff = float(np.abs(tf_prob - prob[:len(tf_prob)]).max()) if len(tf_prob) else 0.0
        return prob, {"tf_vs_tflite_max_abs": diff}

    oof_scores: dict[int, np.ndarray] = {}
    tag = f"[seed {cfg.seed}] " if cfg.seeds > 1 else ""
    cv = cross_validate(folds, y, fit, evaluate, lambda m: _log(cfg, tag + m), keep_first=not cfg.final,
                        keep_models=keep_models)
    return cv, np.concatenate([oof_scores[k] for k in range(len(folds))])


def _ship(cfg: SignTrainConfig, pre, classes, pts, y, cv, setup, kind: str, seeds: list[int]):
    """The shipped model (:func:`edgelite.train.ensemble.ship`): the fold ensemble, the seeds' final fits on ALL
    sequences for the folds' mean best epoch, one final fit, or fold 1's model."""
    import dataclasses

    from edgelite.train.common import final_epoch_count
    from edgelite.train.ensemble import ship

    epochs = final_epoch_count(cv.best_epochs, cfg.epochs)

    def fit_all(seed: int):
        _log(cfg, f"final fit (seed {seed}) on all {len(y)} sequences for {epochs} epochs (mean best epoch of the folds)")
        fcfg = dataclasses.replace(cfg, epochs=epochs, seed=seed)
        model, _ = train_fold(fcfg, pre, classes, pts, y, np.arange(len(y)), np.zeros(0, np.int64), "",
                              f"[final seed {seed}] ", setup)
        return model, epochs

    return ship(kind, cv.models, seeds, fit_all, None if cfg.final else cv.first, len(y),
                [r["n_train"] for r in cv.folds], "mean best epoch of the CV folds (early stopping on an inner split "
                "of each fold's training signers)")


def train_signs(cfg: SignTrainConfig) -> dict[str, Any]:
    """Read → split by signer → cross-validate (each fold's .tflite on its held-out signers) → final fit on
    all the data (or fold 1's model with ``final=False``) → open-set calibration → run folder."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import dataclasses

    from edgelite.train.common import fit_openset_from_cv, merge_seed_runs, prepare_run_dir
    from edgelite.train.devices import resolve_device
    from edgelite.train.ensemble import resolve_kind, seed_list
    from edgelite.train.openset import for_shipped, prototype_openset
    from edgelite.train.signs.data import select_view, sequence_lengths
    from edgelite.train.signs.model import model_size

    model_size(cfg.size)
    seeds = seed_list(cfg.seed, cfg.seeds)
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
    kind = resolve_kind(cfg.ensemble, cfg.final, len(folds), len(seeds))
    _log(cfg, f"landmarks {pre.landmark_set} ({pre.num_points} points, {pre.num_features} features/frame), "
              f"max_len {max_len}, size {cfg.size}; split {folds[0].kind}: {len(folds)} fold(s)")
    prepare_run_dir(cfg.out, cfg.overwrite)
    runs = [_cross_validate(dataclasses.replace(cfg, seed=s), pre, classes, xs, pts, y, signers, folds, setup,
                            kind == "folds") for s in seeds]
    cv = merge_seed_runs([r[0] for r in runs], seeds)
    oof_scores = np.concatenate([r[1] for r in runs])  # same row order as merge_seed_runs: seed by seed
    reject = {k: v for k, v in REJECT_LABELS.items() if k in classes}
    openset = fit_openset_from_cv(cv, classes, cfg.openset_reject, reject)
    if openset:
        from edgelite.train.signs.model import OPENSET_METHOD

        openset = prototype_openset(openset, oof_scores[cv.seen], (cv.prob.argmax(1) == cv.y_true)[cv.seen],
                                    cfg.openset_reject, "outputs", OPENSET_METHOD)
    shipped = _ship(cfg, pre, classes, pts, y, cv, setup, kind, seeds)
    openset = for_shipped(openset, len(shipped.members))
    report = _write_run(cfg, pre, classes, xs, labels, signers, y, folds, cv, shipped, seeds, openset, t0, setup, pts)
    if cfg.continuous:  # continuous signing: spotter.tflite beside model.tflite, same training signers
        from edgelite.train.signs.spotter import train_run_spotter

        train_run_spotter(cfg, xs, labels, signers, folds[0].train)
    return report


def _seen_only(cv, classes) -> dict[str, Any]:
    """Metrics on the held-out rows whose class the fold's training signers did show (unreachable ones apart)."""
    from edgelite.train.report import classification_metrics

    keep = cv.seen
    unseen = sorted({classes[i] for i in cv.y_true[~keep].tolist()})
    if not unseen:
        return {}
    ms = classification_metrics(cv.y_true[keep], cv.prob[keep], classes)
    return {"classes_never_trained": unseen, "n_val_never_trained": int((~keep).sum()),
            "seen_classes_only": {"accuracy": ms["accuracy"], "top5": ms["top5"], "macro_f1": ms["macro_f1"], "n": ms["n"]}}


def _write_run(cfg, pre, classes, xs, labels, signers, y, folds, cv, shipped, seeds, openset, t0, setup,
               pts=None) -> dict:
    from edgelite.runtime.core.metadata import write_sidecar
    from edgelite.train.common import counts, seed_summary, subset, write_run_eval_data
    from edgelite.train.report import write_report
    from edgelite.train.signs.model import end_to_end, size_dict

    final, model = shipped.record, shipped.model
    summary = seed_summary(cv, classes, seeds)
    cnt = counts(cv, len(y), final)
    ev = subset(np.unique(cv.index) if cfg.final else folds[0].val, EVAL_DATA_LIMIT, cfg.seed)
    split = {"kind": folds[0].kind, "by": "signer", "folds": cv.folds,
             "note": "metrics pool every fold's held-out signers, each predicted by that fold's .tflite"}
    report = write_report(
        cfg.out, cv.y_true, cv.prob, classes, split, n_train=cnt["folds_total"]["n_train"],
        n_val=cnt["folds_total"]["n_val"], histories=cv.histories, train_label="train (augmented)",
        extra={"task": "signs", "format": cfg.fmt, "landmark_set": pre.landmark_set, "preprocessing": pre.to_dict(),
               "model": size_dict(cfg.size), "params": int(model.count_params()), "n_sequences": len(xs),
               "n_signers": len(set(signers.tolist())), "classes_present": sorted(set(labels.tolist())),
               "cv": summary, "counts": cnt, "final_fit": final, "openset": openset,
               "seeds": seeds, "ensemble": final.get("ensemble") or {"kind": "none", "members": 1},
               "counts_note": "n_train/n_val are summed over the folds; counts.shipped_model is the shipped model",
               "evaluated_with": "each fold's .tflite via edgelite.runtime (LiteRT)", "device": setup.describe(),
               "data_path": "streamed (tf.data over memory-mapped cache shards)",
               "eval_data": {"n": int(len(ev)), "heldout_for_model": not cfg.final},
               "seconds": round(time.time() - t0, 1), **_seen_only(cv, classes)},
        title=f"signs {cfg.fmt} ({pre.landmark_set})")
    training = {"data": os.path.abspath(cfg.data), "format": cfg.fmt, "split": {"kind": folds[0].kind, "by": "signer",
                "n_folds": len(folds)}, "final_fit": final, "cv": summary, "model": size_dict(cfg.size),
                "params": int(model.count_params()),
                "metrics": {"accuracy": report["accuracy"], "top5": report["top5"], "macro_f1": report["macro_f1"],
                            "n_val": report["n_val"], "source": "pooled out-of-fold predictions"}}
    meta = sign_metadata(pre, classes, training)
    if openset:
        meta["openset"] = openset
    head = None
    if openset and "signature" in openset and pts is not None:  # score head from the shipped model's training data
        tr = np.arange(len(y)) if cfg.final else folds[0].train
        head = sign_score_head(model, pre, [pts[i] for i in tr], y[tr], len(classes))
    export_sign_model(model, pre, meta, os.path.join(cfg.out, "model.tflite"), os.path.join(cfg.out, "saved_model"),
                      head=head)
    end_to_end(model, pre.to_dict()).save(os.path.join(cfg.out, "model.keras"))  # raw [B,T,543,3] → probabilities
    write_sidecar(meta, os.path.join(cfg.out, "metadata.json"))
    cal = subset(np.arange(len(y)) if cfg.final else folds[0].train, 200, cfg.seed + 7)
    write_run_eval_data(cfg.out, xs, y, ev, cal, heldout_for_model=not cfg.final)
    _log(cfg, f"CV top-1 {report['accuracy']:.4f} (seeds × folds {summary['accuracy_mean']:.4f} ± {summary['accuracy_sd']:.4f}) "
              f"top-5 {report['top5']:.4f} macro-F1 {report['macro_f1']:.4f} ({report['n_val']} held-out, "
              f"{time.time() - t0:.0f}s); shipped: {shipped.describe()} → {cfg.out}")
    return report
