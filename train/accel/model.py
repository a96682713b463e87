"""Accelerometer classifier: in-graph preprocessing (TF twin of :mod:`edgelite.runtime.accel.features`) + network.

The window model takes fixed-length windows ``[B, n, 3]`` (m/s²) and is what trains;
:func:`end_to_end` puts the raw-input part (NaN cleaning, crop/resample of ``[B,T,3]`` to ``n``) in
front as a registered layer, so ``model.keras`` maps raw input to probabilities and reloads with
plain ``keras.saving.load_model`` after ``import edgelite.train.accel.model``. :func:`serving_fn` is
what the exported ``.tflite`` runs. Feature order (``STATS``, ``CHANNELS``) and segments come from
the NumPy twin. Only builtin TFLite ops are used (is_nan/where, gather, floor, reductions, conv).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

from edgelite.runtime.accel.features import CHANNELS, CLIP, EPS, MCR_DEADBAND, SCALE_EPS, SCALES, STATS, segments

PREPROCESS_SCOPE = "edgelite_preprocess"  # = edgelite.convert.quantize.PREPROCESS_SCOPE
CLASSIFIER_LAYER = "probabilities"  # the last Dense layer; its input is the embedding of the open-set score
OPENSET_METHOD = "cosine"  # edgelite.train.openset: cosine to class prototypes (magic wand AUROC 0.996 vs 0.93 MSP)


def openset_embedding(model: keras.Model):
    """The open-set embedding of the window model: the input of its last Dense layer ``[B, width]``."""
    return model.get_layer(CLASSIFIER_LAYER).input


def clean_tf(x: tf.Tensor) -> tf.Tensor:
    """TF twin of ``features.clean``: ``[..., T, 3]`` NaN → the axis' finite mean over T, clip to ±CLIP."""
    nan = tf.math.is_nan(x)
    zero = tf.where(nan, tf.zeros_like(x), x)
    cnt = tf.maximum(tf.reduce_sum(tf.cast(tf.logical_not(nan), tf.float32), axis=-2, keepdims=True), 1.0)
    mean = tf.reduce_sum(zero, axis=-2, keepdims=True) / cnt
    filled = tf.where(nan, tf.broadcast_to(mean, tf.shape(x)), x)
    return tf.clip_by_value(filled, -CLIP, CLIP)


def fit_length_tf(x: tf.Tensor, n: int, mode: str = "stretch") -> tf.Tensor:
    """TF twin of ``features.fit_length``: ``[..., T, C]`` → ``[..., n, C]`` (centre crop, then stretch or edge-pad)."""
    t_len = tf.shape(x)[-2]
    if mode == "pad":
        pos = tf.clip_by_value(tf.range(n) + (t_len - n) // 2, 0, t_len - 1)
        return tf.gather(x, pos, axis=-2)
    tp = tf.minimum(t_len, n)
    start = tf.cast((t_len - tp) // 2, tf.float32)
    step = tf.cast(tp - 1, tf.float32) / float(max(n - 1, 1))
    pos = start + tf.range(n, dtype=tf.float32) * step
    i0f = tf.floor(pos)
    i0 = tf.cast(i0f, tf.int32)
    i1 = tf.minimum(i0 + 1, t_len - 1)
    w = (pos - i0f)[:, None]
    return tf.gather(x, i0, axis=-2) * (1.0 - w) + tf.gather(x, i1, axis=-2) * w


@keras.saving.register_keras_serializable(package="edgelite")
class AccelRawInput(keras.layers.Layer):
    """Raw ``[B,T,3]`` m/s² (any T ≥ 1, NaN allowed) → ``[B,n,3]``: :func:`clean_tf` then :func:`fit_length_tf`.

    Identity on clean windows of ``n`` samples, so the end-to-end model (:func:`end_to_end`) gives the
    network's own output on training windows."""

    def __init__(self, n: int, mode: str = "stretch", **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.mode = mode

    def get_config(self):
        return {**super().get_config(), "n": self.n, "mode": self.mode}

    def call(self, x):
        return fit_length_tf(clean_tf(x), self.n, self.mode)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[-1])


@keras.saving.register_keras_serializable(package="edgelite")
class RandomOrientation(keras.layers.Layer):
    """Training-only augmentation on ``[B,n,3]``: a random rotation (≤ ``max_deg`` about a random axis)
    and amplitude scaling (±``scale``), modelling a phone that sits a little differently in the pocket.
    Identity at inference, so it adds nothing to the exported graph."""

    def __init__(self, max_deg: float = 15.0, scale: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.max_deg = max_deg
        self.scale = scale

    def get_config(self):
        return {**super().get_config(), "max_deg": self.max_deg, "scale": self.scale}

    def call(self, x, training=None):
        if not training:
            return x
        b = tf.shape(x)[0]
        axis = tf.math.l2_normalize(tf.random.normal([b, 3]), axis=-1)
        ang = tf.random.uniform([b], -1.0, 1.0) * (self.max_deg * np.pi / 180.0)
        kx, ky, kz = axis[:, 0], axis[:, 1], axis[:, 2]
        zero = tf.zeros_like(kx)
        k = tf.reshape(tf.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], axis=-1), [b, 3, 3])
        s, c = tf.sin(ang)[:, None, None], tf.cos(ang)[:, None, None]
        rot = tf.eye(3, batch_shape=[b]) + s * k + (1.0 - c) * tf.matmul(k, k)  # Rodrigues
        amp = 1.0 + tf.random.uniform([b, 1, 1], -self.scale, self.scale)
        return tf.matmul(x, rot, transpose_b=True) * amp


@keras.saving.register_keras_serializable(package="edgelite")
class RandomTimeWarp(keras.layers.Layer):
    """Training-only augmentation on ``[B,n,3]``: resample each window about its centre by a random speed
    factor in ``[1/(1+stretch), 1+stretch]`` and shift it by up to ``shift`` of its length (edge samples
    repeated), modelling a gesture drawn faster/slower or started earlier/later. Identity at inference."""

    def __init__(self, stretch: float = 0.25, shift: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.stretch = stretch
        self.shift = shift

    def get_config(self):
        return {**super().get_config(), "stretch": self.stretch, "shift": self.shift}

    def call(self, x, training=None):
        if not training:
            return x
        b, n = tf.shape(x)[0], int(x.shape[1])
        speed = tf.exp(tf.random.uniform([b, 1], -1.0, 1.0) * float(np.log1p(self.stretch)))
        off = tf.random.uniform([b, 1], -1.0, 1.0) * (self.shift * n)
        c = (n - 1) / 2.0
        pos = tf.clip_by_value(c + (tf.range(n, dtype=tf.float32)[None] - c) * speed + off, 0.0, n - 1.0)
        i0 = tf.cast(tf.floor(pos), tf.int32)
        i1 = tf.minimum(i0 + 1, n - 1)
        w = (pos - tf.floor(pos))[..., None]
        return tf.gather(x, i0, batch_dims=1) * (1.0 - w) + tf.gather(x, i1, batch_dims=1) * w


@keras.saving.register_keras_serializable(package="edgelite")
class AccelSignal(keras.layers.Layer):
    """``[B,n,3]`` → ``[B,n,4]``: the channels of ``CHANNELS`` (x, y, z, magnitude), imported from the NumPy twin.

    ``scale="window"`` first centres each axis on its window mean and divides by the window's RMS
    (``features.scale_window``): the gesture's shape without its size or the phone's gravity/offset."""

    def __init__(self, scale: str = "none", **kwargs):
        super().__init__(**kwargs)
        if scale not in SCALES:
            raise ValueError(f"scale {scale!r}: expected one of {SCALES}")
        self.scale = scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}

    def call(self, x):
        if self.scale == "window":
            x = scale_window_tf(x)
        parts = {"x": x[..., 0:1], "y": x[..., 1:2], "z": x[..., 2:3],
                 "mag": tf.sqrt(tf.reduce_sum(tf.square(x), axis=-1, keepdims=True))}
        return tf.concat([parts[c] for c in CHANNELS], axis=-1)


def scale_window_tf(x: tf.Tensor) -> tf.Tensor:
    """TF twin of ``features.scale_window``: ``[B,n,3]`` → centred per axis, divided by the window RMS (all axes)."""
    d = x - tf.reduce_mean(x, axis=1, keepdims=True)
    return d / tf.sqrt(tf.reduce_mean(tf.square(d), axis=[1, 2], keepdims=True) + SCALE_EPS)


def segment_stats_tf(s: tf.Tensor) -> dict[str, tf.Tensor]:
    """TF twin of ``features.segment_stats``: ``[B,w,C]`` → ``{statistic: [B,C]}`` for every name in ``STATS``."""
    w = int(s.shape[1])
    mean = tf.reduce_mean(s, axis=1)
    d = s - mean[:, None, :]
    var = tf.reduce_mean(tf.square(d), axis=1) + EPS
    std = tf.sqrt(var)
    if w > 1:
        jitter = tf.reduce_mean(tf.abs(s[:, 1:] - s[:, :-1]), axis=1)
        a, b = d[:, 1:], d[:, :-1]
        crossing = tf.logical_and(a * b < 0.0, tf.minimum(tf.abs(a), tf.abs(b)) > MCR_DEADBAND)
        mcr = tf.reduce_mean(tf.cast(crossing, tf.float32), axis=1)
    else:
        jitter = tf.zeros_like(mean)
        mcr = tf.zeros_like(mean)
    max_lag = max(w // 2, 2)
    # Autocovariance for lags 1..max_lag in one gather: d padded with zeros, shifted index matrix.
    pad = tf.pad(d, [[0, 0], [0, max_lag], [0, 0]])
    idx = np.arange(w)[None, :] + np.arange(1, max_lag + 1)[:, None]  # [L, w]
    shifted = tf.gather(pad, tf.constant(idx, tf.int32), axis=1)  # [B, L, w, C]
    acov = tf.reduce_sum(shifted * d[:, None, :, :], axis=2) / float(w)  # [B, L, C]
    acorr = acov / var[:, None, :]
    rest = acorr[:, 1:]
    return {"mean": mean, "std": std, "min": tf.reduce_min(s, axis=1), "max": tf.reduce_max(s, axis=1),
            "jitter": jitter, "mcr": mcr, "skew": tf.reduce_mean(d * d * d, axis=1) / (var * std),
            "kurt": tf.reduce_mean(tf.square(tf.square(d)), axis=1) / tf.square(var) - 3.0,
            "ac1": acorr[:, 0], "acov1": acov[:, 0], "acmax": tf.reduce_max(rest, axis=1),
            "acmean": tf.reduce_mean(rest, axis=1)}


@keras.saving.register_keras_serializable(package="edgelite")
class AccelFeatures(keras.layers.Layer):
    """``[B,n,4]`` → ``[B,F]``: windowed statistics per channel, stacked in ``STATS`` order per segment
    (see ``features.window_features`` / ``features.feature_names``)."""

    def __init__(self, n_windows: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.n_windows = n_windows

    def get_config(self):
        return {**super().get_config(), "n_windows": self.n_windows}

    def call(self, sig):
        n, c = int(sig.shape[1]), int(sig.shape[2])
        out = []
        for a, b in segments(n, self.n_windows):
            stats = segment_stats_tf(sig[:, a:b])
            out.append(tf.reshape(tf.stack([stats[k] for k in STATS], axis=1), [-1, len(STATS) * c]))
        return tf.concat(out, axis=1)


def build_model(
    n: int,
    num_classes: int,
    feature_stats: tuple[np.ndarray, np.ndarray],
    signal_stats: tuple[np.ndarray, np.ndarray],
    n_windows: int = 3,
    width: int = 64,
    dropout: float = 0.3,
    augment_deg: float = 15.0,
    scale: str = "none",
    temporal: int = 0,
    features: bool = True,
    warp: float = 0.0,
    conv: bool = True,
) -> keras.Model:
    """Up to three branches on the signal ``[B,n,4]`` → dense head → softmax over ``num_classes``.

    - ``features``: windowed statistics (``AccelFeatures``) → dense;
    - ``conv``: small 1D CNN, global average (local motion patterns, order-free);
    - ``temporal`` > 0: the window's course in ``temporal`` average-pooled steps (of the conv features, or of
      the normalised signal without ``conv``), flattened → dense: keeps the order of events.
    ``scale="window"``: the signal is centred and divided by its window RMS first (``features.scale_window``).
    ``augment_deg`` (rotation + ±10 % amplitude) and ``warp`` (``RandomTimeWarp``) act in training only.
    ``feature_stats``/``signal_stats`` are (mean, variance) from the training split; they are
    baked into Normalization layers so the exported graph needs no outside parameters.
    """
    inp = keras.Input((n, 3), name="window")
    aug = RandomOrientation(augment_deg, name="augment")(inp) if augment_deg > 0 else inp
    aug = RandomTimeWarp(warp, name="time_warp")(aug) if warp > 0 else aug
    sig = AccelSignal(scale, name="signal")(aug)
    if features:  # window statistics: strong on activities/users, but device-specific on few gestures
        feats = AccelFeatures(n_windows, name="features")(sig)
        f = keras.layers.Normalization(mean=feature_stats[0], variance=feature_stats[1], name="feature_norm")(feats)
        f = keras.layers.Dense(2 * width, activation="relu", name="feat_dense1")(f)
        f = keras.layers.Dropout(dropout, name="feat_drop")(f)
        f = keras.layers.Dense(width, activation="relu", name="feat_dense2")(f)

    z = keras.layers.Normalization(axis=-1, mean=signal_stats[0], variance=signal_stats[1], name="signal_norm")(sig)
    parts = [f] if features else []
    if conv:  # local motion patterns, order-free (global average)
        s = keras.layers.GaussianNoise(0.05, name="signal_noise")(z)
        s = keras.layers.Conv1D(width // 2, 5, padding="same", activation="relu", name="conv1")(s)
        s = keras.layers.MaxPooling1D(2, name="pool1")(s)
        s = keras.layers.Conv1D(width, 5, padding="same", activation="relu", name="conv2")(s)
        parts.append(keras.layers.GlobalAveragePooling1D(name="gap")(s))
    if temporal:  # the course of the window in order (a square's 4 strokes vs a triangle's 3), ``temporal`` steps
        # of the conv features, or without conv of the signal itself: a low-pass that drops the sensor's own texture
        src = s if conv else z
        t = keras.layers.AveragePooling1D(max(1, int(src.shape[1]) // temporal), name="temporal_pool")(src)
        if conv:
            t = keras.layers.Conv1D(width // 4, 1, activation="relu", name="temporal_mix")(t)
        t = keras.layers.Dropout(dropout, name="temporal_drop")(keras.layers.Flatten(name="temporal_flat")(t))
        parts.append(keras.layers.Dense(width, activation="relu", name="temporal_dense")(t))
    h = keras.layers.Concatenate(name="merge")(parts) if len(parts) > 1 else parts[0]
    h = keras.layers.Dropout(dropout, name="head_drop")(h)
    h = keras.layers.Dense(width, activation="relu", name="head_dense")(h)
    out = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(h)
    return keras.Model(inp, out, name="edgelite_accel")


def feature_extractor(n: int, n_windows: int = 3) -> keras.Model:
    """The preprocessing alone, ``[B,n,3]`` → ``[B,F]`` (for parity tests and normalisation stats)."""
    inp = keras.Input((n, 3))
    return keras.Model(inp, AccelFeatures(n_windows)(AccelSignal()(inp)))


def end_to_end(model: keras.Model, n: int, mode: str = "stretch") -> keras.Model:
    """Raw ``[B,T,3]`` → probabilities ``[B,num_classes]``: :class:`AccelRawInput` + the window model.

    This is what ``model.keras`` holds; it reloads with ``keras.saving.load_model`` once
    ``edgelite.train`` is imported (the layers are registered under the ``edgelite`` package)."""
    inp = keras.Input((None, 3), name="accel")
    return keras.Model(inp, model(AccelRawInput(n, mode, name="raw_input")(inp)), name="edgelite_accel_end_to_end")


def serving_fn(model: keras.Model, n: int, mode: str = "stretch"):
    """Raw ``[T,3]`` (T ≥ 1) → probabilities ``[num_classes]``; what the ``.tflite`` signature runs.

    ``model``: the window model (``[B,n,3]``) or its :func:`end_to_end` form (``[B,None,3]``)."""
    if model.inputs[0].shape[1] is None:  # end-to-end: the raw-input layer is inside

        def serve(x):
            return model(x[None], training=False)[0]

        return serve

    def serve(x):
        with tf.name_scope(PREPROCESS_SCOPE):  # the quantizer keeps this scope float
            w = fit_length_tf(clean_tf(x), n, mode)[None]
        return model(w, training=False)[0]

    return serve
