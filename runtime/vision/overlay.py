"""The on-screen overlay of the webcam loop: tracked hands, the top classes and the FPS drawn with OpenCV.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from edgelite.runtime.core.errors import EdgeliteError
from edgelite.runtime.vision.hands import (
    HAND_CONNECTIONS,
    HandLandmarks,
)


def draw_overlay(bgr: np.ndarray, hands: list[HandLandmarks], top: list[tuple[str, float]] | None,
                 fps: float, timings: dict[str, float], status: str = "") -> np.ndarray:
    """Draw landmarks, top-3 labels with probabilities, FPS and per-stage timings on ``bgr`` (in place)."""
    import cv2

    for h in hands:
        pts = np.round(h.px).astype(int)
        color = (80, 200, 80) if h.handedness == "Right" else (220, 140, 60)
        for a, b in HAND_CONNECTIONS:
            cv2.line(bgr, tuple(pts[a]), tuple(pts[b]), color, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(bgr, tuple(p), 3, (40, 40, 230), -1, cv2.LINE_AA)
        cv2.putText(bgr, f"{h.handedness} {h.score:.2f}", tuple(pts[0] + np.array([5, 15])),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    y = 22
    for i, (lab, p) in enumerate(top or []):
        cv2.putText(bgr, f"{lab}: {p:.2f}", (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7 if i == 0 else 0.55,
                    (255, 255, 255), 2 if i == 0 else 1, cv2.LINE_AA)
        y += 24
    h = bgr.shape[0]
    line = f"{fps:5.1f} FPS  " + " ".join(f"{k} {v:.1f}" for k, v in timings.items() if np.isfinite(v)) + " ms"
    cv2.putText(bgr, line, (10, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    if status:
        cv2.putText(bgr, status, (10, h - 32), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 255), 1, cv2.LINE_AA)
    return bgr


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise EdgeliteError("no display available (DISPLAY is not set); run headless (headless=True)")
