"""Continuous sign recognition on a stream of ``[543,3]`` landmark frames.

(The sign model itself: :class:`edgelite.runtime.signs.classifier.SignClassifier`.)

- :class:`Segmenter`: finds sign segments — hands appear and move → hands rest or leave.
- :class:`Recognizer`: buffer + segmenter (``mode="segment"``) or a sliding window
  (``mode="sliding"``, probabilities smoothed by an exponential moving average) + classifier +
  confidence threshold; a segment whose best probability is below the threshold gives the
  ``"no sign"`` outcome (``accepted=False``).

Times are in seconds (video time for files, monotonic time for cameras).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.results import Category, ClassificationResult
from edgelite.runtime.layout import HAND_ROWS
from edgelite.runtime.vision.frames import LandmarkBuffer

NO_SIGN = "no sign"


@dataclass
class Recognition:
    """One classified segment/window. ``label`` is :data:`NO_SIGN` when not ``accepted``.

    ``t_start``/``t_end`` in seconds; ``categories``: the top-k :class:`Category` (best first, also
    when rejected); ``frames``: frames classified; ``start_index``/``end_index``: running frame
    indices of the segment (end exclusive).
    """

    t_start: float
    t_end: float
    label: str
    score: float
    categories: list[Category]
    accepted: bool
    frames: int = 0
    start_index: int = 0
    end_index: int = 0  # exclusive

    @property
    def top(self) -> list[tuple[str, float]]:
        """``[(label, score), ...]`` best first (for display)."""
        return [(c.label, c.score) for c in self.categories]

    def to_result(self, input: str | None = None) -> ClassificationResult:
        """As the common result type (the ``label`` of a rejected segment stays :data:`NO_SIGN`)."""
        return ClassificationResult(categories=list(self.categories), input=input, t_start=self.t_start,
                                    t_end=self.t_end, rejected_label=None if self.accepted else self.label)

    def to_json(self, input: str | None = None) -> dict[str, Any]:
        """The common JSON shape (:meth:`ClassificationResult.to_json`)."""
        return self.to_result(input).to_json()


@dataclass
class Segment:
    """Frames ``start..end-1`` (running buffer indices) with their times (seconds)."""

    start: int
    end: int
    t_start: float
    t_end: float


def hand_motion(prev: np.ndarray | None, cur: np.ndarray) -> float:
    """Mean per-landmark displacement (normalised image units) of the hands present in both frames; NaN if none."""
    if prev is None:
        return float("nan")
    a, b = prev[HAND_ROWS, :2], cur[HAND_ROWS, :2]
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(a[ok] - b[ok], axis=1).mean())


def hands_present(frame: np.ndarray) -> bool:
    return bool(np.isfinite(frame[HAND_ROWS, 0]).any())


@dataclass
class SegmenterOptions:
    """Segment detection.

    - ``rest_frames``: a segment ends after this many frames without hands, or with hands that
      move less than ``motion_threshold`` (normalised units per frame) — the hands rest.
    - ``min_frames``: shorter segments (counting frames with hands) are ignored.
    - ``max_frames``: a segment is cut at this length.
    - ``pad_frames``: frames kept before the first hand frame (context for the model).
    """

    rest_frames: int = 8
    motion_threshold: float = 0.002
    min_frames: int = 4
    max_frames: int = 192
    pad_frames: int = 0


class Segmenter:
    """Feed one frame at a time (``update(index, frame, t)``); returns a closed :class:`Segment` or ``None``."""

    def __init__(self, options: SegmenterOptions | None = None) -> None:
        self.o = options or SegmenterOptions()
        self.reset()

    def reset(self) -> None:
        self.active = False
        self.start = 0
        self.t_start = 0.0
        self.last_active = 0
        self.t_last = 0.0
        self.quiet = 0
        self.hand_frames = 0
        self.prev: np.ndarray | None = None

    def update(self, index: int, frame: np.ndarray, t: float) -> Segment | None:
        present = hands_present(frame)
        motion = hand_motion(self.prev, frame) if present else float("nan")
        self.prev = frame if present else None
        if not self.active:
            # start when hands appear, or when hands already in view start moving (not while they rest)
            appeared = present and not np.isfinite(motion)
            if present and (appeared or motion >= self.o.motion_threshold):
                self.active = True
                self.start = max(0, index - self.o.pad_frames)
                self.t_start = t
                self.last_active = index
                self.t_last = t
                self.quiet = 0
                self.hand_frames = 1
            return None
        moving = present and (not np.isfinite(motion) or motion >= self.o.motion_threshold)
        if present:
            self.hand_frames += 1
        if moving:
            self.last_active = index
            self.t_last = t
            self.quiet = 0
        else:
            self.quiet += 1
        too_long = index - self.start + 1 >= self.o.max_frames
        if self.quiet >= self.o.rest_frames or too_long:
            return self._close(index if too_long else self.last_active, t if too_long else self.t_last)
        return None

    def flush(self) -> Segment | None:
        """Close a segment still open at the end of the stream."""
        if not self.active:
            return None
        return self._close(self.last_active, self.t_last)

    def _close(self, last: int, t_last: float) -> Segment | None:
        seg = Segment(self.start, last + 1, self.t_start, t_last)
        ok = self.hand_frames >= self.o.min_frames
        prev = self.prev
        self.reset()
        self.prev = prev  # hands still in view after a segment must move (or leave and return) to start one
        return seg if ok else None


@dataclass
class RecognizerOptions:
    """``mode``: ``"segment"`` or ``"sliding"``; ``threshold``: minimum probability to accept a sign.

    Sliding mode: classify the last ``window`` frames every ``stride`` frames while hands are in
    view, smooth the probabilities with an EMA of factor ``smoothing`` (0 = none), and report a
    sign when it becomes the accepted top label (once per appearance).
    """

    mode: str = "segment"
    threshold: float = 0.5
    top_k: int = 3
    window: int = 32
    stride: int = 8
    smoothing: float = 0.5
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    buffer_frames: int = 512


class Recognizer:
    """Landmark frames in, :class:`Recognition` results out. ``classify`` is any ``[T,543,3] → probs`` callable."""

    def __init__(self, classify, labels: list[str], options: RecognizerOptions | None = None,
                 metadata: dict | None = None, scored=None) -> None:
        self.o = options or RecognizerOptions()
        self.metadata = metadata  # with an ``openset`` entry, segments below its threshold are "unknown"
        if self.o.mode not in ("segment", "sliding"):
            raise ValueError(f"recognition mode {self.o.mode!r}: expected 'segment' or 'sliding'")
        self.classify = classify
        self.scored = scored  # optional ``[T,543,3] → (probs, in-graph open-set score | None)``
        self.labels = labels
        self.buffer = LandmarkBuffer(max(self.o.buffer_frames, self.o.segmenter.max_frames + 8, self.o.window + 8))
        self.segmenter = Segmenter(self.o.segmenter)
        self._ema: np.ndarray | None = None
        self._last_label: str | None = None
        self._since = 0
        self.last_probs: np.ndarray | None = None
        self.segments: list[Segment] = []  # closed segments (also those rejected), for recording

    def _label(self, i: int) -> str:
        return self.labels[i] if i < len(self.labels) else f"class_{i}"

    def _scored(self, frames: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(probabilities, in-graph open-set score or None)``: the score when the classifier has
        ``scored`` (:class:`~edgelite.runtime.signs.classifier.SignClassifier`) and the decision is open-set."""
        f = self.scored or getattr(self.classify, "scored", None)
        if f is not None and self.metadata and self.metadata.get("openset"):
            return f(frames)
        return self.classify(frames), None

    def _result(self, probs: np.ndarray, seg: Segment, frames: int, ood: float | None = None) -> Recognition:
        order = np.argsort(-probs, kind="stable")[: self.o.top_k]
        cats = [Category(int(i), self._label(int(i)), float(probs[i])) for i in order]
        best, score = (cats[0].label, cats[0].score) if cats else (NO_SIGN, 0.0)
        ok = score >= self.o.threshold
        if ok and self.metadata and self.metadata.get("openset"):
            from edgelite.runtime.core.openset import decide

            best, _, _ = decide(probs, self.metadata, ood=ood)  # "unknown"/"no sign" per the model's open-set fit
            ok = best == cats[0].label
        return Recognition(seg.t_start, seg.t_end, best if ok or best != cats[0].label else NO_SIGN, score, cats,
                           ok, frames, seg.start, seg.end)

    def classify_segment(self, seg: Segment) -> Recognition:
        frames, _ = self.buffer.range(seg.start, seg.end)
        probs, ood = self._scored(frames)
        self.last_probs = probs
        return self._result(probs, seg, len(frames), ood)

    def update(self, frame: np.ndarray, t: float) -> list[Recognition]:
        """Add one ``[543,3]`` frame at time ``t``; return the recognitions completed by it."""
        idx = self.buffer.append(frame, t)
        if self.o.mode == "segment":
            seg = self.segmenter.update(idx, frame, t)
            if seg is None:
                return []
            self.segments.append(seg)
            return [self.classify_segment(seg)]
        return self._sliding(idx, frame, t)

    def _sliding(self, idx: int, frame: np.ndarray, t: float) -> list[Recognition]:
        seg = self.segmenter.update(idx, frame, t)
        if seg is not None:
            self.segments.append(seg)
        if not hands_present(frame):
            self._since += 1
            if self._since > self.o.segmenter.rest_frames:
                self._ema = None
                self._last_label = None
            return []
        self._since = 0
        if (idx + 1) % max(1, self.o.stride):
            return []
        frames, times = self.buffer.last(self.o.window)
        probs, ood = self._scored(frames)
        if ood is not None:  # the score is smoothed with the probabilities (last element)
            probs = np.append(probs, ood)
        a = float(self.o.smoothing)
        self._ema = probs if self._ema is None or self._ema.shape != probs.shape else a * self._ema + (1 - a) * probs
        ema, ood_ema = (self._ema[:-1], float(self._ema[-1])) if ood is not None else (self._ema, None)
        self.last_probs = ema
        win = Segment(idx - len(frames) + 1, idx + 1, float(times[0]), float(times[-1]))
        r = self._result(ema, win, len(frames), ood_ema)
        if r.accepted and r.label != self._last_label:
            self._last_label = r.label
            return [r]
        return []

    def flush(self) -> list[Recognition]:
        """End of stream: classify a segment still open (segment mode)."""
        seg = self.segmenter.flush()
        if seg is None:
            return []
        self.segments.append(seg)
        return [self.classify_segment(seg)] if self.o.mode == "segment" else []
