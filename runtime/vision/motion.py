"""Scene-change gate: was there any visible change since a reference frame?

The hand tracker uses it while no hand is tracked: palm detection (the tracker's most expensive
model) on a frame identical to one where it found nothing would find nothing again. The frame is
reduced to a ``cells_y x cells_x`` thumbnail of block means (each cell ≈ 16x16 px of a 640x480
frame) and compared with the reference thumbnail: *changed* when any cell's mean differs by more
than ``threshold`` (0-255 levels) in any channel. Block means average camera noise away (with
OpenCV a cell averages a 4x4-subsampled 16x16 block: 16 samples, pixel noise divided by 4), while a
hand entering even one cell changes it by tens of levels.
"""

from __future__ import annotations

import numpy as np


def thumbnail(rgb: np.ndarray, cells_x: int = 40, cells_y: int = 30) -> np.ndarray:
    """Block-mean thumbnail ``[cells_y, cells_x, C]`` float32 of an ``[H,W,C]`` uint8 image (OpenCV's
    area resize when importable, else NumPy block means over the frame cropped to whole blocks)."""
    try:
        import cv2  # optional, lazily
    except ImportError:
        cv2 = None
    if cv2 is not None:
        # every 4th pixel of every 4th row, then block means: 16x less to read, still ~16 samples a cell
        sub = rgb[::4, ::4] if min(rgb.shape[:2]) >= 8 * max(cells_x, cells_y) // 2 else rgb
        return cv2.resize(sub, (cells_x, cells_y), interpolation=cv2.INTER_AREA).astype(np.float32)
    h, w = rgb.shape[:2]
    by, bx = max(1, h // cells_y), max(1, w // cells_x)
    ny, nx = h // by, w // bx
    blocks = rgb[: ny * by, : nx * bx].reshape(ny, by, nx, bx, -1)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


class MotionGate:
    """``changed(rgb)`` → True when ``rgb`` differs from the reference set by :meth:`set_reference`
    (always True before any reference, or when ``threshold <= 0``, i.e. the gate is off)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self._ref: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._last_src: np.ndarray | None = None  # the frame ``_last`` was computed from

    def changed(self, rgb: np.ndarray) -> bool:
        if self.threshold <= 0:
            return True
        self._last, self._last_src = thumbnail(rgb), rgb
        if self._ref is None or self._ref.shape != self._last.shape:
            return True
        return bool(np.abs(self._last - self._ref).max() > self.threshold)

    def set_reference(self, rgb: np.ndarray) -> None:
        """Remember ``rgb`` (reusing the thumbnail just computed by :meth:`changed` for it, if any)."""
        if self.threshold <= 0:
            return
        self._ref = self._last if self._last_src is rgb and self._last is not None else thumbnail(rgb)
        self._last = self._last_src = None

    def reset(self) -> None:
        self._ref = self._last = self._last_src = None
