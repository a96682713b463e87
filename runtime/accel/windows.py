"""Recording → model samples at the model's rate: the one windowing rule shared by training and ``predict``."""

from __future__ import annotations

import numpy as np


def recording_samples(data: np.ndarray, t: np.ndarray | None, rate_in: float, rate: float, window_s: float,
                      stride_s: float) -> list[tuple[np.ndarray, float, float]]:
    """Cut one recording into samples ``(x [T_i,3] float32 at rate Hz, start_s, end_s)``.

    Timestamps ``t`` (s) are used when given, else ``rate_in``. The signal is resampled to ``rate``
    with segments split at gaps longer than one window. A segment at least two windows long is cut
    into sliding windows of ``round(window_s*rate)`` samples every ``stride_s``; a shorter one
    (a gesture, a UniBuc recording) is one variable-length sample, which the model's graph
    crops/stretches exactly as it does on the device.
    """
    from edgelite.runtime.accel.resample import resample_uniform, sliding_windows

    data = np.asarray(data, np.float32)
    if len(data) < 2:
        return []
    tt = np.asarray(t, np.float64) if t is not None else np.arange(len(data), dtype=np.float64) / float(rate_in)
    n = int(round(window_s * rate))
    stride = max(1, int(round(stride_s * rate)))
    out: list[tuple[np.ndarray, float, float]] = []
    seg_start = float(np.nanmin(tt))
    for seg in resample_uniform(tt, data, rate, max_gap_s=window_s):
        if len(seg) >= 2 * n:
            w = sliding_windows(seg, n, stride)
            for i in range(len(w)):
                s0 = seg_start + i * stride / rate
                out.append((np.ascontiguousarray(w[i], dtype=np.float32), s0, s0 + n / rate))
        elif len(seg) >= 2:
            out.append((np.ascontiguousarray(seg, dtype=np.float32), seg_start, seg_start + len(seg) / rate))
        seg_start += len(seg) / rate
    return out
