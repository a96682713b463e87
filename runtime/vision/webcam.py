"""Live sign recognition: camera or video → hand tracking → ``[T,543,3]`` → sign model → display/JSON.

Used by ``edgelite run webcam`` and ``edgelite record webcam``. OpenCV is needed for capture and
display (imported lazily); the hand tracking backend is ``litert`` (no mediapipe) or ``mediapipe``.

Stages timed per frame (milliseconds): ``decode`` (read + BGR→RGB), ``hands`` (hand tracking),
``layout`` (hands → 543 layout, ring buffer, segmenter), ``model`` (classification: resampling +
LiteRT invoke; only on frames that classify), ``overlay`` (drawing, display/writing).

Headless output (``--headless``): one JSON line per recognised segment
``{"t_start","t_end","label","score","top"}`` on stdout (``label`` is ``"no sign"`` below the
threshold), and at the end one ``{"summary": {...}}`` line.

Recording (``--record DIR``): each segment becomes ``DIR/train_landmark_files/<participant>/<sequence>.parquet``
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
from edgelite.runtime.signs.recognize import (
    NO_SIGN,
    Recognition,
    Recognizer,
    RecognizerOptions,
    Segment,
    SegmenterOptions,
    SignClassifier,
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
    out_video: str | None = None  # [--out-video] write the overlay video (also headless)
    allow_download: bool = False  # [--download] fetch the .task from MediaPipe if missing
    overlay: bool | None = None  # draw the overlay (None = when a window or --out-video needs it)
    segmenter: SegmenterOptions = field(default_factory=SegmenterOptions)
    window: int = 32
    stride: int = 8


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


def run_webcam(opts: WebcamOptions, out: TextIO | None = None,
               on_frame: Callable[[int, list[HandLandmarks], np.ndarray], None] | None = None) -> dict[str, Any]:
    """Run capture → tracking → recognition until the video ends, ``max_frames``, 'q'/Esc or Ctrl-C.

    Writes JSON lines to ``out`` when headless; returns the summary dict (also printed headless).
    ``on_frame(index, hands, frame543)`` is called for every frame (benchmarks use it).
    """
    out = out or sys.stdout
    classifier = SignClassifier(opts.model, num_threads=opts.num_threads) if opts.model else None
    if opts.record is None and classifier is None:
        raise EdgeliteError("nothing to do: give --model (recognise) and/or --record DIR")
    if not opts.headless:
        _check_display()
    need_pose = opts.pose
    if classifier is not None:
        if need_pose is None:
            need_pose = "pose" in required_parts(classifier.landmark_set)
        check_trackable(classifier.landmark_set, bool(need_pose))
    source = FrameSource(opts.camera, opts.video)
    tracker = create_hand_tracker(HandTrackerOptions(
        backend=opts.hands, model_path=opts.hand_model, num_hands=opts.num_hands, num_threads=opts.num_threads,
        allow_download=opts.allow_download))
    pose = None
    if need_pose:
        try:
            pose = PoseTracker(opts.pose_model, allow_download=opts.allow_download)
        except EdgeliteError as e:
            warnings.warn(f"pose tracking unavailable ({e}); pose landmarks stay NaN", stacklevel=2)
    timer = StageTimer()
    model_ms: list[float] = []

    def classify(frames: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        if classifier is None:
            p = np.zeros(1, np.float32)
        else:
            p = classifier(frames)
        model_ms.append(time.perf_counter() - t0)
        return p

    labels = classifier.labels if classifier else [NO_SIGN]
    rec_opts = RecognizerOptions(mode=opts.mode, threshold=opts.threshold, window=opts.window, stride=opts.stride,
                                 segmenter=opts.segmenter)
    if opts.mode == "continuous" and opts.model:  # signs back to back: the run's spotter.tflite
        from edgelite.runtime.signs.spotting import SpotRecognizer

        recognizer = SpotRecognizer.create_from_model_path(opts.model, num_threads=opts.num_threads)
    else:
        recognizer = Recognizer(classify, labels, rec_opts)
    recorder = SegmentRecorder(opts.record, opts.participant) if opts.record else None
    writer = None
    results: list[Recognition] = []
    n_frames = n_hand_frames = 0
    recorded_segments = 0
    interrupted = False
    quit_key = False
    last_top: list[tuple[str, float]] | None = None
    t_wall0 = time.perf_counter()
    last_t = 0.0
    fps_ema = 0.0
    t_prev = None
    cv2 = source.cv2
    frame543 = np.empty((543, 3), np.float32)
    draw = opts.overlay if opts.overlay is not None else (not opts.headless or bool(opts.out_video))

    def record_pending(recs: list[Recognition]) -> None:
        nonlocal recorded_segments
        if recorder is None:
            return
        by_start = {(r.start_index, r.end_index): r for r in recs}
        while recorded_segments < len(recognizer.segments):
            seg: Segment = recognizer.segments[recorded_segments]
            recorded_segments += 1
            frames, _ = recognizer.buffer.range(seg.start, seg.end)
            if not len(frames):
                continue
            r = by_start.get((seg.start, seg.end))
            sign = opts.label or (r.label if r is not None else NO_SIGN)
            recorder.write(frames, sign, first_frame=seg.start)

    def emit(recs: list[Recognition]) -> None:
        nonlocal last_top
        for r in recs:
            results.append(r)
            last_top = r.top
            if classifier is not None and opts.headless:
                out.write(json.dumps(r.to_json()) + "\n")
                out.flush()

    try:
        while opts.max_frames is None or n_frames < opts.max_frames:
            t0 = time.perf_counter()
            got = source.read()
            if got is None:
                break
            rgb, t = got
            if opts.mirror:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
            t1 = time.perf_counter()
            timer.add("decode", t1 - t0)
            hands = tracker.process(rgb, int(round(t * 1000)))
            pose_xyz = pose.process(rgb, int(round(t * 1000))) if pose is not None else None
            t2 = time.perf_counter()
            timer.add("hands", t2 - t1)
            hands_to_frame(hands, mirrored=opts.mirror, pose=pose_xyz, out=frame543)
            n_model = len(model_ms)
            recs = recognizer.update(frame543.copy(), t)
            t3 = time.perf_counter()
            model_s = sum(model_ms[n_model:])
            if len(model_ms) > n_model:
                timer.add("model", model_s)
            timer.add("layout", (t3 - t2) - model_s)
            n_frames += 1
            n_hand_frames += bool(hands)
            last_t = t
            emit(recs)
            record_pending(recs)
            if on_frame is not None:
                on_frame(n_frames - 1, hands, frame543)
            now = time.perf_counter()
            if t_prev is not None:
                inst = 1.0 / max(now - t_prev, 1e-6)
                fps_ema = inst if fps_ema == 0 else 0.9 * fps_ema + 0.1 * inst
            t_prev = now
            if draw:
                t4 = time.perf_counter()
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                top = ([(classifier.labels[i], float(recognizer.last_probs[i]))
                        for i in np.argsort(-recognizer.last_probs)[:3]]
                       if classifier is not None and recognizer.last_probs is not None else last_top)
                status = f"REC {opts.label or ''} ({len(recorder.written)} saved)" if recorder else ""
                draw_overlay(bgr, hands, top, fps_ema,
                             {s: timer.last(s) for s in ("hands", "model")}, status)
                if opts.out_video:
                    if writer is None:
                        writer = cv2.VideoWriter(opts.out_video, cv2.VideoWriter_fourcc(*"mp4v"),
                                                 source.fps or 30.0, (bgr.shape[1], bgr.shape[0]))
                    writer.write(bgr)
                if not opts.headless:
                    try:
                        cv2.imshow("edgelite", bgr)
                        key = cv2.waitKey(1) & 0xFF
                    except cv2.error as e:
                        raise EdgeliteError(f"cannot open a window ({str(e).strip().splitlines()[-1]}); use --headless") from None
                    if key in (ord("q"), 27):
                        quit_key = True
                        break
                timer.add("overlay", time.perf_counter() - t4)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        try:
            recs = recognizer.flush()
            emit(recs)
            record_pending(recs)
        finally:
            source.close()
            tracker.close()
            if pose is not None:
                pose.close()
            if writer is not None:
                writer.release()
            if not opts.headless:
                try:
                    cv2.destroyAllWindows()
                except Exception:  # noqa: BLE001 - no window was ever opened
                    pass
    wall = time.perf_counter() - t_wall0
    accepted = [r for r in results if r.accepted]
    summary = {
        "source": source.name,
        "hands_backend": opts.hands,
        "model": opts.model,
        "mode": opts.mode,
        "frames": n_frames,
        "frames_with_hands": n_hand_frames,
        "duration_s": round(last_t, 3),
        "wall_s": round(wall, 3),
        "fps": round(n_frames / wall, 2) if wall > 0 else 0.0,
        "segments": len(recognizer.segments),
        "recognised": len(accepted),
        "no_sign": len(results) - len(accepted),
        "labels": {lab: sum(1 for r in accepted if r.label == lab) for lab in sorted({r.label for r in accepted})},
        "stages": timer.summary(),
        "tracker": dict(getattr(tracker, "stats", {})),
        "recorded": len(recorder.written) if recorder else 0,
        "interrupted": interrupted,
        "quit": quit_key,
    }
    if opts.headless:
        out.write(json.dumps({"summary": summary}) + "\n")
        out.flush()
    return summary
