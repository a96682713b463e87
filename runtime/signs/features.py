"""Sign-landmark preprocessing in NumPy: the exact twin of the in-graph TF preprocessing.

Input: one MediaPipe Holistic sequence ``[T, 543, 3]`` float32 (Kaggle order: face 0–467,
left_hand 468–488, pose 489–521, right_hand 522–542; normalised image coordinates; NaN = not
detected). Output: ``features [max_len, F]`` float32 and ``mask [max_len]`` float32 (1 = real frame).

Steps (identical in :mod:`edgelite.train.signs.preprocess`, checked by parity tests):

1. **select** the landmark set's points (hands first: positions 0–20 left hand, 21–41 right hand),
   keep x, y (and z if ``use_z``) → ``[T, P, C]``;
2. **dominant-hand mirroring**: if the left hand is seen in more frames than the right hand, mirror
   x → 1 − x and swap left/right points (hands, pose, lips, eyes), so the dominant hand is always the
   right-hand slot;
3. **frame selection**: drop frames where neither hand is seen, unless no frame has a hand;
4. **resample in time** to ``L = min(T', max_len)`` frames by nearest gather
   ``src = ((2i + 1) T') // (2L)`` (integer arithmetic, identical in both twins);
5. **NaN-aware normalisation**: subtract the per-channel mean over all seen values; divide by the
   pooled standard deviation of x and y (1 if undefined);
6. **hand-local shape**: per frame and hand, points minus the wrist divided by the largest
   wrist-to-point distance in x, y;
7. **motion**: lag-1 and lag-2 forward differences (zero for the last frames);
8. features = ``[points, lag1, lag2, hand_local]`` flattened per frame; NaN → 0; zero-padded to
   ``max_len`` with the mask.

No TensorFlow here: numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError
from edgelite.runtime.layout import (  # noqa: F401  (re-exported for the TF twin)
    LANDMARK_SETS,
    N_LANDMARKS,
    PART_SIZES,
    check_sequence,
    landmark_indices,
    mirror_permutation,
)

#: Positions ``[start, stop)`` of the left and right hand among the selected points: every landmark
#: set starts with both hands (:func:`edgelite.runtime.layout.landmark_indices`). Both twins use these.
HAND_SLOTS: tuple[tuple[int, int], tuple[int, int]] = (
    (0, PART_SIZES["left_hand"]),
    (PART_SIZES["left_hand"], PART_SIZES["left_hand"] + PART_SIZES["right_hand"]),
)
#: Points of both hands (the hand-local shape features cover them).
HAND_POINTS = HAND_SLOTS[1][1]

@dataclass
class SignPreprocessConfig:
    """Parameters of the sign preprocessing (stored in the model metadata as ``preprocessing``)."""

    landmark_set: str = "hands"
    max_len: int = 32
    use_z: bool = False
    mirror: bool = True
    drop_handless: bool = True
    hand_local: bool = True
    lags: tuple[int, ...] = field(default=(1, 2))

    def __post_init__(self) -> None:
        landmark_indices(self.landmark_set)  # validates
        self.max_len = int(self.max_len)
        if self.max_len < 1:
            raise DataError(f"max_len must be >= 1, got {self.max_len}")
        self.lags = tuple(int(v) for v in self.lags)

    @property
    def indices(self) -> list[int]:
        return landmark_indices(self.landmark_set)

    @property
    def channels(self) -> int:
        return 3 if self.use_z else 2

    @property
    def num_points(self) -> int:
        return len(self.indices)

    @property
    def num_features(self) -> int:
        p, c = self.num_points, self.channels
        return p * c * (1 + len(self.lags)) + (HAND_POINTS * c if self.hand_local else 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["lags"] = list(self.lags)
        d["num_features"] = self.num_features
        d["layout"] = "mediapipe-holistic-543"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SignPreprocessConfig":
        keys = ("landmark_set", "max_len", "use_z", "mirror", "drop_handless", "hand_local", "lags")
        return cls(**{k: d[k] for k in keys if k in d})


def select_points(x: np.ndarray, cfg: SignPreprocessConfig) -> np.ndarray:
    """``[T, 543, 3]`` → ``[T, P, 3]`` the landmark set's points (hands first)."""
    return np.asarray(x, np.float32)[:, cfg.indices, :]


def features_from_points(pts: np.ndarray, cfg: SignPreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """``[T, P, 3]`` selected points → ``(features [max_len, F], mask [max_len])`` float32."""
    pts = np.asarray(pts, np.float32)[..., : cfg.channels]
    c = cfg.channels
    seen = ~np.isnan(pts[..., 0])
    (l0, l1), (r0, r1) = HAND_SLOTS
    lh = seen[:, l0:l1].any(axis=1)
    rh = seen[:, r0:r1].any(axis=1)
    if cfg.mirror and lh.sum() > rh.sum():
        pts = pts[:, mirror_permutation(cfg.indices), :].copy()
        pts[..., 0] = np.float32(1.0) - pts[..., 0]
    if cfg.drop_handless:
        has = lh | rh
        keep = has | (not has.any())
        pts = pts[np.nonzero(keep)[0]]
    t = pts.shape[0]
    n = min(t, cfg.max_len)
    i = np.arange(n, dtype=np.int64)
    src = ((2 * i + 1) * t) // max(2 * n, 1)
    pts = pts[src]

    nan = np.isnan(pts)
    z = np.where(nan, np.float32(0), pts)
    cnt = (~nan).sum(axis=(0, 1)).astype(np.float32)
    mean = z.sum(axis=(0, 1), dtype=np.float32) / np.maximum(cnt, np.float32(1))
    dev = np.where(nan, np.float32(0), pts - mean)
    var = (dev[..., :2] ** 2).sum(dtype=np.float32) / np.maximum(cnt[:2].sum(), np.float32(1))
    s = np.sqrt(var).astype(np.float32)
    s = s if s > 1e-6 else np.float32(1)
    pn = ((pts - mean) / s).astype(np.float32)

    flat = pn.reshape(n, -1)
    parts = [flat]
    for lag in cfg.lags:
        d = np.zeros_like(flat)
        if n > lag:
            d[: n - lag] = flat[lag:] - flat[:-lag]
        parts.append(d)
    if cfg.hand_local:
        loc = []
        for h0, h1 in HAND_SLOTS:
            d = pn[:, h0:h1, :] - pn[:, h0:h0 + 1, :]  # minus the wrist (first point of the hand)
            r = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)
            r = np.where(np.isnan(r), np.float32(0), r).max(axis=1) if n else np.zeros((0,), np.float32)
            loc.append((d / np.maximum(r, np.float32(1e-6))[:, None, None]).reshape(n, (h1 - h0) * c))
        parts.append(np.concatenate(loc, axis=1))
    f = np.concatenate(parts, axis=1).astype(np.float32)
    f = np.where(np.isnan(f), np.float32(0), f)
    out = np.zeros((cfg.max_len, cfg.num_features), np.float32)
    out[:n] = f
    mask = np.zeros((cfg.max_len,), np.float32)
    mask[:n] = 1
    return out, mask


def sign_features(x: np.ndarray, cfg: SignPreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``[T, 543, 3]`` (NaN = missing) → ``(features [max_len, F], mask [max_len])`` float32."""
    x = check_sequence(x)
    return features_from_points(select_points(x, cfg), cfg)


def batch_features_from_points(pts: list[np.ndarray], cfg: SignPreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Many already-selected point sequences (see :func:`select_points`) → ``(features [N, max_len, F], masks [N, max_len])``."""
    feats = np.zeros((len(pts), cfg.max_len, cfg.num_features), np.float32)
    masks = np.zeros((len(pts), cfg.max_len), np.float32)
    for k, p in enumerate(pts):
        feats[k], masks[k] = features_from_points(p, cfg)
    return feats, masks
