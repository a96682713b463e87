"""Write RGB frames as a Y4M video (YUV 4:2:0, BT.601 full-range 'C420jpeg'), the format Chromium's fake camera
(``--use-file-for-fake-video-capture=FILE.y4m``) plays; NumPy only. Used by the camera test and the benchmark."""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """``[H,W,3]`` uint8 RGB (H, W even) → I420 planes (Y, then U and V at half resolution), JPEG (full-range) matrix."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = y.shape
    sub = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731
    planes = [y, sub(u), sub(v)]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int) -> int:
    """Write ``frames`` (RGB uint8, same even size) to ``path`` atomically; returns the frame count."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "wb") as f:
        for fr in frames:
            if n == 0:
                h, w = fr.shape[:2]
                if h % 2 or w % 2:
                    raise ValueError(f"y4m: frame size {w}x{h} must be even")
                f.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
            f.write(b"FRAME\n" + rgb_to_i420(fr))
            n += 1
    os.replace(tmp, path)
    return n
