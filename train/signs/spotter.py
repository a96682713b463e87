"""Train and export the continuous-signing spotter: a sliding-window sign classifier with a blank class.

Training data are streams stitched (:mod:`edgelite.train.signs.stitch`) from the *training*
signers' isolated sequences: random order, random gaps (none, transition, idle recording, hands
out of view), speed jitter 0.8–1.25×, per-stream mirror/rotation/scale/shift. Each training
example is a window of ``window`` frames ending at frame ``e``; its target is the sign covering frame
``e - label_offset`` (blank in gaps, idle, and ``edge`` frames around a back-to-back junction).

Out-of-vocabulary sequences (``negatives``: signs the model must not know, e.g. the ``--background``
data of sign training) are stitched in as blank stretches (``negative_rate`` of the sign slots).
After export, the reject threshold is fitted on ``calib_streams`` streams stitched from the same
training sequences (other seed, mixed gaps, speed jitter) and stored as ``spotting.reject`` in the
metadata: ``min(reject_cap, q)`` with ``q`` the ``1 - target_keep`` quantile of the candidate mean of
the correct emissions (:func:`edgelite.runtime.signs.spotting.fit_reject_threshold`); the cap (0.80)
was chosen on a validation signer because training-signer scores are optimistic.

The model is the project's sign classifier (:func:`edgelite.train.signs.model.build_sign_model`)
over ``window`` frames with the in-graph preprocessing of :mod:`edgelite.train.signs.preprocess`
(without dropping hand-less frames: a window keeps its time axis). Export: ``spotter.tflite`` with
``serving_default``: ``inputs [None,543,3] → outputs [C]`` and a ``spotting`` metadata section read
by :class:`edgelite.runtime.signs.spotting.Spotter`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.signs.features import (
    SignPreprocessConfig,
    features_from_points,
    mirror_permutation,
)
from edgelite.runtime.signs.spotting import SPOTTER_FILE
from edgelite.train.signs.stitch import StitchOptions, frame_targets, make_streams

BLANK = "-"
MIN_CALIBRATION = 20  # correct calibration emissions needed to fit the reject threshold


@dataclass
class SpotterConfig:
    """Spotter training parameters (windows and steps in frames)."""

    window: int = 16
    stride: int = 2
    label_offset: int = 6
    size: str = "tiny"
    epochs: int = 12
    streams_per_epoch: int = 160
    signs_per_stream: int = 8
    windows_per_epoch: int = 12000
    batch_size: int = 128
    learning_rate: float = 2e-3
    edge: int = 1
    negative_rate: float = 0.25  # share of sign slots filled with an out-of-vocabulary sequence (when given)
    calib_streams: int = 40  # training-signer streams for the reject threshold (0: no reject section)
    target_keep: float = 0.98  # the reject threshold keeps at least this share of correct calibration emissions
    # ... and is at most this: chosen on the validation signer dmohazab
    # (benchmarks/results/continuous_oov_validation.md), never on the test signer
    reject_cap: float = 0.80
    seed: int = 0
    verbose: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.label_offset < self.window:
            raise DataError(f"spotter label_offset {self.label_offset}: expected 0 <= offset < window ({self.window})")


def _log(cfg: SpotterConfig, msg: str) -> None:
    if cfg.verbose:
        print(f"[spotter] {msg}", file=sys.stderr, flush=True)


def spotter_preprocess(landmark_set: str, window: int) -> SignPreprocessConfig:
    """The sign preprocessing over a fixed window: no hand-less frame dropping (keeps the time axis)."""
    return SignPreprocessConfig(landmark_set=landmark_set, max_len=window, drop_handless=False)


def augment_stream(pts: np.ndarray, perm: list[int], rng: np.random.Generator) -> np.ndarray:
    """One random mirror + rotation/scale/shift for a whole ``[T,P,3]`` stream (the signer does not jump)."""
    pts = np.array(pts, np.float32, copy=True)
    if rng.random() < 0.5:
        pts = pts[:, perm]
        pts[..., 0] = 1.0 - pts[..., 0]
    a = np.deg2rad(rng.uniform(-12, 12))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    m = rot @ np.diag(rng.uniform(0.85, 1.15, 2)).astype(np.float32)
    pts[..., :2] = (pts[..., :2] - 0.5) @ m.T + 0.5 + rng.uniform(-0.05, 0.05, 2).astype(np.float32)
    return pts


def stream_windows(pts: np.ndarray, y: np.ndarray, window: int, offset: int, ends: np.ndarray,
                   blank: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Windows ``[window,P,3]`` ending at each of ``ends`` (NaN-padded before frame 0) and their targets."""
    pad = np.full((window - 1,) + pts.shape[1:], np.nan, np.float32)
    p = np.concatenate([pad, pts], 0)
    wins = [p[e:e + window] for e in ends]
    tgt = np.array([y[e - offset] if e - offset >= 0 else blank for e in ends], np.int64)
    return wins, tgt


def _dataset_class():
    import keras

    class SpotBatches(keras.utils.PyDataset):
        """Each epoch: fresh stitched streams, ``windows_per_epoch`` random windows, features per batch."""

        def __init__(self, pts, labels, classes, pre, cfg: SpotterConfig, negatives=None):
            super().__init__(workers=1, use_multiprocessing=False)
            self.pts, self.labels, self.classes, self.pre, self.cfg = pts, labels, classes, pre, cfg
            self.negatives = negatives or None
            self.blank = classes.index(BLANK)
            self.perm = mirror_permutation(pre.indices)
            self.epoch = 0
            self._build()

        def _build(self):
            c = self.cfg
            rng = np.random.default_rng(c.seed * 1000 + self.epoch)
            streams = make_streams(self.pts, self.labels, c.streams_per_epoch, c.signs_per_stream,
                                   c.seed * 1000 + self.epoch, StitchOptions(), idle_label=BLANK,
                                   hand_rows=list(range(42)), negatives=self.negatives,
                                   negative_labels=["other"] * len(self.negatives or []),
                                   negative_rate=c.negative_rate if self.negatives else 0.0)
            self.items = []
            for s in streams:
                y = frame_targets(s, self.classes, BLANK, c.edge)
                self.items.append((augment_stream(s.frames, self.perm, rng), y))
            pairs = np.array([(k, e) for k, (p, _) in enumerate(self.items) for e in range(len(p))], np.int64)
            self.pairs = pairs[rng.permutation(len(pairs))[: c.windows_per_epoch]]

        def __len__(self):
            return math.ceil(len(self.pairs) / self.cfg.batch_size)

        def __getitem__(self, i):
            b = self.pairs[i * self.cfg.batch_size:(i + 1) * self.cfg.batch_size]
            f = np.zeros((len(b), self.pre.max_len, self.pre.num_features), np.float32)
            m = np.zeros((len(b), self.pre.max_len), np.float32)
            t = np.zeros(len(b), np.int64)
            for j, (k, e) in enumerate(b):
                p, y = self.items[k]
                w, tg = stream_windows(p, y, self.cfg.window, self.cfg.label_offset, np.array([e]), self.blank)
                f[j], m[j] = features_from_points(w[0], self.pre)
                t[j] = tg[0]
            return (f, m), np.eye(len(self.classes), dtype=np.float32)[t]

        def on_epoch_end(self):
            self.epoch += 1
            self._build()

    return SpotBatches


def fit_spotter(pts: list[np.ndarray], labels: np.ndarray, classes: list[str], pre: SignPreprocessConfig,
                cfg: SpotterConfig, negatives: list[np.ndarray] | None = None):
    """Train the window classifier on streams stitched from ``pts`` (selected points ``[T,P,3]``), with
    ``negatives`` (selected points) as blank out-of-vocabulary stretches."""
    import keras
    from edgelite.train.signs.model import build_sign_model

    keras.utils.set_random_seed(cfg.seed)
    ds = _dataset_class()(pts, labels, classes, pre, cfg, negatives)
    model = build_sign_model(pre.max_len, pre.num_features, len(classes), cfg.size)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=len(ds) * cfg.epochs, alpha=0.02)
    model.compile(optimizer=keras.optimizers.AdamW(sched, weight_decay=1e-4),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.05), metrics=["accuracy"])
    t0 = time.time()

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            _log(cfg, f"epoch {epoch + 1:3d}/{cfg.epochs}  loss {logs.get('loss', 0):.3f}  "
                      f"window acc {logs.get('accuracy', 0):.3f}  ({time.time() - t0:.0f}s)")

    hist = model.fit(ds, epochs=cfg.epochs, verbose=0, callbacks=[Progress()])
    return model, {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def spotter_classes(labels: np.ndarray) -> list[str]:
    """Sorted sign labels with the blank ``"-"`` (the idle class) included."""
    return sorted(set(np.asarray(labels).astype(str).tolist()) | {BLANK})


def calibration_emissions(spotter_path: str, xs: list[np.ndarray], labels: np.ndarray, cfg: SpotterConfig,
                          fps: float = 30.0) -> tuple[np.ndarray, int]:
    """``(mean scores of the emissions matching their reference sign, number of reference signs)`` of the
    exported spotter (reject off) on ``cfg.calib_streams`` streams stitched from ``xs [T,543,3]``.
    An emission matches when its label is the one of the reference segment it overlaps most."""
    from edgelite.runtime.signs.spotting import Spotter, SpotterOptions, spot_frames

    sp = Spotter.create_from_model_path(spotter_path, SpotterOptions(openset=False), num_threads=1)
    streams = make_streams(xs, labels, cfg.calib_streams, cfg.signs_per_stream, cfg.seed * 1000 + 7919,
                           StitchOptions(), idle_label=BLANK)
    good, n_ref = [], 0
    for s in streams:
        n_ref += len(s.segments)
        for o in spot_frames(sp, s.frames, fps):
            ov = [min(o.end_index + 1, e) - max(o.start_index, b) for _, b, e in s.segments]
            k = int(np.argmax(ov))
            if ov[k] > 0 and s.segments[k][0] == o.label:
                good.append(o.mean)
    return np.asarray(good, np.float64), n_ref


def add_reject(spotter_path: str, xs: list[np.ndarray], labels: np.ndarray, cfg: SpotterConfig,
               meta: dict[str, Any]) -> dict[str, Any]:
    """Fit ``spotting.reject`` on training-signer streams and rewrite the spotter's metadata in place."""
    from edgelite.convert.export import embed_metadata, write_atomic
    from edgelite.runtime.signs.spotting import fit_reject_threshold

    means, n_ref = calibration_emissions(spotter_path, xs, labels, cfg)
    if len(means) < MIN_CALIBRATION:
        _log(cfg, f"no reject threshold: only {len(means)} correct emissions on {cfg.calib_streams} training-signer "
                  f"streams ({n_ref} signs; at least {MIN_CALIBRATION} needed)")
        return meta
    q = fit_reject_threshold(means, cfg.target_keep)
    thr = min(q, cfg.reject_cap)
    meta = {**meta, "spotting": {**meta["spotting"], "reject": {
        "score": "mean", "threshold": round(thr, 6), "target_keep": cfg.target_keep, "cap": cfg.reject_cap,
        "quantile_threshold": round(q, 6),
        "fitted_on": f"{cfg.calib_streams} streams stitched from the training signers' sequences",
        "n": len(means), "n_reference_signs": int(n_ref),
        "quantiles": {k: round(float(np.quantile(means, float(k))), 4) for k in ("0.01", "0.05", "0.5")}}}}
    with open(spotter_path, "rb") as f:
        data = f.read()
    write_atomic(spotter_path, embed_metadata(data, meta, source=spotter_path))
    _log(cfg, f"reject threshold {thr:.3f} = min(cap {cfg.reject_cap}, {q:.3f}: keeps {cfg.target_keep:.1%} of "
              f"{len(means)} correct "
              f"emissions on {cfg.calib_streams} training-signer streams, {n_ref} signs)")
    return meta


def export_spotter(model: Any, pre: SignPreprocessConfig, classes: list[str], cfg: SpotterConfig,
                   training: dict[str, Any], out_path: str) -> dict[str, Any]:
    """``.tflite`` with in-graph preprocessing, ``inputs [None,543,3] → outputs [C]``, ``spotting`` metadata."""
    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata
    from edgelite.train.signs.preprocess import make_serve_fn, sign_metadata_input

    spotting = {"window": cfg.window, "stride": cfg.stride, "label_offset": cfg.label_offset, "blank": BLANK,
                "decoder": "edgelite-spot/1"}
    meta = make_metadata(task="signs", labels=classes, input=sign_metadata_input(pre),
                         output={"name": "outputs", "kind": "probabilities", "shape": [len(classes)]},
                         preprocessing={"name": "edgelite-signs/1", **pre.to_dict()}, training=training,
                         spotting=spotting)
    export_tflite(model, make_serve_fn(model, pre), "inputs", [None, 543, 3], "outputs", meta, out_path)
    return meta


def train_spotter(xs: list[np.ndarray], labels: np.ndarray, landmark_set: str, out_path: str,
                  cfg: SpotterConfig | None = None, training: dict[str, Any] | None = None,
                  negatives: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Train on raw training sequences ``[T,543,3]`` (one side of a signer split only) and export to ``out_path``.

    ``negatives``: raw ``[T,543,3]`` sequences of signs outside the vocabulary (blank stretches)."""
    from edgelite.runtime.signs.features import select_points
    from edgelite.train.signs.model import size_dict

    cfg = cfg or SpotterConfig()
    labels = np.asarray(labels).astype(str)
    if len(set(labels.tolist()) - {BLANK}) < 2:
        raise DataError("spotter: need at least 2 distinct signs to train on")
    pre = spotter_preprocess(landmark_set, cfg.window)
    classes = spotter_classes(labels)
    pts = [select_points(x, pre) for x in xs]
    neg = [select_points(x, pre) for x in negatives or []]
    t0 = time.time()
    _log(cfg, f"{len(pts)} training sequences, {len(classes)} classes (blank {BLANK!r}), window {cfg.window}, "
              f"stride {cfg.stride}, label offset {cfg.label_offset}, size {cfg.size}"
              + (f"; {len(neg)} out-of-vocabulary sequences as blank" if neg else ""))
    model, hist = fit_spotter(pts, labels, classes, pre, cfg, neg)
    info = {**(training or {}), "spotter": asdict(cfg), "model": size_dict(cfg.size),
            "params": int(model.count_params()), "n_train_sequences": len(pts), "n_negative_sequences": len(neg),
            "history": hist, "seconds": round(time.time() - t0, 1)}
    meta = export_spotter(model, pre, classes, cfg, info, out_path)
    if cfg.calib_streams > 0:
        meta = add_reject(out_path, xs, labels, cfg, meta)
    _log(cfg, f"exported {out_path} ({time.time() - t0:.0f}s)")
    return meta


def train_run_spotter(train_cfg: Any, xs: list[np.ndarray], labels: np.ndarray, signers: np.ndarray,
                      train_idx: np.ndarray) -> dict[str, Any]:
    """Hook for sign training: a spotter on the shipped fold's training signers → ``RUN/spotter.tflite``."""
    from edgelite.train.signs.train import BACKGROUND_LABEL

    idx = np.asarray(train_idx, np.int64)
    cfg = SpotterConfig(epochs=min(int(train_cfg.epochs), SpotterConfig.epochs), seed=int(train_cfg.seed),
                        verbose=bool(train_cfg.verbose))
    lab = np.asarray(labels).astype(str)
    sig = sorted(set(np.asarray(signers)[idx].astype(str).tolist()))
    sign_idx = [int(i) for i in idx if lab[i] != BACKGROUND_LABEL]
    neg_idx = [int(i) for i in idx if lab[i] == BACKGROUND_LABEL]  # --background: out of vocabulary → blank
    return train_spotter([xs[i] for i in sign_idx], lab[sign_idx], train_cfg.landmarks,
                         os.path.join(train_cfg.out, SPOTTER_FILE), cfg,
                         training={"data": os.path.abspath(train_cfg.data), "train_signers": sig,
                                   "background": train_cfg.background}, negatives=[xs[i] for i in neg_idx])
