"""Open-set score inside the graph: cosine similarity to class prototypes in the penultimate embedding.

After training, the embedding ``e [D]`` (the input of the classifier's last Dense layer) of every
training sample is L2-normalised and averaged per class; the renormalised means are the class
prototypes ``P [C, D]``. The exported ``.tflite`` gets a second signature, ``openset``, next to the
untouched ``serving_default`` (so the Kaggle contract ``inputs → outputs`` and every existing
consumer stay as they were)::

    openset:  <same input>  →  {<probability output>: [C], "ood_score": [] }

``ood_score = max_c cos(e, P_c)`` in [-1, 1] (higher = more like a known class; a non-finite value
becomes -1). Measured on held-out signers/users (benchmarks/openset.py) it separates unknown signs and
gestures far better than the max-softmax. The threshold is fitted on out-of-fold scores: each
cross-validation fold model gets the prototypes of its own training part and its ``.tflite`` scores
its held-out part (see :func:`fit_prototype_threshold`). Builtin ops only (MUL, SUM, RSQRT, MAXIMUM,
FULLY_CONNECTED, REDUCE_MAX, SELECT_V2, CONCATENATION, STRIDED_SLICE).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

OPENSET_SIGNATURE = "openset"  # = edgelite.runtime.core.model.OPENSET_SIGNATURE
SCORE_OUTPUT = "ood_score"
METHOD = "cosine"
_EPS = 1e-12


def fit_prototypes(emb: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Unit-norm class prototypes ``[C, D]`` float32 from embeddings ``emb [N, D]`` and labels ``y [N]``.

    Each prototype is the renormalised mean of the class's unit-normalised embeddings; a class
    without samples (or with a zero mean) gets a zero row, which no input is close to."""
    from edgelite.runtime.core.openset import l2_normalize

    e = l2_normalize(np.asarray(emb, np.float64))
    out = np.zeros((num_classes, e.shape[1]))
    for c in range(num_classes):
        if (y == c).any():
            out[c] = e[y == c].mean(axis=0)
    return l2_normalize(out).astype(np.float32)


def embedding_model(model: Any, classifier_layer: str) -> Any:
    """``inputs → [probabilities, embedding]``: the model plus the input of its last Dense layer."""
    import keras

    return keras.Model(model.inputs, [model.output, model.get_layer(classifier_layer).input])


def embeddings(model: Any, classifier_layer: str, inputs: Any, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities [N,C], embeddings [N,D])`` of ``inputs`` (what the model takes) at inference."""
    p, e = embedding_model(model, classifier_layer).predict(inputs, batch_size=batch_size, verbose=0)
    return np.asarray(p), np.asarray(e)


def scored_model(model: Any, classifier_layer: str, prototypes: np.ndarray) -> Any:
    """``inputs → [B, C+1]``: the model's probabilities with the prototype score appended as last column.

    One output, so the modality's usual serving function wraps it unchanged; :func:`split_serve`
    turns it into the ``openset`` signature's two outputs."""
    import keras

    from edgelite.train.openset_layer import PrototypeScore

    emb = model.get_layer(classifier_layer).input
    score = PrototypeScore(prototypes, name="prototype_score")(emb)
    out = keras.layers.Concatenate(axis=-1, name="probabilities_and_score")([model.output, score])
    return keras.Model(model.inputs, out, name=f"{model.name}_scored")


def split_serve(serve: Callable[[Any], Any], num_classes: int, prob_name: str) -> Callable[[Any], dict]:
    """Serving function of the ``openset`` signature: ``x → {prob_name: [C], "ood_score": []}``."""

    def serve_open(x):
        v = serve(x)
        return {prob_name: v[:num_classes], SCORE_OUTPUT: v[num_classes]}

    return serve_open


def prototype_openset(base: dict[str, Any] | None, oof_scores: np.ndarray, oof_correct: np.ndarray,
                      target_reject: float, prob_name: str) -> dict[str, Any] | None:
    """The ``openset`` metadata: the prototype score's threshold (``target_reject`` quantile of the
    out-of-fold scores of correctly classified known samples), the max-softmax fit ``base`` kept under
    ``fallback`` for runtimes or variants without the ``openset`` signature (e.g. quantized re-exports)."""
    if base is None:
        return None
    s = np.asarray(oof_scores, np.float64)
    ok = np.isfinite(s)
    ref = s[ok & np.asarray(oof_correct, bool)]
    if len(ref) < 10:
        return base
    thr = float(np.quantile(ref, target_reject)) if target_reject > 0 else float(ref.min())
    fallback = {k: base[k] for k in ("method", "threshold") if k in base}
    out = {**base, "method": METHOD, "threshold": round(thr, 6), "signature": OPENSET_SIGNATURE,
           "score_output": SCORE_OUTPUT, "probabilities_output": prob_name, "fallback": fallback,
           "score": "max cosine similarity of the penultimate embedding to the class prototypes "
                    "(means of the training embeddings), computed in the graph"}
    return out


def tflite_scored(path: str, xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities [N,C], ood_score [N])`` of a ``.tflite`` with the ``openset`` signature (LiteRT)."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    out = [m.predict_scored(x) for x in xs]
    if not out:
        return np.zeros((0, len(m.labels)), np.float32), np.zeros(0)
    return np.stack([p for p, _ in out]), np.array([np.nan if s is None else s for _, s in out])
