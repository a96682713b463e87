"""Hand tracking with MediaPipe Tasks ``HandLandmarker`` in VIDEO mode (the reference backend).

The model bundle is found by :func:`edgelite.runtime.vision.hands.resolve_hand_model`: ``--hand-model PATH``,
else ``cache_dir()/hand_landmarker.task``, else ``$EDGELITE_SHARED/models/hand_landmarker.task``,
else (only with ``allow_download``) MediaPipe's official address. mediapipe is imported lazily.
"""

from __future__ import annotations

import os

import numpy as np
from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError
from edgelite.runtime.vision.hands import (
    HandLandmarks,
    HandTrackerOptions,
    resolve_hand_model,
)


class MediaPipeHandTracker:
    """``process(rgb, timestamp_ms)`` → list of :class:`HandLandmarks`; timestamps must increase."""

    def __init__(self, landmarker, mp_module, options: HandTrackerOptions, source: str) -> None:
        self._lm = landmarker
        self._mp = mp_module
        self.options = options
        self.source = source
        self._last_ts = -1
        self.stats = {"frames": 0}

    @classmethod
    def create_from_options(cls, options: HandTrackerOptions) -> "MediaPipeHandTracker":
        os.environ.setdefault("GLOG_minloglevel", "2")  # quieter MediaPipe/absl logging on stderr
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as e:
            raise EdgeliteError(f"hands='mediapipe' needs the mediapipe package ({e}); "
                                "pip install 'edgelite[camera]' or use hands='litert'") from None
        path = resolve_hand_model(options.model_path, allow_download=options.allow_download)
        opts = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=int(options.num_hands),
            min_hand_detection_confidence=float(options.min_detection_confidence),
            min_hand_presence_confidence=float(options.min_presence_confidence),
            min_tracking_confidence=float(options.min_presence_confidence),
        )
        try:
            lm = vision.HandLandmarker.create_from_options(opts)
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"{path}: MediaPipe cannot load this hand landmarker bundle: "
                             f"{str(e).strip().splitlines()[-1] if str(e).strip() else e}") from None
        return cls(lm, mp, options, str(path))

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[HandLandmarks]:
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise DataError(f"hand tracker: expected an RGB [H,W,3] uint8 frame, got {rgb.dtype} {rgb.shape}")
        ts = int(timestamp_ms)
        if ts <= self._last_ts:  # MediaPipe requires strictly increasing timestamps
            ts = self._last_ts + 1
        self._last_ts = ts
        h, w = rgb.shape[:2]
        img = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        res = self._lm.detect_for_video(img, ts)
        self.stats["frames"] += 1
        out = []
        for lms, hd in zip(res.hand_landmarks, res.handedness):
            norm = np.array([[p.x, p.y, p.z] for p in lms], np.float32)
            cat = hd[0]
            label = cat.category_name or cat.display_name or ("Left" if cat.index == 0 else "Right")
            out.append(HandLandmarks.from_norm(norm, w, h, label, float(cat.score)))
        return out

    def close(self) -> None:
        if self._lm is not None:
            self._lm.close()
            self._lm = None

    def __enter__(self) -> "MediaPipeHandTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
