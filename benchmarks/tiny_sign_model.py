"""A tiny sign model with the real signature (``inputs`` [T,543,3] float32, NaN = missing → ``outputs``
probabilities), for tests and benchmarks before a trained sign model exists. Needs TensorFlow.

It averages the hands' x/y over time (NaN → 0) and applies one softmax Dense layer with fixed
weights, so its outputs are deterministic; it is *not* a useful classifier.

    python benchmarks/tiny_sign_model.py /tmp/tiny_signs.tflite
"""

from __future__ import annotations

import os
import sys


def make_tiny_sign_model(path: str, labels: tuple[str, ...] = ("hello", "thankyou"), seed: int = 0,
                         landmark_set: str = "hands") -> str:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np
    import tensorflow as tf

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.core.metadata import make_metadata

    model = keras.Sequential([keras.Input((84,)), keras.layers.Dense(len(labels), activation="softmax")])
    rng = np.random.default_rng(seed)
    w, b = model.layers[0].get_weights()
    model.layers[0].set_weights([rng.normal(0, 2.0, w.shape).astype("float32"), np.zeros_like(b)])

    def serve(x):
        x = tf.where(tf.math.is_nan(x), tf.zeros_like(x), x)
        hands = tf.concat([x[:, 468:489, :2], x[:, 522:543, :2]], axis=1)
        feat = tf.reshape(tf.reduce_mean(hands, axis=0), [1, 84])
        return model(feat)[0]

    meta = make_metadata(
        "signs", list(labels),
        {"name": "inputs", "dtype": "float32", "shape": [-1, 543, 3], "layout": "mediapipe-holistic-543",
         "landmark_set": landmark_set},
        {"name": "outputs", "kind": "probabilities"},
        {"note": "tiny test model: mean hand x/y → softmax"},
    )
    export_tflite(model, serve, "inputs", [None, 543, 3], "outputs", meta, path)
    return path


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(make_tiny_sign_model(sys.argv[1] if len(sys.argv) > 1 else "/tmp/edgelite_webcam/tiny_signs.tflite"))
