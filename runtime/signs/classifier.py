"""Sign models in the MediaPipe Tasks style: :class:`SignClassifier` (``[T,543,3]`` → probabilities) and
:class:`SignRecognizer` (video frames or landmark frames → recognised signs with their times).

>>> opts = SignRecognizerOptions(model_path="words.tflite", hands="litert", score_threshold=0.6)  # doctest: +SKIP
>>> with SignRecognizer.create_from_options(opts) as rec:                                       # doctest: +SKIP
...     for t_ms, rgb in frames:                      # rgb: [H,W,3] uint8, t_ms: increasing milliseconds
...         for r in rec.recognize_for_video(rgb, t_ms):
...             print(r.label, r.t_start, r.t_end)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError, ModelError
from edgelite.runtime.core.model import _as_numeric
from edgelite.runtime.core.results import ClassificationResult
from edgelite.runtime.layout import N_LANDMARKS
from edgelite.runtime.signs.recognize import Recognition, Recognizer, RecognizerOptions, SegmenterOptions


class SignClassifier:
    """A sign model with the ``[T,543,3] → probabilities`` signature. Raises :class:`ModelError` otherwise."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None) -> None:
        from edgelite.runtime.core.model import EdgeModel

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ModelError(f"{self.path}: sign model file not found")
        self.model = EdgeModel.open(self.path, num_threads=num_threads)
        sig = self.model.info.signatures["serving_default"]
        if len(sig.inputs) != 1 or len(sig.outputs) != 1:
            raise ModelError(f"{self.path}: a sign model needs one input [T,543,3] and one output; "
                             f"signature has inputs {list(sig.inputs)} and outputs {list(sig.outputs)}")
        (self.input_name, tin), = sig.inputs.items()
        (self.output_name, tout), = sig.outputs.items()
        shape = list(tin.shape_signature or tin.shape)
        if len(shape) != 3 or shape[1:] != [N_LANDMARKS, 3] or tin.dtype.lower() not in ("float32", "float"):
            raise ModelError(f"{self.path}: input {self.input_name!r} is {tin.dtype} {shape}; expected float32 "
                             f"[T,543,3] (MediaPipe Holistic landmarks) — is this a sign model?")
        self.fixed_t = shape[0] if shape[0] > 0 else None
        oshape = list(tout.shape_signature or tout.shape)
        if not (len(oshape) == 1 or (len(oshape) == 2 and oshape[0] in (1, -1))):
            raise ModelError(f"{self.path}: output {self.output_name!r} has shape {oshape}; expected [C] or [1,C] probabilities")
        meta = self.model.metadata
        self.metadata = meta
        n_out = oshape[-1]
        labels = list(meta.get("labels", []))
        if labels and n_out > 0 and len(labels) != n_out:
            raise ModelError(f"{self.path}: metadata has {len(labels)} labels but the output has {n_out} classes")
        self.labels = labels or [f"class_{i}" for i in range(max(n_out, 0))]
        if meta.get("task") not in (None, "signs"):
            raise ModelError(f"{self.path}: metadata task is {meta.get('task')!r}; expected 'signs'")
        self.kind = (meta.get("output") or {}).get("kind", "probabilities")
        inp = meta.get("input") or {}
        self.landmark_set = inp.get("landmark_set")

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """``[T,543,3]`` float32 landmarks (normalised image units, NaN = missing) → probabilities ``[C]`` float32.

        Raises :class:`DataError` for another shape, T = 0, a non-numeric dtype or all-NaN frames.
        """
        return self._probabilities(np.asarray(self.model(**{self.input_name: self._frames(frames)})[self.output_name]))

    def scored(self, frames: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(probabilities [C], ood_score)`` in one pass: the in-graph open-set score of a model with the
        ``openset`` signature (:meth:`EdgeModel.predict_scored`), else ``(self(frames), None)``."""
        if not self.model.has_ood_score:
            return self(frames), None
        p, s = self.model.predict_scored(self._frames(frames))
        return self._probabilities(p), s

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        """Checked ``[T,543,3]`` float32 frames, resampled to a fixed-length model's T."""
        x = _as_numeric(frames, f"{self.path}: frames").astype(np.float32, copy=False)
        if x.ndim != 3 or x.shape[1:] != (N_LANDMARKS, 3) or x.shape[0] == 0:
            raise DataError(f"{self.path}: expected frames of shape [T,543,3] with T >= 1, got {list(x.shape)}")
        if self.fixed_t is not None and x.shape[0] != self.fixed_t:
            idx = np.round(np.linspace(0, x.shape[0] - 1, self.fixed_t)).astype(int)
            x = x[idx]
        return x

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        out = np.asarray(raw, np.float32).reshape(-1)
        if self.kind == "logits":
            e = np.exp(out - out.max())
            out = e / e.sum()
        if len(self.labels) != out.size:
            self.labels = [f"class_{i}" for i in range(out.size)]
        return out

    def close(self) -> None:
        """Release the interpreter."""
        self.model.close()

    def __enter__(self) -> "SignClassifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SignRecognizerOptions:
    """How to open and run a sign model on video or landmark streams.

    Attributes:
        model_path: an edgelite sign ``.tflite`` (``[T,543,3]`` → probabilities).
        hands: hand tracking backend for :meth:`SignRecognizer.recognize_for_video`:
            ``"litert"`` (no mediapipe needed) or ``"mediapipe"``.
        hand_model_path: ``hand_landmarker.task`` (``None``: the user cache or ``$EDGELITE_SHARED/models``).
        num_hands: hands tracked (1 or 2).
        mirrored: frames are a selfie (horizontally flipped) view; landmarks are flipped back.
        score_threshold: minimum probability to accept a sign; below it the result is ``"no sign"``.
        top_k: categories kept per result.
        mode: ``"segment"`` (hands appear and move → rest or leave) or ``"sliding"`` (a window of
            ``window`` frames every ``stride`` frames, probabilities smoothed with factor ``smoothing``).
        segmenter: segment detection parameters (rest/min/max frames, motion threshold).
        num_threads: LiteRT threads for the sign model and the hand tracker.
        allow_download: fetch the hand model from MediaPipe's address if no local copy exists.
        closed_set: never answer ``"unknown"``: ignore the model's open-set metadata (plain argmax).
    """

    model_path: str | os.PathLike
    hands: str = "litert"
    hand_model_path: str | os.PathLike | None = None
    num_hands: int = 2
    mirrored: bool = False
    score_threshold: float = 0.5
    top_k: int = 3
    mode: str = "segment"
    window: int = 32
    stride: int = 8
    smoothing: float = 0.5
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    num_threads: int | None = None
    allow_download: bool = False
    closed_set: bool = False


class SignRecognizer:
    """Recognises signs in video frames (hand tracking included) or in ``[543,3]`` landmark frames."""

    def __init__(self, options: SignRecognizerOptions, classifier: SignClassifier) -> None:
        if options.mode not in ("segment", "sliding"):
            raise ValueError(f"mode {options.mode!r}: expected 'segment' or 'sliding'")
        if options.hands not in ("litert", "mediapipe"):
            raise ValueError(f"hands {options.hands!r}: expected 'litert' or 'mediapipe'")
        self.options = options
        self.classifier = classifier
        self.recognizer = Recognizer(classifier, classifier.labels, RecognizerOptions(
            mode=options.mode, threshold=options.score_threshold, top_k=options.top_k, window=options.window,
            stride=options.stride, smoothing=options.smoothing, segmenter=options.segmenter),
            metadata=None if options.closed_set else classifier.metadata)
        self._tracker: Any = None
        self._last_ms: int | None = None

    @classmethod
    def create_from_options(cls, options: SignRecognizerOptions) -> "SignRecognizer":
        """Open the sign model (the hand tracker opens on the first video frame)."""
        return cls(options, SignClassifier(options.model_path, num_threads=options.num_threads))

    @classmethod
    def create_from_model_path(cls, model_path: str | os.PathLike) -> "SignRecognizer":
        """Open ``model_path`` with default options (segment mode, LiteRT hands, threshold 0.5)."""
        return cls.create_from_options(SignRecognizerOptions(model_path=model_path))

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    @property
    def metadata(self) -> dict[str, Any]:
        return self.classifier.metadata

    def classify(self, frames: np.ndarray, **extra: Any) -> ClassificationResult:
        """Classify one sign: ``frames`` ``[T,543,3]`` float32 (NaN = missing, T ≥ 1).

        ``score_threshold`` is not applied (see :meth:`recognize_landmarks` for that). ``extra`` fields
        (``input``, ``true``...) go into the result.
        """
        p, s = (self.classifier(frames), None) if self.options.closed_set else self.classifier.scored(frames)
        return ClassificationResult.decided(p, self.metadata, self.options.top_k, ood=s,
                                            closed_set=self.options.closed_set, **extra)

    def recognize_landmarks(self, frame: np.ndarray, t_s: float) -> list[Recognition]:
        """Add one ``[543,3]`` landmark frame at time ``t_s`` (seconds, increasing); return the signs it completes."""
        f = _as_numeric(frame, "landmark frame").astype(np.float32)
        if f.shape != (N_LANDMARKS, 3):
            raise DataError(f"landmark frame: expected shape [543,3], got {list(f.shape)}")
        return self.recognizer.update(f, float(t_s))

    def recognize_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[Recognition]:
        """Track hands in one video frame and return the signs it completes.

        ``rgb``: ``[H,W,3]`` uint8 RGB; ``timestamp_ms``: the frame's time in milliseconds, strictly increasing.
        """
        ts = int(timestamp_ms)
        if self._last_ms is not None and ts <= self._last_ms:
            raise DataError(f"timestamp_ms must increase: {ts} after {self._last_ms}")
        self._last_ms = ts
        from edgelite.runtime.vision.frames import hands_to_frame

        hands = self._hand_tracker().process(np.ascontiguousarray(rgb), ts)
        return self.recognizer.update(hands_to_frame(hands, mirrored=self.options.mirrored), ts / 1000.0)

    def flush(self) -> list[Recognition]:
        """End of the stream: classify a segment still open."""
        return self.recognizer.flush()

    def _hand_tracker(self) -> Any:
        if self._tracker is None:
            from edgelite.runtime.vision.frames import check_trackable
            from edgelite.runtime.vision.hands import HandTrackerOptions, create_hand_tracker

            check_trackable(self.classifier.landmark_set, with_pose=False)  # warns: parts left NaN
            o = self.options
            self._tracker = create_hand_tracker(HandTrackerOptions(
                backend=o.hands, model_path=None if o.hand_model_path is None else os.fspath(o.hand_model_path),
                num_hands=o.num_hands, num_threads=o.num_threads, allow_download=o.allow_download))
        return self._tracker

    def close(self) -> None:
        """Close the hand tracker and the sign model."""
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        self.classifier.close()

    def __enter__(self) -> "SignRecognizer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["SignClassifier", "SignRecognizer", "SignRecognizerOptions", "Recognition"]
