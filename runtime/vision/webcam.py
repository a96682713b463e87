"""Live sign recognition: camera or video → hand tracking → ``[T,543,3]`` → sign model → display/JSON.

Used by ``edgelite run webcam`` and ``edgelite record webcam``. OpenCV is needed for capture and
display (imported lazily); the hand tracking backend is ``litert`` (no mediapipe) or ``mediapipe``.

Stages timed per frame (milliseconds): ``decode`` (read + BGR→RGB), ``hands`` (hand tracking),
``layout`` (hands → 543 layout, ring buffer, segmenter), ``model`` (classification: resampling +
LiteRT invoke; only on frames that classify), ``overlay`` (drawing, display/writing).

Headless output (``headless``): one JSON line per recognised segment in the common result shape
``{"input","label","score","top":[{"label","score"}],"t_start","t_end"}`` on stdout (``label`` is
``"no sign"`` below the threshold), and at the end one ``{"summary": {...}}`` line.

Recording (``record=DIR``): each segment becomes ``DIR/train_landmark_files/<participant>/<sequence>.parquet``
in the Kaggle asl-signs layout plus a row ``path,participant_id,sequence_id,sign`` appended to
``DIR/train.csv``; both written atomically. Ctrl-C ends the capture and still writes the open segment.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

import numpy as np
from edgelite.runtime.core.errors import DataError, EdgeliteError
from edgelite.runtime.signs.classifier import SignClassifier
from edgelite.runtime.signs.recognize import (
    NO_SIGN,
    Recognition,
    Recognizer,
    RecognizerOptions,
    Segment,
    SegmenterOptions,
)
from edgelite.runtime.vision.capture import FrameSource
from edgelite.runtime.vision.frames import (
    PoseTracker,
    check_trackable,
    hands_to_frame,
    required_parts,
    write_parquet,
)
from edgelite.runtime.vision.hands import (
    HandLandmarks,
    HandTrackerOptions,
    create_hand_tracker,
)
from edgelite.runtime.vision.overlay import _check_display, draw_overlay

STAGES = ("decode", "hands", "layout", "model", "overlay")


@dataclass
class WebcamOptions:
    """Options of :func:`run_webcam` (CLI flags in brackets)."""

    model: str | None = None  # [--model] sign .tflite; None = record only
    camera: int | None = None  # [--camera N]
    video: str | None = None  # [--video FILE]
    hands: str = "litert"  # [--hands litert|mediapipe]
    hand_model: str | None = None  # [--hand-model PATH]
    headless: bool = False  # [--headless]
    record: str | None = None  # [--record DIR]
    label: str | None = None  # [--label] sign written to train.csv (default: the recognised label)
    participant: int = 0  # [--participant]
    mode: str = "segment"  # [--mode segment|sliding|continuous]
    threshold: float = 0.5  # [--threshold]
    mirror: bool = False  # [--mirror] flip frames horizontally (selfie view) before tracking
    num_hands: int = 2
    max_frames: int | None = None  # [--max-frames]
    pose: bool | None = None  # None = when the model's landmark set needs it
    pose_model: str | None = None  # [--pose-model]
    num_threads: int | None = None  # [--threads]
    landmark_model: str = "float"  # [--landmark-model] litert hands: float | int8 | auto | PATH (hand_models)
    out_video: str | None = None  # [--out-video] write the overlay video (also headless)
    allow_download: bool = False  # [--download] fetch the .task from MediaPipe if missing
    overlay: bool | None = None  # draw the overlay (None = when a window or --out-video needs it)
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    window: int = 32
    stride: int = 8
    closed_set: bool = False  # [--closed-set] never "unknown": ignore the model's open-set / spotter reject fit


@dataclass
class StageTimer:
    """Per-stage durations in milliseconds."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, stage: str, seconds: float) -> None:
        self.ms.setdefault(stage, []).append(seconds * 1000.0)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for s, v in self.ms.items():
            if v:
                a = np.asarray(v)
                out[s] = {"median_ms": round(float(np.median(a)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
                          "n": int(a.size)}
        return out

    def last(self, stage: str) -> float:
        v = self.ms.get(stage)
        return v[-1] if v else float("nan")


class SegmentRecorder:
    """Writes segments as Kaggle-layout parquet files and appends ``train.csv`` rows (atomically)."""

    HEADER = ["path", "participant_id", "sequence_id", "sign"]

    def __init__(self, root: str, participant: int = 0) -> None:
        self.root = os.fspath(root)
        self.participant = int(participant)
        os.makedirs(self.root, exist_ok=True)
        self.csv_path = os.path.join(self.root, "train.csv")
        if os.path.exists(self.csv_path):
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
            if header != self.HEADER:
                raise DataError(f"{self.csv_path}: header {header} is not {','.join(self.HEADER)}")
        self._seq = int(time.time() * 1000) % 1_000_000_000
        self.written: list[dict[str, Any]] = []

    def _next_id(self) -> int:
        self._seq += 1
        while os.path.exists(self._path(self._seq)):
            self._seq += 1
        return self._seq

    def _path(self, seq: int) -> str:
        return os.path.join(self.root, "train_landmark_files", str(self.participant), f"{seq}.parquet")

    def write(self, frames: np.ndarray, sign: str, first_frame: int = 0) -> dict[str, Any]:
        """Write ``[T,543,3]`` frames (``frame`` column = ``first_frame``, ``first_frame+1``, ...) and the csv row."""
        seq = self._next_id()
        path = self._path(seq)
        write_parquet(path, frames, first_frame=first_frame)
        row = {"path": os.path.relpath(path, self.root).replace(os.sep, "/"), "participant_id": self.participant,
               "sequence_id": seq, "sign": sign}
        old = ""
        if os.path.exists(self.csv_path):
            with open(self.csv_path, encoding="utf-8", newline="") as f:
                old = f.read()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if not old:
            w.writerow(self.HEADER)
        elif not old.endswith("\n"):
            buf.write("\n")
        w.writerow([row[k] for k in self.HEADER])
        tmp = self.csv_path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(old + buf.getvalue())
        os.replace(tmp, self.csv_path)
        self.written.append(row)
        return row


class _Session:
    """One run of :func:`run_webcam`: the opened resources, the loop state and the named steps of a frame."""

    def __init__(self, opts: WebcamOptions, out: TextIO,
                 on_frame: Callable[[int, list[HandLandmarks], np.ndarray], None] | None) -> None:
        self.opts, self.out, self.on_frame = opts, out, on_frame
        self.classifier = SignClassifier(opts.model, num_threads=opts.num_threads) if opts.model else None
        if opts.record is None and self.classifier is None:
            raise EdgeliteError("nothing to do: give a sign model (model) and/or a recording folder (record)")
        if not opts.headless:
            _check_display()
        self.timer = StageTimer()
        self.model_s: list[float] = []
        self.results: list[Recognition] = []
        self.frames = self.hand_frames = self.recorded_segments = 0
        self.last_t = self.fps = 0.0
        self.t_prev: float | None = None
        self.last_top: list[tuple[str, float]] | None = None
        self.quit = False
        self.writer: Any = None
        self.frame543 = np.empty((543, 3), np.float32)
        self.draw = opts.overlay if opts.overlay is not None else (not opts.headless or bool(opts.out_video))
        self._open_inputs()
        labels = self.classifier.labels if self.classifier else [NO_SIGN]
        self.recognizer = self._make_recognizer(labels)
        self.recorder = SegmentRecorder(opts.record, opts.participant) if opts.record else None
        self.input_name = opts.video if opts.video is not None else self.source.name

    def _make_recognizer(self, labels: list[str]) -> Any:
        """Segment/sliding recognizer over the classifier, or the run's spotter for signs back to back."""
        opts = self.opts
        if opts.mode == "continuous" and opts.model:
            from edgelite.runtime.signs.spotting import SpotRecognizer, SpotterOptions

            return SpotRecognizer.create_from_model_path(opts.model, SpotterOptions(openset=not opts.closed_set),
                                                         num_threads=opts.num_threads)
        meta = self.classifier.metadata if self.classifier and not opts.closed_set else None
        return Recognizer(self._classify, labels, RecognizerOptions(
            mode=opts.mode, threshold=opts.threshold, window=opts.window, stride=opts.stride,
            segmenter=opts.segmenter), metadata=meta,
            scored=self._classify_scored if self.classifier is not None else None)

    def _open_inputs(self) -> None:
        """Frame source, hand tracker and (when the model reads pose) the pose tracker."""
        o = self.opts
        need_pose = o.pose
        if self.classifier is not None:
            if need_pose is None:
                need_pose = "pose" in required_parts(self.classifier.landmark_set)
            check_trackable(self.classifier.landmark_set, bool(need_pose))
        self.source = FrameSource(o.camera, o.video)
        self.cv2 = self.source.cv2
        self.tracker = create_hand_tracker(HandTrackerOptions(
            backend=o.hands, model_path=o.hand_model, num_hands=o.num_hands, num_threads=o.num_threads,
            allow_download=o.allow_download, landmark_model=o.landmark_model))
        self.pose = None
        if need_pose:
            try:
                self.pose = PoseTracker(o.pose_model, allow_download=o.allow_download)
            except EdgeliteError as e:
                warnings.warn(f"pose tracking unavailable ({e}); pose landmarks stay NaN", stacklevel=3)

    def _classify(self, frames: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        p = self.classifier(frames) if self.classifier is not None else np.zeros(1, np.float32)
        self.model_s.append(time.perf_counter() - t0)
        return p

    def _classify_scored(self, frames: np.ndarray) -> tuple[np.ndarray, float | None]:
        """Probabilities and the model's in-graph open-set score (one pass), for the open-set decision."""
        t0 = time.perf_counter()
        out = self.classifier.scored(frames)
        self.model_s.append(time.perf_counter() - t0)
        return out

    def step(self) -> bool:
        """Read, track, recognise, emit/record and draw one frame; False at the end of the input or on quit."""
        t0 = time.perf_counter()
        got = self.source.read()
        if got is None:
            return False
        rgb, t = got
        if self.opts.mirror:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        t1 = time.perf_counter()
        self.timer.add("decode", t1 - t0)
        hands = self._track(rgb, t)
        self.timer.add("hands", time.perf_counter() - t1)
        recs = self._recognize(hands, t)
        self.emit(recs)
        self.record_pending(recs)
        if self.on_frame is not None:
            self.on_frame(self.frames - 1, hands, self.frame543)
        self._tick_fps()
        if self.draw:
            return self._show(rgb, hands)
        return True

    def _track(self, rgb: np.ndarray, t: float) -> list[HandLandmarks]:
        ms = int(round(t * 1000))
        hands = self.tracker.process(rgb, ms)
        pose_xyz = self.pose.process(rgb, ms) if self.pose is not None else None
        hands_to_frame(hands, mirrored=self.opts.mirror, pose=pose_xyz, out=self.frame543)
        return hands

    def _recognize(self, hands: list[HandLandmarks], t: float) -> list[Recognition]:
        """Layout stage (buffer, segmenter) and the model stage, timed apart."""
        t2 = time.perf_counter()
        n_model = len(self.model_s)
        recs = self.recognizer.update(self.frame543.copy(), t)
        model_s = sum(self.model_s[n_model:])
        if len(self.model_s) > n_model:
            self.timer.add("model", model_s)
        self.timer.add("layout", (time.perf_counter() - t2) - model_s)
        self.frames += 1
        self.hand_frames += bool(hands)
        self.last_t = t
        return recs

    def _tick_fps(self) -> None:
        now = time.perf_counter()
        if self.t_prev is not None:
            inst = 1.0 / max(now - self.t_prev, 1e-6)
            self.fps = inst if self.fps == 0 else 0.9 * self.fps + 0.1 * inst
        self.t_prev = now

    def _show(self, rgb: np.ndarray, hands: list[HandLandmarks]) -> bool:
        """Overlay stage: draw, write the video, show the window; False when 'q'/Esc was pressed."""
        cv2, t4 = self.cv2, time.perf_counter()
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        status = f"REC {self.opts.label or ''} ({len(self.recorder.written)} saved)" if self.recorder else ""
        draw_overlay(bgr, hands, self._top(), self.fps, {s: self.timer.last(s) for s in ("hands", "model")}, status)
        if self.opts.out_video:
            if self.writer is None:
                self.writer = cv2.VideoWriter(self.opts.out_video, cv2.VideoWriter_fourcc(*"mp4v"),
                                              self.source.fps or 30.0, (bgr.shape[1], bgr.shape[0]))
            self.writer.write(bgr)
        if not self.opts.headless:
            try:
                cv2.imshow("edgelite", bgr)
                key = cv2.waitKey(1) & 0xFF
            except cv2.error as e:
                raise EdgeliteError(f"cannot open a window ({str(e).strip().splitlines()[-1]}); "
                                    "run headless instead") from None
            if key in (ord("q"), 27):
                self.quit = True
                return False
        self.timer.add("overlay", time.perf_counter() - t4)
        return True

    def _top(self) -> list[tuple[str, float]] | None:
        probs = self.recognizer.last_probs
        if self.classifier is None or probs is None:
            return self.last_top
        return [(self.classifier.labels[i], float(probs[i])) for i in np.argsort(-probs)[:3]]

    def emit(self, recs: list[Recognition]) -> None:
        """Keep the recognitions; headless with a model: one JSON line each (the common result shape)."""
        for r in recs:
            self.results.append(r)
            self.last_top = r.top
            if self.classifier is not None and self.opts.headless:
                self.out.write(json.dumps(r.to_json(self.input_name)) + "\n")
                self.out.flush()

    def record_pending(self, recs: list[Recognition]) -> None:
        """Write the segments closed since the last call (label: the option, else the recognised one)."""
        if self.recorder is None:
            return
        by_span = {(r.start_index, r.end_index): r for r in recs}
        segments = self.recognizer.segments
        while self.recorded_segments < len(segments):
            seg: Segment = segments[self.recorded_segments]
            self.recorded_segments += 1
            frames, _ = self.recognizer.buffer.range(seg.start, seg.end)
            if len(frames):
                r = by_span.get((seg.start, seg.end))
                self.recorder.write(frames, self.opts.label or (r.label if r is not None else NO_SIGN),
                                    first_frame=seg.start)

    def finish(self) -> None:
        """Classify/record a segment still open, then release capture, trackers, writer and window."""
        try:
            recs = self.recognizer.flush()
            self.emit(recs)
            self.record_pending(recs)
        finally:
            self.source.close()
            self.tracker.close()
            if self.pose is not None:
                self.pose.close()
            if self.writer is not None:
                self.writer.release()
            if not self.opts.headless:
                try:
                    self.cv2.destroyAllWindows()
                except Exception:  # noqa: BLE001 - no window was ever opened
                    pass

    def summary(self, wall: float, interrupted: bool) -> dict[str, Any]:
        accepted = [r for r in self.results if r.accepted]
        o = self.opts
        return {
            "source": self.source.name, "hands_backend": o.hands, "model": o.model, "mode": o.mode,
            "frames": self.frames, "frames_with_hands": self.hand_frames,
            "duration_s": round(self.last_t, 3), "wall_s": round(wall, 3),
            "fps": round(self.frames / wall, 2) if wall > 0 else 0.0,
            "segments": len(self.recognizer.segments), "recognised": len(accepted),
            "no_sign": len(self.results) - len(accepted),
            "labels": {lab: sum(1 for r in accepted if r.label == lab) for lab in sorted({r.label for r in accepted})},
            "stages": self.timer.summary(), "tracker": dict(getattr(self.tracker, "stats", {})),
            "recorded": len(self.recorder.written) if self.recorder else 0,
            "interrupted": interrupted, "quit": self.quit,
        }


def run_webcam(opts: WebcamOptions, out: TextIO | None = None,
               on_frame: Callable[[int, list[HandLandmarks], np.ndarray], None] | None = None) -> dict[str, Any]:
    """Run capture → tracking → recognition until the video ends, ``max_frames``, 'q'/Esc or Ctrl-C.

    Writes JSON lines to ``out`` when headless (one per recognition, the common result shape with
    ``input`` = the video path or ``"camera N"``); returns the summary dict (also printed headless).
    ``on_frame(index, hands, frame543)`` is called for every frame (benchmarks use it).
    """
    out = out or sys.stdout
    session = _Session(opts, out, on_frame)
    t0 = time.perf_counter()
    interrupted = False
    try:
        while (opts.max_frames is None or session.frames < opts.max_frames) and session.step():
            pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        session.finish()
    summary = session.summary(time.perf_counter() - t0, interrupted)
    if opts.headless:
        out.write(json.dumps({"summary": summary}) + "\n")
        out.flush()
    return summary
