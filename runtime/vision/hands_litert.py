"""Hand tracking with LiteRT only: the two models of MediaPipe's ``hand_landmarker.task``, no mediapipe.

Pipeline (mirrors MediaPipe's HandLandmarker graph so that the landmarks agree with it):

1. **Palm detection** (``hand_detector.tflite``, input ``[1,192,192,3]`` float RGB in [0,1]): the
   whole frame letterboxed (aspect kept, zero border) → 2016 SSD anchors (4 layers, strides
   8/16/16/16, 2 anchors per cell, fixed size) → boxes + 7 palm keypoints in 192-px units
   relative to the anchor centres → sigmoid scores (clipped at ±100) ≥ ``min_detection_confidence``
   → *weighted* non-max suppression (IoU > 0.3 averaged by score) → letterbox removed.
2. **Hand ROI from a palm**: rotation so that wrist (keypoint 0) → middle-finger MCP (keypoint 2)
   points up; the box is shifted by -0.5 of its height along that axis, made square on its long
   side and scaled ×2.6.
3. **Landmarks** (``hand_landmarks_detector.tflite``, ``[1,224,224,3]``): the rotated square ROI is
   warped to 224×224 (bilinear, border replicated) → 21×(x,y,z) in crop pixels, hand presence and
   handedness (probability of "Right", labelled as MediaPipe Tasks ≥ 0.10.15 does: the hand's
   own side in a non-mirrored image) → projected
   back through the rotation to image pixels; z is divided by 224·0.4 and scaled by the ROI width.
4. **Tracking**: the next frame's ROI comes from this frame's landmarks (rotation from the wrist to
   the mean of the index/ring MCPs averaged with the middle MCP, bounds of 12 palm/base joints in the
   rotated frame, shift -0.1, square, ×2.0). Palm detection runs only when fewer than ``num_hands`` hands are
   tracked: on the frame after a track is lost, every ``idle_detect_every`` frames while none is
   tracked and the scene changed (:class:`~edgelite.runtime.vision.motion.MotionGate`; at least every
   ``max_idle_skip`` frames), every ``redetect_every`` frames while some are; detections
   overlapping a tracked hand (IoU > 0.5) are dropped, duplicate tracks are merged.

Cost (profile with ``benchmarks/hands_speed.py``): the two model invocations are ~97 % of the CPU
time (palm detector ≈ 10 ms, landmark model ≈ 8 ms per hand on one x86 core); the crop is one
``cv2.warpAffine`` from the frame into a preallocated uint8 buffer, scaled into the interpreter's
preallocated float input. Speed therefore comes from running the detector less often and from
the int8 landmark model (``landmark_model``, :mod:`edgelite.runtime.vision.hand_models`), not from
the geometry. Where the landmarks differ from MediaPipe's, they differ on the frames right after a
palm detection (2-9 px on rendered videos; the palm ROIs differ slightly) and converge to ~0.3 px
within a few tracked frames.

Geometry uses image pixels throughout; rectangles are ``(cx, cy, w, h, rotation_rad)`` with the
rotation clockwise in image coordinates (y down), like MediaPipe's ``NormalizedRect``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from edgelite.runtime.core.errors import DataError, ModelError
from edgelite.runtime.core.model import load_interpreter
from edgelite.runtime.vision.hands import (
    HandLandmarks,
    HandTrackerOptions,
    read_task_bundle,
    resolve_hand_model,
)
from edgelite.runtime.vision.hand_models import select_landmark_model
from edgelite.runtime.vision.motion import MotionGate
from edgelite.runtime.vision.stage_profile import StageProfile

DETECTOR_NAME = "hand_detector.tflite"
LANDMARKER_NAME = "hand_landmarks_detector.tflite"
DETECTOR_SIZE = 192
LANDMARK_SIZE = 224
NUM_KEYPOINTS = 7
# Landmarks used for the tracking ROI (MediaPipe's partial set): wrist, thumb CMC/MCP/IP, MCP+PIP of the fingers.
ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)


def ssd_anchors(
    input_size: int = DETECTOR_SIZE,
    strides: tuple[int, ...] = (8, 16, 16, 16),
    min_scale: float = 0.1484375,
    max_scale: float = 0.75,
    offset: float = 0.5,
) -> np.ndarray:
    """SSD anchor centres ``[N,2]`` (x, y normalised to the detector input) for MediaPipe's palm detector.

    Like MediaPipe's ``SsdAnchorsCalculator`` with ``aspect_ratios=[1.0]`` and ``fixed_anchor_size``:
    consecutive layers with the same stride share a grid and each contributes 2 anchors per cell
    (aspect 1.0 and the interpolated-scale one), so 192 px gives 24²·2 + 12²·6 = 2016 anchors. With a
    fixed anchor size all widths/heights are 1, so only the centres are returned.
    """
    del min_scale, max_scale  # sizes are fixed at 1.0; kept for documentation of the configuration
    out = []
    n = len(strides)
    i = 0
    while i < n:
        j = i
        per_cell = 0
        while j < n and strides[j] == strides[i]:
            per_cell += 2
            j += 1
        stride = strides[i]
        fm = int(math.ceil(input_size / stride))
        ys, xs = np.meshgrid((np.arange(fm) + offset) / fm, (np.arange(fm) + offset) / fm, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], 1)
        out.append(np.repeat(cells, per_cell, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def decode_palms(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float, size: int = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode palm detector outputs.

    ``raw_boxes`` ``[N,18]`` (cx, cy, w, h, 7×(x, y) keypoints, in input pixels relative to the
    anchor), ``raw_scores`` ``[N]`` logits. Returns ``boxes`` ``[M,4]`` (xmin, ymin, xmax, ymax,
    normalised), ``keypoints`` ``[M,7,2]`` (normalised), ``scores`` ``[M]`` for scores ≥ ``min_score``.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = np.nonzero(scores >= min_score)[0]
    if keep.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros(0, np.float32)
    r = raw_boxes.reshape(-1, 4 + 2 * NUM_KEYPOINTS)[keep].astype(np.float32) / size
    a = anchors[keep]
    cx = r[:, 0] + a[:, 0]
    cy = r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kps = r[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return boxes, kps, scores[keep].astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` ``[4]`` against ``b`` ``[K,4]`` (xmin, ymin, xmax, ymax)."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3, max_out: int = 2
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each kept detection is the score-weighted mean of the boxes/keypoints
    overlapping it by IoU > ``iou_threshold`` (itself included); its score is the top score."""
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    out = []
    while remaining and len(out) < max_out:
        top = remaining[0]
        rest = np.asarray(remaining)
        ious = box_iou(boxes[top], boxes[rest])
        cand = rest[ious > iou_threshold]
        if cand.size == 0:
            cand = np.asarray([top])
        w = scores[cand][:, None]
        tot = float(w.sum())
        box = (boxes[cand] * w).sum(0) / tot
        kp = (keypoints[cand] * w[:, :, None]).sum(0) / tot
        out.append((box.astype(np.float32), kp.astype(np.float32), float(scores[top])))
        remaining = [int(i) for i in rest[ious <= iou_threshold]]
    return out


def _normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def transform_rect(rect: tuple, scale: float, shift_y: float) -> tuple:
    """MediaPipe ``RectTransformationCalculator`` in pixels: shift along the rotated y axis, square on the long side, scale."""
    cx, cy, w, h, rot = rect
    cx += -h * shift_y * math.sin(rot)
    cy += h * shift_y * math.cos(rot)
    side = max(w, h)
    return (cx, cy, side * scale, side * scale, rot)


def palm_to_rect(box: np.ndarray, kps: np.ndarray, width: int, height: int) -> tuple:
    """Hand ROI (pixels) from a palm detection in image-normalised coordinates."""
    x0, y0 = kps[0, 0] * width, kps[0, 1] * height
    x1, y1 = kps[2, 0] * width, kps[2, 1] * height
    rot = _normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))
    cx = (box[0] + box[2]) / 2 * width
    cy = (box[1] + box[3]) / 2 * height
    w = (box[2] - box[0]) * width
    h = (box[3] - box[1]) * height
    return transform_rect((float(cx), float(cy), float(w), float(h), rot), 2.6, -0.5)


def landmarks_to_rect(px: np.ndarray) -> tuple:
    """Next frame's hand ROI (pixels) from ``px`` ``[21,2]`` landmarks (MediaPipe ``HandLandmarksToRect`` + transform)."""
    p = px[list(ROI_LANDMARKS)].astype(np.float64)
    x0, y0 = p[0]
    # MediaPipe's "PIP" joints are indices 4, 6, 8 of the partial set: index/middle/ring MCP (5, 9, 13)
    x1 = ((p[4, 0] + p[8, 0]) / 2 + p[6, 0]) / 2
    y1 = ((p[4, 1] + p[8, 1]) / 2 + p[6, 1]) / 2
    rot = _normalize_radians(math.pi / 2 - math.atan2(-(y1 - y0), x1 - x0))
    c, s = math.cos(-rot), math.sin(-rot)
    center = (p.min(0) + p.max(0)) / 2
    d = p - center
    proj = np.stack([d[:, 0] * c - d[:, 1] * s, d[:, 0] * s + d[:, 1] * c], 1)
    pmin, pmax = proj.min(0), proj.max(0)
    pc = (pmin + pmax) / 2
    cr, sr = math.cos(rot), math.sin(rot)
    cx = pc[0] * cr - pc[1] * sr + center[0]
    cy = pc[0] * sr + pc[1] * cr + center[1]
    w, h = pmax - pmin
    return transform_rect((float(cx), float(cy), float(w), float(h), rot), 2.0, -0.1)


def rect_corners(rect: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-left, top-right, bottom-left corners (pixels) of a rotated rect."""
    cx, cy, w, h, rot = rect
    ux = np.array([math.cos(rot), math.sin(rot)])
    uy = np.array([-math.sin(rot), math.cos(rot)])
    tl = np.array([cx, cy]) - ux * w / 2 - uy * h / 2
    return tl, tl + ux * w, tl + uy * h


def rect_bounds(rect: tuple) -> np.ndarray:
    """``[xmin, ymin, xmax, ymax]`` (pixels) of a rect with its rotation ignored, as MediaPipe's
    ``DoesRectOverlap`` compares tracked and detected hand rects."""
    cx, cy, w, h, _ = rect
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def warp_crop(rgb: np.ndarray, rect: tuple, size: int, border_zero: bool, out: np.ndarray | None = None,
              scratch: np.ndarray | None = None) -> np.ndarray:
    """Warp the rotated ``rect`` of ``rgb`` (``[H,W,3]`` uint8) to ``[size,size,3]`` float32 in [0,1].

    Output pixel (j, i) samples the source at ``TL + j/size·(TR−TL) + i/size·(BL−TL)`` (bilinear), the
    mapping MediaPipe's OpenCV image-to-tensor converter uses. OpenCV is used when importable (one
    ``warpAffine`` into ``scratch``, a ``[size,size,3]`` uint8 buffer, then scaled into ``out``, a
    ``[size,size,3]`` float32 buffer: no allocation per frame when both are given), otherwise a NumPy
    bilinear sampler. Returns ``out`` (or a new array).
    """
    tl, tr, bl = rect_corners(rect)
    m = np.array(
        [[(tr[0] - tl[0]) / size, (bl[0] - tl[0]) / size, tl[0]],
         [(tr[1] - tl[1]) / size, (bl[1] - tl[1]) / size, tl[1]]], np.float64)
    try:
        import cv2  # optional, lazily: the fast path
    except ImportError:
        cv2 = None
    if cv2 is None:
        res = _warp_numpy(rgb, m, size, border_zero)
        if out is None:
            return res
        out[...] = res
        return out
    u8 = cv2.warpAffine(
        rgb, m, (size, size), dst=scratch, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT if border_zero else cv2.BORDER_REPLICATE, borderValue=0)
    if out is None:
        out = np.empty((size, size, 3), np.float32)
    np.multiply(u8, np.float32(1.0 / 255.0), out=out, casting="unsafe")
    return out


def _warp_numpy(rgb: np.ndarray, m: np.ndarray, size: int, border_zero: bool) -> np.ndarray:
    h, w = rgb.shape[:2]
    jj, ii = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    sx = m[0, 0] * jj + m[0, 1] * ii + m[0, 2]
    sy = m[1, 0] * jj + m[1, 1] * ii + m[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = (sx - x0)[..., None].astype(np.float32)
    fy = (sy - y0)[..., None].astype(np.float32)
    img = rgb.astype(np.float32) * (1.0 / 255.0)

    def px(y, x):
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        v = img[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
        return v * inside[..., None] if border_zero else v

    top = px(y0, x0) * (1 - fx) + px(y0, x0 + 1) * fx
    bot = px(y0 + 1, x0) * (1 - fx) + px(y0 + 1, x0 + 1) * fx
    return (top * (1 - fy) + bot * fy).astype(np.float32)


@dataclass
class _Track:
    rect: tuple
    hand: HandLandmarks | None = None


class LiteRTHandTracker:
    """Hand tracker on LiteRT (see the module docstring). Use :meth:`create_from_options` or :func:`create_hand_tracker`.

    ``process(rgb, timestamp_ms)`` → list of :class:`HandLandmarks` (at most ``num_hands``).
    ``stats`` counts frames, detector runs and landmark runs.
    """

    def __init__(self, detector_bytes: bytes, landmarker_bytes: bytes, options: HandTrackerOptions,
                 source: str = "<bytes>") -> None:
        self.options = options
        self.source = source
        self.num_hands = max(1, int(options.num_hands))
        self.redetect_every = max(1, int(options.extra.get("redetect_every", options.redetect_every)))
        self.idle_detect_every = max(1, int(options.idle_detect_every))
        self.max_idle_skip = max(1, int(options.max_idle_skip))
        self.motion = MotionGate(options.motion_threshold)
        self.timer = StageProfile(enabled=bool(options.profile))
        self._det = load_interpreter(detector_bytes, num_threads=options.num_threads)
        self._lmk = load_interpreter(landmarker_bytes, num_threads=options.num_threads)
        self._det.allocate_tensors()
        self._lmk.allocate_tensors()
        self._check_io()
        self.anchors = ssd_anchors()
        self.tracks: list[_Track] = []
        self._frames_since_detect = 10**9
        self._lost = True  # no detection yet / a track was just lost: detect on the next frame
        self.stats = {"frames": 0, "detector_runs": 0, "landmark_runs": 0, "detections_skipped_static": 0}
        # preallocated crop buffers (uint8 warp target, float32 model input)
        self._det_u8 = np.empty((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)
        self._det_x = np.empty((1, DETECTOR_SIZE, DETECTOR_SIZE, 3), np.float32)
        self._lmk_u8 = np.empty((LANDMARK_SIZE, LANDMARK_SIZE, 3), np.uint8)
        self._lmk_x = np.empty((1, LANDMARK_SIZE, LANDMARK_SIZE, 3), np.float32)

    @classmethod
    def create_from_options(cls, options: HandTrackerOptions) -> "LiteRTHandTracker":
        path = resolve_hand_model(options.model_path, allow_download=options.allow_download)
        files = read_task_bundle(path)
        missing = [n for n in (DETECTOR_NAME, LANDMARKER_NAME) if n not in files]
        if missing:
            raise ModelError(f"{path}: .task bundle lacks {', '.join(missing)} (has {', '.join(files) or 'nothing'})")
        lmk, variant = select_landmark_model(path, files[LANDMARKER_NAME], options.landmark_model)
        tracker = cls(files[DETECTOR_NAME], lmk, options, source=str(path))
        tracker.stats["landmark_model"] = variant
        return tracker

    def _check_io(self) -> None:
        di = self._det.get_input_details()
        do = self._det.get_output_details()
        if len(di) != 1 or tuple(di[0]["shape"]) != (1, DETECTOR_SIZE, DETECTOR_SIZE, 3) or len(do) != 2:
            raise ModelError(f"{self.source}: {DETECTOR_NAME} is not a 192x192 palm detector with 2 outputs")
        by_last = {int(d["shape"][-1]): d["index"] for d in do}
        if 18 not in by_last or 1 not in by_last:
            raise ModelError(f"{self.source}: {DETECTOR_NAME} outputs are not [1,N,18] boxes + [1,N,1] scores")
        self._det_in = di[0]["index"]
        self._det_boxes, self._det_scores = by_last[18], by_last[1]
        li = self._lmk.get_input_details()
        lo = self._lmk.get_output_details()
        if len(li) != 1 or tuple(li[0]["shape"]) != (1, LANDMARK_SIZE, LANDMARK_SIZE, 3) or len(lo) != 4:
            raise ModelError(f"{self.source}: {LANDMARKER_NAME} is not a 224x224 hand landmark model with 4 outputs")
        names = {d["name"]: d["index"] for d in lo}
        # Output order as MediaPipe splits them: landmarks, presence, handedness, world landmarks.
        order = sorted(names, key=lambda n: (len(n), n))
        self._lmk_in = li[0]["index"]
        self._lmk_out = [names[n] for n in order]

    # -- stages -------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[tuple]:
        """Palm detection on the whole frame → hand ROIs (pixels), best first."""
        h, w = rgb.shape[:2]
        side = float(max(w, h))
        rect = (w / 2.0, h / 2.0, side, side, 0.0)
        t = self.timer
        with t.stage("detect.crop"):
            warp_crop(rgb, rect, DETECTOR_SIZE, True, out=self._det_x[0], scratch=self._det_u8)
            self._det.set_tensor(self._det_in, self._det_x)
        with t.stage("detect.model"):
            self._det.invoke()
        self.stats["detector_runs"] += 1
        with t.stage("detect.decode"):
            boxes, kps, scores = decode_palms(self._det.get_tensor(self._det_boxes)[0],
                                              self._det.get_tensor(self._det_scores)[0], self.anchors,
                                              self.options.min_detection_confidence)
            dets = weighted_nms(boxes, kps, scores, 0.3, self.num_hands)
        # letterbox removal: normalised-letterbox → normalised-image
        pad = np.array([(side - w) / 2 / side, (side - h) / 2 / side], np.float32)
        scale = np.array([side / w, side / h], np.float32)
        out = []
        for box, kp, _ in dets:
            b = np.concatenate([(box[:2] - pad) * scale, (box[2:] - pad) * scale])
            k = (kp - pad) * scale
            out.append(palm_to_rect(b, k, w, h))
        return out

    def landmarks(self, rgb: np.ndarray, rect: tuple) -> HandLandmarks | None:
        """Run the landmark model on one ROI; ``None`` when hand presence < the threshold."""
        h, w = rgb.shape[:2]
        t = self.timer
        with t.stage("landmarks.crop"):
            warp_crop(rgb, rect, LANDMARK_SIZE, False, out=self._lmk_x[0], scratch=self._lmk_u8)
            self._lmk.set_tensor(self._lmk_in, self._lmk_x)
        with t.stage("landmarks.model"):
            self._lmk.invoke()
        self.stats["landmark_runs"] += 1
        with t.stage("landmarks.project"):
            return self._project(rect, w, h)

    def _project(self, rect: tuple, w: int, h: int) -> HandLandmarks | None:
        """Landmark model outputs → :class:`HandLandmarks` in image coordinates (``None`` below presence)."""
        raw = self._lmk.get_tensor(self._lmk_out[0]).reshape(21, 3)
        presence = float(self._lmk.get_tensor(self._lmk_out[1]).reshape(-1)[0])
        right = float(self._lmk.get_tensor(self._lmk_out[2]).reshape(-1)[0])
        if not np.isfinite(raw).all() or presence < self.options.min_presence_confidence:
            return None
        tl, tr, bl = rect_corners(rect)
        u = raw[:, 0:1] / LANDMARK_SIZE
        v = raw[:, 1:2] / LANDMARK_SIZE
        px = tl[None] + u * (tr - tl)[None] + v * (bl - tl)[None]
        z = raw[:, 2] / LANDMARK_SIZE / 0.4 * (rect[2] / w)
        norm = np.concatenate([px / np.array([w, h]), z[:, None]], 1)
        label, score = ("Right", right) if right > 0.5 else ("Left", 1.0 - right)
        return HandLandmarks.from_norm(norm, w, h, label, score, presence)

    # -- tracking -----------------------------------------------------------------------------
    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[HandLandmarks]:
        """Track hands in one RGB ``[H,W,3]`` uint8 frame."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 2:
            raise DataError(f"hand tracker: expected an RGB [H,W,3] uint8 frame, got {rgb.dtype} {rgb.shape}")
        self.stats["frames"] += 1
        rects = [t.rect for t in self.tracks]
        self._frames_since_detect += 1
        with self.timer.stage("detect.gate"):
            need = self._detection_due(rgb, len(rects))
        if need:
            self._frames_since_detect = 0
            self._lost = False
            tracked_bounds = [rect_bounds(r) for r in rects]
            found = self.detect(rgb)
            if not rects and not found:
                self.motion.set_reference(rgb)  # an empty scene: skip detection until it changes
            for r in found:
                if len(rects) >= self.num_hands:
                    break
                b = rect_bounds(r)
                if tracked_bounds and box_iou(b, np.stack(tracked_bounds)).max() > 0.5:
                    continue
                rects.append(r)
                tracked_bounds.append(b)
        hands = self._track(rgb, rects)
        if len(hands) < len(self.tracks):
            self._lost = True  # a hand left or was lost: look for it on the next frame
        self.tracks = self._next_tracks
        return hands

    def _detection_due(self, rgb: np.ndarray, tracked: int) -> bool:
        """Whether palm detection runs on this frame (see the module docstring, step 4)."""
        if tracked >= self.num_hands:
            return False
        since = self._frames_since_detect
        if tracked:
            return since >= self.redetect_every
        if self._lost:
            return True
        if since < self.idle_detect_every:
            return False
        if since >= self.max_idle_skip or self.motion.changed(rgb):
            return True
        self.stats["detections_skipped_static"] += 1
        return False

    def _track(self, rgb: np.ndarray, rects: list[tuple]) -> list[HandLandmarks]:
        """Landmarks in each ROI; duplicates merged; sets ``_next_tracks``."""
        hands: list[HandLandmarks] = []
        tracks: list[_Track] = []
        for r in rects:
            hand = self.landmarks(rgb, r)
            if hand is None:
                continue
            # drop duplicates: two ROIs that converged on the same hand
            b = np.concatenate([hand.px.min(0), hand.px.max(0)])
            dup = False
            for k, other in enumerate(hands):
                ob = np.concatenate([other.px.min(0), other.px.max(0)])
                if box_iou(b, ob[None])[0] > 0.5:
                    dup = True
                    if hand.presence > other.presence:
                        hands[k] = hand
                        tracks[k] = _Track(landmarks_to_rect(hand.px), hand)
                    break
            if not dup:
                hands.append(hand)
                tracks.append(_Track(landmarks_to_rect(hand.px), hand))
        self._next_tracks = tracks
        return hands

    def reset(self) -> None:
        """Forget the tracked hands (the next frame runs palm detection)."""
        self.tracks = []
        self._frames_since_detect = 10**9
        self._lost = True
        self.motion.reset()

    def close(self) -> None:
        self._det = self._lmk = None

    def __enter__(self) -> "LiteRTHandTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
