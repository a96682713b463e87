"""Sign classifier: 1D depthwise-conv blocks + Transformer blocks over landmark-feature frames.

In the spirit of the Kaggle ISLR winners (conv blocks capture local motion, attention the whole
sign), kept small for CPUs (≤ 0.6 M parameters at ``base``). Inputs: ``features [B, L, F]`` float32
(from :func:`edgelite.runtime.signs.features.sign_features`) and ``mask [B, L]`` float32 (1 = real
frame, 0 = padding); output: class probabilities ``[B, num_classes]``. Padding never leaks into the
result: activations are re-masked after every block, attention ignores padded keys and the pooling
is a masked mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import keras
from keras import layers, ops

from edgelite.runtime.core.errors import EdgeliteError
from edgelite.runtime.layout import N_LANDMARKS

OPENSET_METHOD = "mahalanobis"  # edgelite.train.openset; held-out signer AUROC 0.97 vs 0.88 max-softmax


@dataclass(frozen=True)
class SignModelSize:
    dim: int
    stages: int  # each stage = `convs` conv blocks + 1 transformer block
    convs: int
    kernel: int
    heads: int
    dropout: float


SIZES = {
    "tiny": SignModelSize(dim=64, stages=1, convs=2, kernel=5, heads=4, dropout=0.2),
    "small": SignModelSize(dim=96, stages=2, convs=2, kernel=5, heads=4, dropout=0.25),
    "base": SignModelSize(dim=112, stages=2, convs=2, kernel=7, heads=4, dropout=0.3),
}


def model_size(name: str) -> SignModelSize:
    if name not in SIZES:
        raise EdgeliteError(f"--size {name!r} unknown; expected one of {', '.join(SIZES)}")
    return SIZES[name]


@keras.saving.register_keras_serializable(package="edgelite")
class ApplyMask(layers.Layer):
    """``x [B,L,D] * mask [B,L]``: zero the padded frames."""

    def call(self, x, mask_values):
        return x * ops.expand_dims(mask_values, -1)


@keras.saving.register_keras_serializable(package="edgelite")
class AttentionMask(layers.Layer):
    """``mask [B,L]`` → ``[B,L,L]`` (query valid × key valid)."""

    def call(self, m):
        return ops.expand_dims(m, 2) * ops.expand_dims(m, 1)


@keras.saving.register_keras_serializable(package="edgelite")
class MaskedMean(layers.Layer):
    """Mean over real frames: ``x [B,L,D], mask [B,L] → [B,D]`` (0 when no frame)."""

    def call(self, x, mask_values):
        m = ops.expand_dims(mask_values, -1)
        return ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)


def _conv_block(x, m, dim: int, kernel: int, drop: float, name: str):
    h = layers.Dense(2 * dim, activation="swish", name=f"{name}_expand")(x)
    h = ApplyMask(name=f"{name}_mask0")(h, m)
    h = layers.DepthwiseConv1D(kernel, padding="same", use_bias=False, name=f"{name}_dw")(h)
    h = layers.BatchNormalization(momentum=0.95, name=f"{name}_bn")(h)
    h = layers.Dense(dim, name=f"{name}_project")(h)
    h = layers.Dropout(drop, name=f"{name}_drop")(h)
    x = layers.Add(name=f"{name}_add")([x, h])
    return ApplyMask(name=f"{name}_mask1")(x, m)


def _transformer_block(x, m, att, dim: int, heads: int, drop: float, name: str):
    h = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln1")(x)
    h = layers.MultiHeadAttention(heads, dim // heads, dropout=0.1, name=f"{name}_mha")(h, h, attention_mask=att)
    h = layers.Dropout(drop, name=f"{name}_drop1")(h)
    x = layers.Add(name=f"{name}_add1")([x, h])
    h = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln2")(x)
    h = layers.Dense(2 * dim, activation="swish", name=f"{name}_ff1")(h)
    h = layers.Dense(dim, name=f"{name}_ff2")(h)
    h = layers.Dropout(drop, name=f"{name}_drop2")(h)
    x = layers.Add(name=f"{name}_add2")([x, h])
    return ApplyMask(name=f"{name}_mask")(x, m)


def build_sign_model(max_len: int, num_features: int, num_classes: int, size: str = "small") -> keras.Model:
    """Keras model ``[features [B,max_len,F], mask [B,max_len]] → probabilities [B,num_classes]``."""
    s = model_size(size)
    feats = keras.Input((max_len, num_features), name="features")
    m = keras.Input((max_len,), name="mask")
    x = layers.Dense(s.dim, use_bias=False, name="stem")(feats)
    x = layers.BatchNormalization(momentum=0.95, name="stem_bn")(x)
    x = ApplyMask(name="stem_mask")(x, m)
    att = AttentionMask(name="attention_mask")(m)
    for st in range(s.stages):
        for k in range(s.convs):
            x = _conv_block(x, m, s.dim, s.kernel, s.dropout, f"s{st}_conv{k}")
        x = _transformer_block(x, m, att, s.dim, s.heads, s.dropout, f"s{st}_tfm")
    x = layers.LayerNormalization(epsilon=1e-5, name="top_ln")(x)
    x = MaskedMean(name="pool")(x, m)
    x = layers.Dropout(s.dropout, name="top_drop")(x)
    out = layers.Dense(num_classes, activation="softmax", dtype="float32", name="classifier")(x)  # float32 under mixed precision
    return keras.Model([feats, m], out, name=f"sign_{size}")


def size_dict(size: str) -> dict[str, Any]:
    return {"size": size, **asdict(model_size(size))}


def end_to_end(model: keras.Model, preprocessing: dict[str, Any]) -> keras.Model:
    """Raw ``[B,T,543,3]`` → probabilities ``[B,num_classes]``: the registered ``SignPreprocess`` layer
    (:mod:`edgelite.train.signs.preprocess`) + the feature model. ``preprocessing``:
    ``SignPreprocessConfig.to_dict()``. This is what ``model.keras`` holds; it reloads with
    ``keras.saving.load_model`` once ``edgelite.train`` is imported. Sequences of one batch share T
    (pad with NaN frames: hand-less frames are dropped by the preprocessing)."""
    from edgelite.train.signs.preprocess import SignPreprocess

    inp = keras.Input((None, N_LANDMARKS, 3), name="inputs")
    feats, mask = SignPreprocess(preprocessing, name="sign_preprocess")(inp)
    return keras.Model(inp, model([feats, mask]), name=f"{model.name}_end_to_end")


def openset_embedding(model: keras.Model):
    """The open-set embedding ``[B, dim]``: masked mean over frames of the stem (linear input projection +
    BatchNorm). Measured on a held-out signer, Mahalanobis distances here separate unknown signs better
    than in the penultimate embedding (0.97 vs 0.88–0.90 AUROC)."""
    return MaskedMean(name="openset_pool")(model.get_layer("stem_mask").output, model.inputs[1])
