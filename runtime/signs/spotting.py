"""Sign spotting in a continuous landmark stream (numpy + LiteRT): signs performed back to back.

The spotter model is a sign ``.tflite`` (``serving_default``: ``inputs [T,543,3] → outputs [C]``)
trained on stitched streams with one extra *blank* class (gaps, transitions, idle). Its metadata
carries ``spotting``: ``window`` (frames per window), ``stride`` (run every ``stride`` frames),
``label_offset`` (the window ending at frame ``i`` describes frame ``i - label_offset``) and
``blank`` (the blank label).

Decoding (:class:`SpotDecoder`, the one decode used by the API, the CLI and the benchmarks):

1. posteriors are smoothed by a causal moving average over ``smoothing`` steps;
2. a step is *active* for label ``c`` when ``c`` is the top label, is not blank and has probability
   ≥ ``threshold``; consecutive active steps of one label form a candidate, and a candidate
   survives interruptions of up to ``merge_steps`` steps;
3. a candidate closes at the ``merge_steps + 1``-th step without it; candidates shorter than
   ``min_steps`` are dropped; overlapping candidates go through non-maximum suppression over time
   (the one with the larger probability mass wins when they overlap by more than ``nms_overlap`` of
   the shorter one);
4. a candidate whose peak probability is below ``min_score`` — or whose *mean* (below) is below
   ``min_mean`` (the reject option, step 5), or that the optional ``reject`` hook refuses — is
   dropped, or emitted as ``unknown_label`` when set.

5. Reject option (out of vocabulary). A candidate's ``mean`` is the average, over the steps it was
   active (step 2), of the smoothed probability (step 1) of its own label. A spotter whose metadata
   holds ``spotting.reject`` ::

       "spotting": {..., "reject": {"score": "mean", "threshold": 0.80, "target_keep": 0.98, "cap": 0.8,
                                    "fitted_on": "...", "n": 1234}}

   drops every candidate with ``mean < spotting.reject.threshold`` (or emits it as
   ``unknown_label`` when set; same place as ``min_score``: after NMS, so a rejected candidate still
   suppresses the ones it overlaps). :attr:`SpottedSign.mean` carries the value. :class:`Spotter`
   applies it unless ``SpotterOptions.openset`` is False or ``SpotterOptions.min_mean`` is set
   (an explicit value wins). Without ``spotting.reject`` (older spotters) nothing changes:
   ``min_mean`` stays ``None`` = no such test. Only ``threshold`` is read at run time. It is fitted
   at training time on streams stitched from the *training* signers: the ``1 - target_keep``
   quantile of ``mean`` over the emissions that match the reference sign
   (:func:`fit_reject_threshold`), capped at ``cap`` (chosen on a validation signer). Spotters trained
   with out-of-vocabulary sequences (``edgelite train signs --background``) also learned to give
   blank on them: they are stitched in as blank stretches.

A window with no finite value at all (nothing detected in any of its frames) is not run through
the model: its posteriors are one-hot blank.

Emitted :class:`SpottedSign` times are stream times (seconds) of the frames the candidate covers;
``t_emit`` is the time of the frame whose arrival emitted it (latency = ``t_emit - t_end``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.layout import N_LANDMARKS

SPOTTER_FILE = "spotter.tflite"


@dataclass
class SpottedSign:
    """One recognised sign: ``label``, ``score`` (peak smoothed probability), times in seconds."""

    label: str
    score: float
    t_start: float
    t_end: float
    t_emit: float = 0.0
    start_index: int = 0
    end_index: int = 0  # inclusive frame index of the last frame covered
    emit_index: int = 0
    mean: float = 0.0  # mean smoothed probability of ``label`` over the candidate's active steps

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(float(self.score), 4),
                "t_start": round(float(self.t_start), 3), "t_end": round(float(self.t_end), 3)}


@dataclass
class SpotterOptions:
    """Decoding parameters (steps = model runs, one every ``stride`` frames). See the module doc."""

    threshold: float = 0.5
    smoothing: int = 2
    min_steps: int = 2
    merge_steps: int = 1
    nms_overlap: float = 0.5
    min_score: float = 0.6
    unknown_label: str | None = None
    min_mean: float | None = None  # None: the model's ``spotting.reject.threshold`` (when ``openset``), else no test
    openset: bool = True  # apply the model's ``spotting.reject`` threshold when ``min_mean`` is None
    reject: Callable[[str, np.ndarray], bool] | None = None  # (label, mean probabilities) → True = out of vocabulary


@dataclass
class _Candidate:
    label: int
    first: int  # step
    last: int
    i0: int  # frame index described by the first step
    i1: int
    t0: float
    t1: float
    peak: float = 0.0
    mass: float = 0.0
    steps: int = 0
    psum: np.ndarray | None = None

    def add(self, step: int, idx: int, t: float, p: np.ndarray) -> None:
        self.last, self.i1, self.t1 = step, idx, t
        self.peak = max(self.peak, float(p[self.label]))
        self.mass += float(p[self.label])
        self.steps += 1
        self.psum = p.copy() if self.psum is None else self.psum + p


class SpotDecoder:
    """Posteriors in (``push`` one ``[C]`` vector per step), :class:`SpottedSign` out. Pure numpy."""

    def __init__(self, labels: list[str], blank: int, options: SpotterOptions | None = None) -> None:
        if not 0 <= blank < len(labels):
            raise ModelError(f"spotter: blank index {blank} outside the {len(labels)} labels")
        self.labels, self.blank = list(labels), int(blank)
        self.o = options or SpotterOptions()
        self.reset()

    def reset(self) -> None:
        self._hist: deque[np.ndarray] = deque(maxlen=max(1, int(self.o.smoothing)))
        self._open: list[_Candidate] = []
        self._step = -1

    def push(self, probs: np.ndarray, index: int, t: float, t_now: float | None = None,
             now_index: int | None = None) -> list[SpottedSign]:
        """Add the posteriors describing frame ``index`` (time ``t``); return the signs this step closes."""
        p = np.asarray(probs, np.float32).reshape(-1)
        self._step += 1
        self._hist.append(p)
        sm = np.mean(self._hist, axis=0)
        c = int(np.argmax(sm))
        if c != self.blank and float(sm[c]) >= self.o.threshold:
            cur = next((k for k in self._open if k.label == c and self._step - k.last - 1 <= self.o.merge_steps), None)
            if cur is None:
                cur = _Candidate(c, self._step, self._step, index, index, t, t)
                self._open.append(cur)
            cur.add(self._step, index, t, sm)
        done = [k for k in self._open if self._step - k.last > self.o.merge_steps]
        return self._close(done, t if t_now is None else t_now, index if now_index is None else now_index)

    def flush(self, t_now: float, now_index: int) -> list[SpottedSign]:
        """End of stream: close every open candidate."""
        out = self._close(list(self._open), t_now, now_index, final=True)
        self.reset()
        return out

    def _close(self, done: list[_Candidate], t_now: float, now_index: int, final: bool = False) -> list[SpottedSign]:
        if not done:
            return []
        # wait while a still-open candidate overlaps one that is done (NMS needs both)
        still = [k for k in self._open if k not in done]
        ready = [k for k in done if final or not any(o.first <= k.last and k.first <= o.last for o in still)]
        for k in ready:
            self._open.remove(k)
        kept: list[_Candidate] = []
        for k in sorted((k for k in ready if k.steps >= self.o.min_steps), key=lambda k: -k.mass):
            ov = [min(k.last, o.last) - max(k.first, o.first) + 1 for o in kept]
            if all(v <= self.o.nms_overlap * min(k.last - k.first + 1, o.last - o.first + 1)
                   for v, o in zip(ov, kept)):
                kept.append(k)
        out = []
        for k in sorted(kept, key=lambda k: k.first):
            label = self.labels[k.label]
            mean = k.psum / max(k.steps, 1)
            own = float(mean[k.label])
            if (k.peak < self.o.min_score or (self.o.min_mean is not None and own < self.o.min_mean)
                    or (self.o.reject is not None and self.o.reject(label, mean))):
                if self.o.unknown_label is None:
                    continue
                label = self.o.unknown_label
            out.append(SpottedSign(label, k.peak, k.t0, k.t1, t_now, k.i0, k.i1, now_index, own))
        return out


def reject_options(sp: dict[str, Any], options: SpotterOptions | None, path: str = "model") -> SpotterOptions:
    """``options`` with ``min_mean`` from the metadata's ``spotting.reject`` (module doc, step 5) when it
    applies: ``options.openset`` and no explicit ``options.min_mean``."""
    from dataclasses import replace

    o = options or SpotterOptions()
    rej = sp.get("reject")
    if not o.openset or o.min_mean is not None or not rej:
        return o
    if not isinstance(rej, dict) or rej.get("score", "mean") != "mean" or "threshold" not in rej:
        raise ModelError(f"{path}: metadata 'spotting.reject' must be {{'score': 'mean', 'threshold': number}}, "
                         f"got {rej!r}")
    return replace(o, min_mean=float(rej["threshold"]))


def fit_reject_threshold(means: np.ndarray, target_keep: float = 0.98) -> float:
    """The reject threshold: the ``1 - target_keep`` quantile of the ``mean`` scores ``[N]`` of correct emissions."""
    m = np.asarray(means, np.float64).reshape(-1)
    if not len(m):
        raise ModelError("spotter reject: no correct emission to fit a threshold on")
    if not 0.0 < target_keep <= 1.0:
        raise ModelError(f"spotter reject: target_keep {target_keep} must be in (0, 1]")
    return float(np.quantile(m, 1.0 - target_keep))


def _spotting_meta(meta: dict[str, Any], path: str) -> dict[str, Any]:
    sp = meta.get("spotting")
    if not isinstance(sp, dict):
        raise ModelError(f"{path}: not a spotter model (its metadata has no 'spotting' section)")
    for k in ("window", "stride", "label_offset", "blank"):
        if k not in sp:
            raise ModelError(f"{path}: metadata 'spotting' has no {k!r} field")
    return sp


def resolve_spotter_path(path: str | os.PathLike) -> str:
    """The spotter for a model path: the file itself when it is a spotter, else ``spotter.tflite`` beside it."""
    from edgelite.runtime.core.modelfile import read_model_info

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: model file not found")
    if isinstance((read_model_info(path).metadata or {}).get("spotting"), dict):
        return path
    side = os.path.join(os.path.dirname(os.path.abspath(path)), SPOTTER_FILE)
    if os.path.isfile(side):
        return side
    raise ModelError(f"{path}: no continuous-signing model: the file is not a spotter and there is no "
                     f"{SPOTTER_FILE} beside it (sign training writes one by default)")


class Spotter:
    """Online spotter: ``feed(frame [543,3], t)`` → list of :class:`SpottedSign`; ``flush()`` at the end.

    Use :meth:`create_from_model_path` (a spotter ``.tflite`` or a run's ``model.tflite`` with
    ``spotter.tflite`` beside it). Runs the model on the last ``window`` frames every ``stride``
    frames (hand-less NaN frames pad the start) and decodes with :class:`SpotDecoder`.
    """

    def __init__(self, model: Any, meta: dict[str, Any], options: SpotterOptions | None = None,
                 path: str = "model") -> None:
        sp = _spotting_meta(meta, path)
        self.model, self.path = model, path
        self.labels = list(meta.get("labels", []))
        if sp["blank"] not in self.labels:
            raise ModelError(f"{path}: spotting blank label {sp['blank']!r} is not among the labels")
        self.window, self.stride = int(sp["window"]), max(1, int(sp["stride"]))
        self.offset = int(sp["label_offset"])
        self.blank = self.labels.index(sp["blank"])
        self.options = reject_options(sp, options, path)
        self.decoder = SpotDecoder(self.labels, self.blank, self.options)
        self.reset()

    @classmethod
    def create_from_model_path(cls, path: str | os.PathLike, options: SpotterOptions | None = None,
                               num_threads: int | None = 1) -> Spotter:
        from edgelite.runtime.core.model import EdgeModel

        p = resolve_spotter_path(path)
        m = EdgeModel.open(p, num_threads=num_threads)
        return cls(m, m.metadata, options, p)

    def __enter__(self) -> Spotter:
        return self

    def __exit__(self, *exc) -> None:
        self.model = None

    def reset(self) -> None:
        self._buf = np.full((self.window, N_LANDMARKS, 3), np.nan, np.float32)
        self._times: deque[float] = deque(maxlen=self.window)
        self._n = 0
        self.decoder.reset()

    def probabilities(self, window: np.ndarray) -> np.ndarray:
        """``[window,543,3]`` → posteriors ``[C]`` (blank included); a window without any finite value
        (nothing detected) is not run: its posteriors are one-hot blank."""
        if not np.isfinite(window).any():
            p = np.zeros(len(self.labels), np.float32)
            p[self.blank] = 1.0
            return p
        return np.asarray(self.model.predict(window), np.float32).reshape(-1)

    def feed(self, frame: np.ndarray, t: float) -> list[SpottedSign]:
        """Add one ``[543,3]`` frame at time ``t`` (seconds)."""
        f = np.asarray(frame, np.float32)
        if f.shape != (N_LANDMARKS, 3):
            raise ValueError(f"spotter: expected a [543,3] frame, got {list(f.shape)}")
        self._buf = np.roll(self._buf, -1, axis=0)
        self._buf[-1] = f
        self._times.append(float(t))
        self._n += 1
        if self._n % self.stride:
            return []
        k = min(self.offset, len(self._times) - 1)
        return self.decoder.push(self.probabilities(self._buf), self._n - 1 - k, self._times[-1 - k],
                                 float(t), self._n - 1)

    def flush(self, dt: float = 1 / 30) -> list[SpottedSign]:
        """End of stream: feed ``label_offset`` hand-less frames (so the last frames get described), close all."""
        out: list[SpottedSign] = []
        t = self._times[-1] if self._times else 0.0
        last = self._buf[-1].copy()
        from edgelite.runtime.layout import HAND_ROWS

        last[HAND_ROWS] = np.nan
        n0 = self._n
        for i in range(self.offset):
            out += self.feed(last, t + (i + 1) * dt)
        out += self.decoder.flush(t + self.offset * dt, n0 - 1 + self.offset)
        return out


def spot_frames(spotter: Spotter, frames: np.ndarray, fps: float = 30.0) -> list[SpottedSign]:
    """Offline: run ``spotter`` over ``[T,543,3]`` frames at ``fps`` (frame ``i`` at ``i / fps`` s)."""
    x = np.asarray(frames, np.float32)
    if x.ndim != 3 or x.shape[1:] != (N_LANDMARKS, 3):
        raise ValueError(f"spotter: expected [T,543,3] frames, got {list(x.shape)}")
    if fps <= 0:
        raise ValueError(f"spotter: fps must be > 0, got {fps}")
    spotter.reset()
    out: list[SpottedSign] = []
    for i, f in enumerate(x):
        out += spotter.feed(f, i / fps)
    out += spotter.flush(1.0 / fps)
    return out


def continuous_lines(model_path: str | os.PathLike, inputs: list[str], fps: float = 30.0,
                     num_threads: int | None = 1, options: SpotterOptions | None = None):
    """JSON lines for landmark streams (``.npy [T,543,3]``, parquet, MP_Data folders): one per spotted sign
    ``{"label","score","t_start","t_end"}`` then one summary line per stream."""
    import json

    from edgelite.runtime.signs.io import iter_prediction_inputs

    spotter = Spotter.create_from_model_path(model_path, options, num_threads=num_threads)
    for name, frames in iter_prediction_inputs(inputs):
        signs = spot_frames(spotter, frames, fps)
        for s in signs:
            yield json.dumps(s.to_json())
        yield json.dumps({"summary": {"input": name, "frames": len(frames), "seconds": round(len(frames) / fps, 3),
                                      "signs": len(signs), "labels": [s.label for s in signs],
                                      "model": spotter.path}})


class SpotRecognizer:
    """The spotter behind the :class:`~edgelite.runtime.signs.recognize.Recognizer` interface
    (``update``/``flush`` → ``Recognition`` list, ``segments``, ``buffer``, ``last_probs``), for the live pipelines."""

    def __init__(self, spotter: Spotter, buffer_frames: int = 512) -> None:
        from edgelite.runtime.vision.frames import LandmarkBuffer

        self.spotter, self.labels = spotter, spotter.labels
        self.buffer = LandmarkBuffer(buffer_frames)
        self.segments: list[Any] = []
        self.last_probs: np.ndarray | None = None

    @classmethod
    def create_from_model_path(cls, path: str | os.PathLike, options: SpotterOptions | None = None,
                               num_threads: int | None = 1) -> SpotRecognizer:
        return cls(Spotter.create_from_model_path(path, options, num_threads))

    def _convert(self, signs: list[SpottedSign]) -> list[Any]:
        from edgelite.runtime.signs.recognize import Recognition, Segment

        out = []
        for s in signs:
            seg = Segment(s.start_index, s.end_index + 1, s.t_start, s.t_end)
            self.segments.append(seg)
            out.append(Recognition(s.t_start, s.t_end, s.label, s.score, [(s.label, s.score)], True,
                                   seg.end - seg.start, seg.start, seg.end))
        return out

    def update(self, frame: np.ndarray, t: float) -> list[Any]:
        self.buffer.append(frame, t)
        return self._convert(self.spotter.feed(frame, t))

    def flush(self) -> list[Any]:
        return self._convert(self.spotter.flush())
