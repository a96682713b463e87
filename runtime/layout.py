"""The one 543-landmark layout: MediaPipe Holistic points in the Kaggle asl-signs order.

One frame is ``[543, 3]`` float32 (x, y normalised to the image, z relative depth; NaN = not
detected). Rows:

========== ============ =====
rows       part         count
========== ============ =====
0–467      face         468
468–488    left_hand    21
489–521    pose         33
522–542    right_hand   21
========== ============ =====

Everything that knows where a part lives (readers, the NumPy and TF feature twins, the webcam frame
builder, benchmarks) imports it from here. "left"/"right" are the person's hands as MediaPipe reports
them on the (unmirrored) image.
"""

from __future__ import annotations

import numpy as np
from edgelite.runtime.core.errors import DataError

#: Landmarks per frame.
N_LANDMARKS = 543
#: Row ranges ``[start, stop)`` of each part, in storage order.
PARTS: dict[str, tuple[int, int]] = {
    "face": (0, 468),
    "left_hand": (468, 489),
    "pose": (489, 522),
    "right_hand": (522, 543),
}
PART_NAMES = tuple(PARTS)
PART_SIZES = {k: b - a for k, (a, b) in PARTS.items()}
FACE0, LHAND0, POSE0, RHAND0 = (PARTS[p][0] for p in ("face", "left_hand", "pose", "right_hand"))

LHAND = list(range(*PARTS["left_hand"]))
RHAND = list(range(*PARTS["right_hand"]))
#: Rows of both hands (left then right), e.g. to test whether any hand is tracked.
HAND_ROWS = np.array(LHAND + RHAND, np.int64)

#: ``type`` of each row and its ``landmark_index`` within the part (the Kaggle parquet columns).
ROW_TYPES: list[str] = [name for name, (a, b) in PARTS.items() for _ in range(b - a)]
ROW_INDEX: np.ndarray = np.concatenate([np.arange(b - a) for a, b in PARTS.values()]).astype(np.int16)

# Face-mesh points used by the ISLR winners; the L*/R* lists are mirror pairs position by position.
LIP_LEFT = [84, 181, 91, 146, 61, 185, 40, 39, 37, 87, 178, 88, 95, 78, 191, 80, 81, 82]
LIP_RIGHT = [314, 405, 321, 375, 291, 409, 270, 269, 267, 317, 402, 318, 324, 308, 415, 310, 311, 312]
LIP_MID = [0, 17, 13, 14]
EYE_LEFT = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173]
EYE_RIGHT = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398]
NOSE_PAIRS = ([98], [327])
NOSE_MID = [1, 2]
# MediaPipe pose (0 nose, 11/12 shoulders, 13/14 elbows, 15/16 wrists, 17–22 hand points, 23/24 hips):
# pairs (i, j) whose left/right meaning swaps when the image is mirrored.
POSE_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18),
              (19, 20), (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32)]


def _pose_mirror() -> list[int]:
    perm = list(range(PART_SIZES["pose"]))
    for a, b in POSE_PAIRS:
        perm[a], perm[b] = b, a
    return perm


#: Permutation of the 33 pose points that swaps left and right (for a mirrored image).
POSE_MIRROR = _pose_mirror()


def _mirror_map() -> dict[int, int]:
    m: dict[int, int] = {}
    for a, b in zip(LHAND, RHAND):
        m[a], m[b] = b, a
    for a, b in list(zip(LIP_LEFT, LIP_RIGHT)) + list(zip(EYE_LEFT, EYE_RIGHT)) + list(zip(*NOSE_PAIRS)):
        m[a], m[b] = b, a
    for a in LIP_MID + NOSE_MID:
        m[a] = a
    for i, j in enumerate(POSE_MIRROR):
        m[POSE0 + i] = POSE0 + j
    return m


#: Row → its mirror row (left/right swapped) for every row a landmark set can use.
MIRROR = _mirror_map()

#: Landmark sets a sign model can read (hands first in each).
LANDMARK_SETS = ("hands", "hands+pose", "kaggle")


def landmark_indices(landmark_set: str) -> list[int]:
    """Rows of a landmark set, hands first (positions 0–20 left hand, 21–41 right hand)."""
    if landmark_set == "hands":
        extra: list[int] = []
    elif landmark_set == "hands+pose":
        extra = [POSE0 + i for i in range(25)]  # upper body incl. hips; legs are rarely in view
    elif landmark_set == "kaggle":
        extra = (LIP_LEFT + LIP_RIGHT + LIP_MID + EYE_LEFT + EYE_RIGHT + NOSE_PAIRS[0] + NOSE_PAIRS[1]
                 + NOSE_MID + [POSE0 + i for i in (11, 12, 13, 14, 15, 16, 23, 24)])
    else:
        raise DataError(f"landmark set {landmark_set!r} unknown; expected one of {', '.join(LANDMARK_SETS)}")
    return LHAND + RHAND + extra


def mirror_permutation(indices: list[int]) -> list[int]:
    """Position of each point's mirror counterpart within ``indices``."""
    pos = {v: i for i, v in enumerate(indices)}
    return [pos[MIRROR[v]] for v in indices]


def empty_frame() -> np.ndarray:
    """One ``[543,3]`` float32 frame of NaN."""
    return np.full((N_LANDMARKS, 3), np.nan, np.float32)


def check_sequence(x: np.ndarray, source: str = "sequence") -> np.ndarray:
    """Validate and return ``x`` as float32 ``[T, 543, 3]``."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1:] != (N_LANDMARKS, 3):
        raise DataError(f"{source}: expected landmarks of shape [T, 543, 3], got {list(x.shape)}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"{source}: expected numeric landmarks, got dtype {x.dtype}")
    return np.asarray(x, dtype=np.float32)
