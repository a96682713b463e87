"""Open-set score inside the graph: distance of an embedding to the class prototypes of the training data.

After training, each modality's open-set embedding of every training sample (``openset_embedding`` in
its ``model.py``) gives the constants of a score head (:func:`fit_head`); the exported ``.tflite``
gets a second signature, ``openset``, next to the untouched ``serving_default`` (so the Kaggle
contract ``inputs → outputs`` and every existing consumer stay as they were)::

    openset:  <same input>  →  {<probability output>: [C], "ood_score": [] }

Higher ``ood_score`` = more like a known class. Two scores, chosen per modality on held-out
signers/users (benchmarks/openset.py) because each beat the max-softmax there:

- ``cosine`` (accel): max cosine similarity of the penultimate embedding to the unit-norm class means;
- ``mahalanobis`` (signs): minus the smallest squared Mahalanobis distance (shared covariance, / D)
  of the masked mean of the stem (the linear input projection) to the class means.

The threshold is fitted on out-of-fold scores: each cross-validation fold model gets the head of its
own training part and its ``.tflite`` scores its held-out part (:func:`prototype_openset`). Builtin ops
only (MUL, SUB, SUM, MEAN, RSQRT, MAXIMUM, FULLY_CONNECTED/BATCH_MATMUL, REDUCE_MAX/MIN, SELECT_V2,
CONCATENATION, STRIDED_SLICE); a non-finite score becomes -1e9.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

OPENSET_SIGNATURE = "openset"  # = edgelite.runtime.core.model.OPENSET_SIGNATURE
SCORE_OUTPUT = "ood_score"
METHOD = "cosine"
SCORES = {"cosine": "max cosine similarity of the penultimate embedding to the class prototypes (unit-norm means "
                    "of the training embeddings), computed in the graph",
          "mahalanobis": "minus the smallest squared Mahalanobis distance (shared within-class covariance, divided "
                         "by the dimension) of the pooled input projection (stem) to the training class means, "
                         "computed in the graph"}
_EPS = 1e-12


def fit_head(emb: np.ndarray, y: np.ndarray, num_classes: int, method: str = METHOD,
             shrink: float = 1e-3) -> dict[str, Any]:
    """The score's constants from training embeddings ``emb [N, D]`` and labels ``y [N]``.

    ``cosine``: ``prototypes`` = unit-norm class means of the unit-normalised embeddings (a class
    without samples gets a zero row, which no input is close to). ``mahalanobis``: ``whiten [D,D]`` =
    inverse square root of the shared within-class covariance (shrunk by ``shrink`` × its mean
    variance towards the identity) and ``prototypes`` = the whitened class means."""
    from edgelite.runtime.core.openset import l2_normalize

    e = np.asarray(emb, np.float64)
    y = np.asarray(y)
    if method == "cosine":
        u = l2_normalize(e)
        out = np.zeros((num_classes, e.shape[1]))
        for c in range(num_classes):
            if (y == c).any():
                out[c] = u[y == c].mean(axis=0)
        return {"method": method, "prototypes": l2_normalize(out).astype(np.float32), "whiten": None}
    if method != "mahalanobis":
        raise ValueError(f"open-set score {method!r}: expected cosine or mahalanobis")
    present = [c for c in range(num_classes) if (y == c).any()]
    mu = np.zeros((num_classes, e.shape[1]))
    for c in present:
        mu[c] = e[y == c].mean(axis=0)
    r = e - mu[y]
    cov = r.T @ r / max(len(e) - len(present), 1)
    d = cov.shape[0]
    cov = (1 - shrink) * cov + shrink * max(np.trace(cov) / d, 1e-12) * np.eye(d)
    w, v = np.linalg.eigh(cov)
    whiten = v @ np.diag(1.0 / np.sqrt(np.maximum(w, 1e-12 * max(w.max(), 1e-12)))) @ v.T
    protos = mu @ whiten
    protos[[c for c in range(num_classes) if c not in present]] = 1e6  # unreachable: far from any input
    return {"method": method, "prototypes": protos.astype(np.float32), "whiten": whiten.astype(np.float32)}


def embeddings(model: Any, embedding: Callable[[Any], Any], inputs: Any, batch_size: int = 64) -> np.ndarray:
    """Open-set embeddings ``[N, D]`` of ``inputs`` (what the model takes) at inference; ``embedding(model)``
    gives the symbolic embedding tensor (the modality's ``openset_embedding``)."""
    import keras

    sub = keras.Model(model.inputs, embedding(model))
    return np.asarray(sub.predict(inputs, batch_size=batch_size, verbose=0))


def scored_model(model: Any, embedding: Callable[[Any], Any], head: dict[str, Any]) -> Any:
    """``inputs → [B, C+1]``: the model's probabilities with the open-set score appended as last column.

    One output, so the modality's usual serving function wraps it unchanged; :func:`split_serve`
    turns it into the ``openset`` signature's two outputs."""
    import keras

    from edgelite.train.openset_layer import PrototypeScore

    score = PrototypeScore(head["prototypes"], head["method"], head.get("whiten"), name="openset_score")(embedding(model))
    out = keras.layers.Concatenate(axis=-1, name="probabilities_and_score")([model.output, score])
    return keras.Model(model.inputs, out, name=f"{model.name}_scored")


def split_serve(serve: Callable[[Any], Any], num_classes: int, prob_name: str) -> Callable[[Any], dict]:
    """Serving function of the ``openset`` signature: ``x → {prob_name: [C], "ood_score": []}``."""

    def serve_open(x):
        v = serve(x)
        return {prob_name: v[:num_classes], SCORE_OUTPUT: v[num_classes]}

    return serve_open


def prototype_openset(base: dict[str, Any] | None, oof_scores: np.ndarray, oof_correct: np.ndarray,
                      target_reject: float, prob_name: str, method: str = METHOD) -> dict[str, Any] | None:
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
    out = {**base, "method": method, "threshold": round(thr, 6), "signature": OPENSET_SIGNATURE,
           "score_output": SCORE_OUTPUT, "probabilities_output": prob_name, "fallback": fallback,
           "score": SCORES[method], "fitted_on": base.get("fitted_on", "") + " (score threshold: out-of-fold "
           "scores of each fold's .tflite, head fitted on that fold's training part)"}
    return out


def tflite_scored(path: str, xs: list[np.ndarray], empty_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities [N,C], ood_score [N])`` of a ``.tflite`` with the ``openset`` signature (LiteRT).

    An input with no finite value (nothing detected in any frame) is refused by the runtime; it is not run: its
    row is one-hot ``empty_class`` (the "no sign" class, when the model has one) or uniform, its score NaN."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(path, num_threads=1)
    c = len(m.labels)
    empty = np.full(c, 1.0 / c, np.float32) if empty_class is None else np.eye(c, dtype=np.float32)[empty_class]
    out = [m.predict_scored(x) if np.isfinite(x).any() else (empty, None) for x in xs]
    if not out:
        return np.zeros((0, c), np.float32), np.zeros(0)
    return np.stack([p for p, _ in out]), np.array([np.nan if s is None else s for _, s in out])


def for_shipped(openset: dict[str, Any] | None, members: int) -> dict[str, Any] | None:
    """The ``openset`` metadata of the shipped model: as fitted for one model; for an ensemble of ``members`` > 1
    (no single embedding to measure a distance in) its max-softmax ``fallback`` fit, said so in ``note``."""
    if not openset or members <= 1 or "fallback" not in openset:
        return openset
    drop = ("signature", "score_output", "probabilities_output", "fallback", "score")
    return {**{k: v for k, v in openset.items() if k not in drop}, **openset["fallback"],
            "note": f"ensemble of {members} models: no in-graph distance score; the max-softmax fit applies"}
