"""Frame capture for the live sign path: a camera index or a video file through OpenCV (imported lazily),
with timestamps, lost-camera detection and bounded retries.
"""

from __future__ import annotations

import os
import time

import numpy as np
from edgelite.runtime.core.errors import DataError, EdgeliteError

CAMERA_FAILURES = 30  # consecutive failed reads before a camera counts as lost


def _cv2():
    try:
        import cv2
    except ImportError as e:
        raise EdgeliteError(f"camera/video capture needs OpenCV ({e}); pip install 'edgelite[camera]'") from None
    return cv2


class FrameSource:
    """Frames from a camera index or a video file as RGB uint8 with times in seconds.

    Raises :class:`DataError`/:class:`EdgeliteError` for a missing/unreadable video or camera; a
    camera that stops delivering frames raises after :data:`CAMERA_FAILURES` failed reads.
    """

    def __init__(self, camera: int | None = None, video: str | None = None) -> None:
        cv2 = _cv2()
        self.cv2 = cv2
        if (camera is None) == (video is None):
            raise EdgeliteError("give exactly one of camera (an index) or video (a file)")
        self.is_video = video is not None
        if self.is_video:
            if not os.path.isfile(video):
                raise DataError(f"{video}: video file not found")
            self.name = video
            self.cap = cv2.VideoCapture(video)
            if not self.cap.isOpened():
                raise DataError(f"{video}: OpenCV cannot open this video (unsupported format or corrupt file)")
            fps = self.cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and np.isfinite(fps) and 1 <= fps <= 1000 else 30.0
        else:
            self.name = f"camera {camera}"
            self.cap = cv2.VideoCapture(int(camera))
            if not self.cap.isOpened():
                raise EdgeliteError(f"camera {camera}: cannot open (no camera with that index, or it is in use)")
            self.fps = 0.0
        self.index = 0
        self.t0 = time.monotonic()

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next ``(rgb, t)``, or ``None`` at the end of a video."""
        failures = 0
        while True:
            ok, bgr = self.cap.read()
            if ok and bgr is not None and bgr.size:
                break
            if self.is_video:
                if self.index == 0:
                    raise DataError(f"{self.name}: no decodable frames (unsupported codec or corrupt file)")
                return None
            failures += 1
            if failures >= CAMERA_FAILURES:
                raise EdgeliteError(f"{self.name}: stopped delivering frames ({failures} failed reads); "
                                    "was it unplugged or taken by another program?")
            time.sleep(0.01)
        if bgr.ndim == 2:
            bgr = self.cv2.cvtColor(bgr, self.cv2.COLOR_GRAY2BGR)
        elif bgr.shape[2] == 4:
            bgr = self.cv2.cvtColor(bgr, self.cv2.COLOR_BGRA2BGR)
        rgb = self.cv2.cvtColor(bgr, self.cv2.COLOR_BGR2RGB)
        t = self.index / self.fps if self.is_video else time.monotonic() - self.t0
        self.index += 1
        return rgb, t

    def close(self) -> None:
        self.cap.release()
