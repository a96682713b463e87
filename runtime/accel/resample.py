"""Resampling of irregularly sampled signals onto a uniform grid, and sliding windows.

NumPy only (no TensorFlow): used by the data readers, the trainer and the streaming runtime.
"""

from __future__ import annotations

import numpy as np

from edgelite.runtime.core.errors import DataError

__all__ = ["resample_uniform", "sliding_windows", "clean_timestamps"]

_MAX_SAMPLES = 100_000_000  # per segment: beyond this the timestamps are surely not in seconds


def clean_timestamps(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort samples by time (stable), drop non-finite rows and duplicate timestamps (first kept).

    Args:
        t: ``[T]`` timestamps in seconds (any order).
        x: ``[T, C]`` samples.

    Returns:
        ``(t [T'] float64 strictly increasing, x [T', C] float64)``.
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != t.shape[0]:
        raise DataError(f"resample: expected t [T] and x [T, C] with the same T, got t {t.shape} and x {x.shape}")
    ok = np.isfinite(t) & np.all(np.isfinite(x), axis=1)
    t, x = t[ok], x[ok]
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    if t.size > 1:
        keep = np.concatenate([[True], np.diff(t) > 0])
        t, x = t[keep], x[keep]
    return t, x


def resample_uniform(
    t: np.ndarray, x: np.ndarray, rate_hz: float, max_gap_s: float | None = None
) -> list[np.ndarray]:
    """Linearly interpolate ``x`` (sampled at times ``t``) onto a uniform grid at ``rate_hz``.

    Out-of-order samples are sorted, duplicate timestamps dropped (first kept), non-finite rows
    dropped. Where consecutive samples are more than ``max_gap_s`` apart the signal is split into
    separate segments (no interpolation across the gap). Each segment's grid starts at its first
    timestamp and ends at or before its last one.

    Args:
        t: ``[T]`` timestamps in seconds.
        x: ``[T, C]`` (or ``[T]``) samples.
        rate_hz: output sample rate (> 0).
        max_gap_s: split at gaps longer than this (seconds); ``None`` never splits.

    Returns:
        List of ``[n_i, C]`` float32 segments (``n_i >= 1``); empty list if no usable sample.
    """
    if not (rate_hz and np.isfinite(rate_hz) and rate_hz > 0):
        raise DataError(f"resample: rate_hz must be a positive number, got {rate_hz!r}")
    if max_gap_s is not None and not max_gap_s > 0:
        raise DataError(f"resample: max_gap_s must be > 0 or None, got {max_gap_s!r}")
    t, x = clean_timestamps(t, x)
    if t.size == 0:
        return []
    if max_gap_s is not None and t.size > 1:
        cuts = np.nonzero(np.diff(t) > max_gap_s)[0] + 1
    else:
        cuts = np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], cuts, [t.size]])
    out: list[np.ndarray] = []
    dt = 1.0 / float(rate_hz)
    for a, b in zip(bounds[:-1], bounds[1:]):
        ts, xs = t[a:b], x[a:b]
        # n points: t0, t0+dt, ... <= t_end (tiny tolerance against float round-off)
        n_f = np.floor((ts[-1] - ts[0]) / dt + 1e-9) + 1
        if n_f > _MAX_SAMPLES:
            raise DataError(
                f"resample: {ts[-1] - ts[0]:.3g} s at {rate_hz:g} Hz would make {n_f:.3g} samples "
                "(are the timestamps in seconds?)"
            )
        n = int(n_f)
        grid = ts[0] + np.arange(n, dtype=np.float64) * dt
        seg = np.empty((n, xs.shape[1]), dtype=np.float32)
        for c in range(xs.shape[1]):
            seg[:, c] = np.interp(grid, ts, xs[:, c])
        out.append(seg)
    return out


def sliding_windows(x: np.ndarray, n: int, stride: int) -> np.ndarray:
    """Windows of ``n`` consecutive samples every ``stride`` samples.

    Args:
        x: ``[T, C]`` signal (a ``[T]`` signal is treated as ``[T, 1]``).
        n: window length in samples (>= 1).
        stride: step between window starts in samples (>= 1).

    Returns:
        ``[W, n, C]`` with ``W = (T - n) // stride + 1`` (a read-only view where possible);
        an empty ``[0, n, C]`` array when ``T < n``.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(f"sliding_windows: expected x of shape [T, C], got {x.shape}")
    n, stride = int(n), int(stride)
    if n < 1 or stride < 1:
        raise DataError(f"sliding_windows: n and stride must be >= 1, got n={n}, stride={stride}")
    if x.shape[0] < n:
        return np.zeros((0, n, x.shape[1]), dtype=x.dtype)
    w = np.lib.stride_tricks.sliding_window_view(x, n, axis=0)  # [T-n+1, C, n]
    return w[::stride].transpose(0, 2, 1)
