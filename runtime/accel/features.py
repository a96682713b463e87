"""NumPy reference of the accelerometer preprocessing that lives inside every accel ``.tflite``.

The TensorFlow twin is :mod:`edgelite.train.accel.model`; parity tests keep them within 1e-4.

Pipeline for one raw recording ``x`` ``[T,3]`` float32 in m/s² at the model's sample rate:

1. :func:`clean`: NaN → the axis' finite mean (0 if none), values clipped to ±``CLIP`` m/s².
2. :func:`fit_length`: centre-crop to ``n`` samples if longer; if shorter, ``stretch`` (linear
   resampling to exactly ``n``) or ``pad`` (centre edge-padding, time scale kept). Identity at ``T == n``.
3. :func:`add_magnitude`: ``[n,3]`` → ``[n,4]`` channels x, y, z, |a|.
4. :func:`window_features`: per channel, over the whole window and ``n_windows`` equal sub-windows:
   mean, std, min, max, jitter (mean |Δ|), mean-crossing rate (crossings by more than ``MCR_DEADBAND``), skew, kurtosis, autocorrelation at
   lag 1, autocovariance at lag 1, maximum and mean autocorrelation over lags 2…w//2.
   → ``[F]`` with ``F = (1 + n_windows) * 4 * 12``, see :func:`feature_names`.
"""

from __future__ import annotations

import numpy as np

CLIP = 1000.0  # m/s², far beyond any phone accelerometer range (±16 g ≈ 157 m/s²)
EPS = 1e-3  # (m/s²)² variance floor: below sensor noise, keeps skew/kurtosis finite on flat signals
MCR_DEADBAND = 1e-4  # m/s²: a sample this close to the mean is no crossing (float32 order noise is ~1e-6 here)
SCALE_EPS = 1e-2  # (m/s²)²: RMS floor of scale_window, so a still phone's noise is not blown up to unit size
FIT_MODES = ("stretch", "pad")
SCALES = ("none", "window")
#: Statistic order of the features; both twins compute a ``{name: value}`` dict and stack it in this order.
STATS = ("mean", "std", "min", "max", "jitter", "mcr", "skew", "kurt", "ac1", "acov1", "acmax", "acmean")
#: Channel order of the signal (both twins build it in this order).
CHANNELS = ("x", "y", "z", "mag")


def clean(x: np.ndarray) -> np.ndarray:
    """``[T,3]`` → ``[T,3]`` float32 with NaN replaced by the axis' finite mean and values clipped."""
    x = np.asarray(x, dtype=np.float32)
    nan = np.isnan(x)
    cnt = np.maximum((~nan).sum(axis=0), 1).astype(np.float32)
    mean = np.where(nan, np.float32(0), x).sum(axis=0, dtype=np.float32) / cnt
    return np.clip(np.where(nan, mean, x), -CLIP, CLIP).astype(np.float32)


def resample_positions(t_len: int, n: int) -> np.ndarray:
    """Fractional sample positions (float32 ``[n]``) used to centre-crop/stretch ``t_len`` samples to ``n``."""
    tp = min(t_len, n)
    start = (t_len - tp) // 2
    step = np.float32(tp - 1) / np.float32(max(n - 1, 1))
    return (np.float32(start) + np.arange(n, dtype=np.float32) * step).astype(np.float32)


def pad_positions(t_len: int, n: int) -> np.ndarray:
    """Integer positions (as float32 ``[n]``) that centre-crop ``t_len`` samples to ``n`` or centre-pad
    them by repeating the first/last sample: the time scale is kept."""
    pos = np.arange(n, dtype=np.int64) + (t_len - n) // 2
    return np.clip(pos, 0, t_len - 1).astype(np.float32)


def fit_length(x: np.ndarray, n: int, mode: str = "stretch") -> np.ndarray:
    """``[T,C]`` (T ≥ 1) → ``[n,C]``.

    ``mode="stretch"``: centre crop if ``T > n``, else linear resampling to ``n`` (for fixed-duration
    recordings whose sample count jitters, e.g. UniBuc's 1.5 s at ~100 Hz).
    ``mode="pad"``: centre crop or centre edge-padding; the time scale is kept (gestures of varying duration).
    """
    x = np.asarray(x, dtype=np.float32)
    t_len = x.shape[0]
    if t_len < 1:
        raise ValueError("need at least 1 sample")
    if mode not in FIT_MODES:
        raise ValueError(f"fit mode {mode!r}: expected one of {FIT_MODES}")
    pos = resample_positions(t_len, n) if mode == "stretch" else pad_positions(t_len, n)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t_len - 1)
    w = (pos - i0.astype(np.float32))[:, None]
    return (x[i0] * (np.float32(1) - w) + x[i1] * w).astype(np.float32)


def scale_window(x: np.ndarray) -> np.ndarray:
    """``[..., n, 3]`` → ``[..., n, 3]`` float32: each axis minus its window mean, all divided by the window's
    RMS over time and axes (floored by :data:`SCALE_EPS`). Removes gravity, offset and size; keeps shape and
    the axes' relative amplitudes."""
    x = np.asarray(x, dtype=np.float32)
    d = x - x.mean(axis=-2, keepdims=True, dtype=np.float32)
    rms = np.sqrt(np.mean(np.square(d), axis=(-2, -1), keepdims=True, dtype=np.float32) + np.float32(SCALE_EPS))
    return (d / rms).astype(np.float32)


def add_magnitude(x: np.ndarray) -> np.ndarray:
    """``[..., n, 3]`` → ``[..., n, 4]``: the channels of :data:`CHANNELS` (x, y, z, Euclidean norm)."""
    x = np.asarray(x, dtype=np.float32)
    parts = {"x": x[..., 0:1], "y": x[..., 1:2], "z": x[..., 2:3],
             "mag": np.sqrt(np.sum(np.square(x), axis=-1, keepdims=True))}
    return np.concatenate([parts[c] for c in CHANNELS], axis=-1).astype(np.float32)


def segments(n: int, n_windows: int) -> list[tuple[int, int]]:
    """``[(start, end)]``: the whole window, then ``n_windows`` equal consecutive sub-windows."""
    out = [(0, n)]
    edges = [round(i * n / n_windows) for i in range(n_windows + 1)]
    out += [(edges[i], edges[i + 1]) for i in range(n_windows)]
    return out


def segment_stats(s: np.ndarray) -> dict[str, np.ndarray]:
    """``[B,w,C]`` float64 → ``{statistic: [B,C]}`` for every name in :data:`STATS` (see module docstring)."""
    w = s.shape[1]
    mean = s.mean(axis=1)
    d = s - mean[:, None]
    var = np.mean(d**2, axis=1) + EPS
    std = np.sqrt(var)
    jitter = np.mean(np.abs(np.diff(s, axis=1)), axis=1) if w > 1 else np.zeros_like(mean)
    if w > 1:
        a, b = d[:, 1:], d[:, :-1]
        mcr = np.mean(((a * b) < 0) & (np.minimum(np.abs(a), np.abs(b)) > MCR_DEADBAND), axis=1)
    else:
        mcr = np.zeros_like(mean)
    max_lag = max(w // 2, 2)
    acov = np.stack([np.sum(d[:, l:] * d[:, : w - l], axis=1) / w if l < w else np.zeros_like(mean) for l in range(1, max_lag + 1)], axis=1)
    acorr = acov / var[:, None]
    return {"mean": mean, "std": std, "min": s.min(axis=1), "max": s.max(axis=1), "jitter": jitter, "mcr": mcr,
            "skew": np.mean(d**3, axis=1) / var**1.5, "kurt": np.mean(d**4, axis=1) / var**2 - 3.0,
            "ac1": acorr[:, 0], "acov1": acov[:, 0], "acmax": acorr[:, 1:].max(axis=1), "acmean": acorr[:, 1:].mean(axis=1)}


def stack_stats(stats: dict[str, np.ndarray]) -> np.ndarray:
    """``{statistic: [B,C]}`` → ``[B, len(STATS) * C]`` in :data:`STATS` order (statistic-major, channel-minor)."""
    return np.stack([stats[k] for k in STATS], axis=1).reshape(len(next(iter(stats.values()))), -1)


def window_features(sig: np.ndarray, n_windows: int = 3) -> np.ndarray:
    """``[n,4]`` or ``[B,n,4]`` (x,y,z,|a|) → ``[F]`` or ``[B,F]`` float32 features.

    Order: for each segment (whole, then sub-windows), for each statistic, for each channel.
    """
    single = sig.ndim == 2
    s = np.asarray(sig, dtype=np.float64)[None] if single else np.asarray(sig, dtype=np.float64)
    feats = [stack_stats(segment_stats(s[:, a:b])) for a, b in segments(s.shape[1], n_windows)]
    out = np.concatenate(feats, axis=1).astype(np.float32)
    return out[0] if single else out


def feature_names(n_windows: int = 3) -> list[str]:
    """``["all.mean.x", …]``: segment, statistic (:data:`STATS`), channel (:data:`CHANNELS`), in feature order."""
    segs = ["all"] + [f"w{i}" for i in range(n_windows)]
    return [f"{seg}.{st}.{ch}" for seg in segs for st in STATS for ch in CHANNELS]


def signal(w: np.ndarray, scale: str = "none") -> np.ndarray:
    """Fitted window(s) ``[..., n, 3]`` → signal ``[..., n, 4]``: :func:`scale_window` when ``scale="window"``,
    then :func:`add_magnitude`."""
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r}: expected one of {SCALES}")
    return add_magnitude(scale_window(w) if scale == "window" else w)


def preprocess(x: np.ndarray, n: int, n_windows: int = 3, mode: str = "stretch",
               scale: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """Raw ``[T,3]`` m/s² → (signal ``[n,4]``, features ``[F]``): what the model's graph computes before its network."""
    sig = signal(fit_length(clean(x), n, mode), scale)
    return sig, window_features(sig, n_windows)
