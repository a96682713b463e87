"""Keras layer of the in-graph open-set score (see :mod:`edgelite.train.openset`)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="edgelite")
class PrototypeScore(keras.layers.Layer):
    """``emb [B, D]`` → ``[B, 1]``: max cosine similarity to the unit-norm ``prototypes [C, D]`` (constants).

    NaN-safe: a zero embedding has similarity 0 to every prototype; a non-finite score becomes -1."""

    def __init__(self, prototypes, **kwargs):
        super().__init__(**kwargs)
        self.prototypes = np.asarray(prototypes, np.float32)

    def get_config(self):
        return {**super().get_config(), "prototypes": self.prototypes.tolist()}

    def call(self, emb):
        emb = tf.cast(emb, tf.float32)
        inv = tf.math.rsqrt(tf.maximum(tf.reduce_sum(emb * emb, axis=-1, keepdims=True), 1e-12))
        cos = tf.matmul(emb * inv, tf.constant(self.prototypes.T))
        s = tf.reduce_max(cos, axis=-1, keepdims=True)
        return tf.where(tf.math.is_finite(s), s, -tf.ones_like(s))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)
