"""Keras layer of the in-graph open-set score (see :mod:`edgelite.train.openset`)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

_FLOOR = -1e9  # score of a non-finite embedding (far below every threshold)


@keras.saving.register_keras_serializable(package="edgelite")
class PrototypeScore(keras.layers.Layer):
    """``emb [B, D]`` → ``[B, 1]`` open-set score (higher = more like a known class), constants baked in.

    ``method="cosine"``: ``prototypes [C, D]`` unit-norm; score = max cosine similarity (a zero
    embedding scores 0). ``method="mahalanobis"``: ``prototypes [C, D]`` = class means already
    whitened, ``whiten [D, D]``; score = ``-min_c mean_d ((e·W) - ν_c)²`` (the smallest squared
    Mahalanobis distance under the shared covariance, divided by D). A non-finite score becomes -1e9."""

    def __init__(self, prototypes, method: str = "cosine", whiten=None, **kwargs):
        super().__init__(**kwargs)
        self.prototypes = np.asarray(prototypes, np.float32)
        self.method = method
        self.whiten = None if whiten is None else np.asarray(whiten, np.float32)

    def get_config(self):
        return {**super().get_config(), "prototypes": self.prototypes.tolist(), "method": self.method,
                "whiten": None if self.whiten is None else self.whiten.tolist()}

    def call(self, emb):
        emb = tf.cast(emb, tf.float32)
        if self.method == "mahalanobis":
            z = tf.matmul(emb, tf.constant(self.whiten))
            d = tf.reduce_mean(tf.square(z[:, None, :] - tf.constant(self.prototypes)[None]), axis=-1)
            s = -tf.reduce_min(d, axis=-1, keepdims=True)
        else:
            inv = tf.math.rsqrt(tf.maximum(tf.reduce_sum(emb * emb, axis=-1, keepdims=True), 1e-12))
            cos = tf.matmul(emb * inv, tf.constant(self.prototypes.T))
            s = tf.reduce_max(cos, axis=-1, keepdims=True)
        return tf.where(tf.math.is_finite(s), s, tf.fill(tf.shape(s), _FLOOR))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)
