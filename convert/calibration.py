"""Representative inputs and calibrated ranges for full-integer quantization.

Read from a run's ``eval_data.npz`` (``calib_x_flat``/``calib_lengths``, <= 200 training samples)
or any ``.npz`` with ``x_flat``/``lengths``. :func:`with_hard_inputs` adds NaN / all-NaN /
shortest-length variants so the calibrated ranges cover what the in-graph preprocessing emits for
them (without them, int8 saturated on an all-NaN input: probabilities off by 1.0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError

MAX_CALIBRATION_SAMPLES = 200
HARD_INPUT_EVERY = 10  # hard variants of every 10th calibration sample join the representative set
HARD_RANGE_FACTOR = 10.0  # hard inputs may widen a calibrated range at most this much (merge_hard_ranges)


@dataclass
class CalibrationSet:
    """Representative raw inputs: ``samples[i]`` is one unbatched input, e.g. ``[T_i, 3]`` float32."""

    samples: list[np.ndarray]
    source: str

    def __len__(self) -> int:
        return len(self.samples)


def _read_npz(path: str) -> tuple[list[np.ndarray], str]:
    """Calibration samples of an ``.npz`` through the one reader: ``calib_x_flat`` when present, else ``x_flat``."""
    from edgelite.runtime.core.evaldata import read_eval_data

    ev = read_eval_data(path)
    return (ev.calib_x, "calib_x_flat") if ev.calib_x else (ev.x, "x_flat")


def load_calibration(path: str | os.PathLike, max_samples: int = MAX_CALIBRATION_SAMPLES) -> CalibrationSet:
    """Representative samples from an ``.npz``: ``calib_x_flat``/``calib_lengths`` (a run's
    ``eval_data.npz``) or ``x_flat``/``lengths``; at most ``max_samples``, evenly spread."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: calibration data not found (expected an .npz with calib_x_flat/calib_lengths)")
    xs, field = _read_npz(path)
    samples = [s for s in xs if len(s) > 0]
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


def calibrate(fp32: bytes, recipe: list[dict[str, Any]], samples: list[np.ndarray], input_name: str) -> dict[str, Any]:
    """Per-tensor ranges ``{tensor name: {"min", "max"}}`` over ``samples`` (true min/max).

    The quantizer's default update is a moving average (factor 0.95), which lets the last ~20
    samples set the range: real windows outside it saturated and flipped to another class with
    probability 1.0 (UCI: 11 of 400 held-out windows). ``min_max_update`` covers every sample.
    """
    from litert_quantizer import calibrator, recipe_manager
    from litert_quantizer.utils import qsv_utils

    rm = recipe_manager.RecipeManager()
    rm.load_quantization_recipe(recipe)
    cal = calibrator.Calibrator(bytearray(fp32), num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    cal.calibrate({"serving_default": [{input_name: np.ascontiguousarray(x, np.float32)} for x in samples]}, rm)
    return cal.get_model_qsvs()


def absmax(q: dict[str, Any]) -> float:
    return float(max(np.abs(np.asarray(q["min"])).max(), np.abs(np.asarray(q["max"])).max()))


def merge_hard_ranges(real: dict[str, Any], hard: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """Per tensor, the range over real + hard inputs where it stays within :data:`HARD_RANGE_FACTOR`
    × the real range, else the real range alone. Returns (ranges, tensors widened, widenings refused).

    Hard inputs (all-NaN, T=1) must be covered when the preprocessing maps them to moderate values
    (UCI: without them int8 saturated on an all-NaN window), but in the sign model a T=1 sequence
    normalises by a near-zero spread: features of ±7e5 that would leave the real ones one int8 step.
    Such inputs saturate at the real range instead (checked on the hard inputs in ``convert.json``).
    """
    out, widened, refused = {}, 0, 0
    for name, r in real.items():
        h = hard.get(name, r)
        if "min" not in r or "max" not in r or "min" not in h:
            out[name] = h
            continue
        if absmax(h) <= HARD_RANGE_FACTOR * max(absmax(r), 1e-6):
            widened += int(absmax(h) > absmax(r))
            out[name] = h
        else:
            refused += 1
            out[name] = r
    return out, widened, refused
