"""Representative inputs for full-integer quantization: real training samples (+ hard variants).

Read from a run's ``eval_data.npz`` (``calib_x_flat``/``calib_lengths``, <= 200 training samples)
or any ``.npz`` with ``x_flat``/``lengths``. :func:`with_hard_inputs` adds NaN / all-NaN /
shortest-length variants so the calibrated ranges cover what the in-graph preprocessing emits for
them (without them, int8 saturated on an all-NaN input: probabilities off by 1.0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edgelite.runtime.core.errors import DataError

MAX_CALIBRATION_SAMPLES = 200
HARD_INPUT_EVERY = 10  # hard variants of every 10th calibration sample join the representative set


@dataclass
class CalibrationSet:
    """Representative raw inputs: ``samples[i]`` is one unbatched input, e.g. ``[T_i, 3]`` float32."""

    samples: list[np.ndarray]
    source: str

    def __len__(self) -> int:
        return len(self.samples)


def split_flat(x_flat: np.ndarray, lengths: np.ndarray, source: str, field: str = "x_flat") -> list[np.ndarray]:
    """Split ``x_flat [sum(lengths), ...]`` into a list of ``[lengths[i], ...]`` arrays (views)."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(f"{source}: lengths for {field!r} must be a 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if (lengths < 0).any():
        raise DataError(f"{source}: lengths for {field!r} has negative entries")
    if int(lengths.sum()) != len(x_flat):
        raise DataError(f"{source}: {field!r} has {len(x_flat)} rows but its lengths sum to {int(lengths.sum())}")
    if len(lengths) == 0:
        return []
    return np.split(np.asarray(x_flat, dtype=np.float32), np.cumsum(lengths)[:-1])


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if {"calib_x_flat", "calib_lengths"} <= keys:
                return z["calib_x_flat"], z["calib_lengths"], "calib_x_flat"
            if {"x_flat", "lengths"} <= keys:
                return z["x_flat"], z["lengths"], "x_flat"
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz ({e})") from None
    raise DataError(
        f"{path}: no calibration arrays (expected calib_x_flat + calib_lengths, or x_flat + lengths; "
        f"found {', '.join(sorted(keys)) or 'nothing'})"
    )


def load_calibration(path: str | os.PathLike, max_samples: int = MAX_CALIBRATION_SAMPLES) -> CalibrationSet:
    """Representative samples from an ``.npz``: ``calib_x_flat``/``calib_lengths`` (a run's
    ``eval_data.npz``) or ``x_flat``/``lengths``; at most ``max_samples``, evenly spread."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: calibration data not found (expected an .npz with calib_x_flat/calib_lengths)")
    xf, ln, field = _read_npz(path)
    samples = [s for s in split_flat(xf, ln, path, field) if len(s) > 0]
    if not samples:
        raise DataError(f"{path}: {field!r} holds no non-empty samples")
    if len(samples) > max_samples:
        idx = np.linspace(0, len(samples) - 1, max_samples).round().astype(int)
        samples = [samples[i] for i in idx]
    return CalibrationSet(samples=samples, source=path)


def with_hard_inputs(calibration: CalibrationSet, min_length: int = 1, every: int = HARD_INPUT_EVERY) -> CalibrationSet:
    """Calibration samples plus hard variants (NaN rows, a NaN channel, all NaN, T=2/T=1) of every
    ``every``-th sample."""
    from edgelite.convert.parity import edge_inputs

    extra: list[np.ndarray] = []
    for s in calibration.samples[::every]:
        extra.extend(edge_inputs(s, min_length=min_length).values())
    return CalibrationSet(samples=list(calibration.samples) + extra, source=calibration.source)
