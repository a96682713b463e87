"""Hand tracking: the common result type, backend options and :func:`create_hand_tracker`.

Two backends give the same :class:`HandLandmarks`:

- ``"litert"`` (:mod:`edgelite.runtime.vision.hands_litert`): the two ``.tflite`` models inside MediaPipe's
  ``hand_landmarker.task`` run directly with LiteRT (palm detection, rotated crop, landmark model,
  tracking). No mediapipe import; the light path for a Raspberry Pi.
- ``"mediapipe"`` (:mod:`edgelite.runtime.vision.hands_mediapipe`): MediaPipe Tasks ``HandLandmarker`` in
  VIDEO mode (reference implementation).

Coordinates: ``norm`` is ``[21,3]`` float32 like MediaPipe's ``NormalizedLandmark``: x/y in [0,1] of
the image width/height (may leave [0,1] near the border), z relative depth with the wrist at 0, in
roughly the same scale as x. ``px`` is ``[21,2]`` in image pixels (``norm[:, :2] * (width, height)``).

Handedness follows MediaPipe Tasks (≥ 0.10.15): the hand's own side as seen in a *non-mirrored*
image. See :mod:`edgelite.runtime.vision.frames` for how it is mapped into the model's left/right slots.

>>> with create_hand_tracker(HandTrackerOptions(backend="litert")) as tracker:   # doctest: +SKIP
...     hands = tracker.process(rgb_frame, timestamp_ms=0)
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from edgelite.runtime.core.errors import EdgeliteError, ModelError

#: MediaPipe's official download address of the hand landmarker bundle (float16).
HAND_MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/latest/hand_landmarker.task"
)
HAND_MODEL_NAME = "hand_landmarker.task"
POSE_MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_full/float16/latest/pose_landmarker_full.task"
)
POSE_MODEL_NAME = "pose_landmarker_full.task"

#: The 21 hand connections (MediaPipe ``HAND_CONNECTIONS``), for drawing.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)


@dataclass
class HandLandmarks:
    """One tracked hand in one frame.

    - ``norm``: ``[21,3]`` float32, x/y normalised to the image (0..1), z relative depth (wrist = 0).
    - ``px``: ``[21,2]`` float32, x/y in image pixels.
    - ``handedness``: ``"Left"`` or ``"Right"`` as MediaPipe Tasks reports it (correct for non-mirrored images).
    - ``score``: handedness confidence (0..1); ``presence``: hand presence confidence (0..1).
    """

    norm: np.ndarray
    px: np.ndarray
    handedness: str
    score: float
    presence: float = 1.0

    @classmethod
    def from_norm(cls, norm: np.ndarray, width: int, height: int, handedness: str, score: float,
                  presence: float = 1.0) -> "HandLandmarks":
        norm = np.asarray(norm, np.float32).reshape(21, 3)
        px = norm[:, :2] * np.array([width, height], np.float32)
        return cls(norm=norm, px=px.astype(np.float32), handedness=str(handedness), score=float(score),
                   presence=float(presence))


@dataclass
class HandTrackerOptions:
    """Options common to both backends.

    - ``backend``: ``"litert"`` or ``"mediapipe"``.
    - ``model_path``: ``hand_landmarker.task`` (``None`` = :func:`resolve_hand_model`).
    - ``num_hands``: up to this many hands (1 or 2).
    - ``min_detection_confidence``: palm detector score threshold.
    - ``min_presence_confidence``: landmark model hand-presence threshold (also for keeping a track).
    - ``num_threads``: LiteRT threads (litert backend).
    - ``allow_download``: fetch the bundle from MediaPipe's address when no local copy exists.
    - ``redetect_every`` (litert): while some but fewer than ``num_hands`` hands are tracked, run palm
      detection every N frames (1 = every frame, like MediaPipe).
    - ``idle_detect_every`` (litert): while no hand is tracked, run palm detection every N frames
      (1 = every frame, like MediaPipe, the default; 2 halves the detector's cost on busy scenes but
      finds a hand that (re)appears up to one frame later: 5 % fewer hand frames on signing videos).
      A track that is lost always re-runs detection on the next frame.
    - ``motion_threshold`` (litert): while no hand is tracked, skip palm detection when no
      16x16-pixel block of the frame changed its mean by more than this many levels (0-255) since the
      last detection found nothing (:mod:`edgelite.runtime.vision.motion`); 0 = off.
    - ``max_idle_skip`` (litert): with the motion gate, still run detection at least every N frames.
    - ``landmark_model`` (litert): ``"float"`` (the bundle's model: MediaPipe's numbers; default, so
      that results never depend on what a cache holds), ``"int8"`` (the cached int8 variant: ~1.3x
      faster tracking, 0.7-0.9 px further from MediaPipe), ``"auto"`` (int8 when cached, else float)
      or a ``.tflite`` path; see :mod:`edgelite.runtime.vision.hand_models`.
    - ``profile`` (litert): accumulate wall/CPU ms per stage in ``tracker.timer``
      (:class:`edgelite.runtime.vision.stage_profile.StageProfile`).

    Tuning: ``benchmarks/hands_speed.py`` measures speed and landmark deviation from MediaPipe per setting.
    """

    backend: str = "litert"
    model_path: str | None = None
    num_hands: int = 2
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    num_threads: int | None = None
    allow_download: bool = False
    redetect_every: int = 5
    idle_detect_every: int = 1
    motion_threshold: float = 8.0
    max_idle_skip: int = 15
    landmark_model: str = "float"
    profile: bool = False
    extra: dict = field(default_factory=dict)


class HandTracker(Protocol):
    """What both backends provide."""

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[HandLandmarks]:
        """Track hands in one RGB ``[H,W,3]`` uint8 frame; ``timestamp_ms`` must increase."""

    def close(self) -> None: ...

    def __enter__(self) -> "HandTracker": ...

    def __exit__(self, *exc) -> None: ...


def _download(url: str, dest: Path) -> Path:
    import urllib.request

    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as r, open(tmp, "wb") as f:
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                f.write(chunk)
        os.replace(tmp, dest)
    except OSError as e:
        if tmp.exists():
            tmp.unlink()
        raise EdgeliteError(f"could not download {url} to {dest}: {e}") from None
    return dest


def resolve_task_model(path: str | os.PathLike | None, name: str, url: str, allow_download: bool = False) -> Path:
    """Find a MediaPipe ``.task`` bundle.

    Order: ``path`` if given; the user cache ``cache_dir()/name``; ``$EDGELITE_SHARED/models/name``
    (``../shared/models``); else a download from MediaPipe's official ``url`` into the cache when
    ``allow_download`` is true. Raises :class:`EdgeliteError` naming where it looked.
    """
    from edgelite.runtime.core.paths import cache_dir, shared_dir

    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise EdgeliteError(f"{p}: hand/pose model file not found")
        return p
    looked = []
    try:
        c = cache_dir() / name
        looked.append(str(c))
        if c.is_file():
            return c
    except OSError:
        c = None
    s = shared_dir(required=False)
    if s is not None:
        looked.append(str(s / "models" / name))
        if (s / "models" / name).is_file():
            return s / "models" / name
    if allow_download and c is not None:
        return _download(url, c)
    raise EdgeliteError(
        f"{name} not found (looked in {', '.join(looked)}); give its path (model_path), set EDGELITE_SHARED, "
        f"or allow the download (allow_download) from {url}"
    )


def resolve_hand_model(path: str | os.PathLike | None = None, allow_download: bool = False) -> Path:
    """:func:`resolve_task_model` for ``hand_landmarker.task``."""
    return resolve_task_model(path, HAND_MODEL_NAME, HAND_MODEL_URL, allow_download)


def read_task_bundle(path: str | os.PathLike) -> dict[str, bytes]:
    """The files inside a MediaPipe ``.task`` bundle (a zip): ``{name: bytes}``."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist()}
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"{path}: not a MediaPipe .task bundle (a zip holding .tflite files): {e}") from None


def create_hand_tracker(options: HandTrackerOptions | None = None) -> HandTracker:
    """Create the backend named by ``options.backend`` (``"litert"`` or ``"mediapipe"``)."""
    options = options or HandTrackerOptions()
    if options.backend == "litert":
        from edgelite.runtime.vision.hands_litert import LiteRTHandTracker

        return LiteRTHandTracker.create_from_options(options)
    if options.backend == "mediapipe":
        from edgelite.runtime.vision.hands_mediapipe import MediaPipeHandTracker

        return MediaPipeHandTracker.create_from_options(options)
    raise EdgeliteError(f"hands backend {options.backend!r}: expected 'litert' or 'mediapipe'")
