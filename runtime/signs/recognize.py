"""Continuous sign recognition on a stream of ``[543,3]`` landmark frames.

- :class:`SignClassifier`: a ``.tflite`` sign model whose ``serving_default`` signature takes
  ``[T,543,3]`` float32 (NaN = missing; ``T`` dynamic, or fixed and then the segment is resampled)
  and returns class probabilities (``[C]`` or ``[1,C]``); labels from the embedded metadata.
- :class:`Segmenter`: finds sign segments — hands appear and move → hands rest or leave.
- :class:`Recognizer`: buffer + segmenter (``mode="segment"``) or a sliding window
  (``mode="sliding"``, probabilities smoothed by an exponential moving average) + classifier +
  confidence threshold; a segment whose best probability is below the threshold gives the
  ``"no sign"`` outcome (``accepted=False``).

Times are in seconds (video time for files, monotonic time for cameras).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.layout import HAND_ROWS, N_LANDMARKS
from edgelite.runtime.vision.frames import LandmarkBuffer

NO_SIGN = "no sign"


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
        """``[T,543,3]`` float32 (NaN = missing) → probabilities ``[C]`` float32."""
        x = np.asarray(frames, np.float32)
        if x.ndim != 3 or x.shape[1:] != (N_LANDMARKS, 3) or x.shape[0] == 0:
            raise ValueError(f"sign classifier: expected [T,543,3] frames with T >= 1, got {list(x.shape)}")
        if self.fixed_t is not None and x.shape[0] != self.fixed_t:
            idx = np.round(np.linspace(0, x.shape[0] - 1, self.fixed_t)).astype(int)
            x = x[idx]
        out = np.asarray(self.model(**{self.input_name: x})[self.output_name], np.float32).reshape(-1)
        if self.kind == "logits":
            e = np.exp(out - out.max())
            out = e / e.sum()
        if len(self.labels) != out.size:
            self.labels = [f"class_{i}" for i in range(out.size)]
        return out


@dataclass
class Recognition:
    """One classified segment/window. ``label`` is :data:`NO_SIGN` when not ``accepted``."""

    t_start: float
    t_end: float
    label: str
    score: float
    top: list[tuple[str, float]]
    accepted: bool
    frames: int = 0
    start_index: int = 0
    end_index: int = 0  # exclusive

    def to_json(self) -> dict[str, Any]:
        return {
            "t_start": round(float(self.t_start), 3),
            "t_end": round(float(self.t_end), 3),
            "label": self.label,
            "score": round(float(self.score), 4),
            "top": [{"label": lab, "score": round(float(s), 4)} for lab, s in self.top],
        }


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

    def __init__(self, classify, labels: list[str], options: RecognizerOptions | None = None) -> None:
        self.o = options or RecognizerOptions()
        if self.o.mode not in ("segment", "sliding"):
            raise ValueError(f"recognition mode {self.o.mode!r}: expected 'segment' or 'sliding'")
        self.classify = classify
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

    def _result(self, probs: np.ndarray, seg: Segment, frames: int) -> Recognition:
        order = np.argsort(-probs)[: self.o.top_k]
        top = [(self._label(int(i)), float(probs[i])) for i in order]
        best, score = top[0] if top else (NO_SIGN, 0.0)
        ok = score >= self.o.threshold
        return Recognition(seg.t_start, seg.t_end, best if ok else NO_SIGN, score, top, ok, frames,
                           seg.start, seg.end)

    def classify_segment(self, seg: Segment) -> Recognition:
        frames, _ = self.buffer.range(seg.start, seg.end)
        probs = self.classify(frames)
        self.last_probs = probs
        return self._result(probs, seg, len(frames))

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
        probs = self.classify(frames)
        a = float(self.o.smoothing)
        self._ema = probs if self._ema is None or self._ema.shape != probs.shape else a * self._ema + (1 - a) * probs
        self.last_probs = self._ema
        win = Segment(idx - len(frames) + 1, idx + 1, float(times[0]), float(times[-1]))
        r = self._result(self._ema, win, len(frames))
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
