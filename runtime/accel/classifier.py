"""Accelerometer classification in the MediaPipe Tasks style: options → classifier → typed results.

>>> from edgelite import AccelClassifier                                   # doctest: +SKIP
>>> with AccelClassifier.create_from_model_path("wand.tflite") as clf:     # doctest: +SKIP
...     print(clf.classify(x).label)               # x: [T,3] float32 m/s² at the model's rate
...     for r in clf.classify_recording("walk.csv"):
...         print(r.t_start, r.t_end, r.label, r.score)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.core.model import EdgeModel
from edgelite.runtime.core.results import ClassificationResult


@dataclass
class AccelClassifierOptions:
    """How to open and run an accel model.

    Attributes:
        model_path: an edgelite accel ``.tflite`` (metadata with ``sample_rate_hz`` and ``window_s``).
        num_threads: interpreter threads (``None`` = the runtime's default).
        top_k: categories kept per result (≥ 1).
        stride_s: seconds between window starts when a long recording is cut into windows
            (``None`` = one window length: windows do not overlap).
        backend: ``"auto"``, ``"litert"`` (ai-edge-litert) or ``"tflite_runtime"``.
        closed_set: never answer ``"unknown"``: ignore the model's open-set metadata (plain argmax).
    """

    model_path: str | os.PathLike
    num_threads: int | None = None
    top_k: int = 3
    stride_s: float | None = None
    backend: str = "auto"
    closed_set: bool = False


class AccelClassifier:
    """Classifies ``[T,3]`` accelerometer windows and whole recordings with an accel ``.tflite``."""

    def __init__(self, options: AccelClassifierOptions, model: EdgeModel) -> None:
        self.options = options
        self.model = model
        inp = model.metadata.get("input") or {}
        if model.metadata.get("task") != "accel":
            raise ModelError(f"{model.path}: metadata task is {model.metadata.get('task')!r}; expected 'accel'")
        self.rate_hz = _positive(inp.get("sample_rate_hz"), model.path, "input.sample_rate_hz")
        win = inp.get("window_s")
        if win is None and inp.get("window_samples") is not None:
            win = float(inp["window_samples"]) / self.rate_hz
        self.window_s = _positive(win, model.path, "input.window_s")
        if options.top_k < 1:
            raise ValueError(f"top_k must be ≥ 1, got {options.top_k}")
        if options.stride_s is not None and not options.stride_s > 0:
            raise ValueError(f"stride_s must be > 0 seconds, got {options.stride_s}")

    @classmethod
    def create_from_options(cls, options: AccelClassifierOptions) -> "AccelClassifier":
        """Open the model named by ``options``; raises :class:`ModelError` if it is not an accel model."""
        model = EdgeModel.open(options.model_path, num_threads=options.num_threads, backend=options.backend)
        try:
            return cls(options, model)
        except BaseException:
            model.close()
            raise

    @classmethod
    def create_from_model_path(cls, model_path: str | os.PathLike) -> "AccelClassifier":
        """Open ``model_path`` with default options."""
        return cls.create_from_options(AccelClassifierOptions(model_path=model_path))

    @property
    def labels(self) -> list[str]:
        """Class names, index = output position."""
        return self.model.labels

    @property
    def metadata(self) -> dict[str, Any]:
        """The model's edgelite metadata (see :mod:`edgelite.runtime.core.metadata`)."""
        return self.model.metadata

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """``x`` ``[T,3]`` m/s² at :attr:`rate_hz` → probabilities ``[C]`` float32 (validated input)."""
        return self.scored(x)[0]

    def scored(self, x: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(probabilities [C], ood_score)``: the model's in-graph open-set score too when it has one
        (else ``None``; also with ``closed_set``, which never uses it)."""
        if self.model.has_ood_score and not self.options.closed_set:
            p, s = self.model.predict_scored(x)
        else:
            p, s = self.model.predict(x), None
        p = np.asarray(p, np.float32).reshape(-1)
        if not np.isfinite(p).all():
            raise ModelError(f"{self.model.path}: the model returned NaN/inf probabilities")
        return p, s

    def classify(self, x: np.ndarray, **extra: Any) -> ClassificationResult:
        """Classify one window ``x`` ``[T,3]`` float32 in m/s² sampled at the model's rate (``T`` ≥ 2).

        ``extra`` fields (``input``, ``t_start``...) are copied into the result.
        Raises :class:`DataError` for a wrong shape, a non-numeric dtype, T < 2 or all-NaN input.
        """
        p, s = self.scored(x)
        return self._result(p, x, ood=s, **extra)

    def _result(self, probs: np.ndarray, x: np.ndarray | None, ood: float | None = None,
                **extra: Any) -> ClassificationResult:
        """Probabilities → result with the model's open-set decision ("unknown") unless ``closed_set``."""
        return ClassificationResult.decided(probs, self.metadata, self.options.top_k, x=x, ood=ood,
                                            closed_set=self.options.closed_set, **extra)

    def classify_recording(self, path: str | os.PathLike, fmt: str | None = None, aggregate: bool = False,
                           labels_csv: str | None = None) -> Iterator[ClassificationResult]:
        """Classify every recording of a file or folder in any supported format.

        Each recording is resampled to the model's rate and cut by the training rule
        (:func:`edgelite.runtime.accel.windows.recording_samples`): one result per window with
        ``t_start``/``t_end`` in seconds from the recording's start, or with ``aggregate=True`` one
        result per recording (mean probabilities, ``windows`` = how many). ``true`` is set only when
        the reader knows the class (labels file, class folders). A recording with fewer than two
        samples is skipped with a warning.
        """
        from edgelite.runtime.accel.io import read_recordings

        recs = read_recordings(path, fmt=fmt, labels_csv=labels_csv)
        per_source: dict[str, int] = {}
        for r in recs:
            per_source[r.source] = per_source.get(r.source, 0) + 1
        for rec in recs:
            yield from self._classify_one(rec, aggregate, per_source[rec.source] > 1)

    def _classify_one(self, rec: Any, aggregate: bool, name_it: bool) -> Iterator[ClassificationResult]:
        from edgelite.runtime.accel.windows import recording_samples

        stride = self.options.stride_s or self.window_s
        samples = recording_samples(rec.data, rec.t, rec.rate_hz, self.rate_hz, self.window_s, stride)
        if not samples:
            warnings.warn(f"{rec.source}: fewer than 2 samples, skipped", stacklevel=3)
            return
        scored = [self.scored(x) for x, _, _ in samples]
        probs = [p for p, _ in scored]
        oods = [s for _, s in scored]
        info = {"input": _input_path(rec.source), "true": rec.true_label, "recording": rec.name if name_it else None}
        if aggregate or len(samples) == 1:
            ood = None if None in oods else float(np.mean(oods))  # averaged like the probabilities
            yield self._result(np.mean(probs, axis=0), samples[0][0] if len(samples) == 1 else None, ood=ood,
                               windows=len(probs) if len(probs) > 1 else None, **info)
            return
        for (x, s0, s1), p, s in zip(samples, probs, oods):
            yield self._result(p, x, ood=s, t_start=s0, t_end=s1, **info)

    def close(self) -> None:
        """Release the interpreter; the classifier cannot be used afterwards."""
        self.model.close()

    def __enter__(self) -> "AccelClassifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _input_path(source: str) -> str:
    """The file a recording came from: ``walk.zip:Accelerometer.csv`` → ``walk.zip``."""
    head, sep, _ = source.rpartition(":")
    return head if sep and os.path.isfile(head) else source


def _positive(v: Any, path: str, field: str) -> float:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
        raise ModelError(f"{path}: metadata {field} must be a positive number, got {v!r}")
    return float(v)


__all__ = ["AccelClassifier", "AccelClassifierOptions"]
