"""Tracked landmarks → the sign model's ``[T,543,3]`` layout (Kaggle asl-signs / MediaPipe Holistic).

Layout of one frame ``[543,3]`` float32 (x, y normalised to the image, z relative depth; NaN = not
tracked): face 0–467, left_hand 468–488, pose 489–521, right_hand 522–542. The parquet files of the
Kaggle set hold the same 543 rows per frame (columns frame, row_id, type, landmark_index, x, y, z).

**Orientation and handedness (the selfie-mirror convention).** The Kaggle data is in the camera's
*raw* (non-mirrored) view and its slots name the *signer's* hands: ``right_hand`` is the signer's
right hand, which a non-mirrored camera shows on the image's left (checked on the shared data:
the dominant hand of the (mostly right-handed) signers fills ``right_hand`` at x ≈ 0.2–0.4).
MediaPipe Tasks (≥ 0.10.15, and the ``litert`` backend, which copies it) labels a hand with its own
side *as seen in a non-mirrored image* (older releases and the legacy Hands solution assumed a
mirrored selfie image and were the other way round). Hence, for the frames given to the tracker:

- ``mirrored=False`` (raw camera frames, videos — the default): a hand labelled ``"Right"`` is the
  signer's right hand → ``right_hand``; x is kept.
- ``mirrored=True`` (frames flipped horizontally, like a selfie preview): labels are swapped
  (``"Right"`` → ``left_hand``) and x becomes ``1 - x``, so that the coordinates are those of the
  raw view.

If both hands get the same slot, the one further to the signer's right (smaller raw-view x) takes
``right_hand`` and the other ``left_hand``. Pose (33 points) follows the same rule: flipped frames
get ``1 - x`` and their left/right pose points swapped.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.layout import (  # noqa: E402,F401
    N_LANDMARKS,
    PARTS,
    POSE_MIRROR,
    ROW_INDEX,
    ROW_TYPES,
    empty_frame,
)
from edgelite.runtime.vision.hands import HandLandmarks


def hand_slot(hand: HandLandmarks, mirrored: bool = False) -> str:
    """``"left_hand"`` or ``"right_hand"`` for a MediaPipe-labelled hand (see the module docstring)."""
    label = hand.handedness.lower()
    if label not in ("left", "right"):
        raise DataError(f"hand handedness {hand.handedness!r}: expected 'Left' or 'Right'")
    signer = ("right" if label == "left" else "left") if mirrored else label
    return f"{signer}_hand"


def hands_to_frame(
    hands: Sequence[HandLandmarks],
    mirrored: bool = False,
    pose: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Tracked hands (and optional pose ``[33,3]`` normalised) → one ``[543,3]`` float32 frame, NaN elsewhere."""
    frame = empty_frame() if out is None else out
    frame[:] = np.nan
    placed: list[tuple[str, np.ndarray]] = []
    for h in hands[:2]:
        xyz = np.array(h.norm, np.float32, copy=True).reshape(21, 3)
        if mirrored:
            xyz[:, 0] = 1.0 - xyz[:, 0]
        placed.append((hand_slot(h, mirrored), xyz))
    if len(placed) == 2 and placed[0][0] == placed[1][0]:
        # same label twice: the hand with the smaller raw-view x is the signer's right hand
        a, b = placed
        first_right = np.nanmean(a[1][:, 0]) <= np.nanmean(b[1][:, 0])
        placed = [("right_hand", a[1]), ("left_hand", b[1])] if first_right else [("left_hand", a[1]), ("right_hand", b[1])]
    for slot, xyz in placed:
        s, e = PARTS[slot]
        frame[s:e] = xyz
    if pose is not None:
        p = np.array(pose, np.float32, copy=True).reshape(33, -1)[:, :3]
        if mirrored:
            p = p[POSE_MIRROR]
            p[:, 0] = 1.0 - p[:, 0]
        s, e = PARTS["pose"]
        frame[s:e] = p
    return frame


def required_parts(landmark_set: str | None) -> set[str]:
    """Parts a sign model reads, from its metadata ``input.landmark_set`` (e.g. ``"hands"``, ``"hands+pose"``, ``"all"``)."""
    if not landmark_set:
        return {"left_hand", "right_hand"}
    s = landmark_set.lower()
    if s in ("all", "holistic", "mediapipe-holistic-543"):
        return set(PARTS)
    if s == "kaggle":  # ISLR-winner set: hands, lips, eyes, nose (face mesh points) and pose
        return set(PARTS)
    parts: set[str] = set()
    for tok in s.replace(",", "+").replace(" ", "+").split("+"):
        if tok in ("hands", "hand"):
            parts |= {"left_hand", "right_hand"}
        elif tok in ("pose", "body", "arms"):
            parts.add("pose")
        elif tok in ("face", "lips", "eyes", "nose"):
            parts.add("face")
        elif tok in PARTS:
            parts.add(tok)
    return parts or {"left_hand", "right_hand"}


def check_trackable(landmark_set: str | None, with_pose: bool) -> list[str]:
    """Parts the model expects that no tracker provides (warned about, left NaN)."""
    need = required_parts(landmark_set)
    have = {"left_hand", "right_hand"} | ({"pose"} if with_pose else set())
    missing = sorted(need - have)
    if missing:
        warnings.warn(f"the sign model's landmark set {landmark_set!r} includes {', '.join(missing)}, "
                      "which no tracker provides here; those landmarks stay NaN", stacklevel=2)
    return missing


@dataclass
class LandmarkBuffer:
    """Ring buffer of ``[543,3]`` frames with timestamps (seconds); keeps the last ``capacity`` frames."""

    capacity: int = 256

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("LandmarkBuffer capacity must be >= 1")
        self._data = np.full((self.capacity, N_LANDMARKS, 3), np.nan, np.float32)
        self._t = np.zeros(self.capacity, np.float64)
        self._n = 0  # frames ever appended

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    @property
    def total(self) -> int:
        """Frames appended since creation (the index the next frame gets)."""
        return self._n

    def append(self, frame: np.ndarray, t: float) -> int:
        """Append one frame; returns its running index."""
        i = self._n % self.capacity
        self._data[i] = frame
        self._t[i] = t
        self._n += 1
        return self._n - 1

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The last ``n`` frames in order: ``([n,543,3], times [n])`` (fewer if not available)."""
        return self.range(self._n - n, self._n)

    def range(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames with running indices ``start..stop-1`` still in the buffer, in order."""
        start = max(start, self._n - len(self), 0)
        stop = min(stop, self._n)
        if stop <= start:
            return np.zeros((0, N_LANDMARKS, 3), np.float32), np.zeros(0)
        idx = np.arange(start, stop) % self.capacity
        return self._data[idx].copy(), self._t[idx].copy()

    def clear(self) -> None:
        self._n = 0


# -- Kaggle asl-signs parquet --------------------------------------------------------------------

def frames_to_table(frames: np.ndarray, first_frame: int = 0):
    """``[T,543,3]`` → a pyarrow Table in the Kaggle layout (543 rows per frame, NaN stored as null)."""
    import pyarrow as pa

    frames = np.asarray(frames, np.float32)
    if frames.ndim != 3 or frames.shape[1:] != (N_LANDMARKS, 3):
        raise DataError(f"landmark frames: expected [T,543,3], got {list(frames.shape)}")
    t = frames.shape[0]
    fidx = np.repeat(np.arange(first_frame, first_frame + t, dtype=np.int16), N_LANDMARKS)
    types = ROW_TYPES * t
    lidx = np.tile(ROW_INDEX, t)
    row_id = [f"{f}-{ty}-{i}" for f, ty, i in zip(fidx.tolist(), types, lidx.tolist())]
    xyz = frames.reshape(-1, 3).astype(np.float64)
    cols = {
        "frame": pa.array(fidx, pa.int16()),
        "row_id": pa.array(row_id, pa.string()),
        "type": pa.array(types, pa.string()),
        "landmark_index": pa.array(lidx, pa.int16()),
    }
    for k, c in zip("xyz", xyz.T):
        cols[k] = pa.array(c, pa.float64(), mask=~np.isfinite(c))
    return pa.table(cols)


def write_parquet(path: str | os.PathLike, frames: np.ndarray, first_frame: int = 0) -> None:
    """Write ``[T,543,3]`` frames as a Kaggle-layout parquet file, atomically (tmp + rename)."""
    import pyarrow.parquet as pq

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    pq.write_table(frames_to_table(frames, first_frame), tmp)
    os.replace(tmp, path)


def read_parquet(path: str | os.PathLike) -> np.ndarray:
    """Kaggle-layout parquet → ``[T,543,3]`` float32 (NaN = missing); checks the 543-row frames."""
    import pyarrow.parquet as pq

    path = os.fspath(path)
    try:
        t = pq.read_table(path, columns=["frame", "type", "landmark_index", "x", "y", "z"])
    except Exception as e:  # pyarrow raises several types for broken files
        raise DataError(f"{path}: not a readable landmark parquet file ({e})") from None
    n = t.num_rows
    if n == 0 or n % N_LANDMARKS:
        raise DataError(f"{path}: {n} rows; expected a multiple of 543 (one row per landmark per frame)")
    xyz = np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in "xyz"], -1)
    types = t.column("type").to_pylist()[:N_LANDMARKS]
    if types != ROW_TYPES:
        raise DataError(f"{path}: rows are not in the face/left_hand/pose/right_hand order of the Kaggle layout")
    return xyz.reshape(-1, N_LANDMARKS, 3)


# -- pose (optional) ----------------------------------------------------------------------------

class PoseTracker:
    """MediaPipe Tasks ``PoseLandmarker`` (VIDEO mode) giving ``[33,3]`` normalised pose landmarks or ``None``.

    Needs mediapipe and ``pose_landmarker_full.task`` (``--pose-model``, the user cache,
    ``$EDGELITE_SHARED/models``, or a download when allowed).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, allow_download: bool = False) -> None:
        from edgelite.runtime.vision.hands import (
            POSE_MODEL_NAME,
            POSE_MODEL_URL,
            resolve_task_model,
        )

        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as e:
            raise DataError(f"pose tracking needs mediapipe ({e}); pip install 'edgelite[camera]'") from None
        path = resolve_task_model(model_path, POSE_MODEL_NAME, POSE_MODEL_URL, allow_download)
        self._mp = mp
        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
        )
        self._lm = vision.PoseLandmarker.create_from_options(opts)

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        res = self._lm.detect_for_video(img, int(timestamp_ms))
        if not res.pose_landmarks:
            return None
        return np.array([[p.x, p.y, p.z] for p in res.pose_landmarks[0]], np.float32)

    def close(self) -> None:
        self._lm.close()

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
