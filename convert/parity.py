"""Parity of converted variants with the TensorFlow model, accuracy and single-thread latency.

Held-out data comes from a run's ``eval_data.npz`` (``np.load(allow_pickle=False)``):
``x_flat`` float32 ``[sum(T_i), ...]`` (raw inputs concatenated along time, NaN = missing),
``lengths`` int64 ``[n]`` and ``y`` int64 ``[n]`` (label index, validation split).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import ModelError


@dataclass
class EvalData:
    """Held-out raw inputs ``samples[i]`` (``[T_i, ...]`` float32) with labels ``y`` (or ``None``)."""

    samples: list[np.ndarray]
    y: np.ndarray | None
    source: str
    heldout_for_model: bool | None = None  # False: the shipped model was fitted on these samples too

    def subset(self, max_samples: int) -> "EvalData":
        """At most ``max_samples`` samples, evenly spread (deterministic)."""
        n = len(self.samples)
        if n <= max_samples:
            return self
        idx = np.linspace(0, n - 1, max_samples).round().astype(int)
        return EvalData([self.samples[i] for i in idx], None if self.y is None else self.y[idx], self.source,
                        self.heldout_for_model)


def load_eval_data(path: str | os.PathLike) -> EvalData:
    """Held-out samples of a run's ``eval_data.npz`` through the one reader
    (:func:`edgelite.runtime.core.evaldata.read_eval_data`)."""
    from edgelite.runtime.core.evaldata import read_eval_data

    ev = read_eval_data(path)
    return EvalData(samples=ev.x, y=ev.y, source=ev.source, heldout_for_model=ev.heldout_for_model)


def edge_inputs(sample: np.ndarray, min_length: int = 1) -> dict[str, np.ndarray]:
    """Hard inputs derived from a real ``sample``: 30 % NaN rows, all NaN, one NaN channel, T=2, T=1."""
    x = np.asarray(sample, np.float32)
    rng = np.random.default_rng(0)
    nan30 = x.copy()
    nan30[rng.random(len(x)) < 0.3] = np.nan
    chan = x.copy()
    chan[..., 0] = np.nan
    cases = {"nan_30pct_rows": nan30, "one_channel_nan": chan, "all_nan": np.full_like(x, np.nan)}
    for t in (2, 1):
        if t >= min_length and len(x) >= t:
            cases[f"T={t}"] = x[:t].copy()
    return cases


class TFReference:
    """The SavedModel's ``serving_default`` called sample by sample (TensorFlow needed)."""

    def __init__(self, saved_model_dir: str | os.PathLike, input_name: str, output_name: str):
        import tensorflow as tf

        sm = os.fspath(saved_model_dir)
        if not os.path.isdir(sm):
            raise ModelError(f"{sm}: SavedModel folder not found")
        self._tf = tf
        self._loaded = tf.saved_model.load(sm)
        if "serving_default" not in self._loaded.signatures:
            raise ModelError(f"{sm}: SavedModel has no serving_default signature")
        self.fn = self._loaded.signatures["serving_default"]
        self.input_name = input_name
        self.output_name = output_name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.fn(**{self.input_name: self._tf.constant(np.asarray(x, np.float32))})
        return out[self.output_name].numpy()

    def run_all(self, samples: list[np.ndarray]) -> np.ndarray:
        return np.stack([self(s) for s in samples])


def tflite_outputs(model_path: str | os.PathLike, samples: list[np.ndarray], num_threads: int = 1) -> np.ndarray:
    """Outputs of the ``.tflite`` signature for every sample, stacked ``[n, ...]``."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(model_path, num_threads=num_threads)
    return np.stack([m.predict(s) for s in samples])


def compare(reference: np.ndarray, outputs: np.ndarray) -> dict[str, Any]:
    """Max / mean absolute difference and top-1 agreement of two ``[n, C]`` probability arrays."""
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    out = np.asarray(outputs, np.float64).reshape(len(outputs), -1)
    finite = bool(np.isfinite(out).all())
    d = np.abs(ref - out)
    return {
        "n": int(len(ref)),
        "max_abs_diff": float(np.nanmax(d)) if d.size else 0.0,
        "mean_abs_diff": float(np.nanmean(d)) if d.size else 0.0,
        "top1_agreement": float(np.mean(ref.argmax(1) == out.argmax(1))) if len(ref) else 1.0,
        "finite": finite,
    }


def accuracy(outputs: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(outputs).reshape(len(y), -1).argmax(1) == np.asarray(y)))


def latency(
    model_path: str | os.PathLike, sample: np.ndarray, runs: int = 200, warmup: int = 10, num_threads: int = 1
) -> dict[str, Any]:
    """Single-call latency of the signature on ``sample``: median and p90 over ``runs`` calls (ms)."""
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(model_path, num_threads=num_threads)
    x = np.ascontiguousarray(sample, np.float32)
    for _ in range(warmup):
        m.predict(x)
    times = []
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        m.predict(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
        "runs": len(times),
        "threads": num_threads,
        "input_shape": list(x.shape),
        "backend": m.backend,
    }
