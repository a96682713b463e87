"""Sign-landmark preprocessing as TensorFlow ops (builtin TFLite ops only), for inside the model graph.

The exact twin of :mod:`edgelite.runtime.signs.features` (see there for the steps); parity is tested
on real parquet sequences, one-frame and all-NaN inputs. Ops used: GATHER, WHERE, SELECT_V2,
IS_NAN, SUM, MAXIMUM/MINIMUM, FLOOR_DIV, RANGE, STRIDED_SLICE, CONCATENATION, FILL, SQRT, LESS —
no resize kernels, cumprod, bincount, segment ops or matrix inverses.

NaN (a missing landmark) never flows through arithmetic: it moves only through data-movement ops
(GATHER, STRIDED_SLICE, SELECT_V2) and is tested with IS_NAN; every ADD/SUB/MUL/DIV works on values
where missing points are zero and validity is carried as a boolean mask. tflite-runtime 2.14's builtin
broadcast ADD/SUB kernels on aarch64 turn NaN into -FLT_MAX (``benchmarks/results/pi_check_summary.md``),
so a graph relying on NaN propagating through arithmetic gives wrong answers there.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from edgelite.runtime.layout import N_LANDMARKS
from edgelite.runtime.signs.features import HAND_SLOTS, SignPreprocessConfig, mirror_permutation


def _f(v: Any) -> tf.Tensor:
    return tf.constant(v, tf.float32)


def tf_sign_features(x: tf.Tensor, cfg: SignPreprocessConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """Raw ``[T, 543, 3]`` float32 (NaN allowed) → ``(features [max_len, F], mask [max_len])``."""
    c = cfg.channels
    pts = tf.gather(x, tf.constant(cfg.indices, tf.int32), axis=1)[:, :, :c]  # [T,P,C]
    return tf_features_from_points(pts, cfg)


def tf_features_from_points(pts: tf.Tensor, cfg: SignPreprocessConfig) -> tuple[tf.Tensor, tf.Tensor]:
    c = cfg.channels
    pts = pts[:, :, :c]
    seen = 1.0 - tf.cast(tf.math.is_nan(pts[:, :, 0]), tf.float32)  # [T,P]
    (l0, l1), (r0, r1) = HAND_SLOTS  # the same slots as the NumPy twin (both hands come first)
    lh = tf.reduce_max(seen[:, l0:l1], axis=1)  # [T]
    rh = tf.reduce_max(seen[:, r0:r1], axis=1)
    if cfg.mirror:
        mir = tf.gather(pts, tf.constant(mirror_permutation(cfg.indices), tf.int32), axis=1)
        sign = _f([-1.0] + [1.0] * (c - 1))
        off = _f([1.0] + [0.0] * (c - 1))
        mir = tf.where(tf.math.is_nan(mir), mir, mir * sign + off)  # NaN stays NaN via SELECT, not arithmetic
        pts = tf.where(tf.reduce_sum(lh) > tf.reduce_sum(rh), mir, pts)
    if cfg.drop_handless:
        has = tf.maximum(lh, rh)
        keep = tf.maximum(has, 1.0 - tf.reduce_max(tf.concat([has, _f([0.0])], 0)))
        idx = tf.cast(tf.reshape(tf.where(keep > 0.5), [-1]), tf.int32)
        pts = tf.gather(pts, idx, axis=0)
    t = tf.shape(pts)[0]
    n = tf.minimum(t, cfg.max_len)
    i = tf.range(n)
    src = tf.math.floordiv((2 * i + 1) * t, tf.maximum(2 * n, 1))
    pts = tf.gather(pts, src, axis=0)  # [n,P,C]

    nan = tf.math.is_nan(pts)
    zero = tf.zeros_like(pts)
    z = tf.where(nan, zero, pts)
    cnt = tf.reduce_sum(1.0 - tf.cast(nan, tf.float32), axis=[0, 1])  # [C]
    mean = tf.reduce_sum(z, axis=[0, 1]) / tf.maximum(cnt, 1.0)
    dev = tf.where(nan, zero, pts - mean)
    var = tf.reduce_sum(tf.square(dev[:, :, :2])) / tf.maximum(tf.reduce_sum(cnt[:2]), 1.0)
    s = tf.sqrt(var)
    s = tf.where(s > 1e-6, s, 1.0)
    ok = tf.logical_not(nan)  # [n,P,C] validity; arithmetic below sees zeros where a point is missing
    pn = tf.where(ok, (z - mean) / s, zero)

    p = cfg.num_points
    flat = tf.reshape(pn, [n, p * c])
    vflat = tf.reshape(ok, [n, p * c])
    parts = [flat]
    for lag in cfg.lags:
        d = tf.where(tf.logical_and(vflat[lag:], vflat[:-lag]), flat[lag:] - flat[:-lag], tf.zeros_like(flat[lag:]))
        parts.append(tf.concat([d, tf.zeros_like(flat[:lag])], axis=0))
    if cfg.hand_local:
        parts.append(_tf_hand_local(pn, ok, n, c))
    f = tf.concat(parts, axis=1)
    f = tf.where(tf.math.is_nan(f), tf.zeros_like(f), f)
    nf = cfg.num_features
    f = tf.concat([f, tf.zeros(tf.stack([cfg.max_len - n, nf]), tf.float32)], axis=0)
    f = tf.reshape(f, [cfg.max_len, nf])
    mask = tf.cast(tf.range(cfg.max_len) < n, tf.float32)
    return f, mask


def _tf_hand_local(pn: tf.Tensor, ok: tf.Tensor, n: tf.Tensor, c: int) -> tf.Tensor:
    """Hand points minus the wrist, over the hand's largest xy radius per frame: ``[n, HAND_POINTS*C]``;
    zero where a point or the wrist is missing (``pn`` is zero there, ``ok`` says which)."""
    loc = []
    for h0, h1 in HAND_SLOTS:
        dv = tf.logical_and(ok[:, h0:h1, :], ok[:, h0:h0 + 1, :])
        d = tf.where(dv, pn[:, h0:h1, :] - pn[:, h0:h0 + 1, :], tf.zeros_like(pn[:, h0:h1, :]))  # minus the wrist
        rv = tf.logical_and(dv[:, :, 0], dv[:, :, 1])
        r = tf.sqrt(tf.square(d[:, :, 0]) + tf.square(d[:, :, 1]))
        r = tf.reduce_max(tf.where(rv, r, tf.zeros_like(r)), axis=1)
        q = tf.where(dv, d / tf.maximum(r, 1e-6)[:, None, None], tf.zeros_like(d))
        loc.append(tf.reshape(q, [n, (h1 - h0) * c]))
    return tf.concat(loc, axis=1)


def make_serve_fn(model: Any, cfg: SignPreprocessConfig | None = None):
    """``serve(x [T,543,3]) -> probabilities [num_classes]``: preprocessing + Keras model, unbatched.

    ``model``: the feature model (``[features, mask]`` inputs, with ``cfg``) or its end-to-end form
    (:func:`edgelite.train.signs.model.end_to_end`; ``cfg`` then comes from its ``SignPreprocess`` layer).
    Either way the graph is the same: one unbatched preprocessing, then the feature model."""
    if len(model.inputs) == 1:
        pre = next(layer for layer in model.layers if isinstance(layer, SignPreprocess))
        cfg, model = pre.cfg, model.layers[-1]

    def serve(x):
        with tf.name_scope("edgelite_preprocess"):  # the quantizer keeps this scope float
            f, m = tf_sign_features(x, cfg)
            f, m = f[None], m[None]
        y = model([f, m], training=False)
        return y[0]

    return serve


def sign_metadata_input(cfg: SignPreprocessConfig) -> dict[str, Any]:
    parts = {"hands": ["left_hand", "right_hand"], "hands+pose": ["left_hand", "right_hand", "pose"],
             "kaggle": ["left_hand", "right_hand", "pose", "face"]}[cfg.landmark_set]
    return {"name": "inputs", "dtype": "float32", "shape": [-1, N_LANDMARKS, 3],
            "layout": "mediapipe-holistic-543", "landmark_set": cfg.landmark_set, "parts": parts}


@keras.saving.register_keras_serializable(package="edgelite")
class SignPreprocess(keras.layers.Layer):
    """Raw ``[B,T,543,3]`` (NaN = missing) → ``(features [B,max_len,F], mask [B,max_len])``: :func:`tf_sign_features`
    per sequence. ``preprocessing``: :meth:`SignPreprocessConfig.to_dict` (saved in the layer config)."""

    def __init__(self, preprocessing: dict[str, Any] | None = None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.cfg = SignPreprocessConfig.from_dict(preprocessing or {})

    def get_config(self):
        return {**super().get_config(), "preprocessing": self.cfg.to_dict()}

    def call(self, x):
        cfg = self.cfg
        spec = (tf.TensorSpec([cfg.max_len, cfg.num_features], tf.float32), tf.TensorSpec([cfg.max_len], tf.float32))
        return tf.map_fn(lambda s: tf_sign_features(s, cfg), x, fn_output_signature=spec)

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        return (b, self.cfg.max_len, self.cfg.num_features), (b, self.cfg.max_len)
