"""Open-set decisions: "unknown" is an answer (NumPy only).

A classifier's probabilities ``p [C]`` are calibrated by temperature scaling on log-probabilities
(``softmax(log p / T)``, the same as scaling the logits, since ``log p`` = logits + a constant), then
an out-of-distribution score is compared with a threshold:

- ``msp``: the largest calibrated probability (0..1);
- ``energy``: ``T · logsumexp(log p / T)``. A ``.tflite`` gives probabilities, not logits, so this
  "energy" is a function of ``p`` alone and orders inputs backwards when ``T > 1`` (a uniform ``p``
  scores higher than a confident one): measured for comparison only, never fitted into metadata.
- ``cosine`` / ``mahalanobis``: the model's own ``ood_score`` output (``openset`` signature of the
  ``.tflite``): the largest cosine similarity of an embedding to the class prototypes baked into the
  graph, or minus the smallest (squared, per-dimension) Mahalanobis distance to them
  (:mod:`edgelite.train.openset`; NumPy twins :func:`cosine_score`, :func:`mahalanobis_score`).
  Its metadata also holds ``fallback`` (the
  ``msp`` method and threshold), used when a caller has no score (a model variant without the
  ``openset`` signature, e.g. a quantized re-export). Decisions: label from the calibrated argmax,
  "unknown" when the score is below the threshold.

``T`` is fitted on out-of-fold (cross-validation) predictions by minimising the negative
log-likelihood; the threshold is the score below which ``target_reject`` of the correctly classified
out-of-fold samples fall. Both travel in the model metadata under ``openset``::

    {"method": "msp", "temperature": 1.7, "threshold": 0.42, "target_reject": 0.05,
     "reject_labels": {"-": "no sign", "other": "unknown"}, "fitted_on": "...", "n": 1234}

:func:`decide` is the one function predict, run accel, run webcam and the API apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from edgelite.runtime.core.errors import DataError, ModelError

UNKNOWN = "unknown"
NO_SIGN = "no sign"
METHODS = ("msp", "energy")
SCORE_METHODS = ("cosine", "mahalanobis")
SCORE_FLOOR = -1e9  # the graph's score of a non-finite embedding  # scores computed inside the model graph, passed to decide() as ``ood``
_EPS = 1e-12


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x [..., D]`` scaled to unit L2 norm (zero rows stay zero); NumPy twin of the graph's score."""
    x = np.asarray(x, np.float64)
    return x / np.sqrt(np.maximum((x * x).sum(axis=-1, keepdims=True), 1e-12))


def cosine_score(emb: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """``max_c cos(emb, prototypes_c)``: ``emb [N,D]``, unit-norm ``prototypes [C,D]`` → ``[N]`` (NumPy twin
    of the ``ood_score`` output; non-finite → :data:`SCORE_FLOOR`)."""
    s = (l2_normalize(emb) @ np.asarray(prototypes, np.float64).T).max(axis=-1)
    return np.where(np.isfinite(s), s, SCORE_FLOOR)


def mahalanobis_score(emb: np.ndarray, prototypes: np.ndarray, whiten: np.ndarray) -> np.ndarray:
    """``-min_c mean_d ((emb @ whiten) - prototypes_c)²``: ``emb [N,D]``, whitened class means
    ``prototypes [C,D]``, ``whiten [D,D]`` → ``[N]`` (NumPy twin of the ``ood_score`` output)."""
    z = np.asarray(emb, np.float64) @ np.asarray(whiten, np.float64)
    d = ((z[:, None, :] - np.asarray(prototypes, np.float64)[None]) ** 2).mean(axis=-1)
    s = -d.min(axis=-1)
    return np.where(np.isfinite(s), s, SCORE_FLOOR)


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` over the last axis; ``probs [..., C]`` → same shape, float64."""
    z = np.log(np.clip(np.asarray(probs, np.float64), _EPS, None)) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ood_score(probs: np.ndarray, method: str, temperature: float) -> np.ndarray:
    """Score ``[...]`` of ``probs [..., C]``: higher = more like a known class."""
    if method == "msp":
        return calibrate(probs, temperature).max(axis=-1)
    if method == "energy":
        t = float(temperature)
        z = np.log(np.clip(np.asarray(probs, np.float64), _EPS, None)) / t
        m = z.max(axis=-1)
        return t * (m + np.log(np.exp(z - m[..., None]).sum(axis=-1)))
    raise ModelError(f"open-set method {method!r}: expected one of {', '.join(METHODS)}")


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """Temperature in [0.05, 20] minimising the mean NLL of ``y [N]`` under ``calibrate(probs [N,C], T)``."""
    probs = np.asarray(probs, np.float64)
    y = np.asarray(y, np.int64)
    if len(y) == 0:
        raise DataError("cannot fit a temperature on 0 predictions")

    def nll(t: float) -> float:
        return float(-np.mean(np.log(np.clip(calibrate(probs, t)[np.arange(len(y)), y], _EPS, None))))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 61))
    i = int(np.argmin([nll(t) for t in grid]))
    lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, len(grid) - 1)])
    for _ in range(30):  # golden-section refinement in log T
        a, b = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if nll(np.exp(a)) < nll(np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def fit_openset(probs: np.ndarray, y: np.ndarray, labels: list[str], method: str = "msp", target_reject: float = 0.05,
                reject_labels: dict[str, str] | None = None, fitted_on: str = "") -> dict[str, Any]:
    """The ``openset`` metadata from out-of-fold ``probs [N,C]`` and true ``y [N]`` (known classes only)."""
    if method != "msp":
        raise DataError(f"open-set method {method!r}: only 'msp' can be fitted from probabilities")
    if not 0.0 <= target_reject < 1.0:
        raise DataError(f"target reject rate {target_reject}: expected a fraction in [0, 1)")
    probs = np.asarray(probs, np.float64)
    y = np.asarray(y, np.int64)
    t = fit_temperature(probs, y)
    s = ood_score(probs, method, t)
    correct = probs.argmax(1) == y
    ref = s[correct] if correct.any() else s
    thr = float(np.quantile(ref, target_reject)) if target_reject > 0 else float(ref.min())
    rl = {k: v for k, v in (reject_labels or {}).items() if k in labels}
    return {"method": method, "temperature": round(t, 6), "threshold": thr, "target_reject": float(target_reject),
            "reject_labels": rl, "fitted_on": fitted_on, "n": len(y),
            "oof_accuracy": float(correct.mean()) if len(y) else 0.0}


INPUT_STATS = ("mean_norm", "sd_norm")


def input_stats(x: np.ndarray) -> np.ndarray:
    """Accelerometer window ``x [T,3]`` m/s² → ``[mean |a|, sd |a|]`` over its finite rows (NaN if none)."""
    a = np.asarray(x, np.float64).reshape(len(x), -1)
    a = a[np.isfinite(a).all(axis=1)]
    if not len(a):
        return np.full(2, np.nan)
    n = np.linalg.norm(a, axis=1)
    return np.array([n.mean(), n.std()])


def fit_input_range(xs: list[np.ndarray], quantile: float = 0.001, margin: float = 0.5) -> dict[str, Any]:
    """Range of :func:`input_stats` over training windows: the ``quantile``/``1-quantile`` quantiles widened
    by ``margin`` × their span on each side. Inputs outside it (e.g. gravity-free streams fed to a
    gravity model) are answered "unknown" whatever the classifier says."""
    st = np.stack([input_stats(x) for x in xs])
    st = st[np.isfinite(st).all(axis=1)]
    lo, hi = np.quantile(st, quantile, axis=0), np.quantile(st, 1 - quantile, axis=0)
    span = hi - lo
    return {"stats": list(INPUT_STATS), "lo": (lo - margin * span).round(6).tolist(),
            "hi": (hi + margin * span).round(6).tolist(), "n": len(st)}


def in_input_range(x: np.ndarray, rng: dict[str, Any]) -> bool:
    """Whether ``x``'s :func:`input_stats` lie inside ``rng`` (from :func:`fit_input_range`)."""
    st = input_stats(x)
    return bool(np.isfinite(st).all() and np.all(st >= rng["lo"]) and np.all(st <= rng["hi"]))


def decision_score(p: np.ndarray, os_: dict[str, Any], ood: float | None) -> tuple[float, float]:
    """``(score, threshold)`` of the fitted method: the model's ``ood`` score for graph-score methods
    (``cosine``), else (or when ``ood`` is None: the ``fallback`` fit) a function of ``p``."""
    method = os_.get("method", "msp")
    t = float(os_.get("temperature", 1.0))
    if method in SCORE_METHODS:
        if ood is not None and np.isfinite(ood):
            return float(ood), float(os_.get("threshold", -np.inf))
        fb = os_.get("fallback") or {}
        if fb.get("method", "msp") in SCORE_METHODS:
            raise ModelError(f"open-set fallback method {fb.get('method')!r} needs a score too")
        return float(ood_score(p, fb.get("method", "msp"), t)), float(fb.get("threshold", -np.inf))
    return float(ood_score(p, method, t)), float(os_.get("threshold", -np.inf))


def decide(probs: np.ndarray, meta: dict[str, Any], x: np.ndarray | None = None,
           ood: float | None = None) -> tuple[str, float, np.ndarray]:
    """``(label or "unknown"/"no sign", score, calibrated probs [C])`` for one prediction ``probs [C]``.

    ``meta`` is the model metadata (``labels``, optional ``openset``). Without ``openset`` the top
    label is returned with its probability and the probabilities unchanged. ``x``: the raw input
    (accelerometer ``[T,3]``); when given and the metadata holds an ``input_range``, an input
    outside it is "unknown" too. ``ood``: the model's in-graph ``ood_score`` (from
    :meth:`EdgeModel.predict_scored`), used when the fitted method is a graph score (``cosine``);
    without it such a model falls back to its ``fallback`` (max-softmax) fit.
    """
    p = np.asarray(probs, np.float64).reshape(-1)
    labels = list(meta.get("labels") or [])
    if labels and len(labels) != len(p):
        raise ModelError(f"model gives {len(p)} scores but its metadata lists {len(labels)} labels")
    os_ = meta.get("openset")
    if not os_:
        i = int(p.argmax())
        return (labels[i] if labels else str(i)), float(p[i]), p
    t = float(os_.get("temperature", 1.0))
    cal = calibrate(p, t)
    i = int(cal.argmax())
    label = labels[i] if labels else str(i)
    score, threshold = decision_score(p, os_, ood)
    rl = os_.get("reject_labels") or {}
    if label in rl:
        return rl[label], score, cal
    if score < threshold:
        return UNKNOWN, score, cal
    if x is not None and os_.get("input_range") and not in_input_range(x, os_["input_range"]):
        return UNKNOWN, score, cal
    return label, score, cal
