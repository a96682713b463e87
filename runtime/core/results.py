"""The one result type of every edgelite classifier (predict, accel streams, webcam signs) and its JSON shape.

JSON (one object per line in every CLI output)::

    {"input": "walk.csv", "label": "7", "score": 0.93,
     "top": [{"label": "7", "score": 0.93}, {"label": "3", "score": 0.05}, ...],
     "t_start": 0.0, "t_end": 5.0, "true": "7", "windows": 12, "device": "pixel"}

``input``, ``label``, ``score`` and ``top`` are always there; the others only when known
(``t_start``/``t_end`` in seconds, ``true`` = ground-truth label from a labels file / ``train.csv`` /
a folder-per-class layout, ``windows`` = how many windows an aggregated result averages,
``device`` = the streaming device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

ROUND = 6  # decimals of scores and times in JSON


@dataclass(frozen=True)
class Category:
    """One class of a result: ``index`` = output position, ``label`` = class name, ``score`` = probability in [0, 1]."""

    index: int
    label: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(float(self.score), ROUND)}


@dataclass
class ClassificationResult:
    """Best classes of one input (a window, a recording, a sign segment), best first.

    Attributes:
        categories: the top-k :class:`Category`, sorted by descending score.
        input: what was classified, as the user named it (file path, ``replay:PATH``, ``camera 0``).
        t_start, t_end: span in seconds (recording time for files, device time for streams,
            video/monotonic time for cameras); ``None`` for a whole input.
        true: the ground-truth label when the input carries one, else ``None``.
        windows: number of windows averaged into this result (aggregates only).
        device: the streaming device name (live streams only).
        rejected_label: set when the best score is below the caller's threshold: :attr:`label` is
            then this (e.g. ``"no sign"``) while ``categories`` still hold the model's best classes.
        extra: further JSON fields (e.g. ``recording`` for a file holding several recordings).
    """

    categories: list[Category]
    input: str | None = None
    t_start: float | None = None
    t_end: float | None = None
    true: str | None = None
    windows: int | None = None
    device: str | None = None
    rejected_label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def top1(self) -> Category:
        """The best category (a result always has at least one)."""
        return self.categories[0]

    @property
    def label(self) -> str:
        """The best category's label, or :attr:`rejected_label` when the result was rejected."""
        return self.rejected_label if self.rejected_label is not None else self.top1.label

    @property
    def score(self) -> float:
        """The best category's score (probability)."""
        return self.top1.score

    @classmethod
    def from_probabilities(cls, probs: np.ndarray, labels: Sequence[str], top_k: int = 3,
                           **extra: Any) -> "ClassificationResult":
        """Build a result from ``probs`` ``[C]`` (or ``[1,C]``) probabilities and their ``labels``.

        ``top_k`` (≥ 1) categories are kept; ties keep output order. Keyword arguments that name an
        attribute (``input``, ``t_start``, ``true``...) set it; any other goes to ``extra``.
        """
        p = np.asarray(probs, np.float64).reshape(-1)
        if p.size == 0:
            raise ValueError("from_probabilities: empty probability vector")
        order = np.argsort(-p, kind="stable")[: max(1, int(top_k))]
        cats = [Category(int(i), labels[i] if i < len(labels) else f"class_{i}", float(p[i])) for i in order]
        known = {k: extra.pop(k) for k in list(extra) if k in _FIELDS}
        return cls(categories=cats, **known, extra=extra)

    @classmethod
    def decided(cls, probs: np.ndarray, meta: dict[str, Any], top_k: int = 3, x: np.ndarray | None = None,
                closed_set: bool = False, ood: float | None = None, **extra: Any) -> "ClassificationResult":
        """Like :meth:`from_probabilities`, with the model's open-set decision applied.

        ``meta`` is the model metadata (``labels``, optional ``openset``: temperature, threshold, method
        fitted in training). With ``openset`` the categories hold calibrated probabilities and
        :attr:`label` is ``"unknown"`` (or ``"no sign"``) when
        :func:`edgelite.runtime.core.openset.decide` says so; ``x`` is the raw input (accel ``[T,3]``)
        for the input-range check; ``ood`` is the model's in-graph open-set score
        (:meth:`edgelite.runtime.core.model.EdgeModel.predict_scored`), used when the fitted method needs
        it. ``closed_set=True`` (or no ``openset``) = plain argmax.
        """
        labels = list(meta.get("labels") or [])
        if closed_set or not meta.get("openset"):
            return cls.from_probabilities(probs, labels, top_k, **extra)
        from edgelite.runtime.core.openset import decide

        label, _, cal = decide(probs, meta, x, ood)
        r = cls.from_probabilities(cal, labels, top_k, **extra)
        if label != r.top1.label:
            r.rejected_label = label
        return r

    def to_json(self) -> dict[str, Any]:
        """The one JSON object of edgelite outputs (see the module docstring); ``None`` fields are left out."""
        out: dict[str, Any] = {"input": self.input, "label": self.label,
                               "score": round(float(self.score), ROUND),
                               "top": [c.to_json() for c in self.categories]}
        for k in ("t_start", "t_end"):
            v = getattr(self, k)
            if v is not None:
                out[k] = round(float(v), ROUND)
        for k in ("true", "windows", "device"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        out.update({k: v for k, v in self.extra.items() if v is not None})
        return out


_FIELDS = ("input", "t_start", "t_end", "true", "windows", "device", "rejected_label")
