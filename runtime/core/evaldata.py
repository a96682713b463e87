"""The run folder's ``eval_data.npz``: the one writer and the one reader (NumPy only, no pickle).

Arrays (variable-length samples are concatenated along time, ``lengths`` says where each ends):

- ``x_flat`` float32 ``[sum(T_i), ...]`` raw inputs (m/s² windows ``[T,3]`` or landmark frames ``[T,543,3]``,
  NaN = missing), ``lengths`` int64 ``[n]``, ``y`` int64 ``[n]`` label indices: evaluation samples.
- ``calib_x_flat`` / ``calib_lengths`` / ``calib_y``: representative training samples (quantization calibration).
- ``heldout_for_model`` bool scalar: ``True`` when the shipped model never saw the evaluation samples
  (a fold model), ``False`` when it was fitted on all the data (then use them for parity, not accuracy).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from edgelite.runtime.core.errors import DataError

FILENAME = "eval_data.npz"


@dataclass
class EvalSet:
    """Evaluation and calibration samples of a run (each sample ``[T_i, ...]`` float32)."""

    x: list[np.ndarray]
    y: np.ndarray | None
    calib_x: list[np.ndarray]
    calib_y: np.ndarray | None
    heldout_for_model: bool | None
    source: str


def flatten(xs: list[np.ndarray], frame_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(x_flat [sum T_i, *frame_shape] float32, lengths [n] int64)``."""
    lengths = np.array([len(x) for x in xs], np.int64)
    flat = np.concatenate(xs, 0).astype(np.float32) if xs else np.zeros((0, *frame_shape), np.float32)
    return flat, lengths


def split_flat(x_flat: np.ndarray, lengths: np.ndarray, source: str, field: str = "x_flat") -> list[np.ndarray]:
    """Inverse of :func:`flatten`; checks that ``lengths`` are non-negative and sum to the row count."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any():
        raise DataError(f"{source}: lengths of {field!r} must be a 1-D array of non-negative integers, "
                        f"got {lengths.dtype} {lengths.shape}")
    if int(lengths.sum()) != len(x_flat):
        raise DataError(f"{source}: {field!r} has {len(x_flat)} rows but its lengths sum to {int(lengths.sum())}")
    if len(lengths) == 0:
        return []
    return np.split(np.asarray(x_flat, np.float32), np.cumsum(lengths)[:-1])


def write_eval_data(path: str | os.PathLike, x: list[np.ndarray], y: np.ndarray, calib_x: list[np.ndarray],
                    calib_y: np.ndarray, heldout_for_model: bool) -> str:
    """Write ``eval_data.npz`` atomically (compressed). Returns the path."""
    path = os.fspath(path)
    frame = tuple(x[0].shape[1:]) if x else tuple(calib_x[0].shape[1:]) if calib_x else (3,)
    vx, vl = flatten(x, frame)
    cx, cl = flatten(calib_x, frame)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, x_flat=vx, lengths=vl, y=np.asarray(y, np.int64), calib_x_flat=cx, calib_lengths=cl,
                        calib_y=np.asarray(calib_y, np.int64), heldout_for_model=np.array(bool(heldout_for_model)))
    os.replace(tmp, path)
    return path


def read_eval_data(path: str | os.PathLike) -> EvalSet:
    """Read an ``eval_data.npz`` (any ``.npz`` with ``x_flat``/``lengths`` and/or ``calib_x_flat``/``calib_lengths``); ``DataError`` names what is wrong."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: evaluation data not found (expected an .npz with x_flat and lengths)")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if not ({"x_flat", "lengths"} <= files or {"calib_x_flat", "calib_lengths"} <= files):
                raise DataError(f"{path}: needs arrays 'x_flat' and 'lengths' (or calibration arrays 'calib_x_flat' "
                                f"and 'calib_lengths'); has {', '.join(sorted(files)) or 'none'}")
            arrs = {k: z[k] for k in files}
    except (OSError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz ({e})") from None
    x = split_flat(arrs["x_flat"], arrs["lengths"], path) if "x_flat" in arrs else []
    y = arrs["y"].astype(np.int64) if "y" in arrs else None
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: 'y' has {len(y)} labels for {len(x)} samples")
    cx = split_flat(arrs["calib_x_flat"], arrs["calib_lengths"], path, "calib_x_flat") if "calib_x_flat" in arrs else []
    cy = arrs["calib_y"].astype(np.int64) if "calib_y" in arrs else None
    held = bool(arrs["heldout_for_model"]) if "heldout_for_model" in arrs else None
    return EvalSet(x=x, y=y, calib_x=cx, calib_y=cy, heldout_for_model=held, source=path)
