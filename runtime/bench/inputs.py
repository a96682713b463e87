"""Benchmark inputs: real samples from a run's ``eval_data.npz`` (cropped or tiled to the benchmarked length),
else random arrays with the signature's shape (accelerometer windows around gravity, sign sequences with
the NaN pattern of real landmark data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from edgelite.runtime.core.errors import DataError, ModelError
from edgelite.runtime.core.model import (
    SIGNATURE,
)
from edgelite.runtime.core.modelfile import ModelInfo, read_model_info
from edgelite.runtime.layout import PARTS

DEFAULT_SIGN_FRAMES = (16, 64, 256)


def find_inputs(model_path: str) -> str | None:
    """``eval_data.npz`` next to the model or one folder up (``RUN/convert/model_fp16.tflite``)."""
    d = os.path.dirname(os.path.abspath(model_path))
    for cand in (os.path.join(d, "eval_data.npz"), os.path.join(os.path.dirname(d), "eval_data.npz")):
        if os.path.isfile(cand):
            return cand
    return None


def load_samples(path: str) -> list[np.ndarray]:
    """Samples ``[T_i, ...] float32`` from an ``.npz`` with ``x_flat`` + ``lengths`` (a run's ``eval_data.npz``,
    read by :func:`edgelite.runtime.core.evaldata.read_eval_data`) or a single stacked ``x``."""
    from edgelite.runtime.core.evaldata import read_eval_data

    if os.path.isfile(path):
        try:
            with np.load(path, allow_pickle=False) as z:
                if "x" in z.files and "x_flat" not in z.files:
                    x = np.asarray(z["x"], np.float32)
                    return [x[i] for i in range(len(x))] if x.ndim >= 2 else [x]
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable .npz ({e})") from None
    samples = [s for s in read_eval_data(path).x if len(s)]
    if not samples:
        raise DataError(f"{path}: contains no non-empty samples")
    return samples


def fit_length(x: np.ndarray, frames: int) -> np.ndarray:
    """Crop ``x [T, ...]`` to ``frames`` rows around its centre, or tile it cyclically when shorter."""
    t = len(x)
    if t == frames:
        return x
    if t > frames:
        s = (t - frames) // 2
        return x[s : s + frames]
    reps = -(-frames // t)
    return np.concatenate([x] * reps, axis=0)[:frames]


def random_sign_frames(frames: int, rng: np.random.Generator) -> np.ndarray:
    """``[frames, 543, 3] float32`` landmark-like input with the NaN pattern of real data.

    Face and pose present (x, y in [0, 1], small z), one dominant hand present in ~80 % of frames, the
    other in ~15 %, and the face missing in ~5 % of frames.
    """
    x = np.empty((frames, 543, 3), np.float32)
    x[..., :2] = rng.uniform(0.2, 0.8, (frames, 543, 2))
    x[..., 2] = rng.normal(0.0, 0.05, (frames, 543))
    dominant, other = ("right_hand", "left_hand") if rng.random() < 0.7 else ("left_hand", "right_hand")
    for part, p_missing in ((dominant, 0.2), (other, 0.85), ("face", 0.05)):
        a, b = PARTS[part]
        x[rng.random(frames) < p_missing, a:b, :] = np.nan
    return x


def random_input(shape: list[int], rng: np.random.Generator, task: str | None, dtype: str = "float32") -> np.ndarray:
    """A random array of ``shape`` (no -1 left): sign-like when ``[T,543,3]``, accel-like when ``[T,3]``."""
    if len(shape) == 3 and shape[1:] == [543, 3] or (task == "signs" and len(shape) == 3):
        return random_sign_frames(shape[0], rng)
    if dtype.startswith("int") or dtype.startswith("uint"):
        info = np.iinfo(np.dtype(dtype))
        return rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape).astype(dtype)
    x = rng.standard_normal(shape).astype(np.float32)
    if task == "accel" and shape and shape[-1] == 3:
        x *= 2.0
        x[..., 2] += 9.81
    return x.astype(dtype)


@dataclass
class InputPlan:
    """Inputs for one length: ``feeds`` (list of ``{name: array}``), ``source`` ("real:PATH" | "random")."""

    frames: int | None
    feeds: list[dict[str, np.ndarray]]
    source: str
    shapes: dict[str, list[int]] = field(default_factory=dict)


def natural_frames(info: ModelInfo) -> tuple[int | None, ...]:
    """Default lengths: accel ``window_samples``, sign models :data:`DEFAULT_SIGN_FRAMES`, else ``(None,)``."""
    sig = info.signatures[SIGNATURE]
    dynamic = any(any(s < 0 for s in (t.shape_signature or t.shape)[:1]) for t in sig.inputs.values())
    meta = info.metadata or {}
    if not dynamic:
        return (None,)
    if meta.get("task") == "accel" and meta.get("input", {}).get("window_samples"):
        return (int(meta["input"]["window_samples"]),)
    first = next(iter(sig.inputs.values()))
    shp = first.shape_signature or first.shape
    if meta.get("task") == "signs" or list(shp[1:]) == [543, 3]:
        return DEFAULT_SIGN_FRAMES
    return (64,)


def make_inputs(
    info: ModelInfo,
    frames: int | None,
    samples: list[np.ndarray] | None,
    source: str,
    max_inputs: int,
    rng: np.random.Generator,
) -> InputPlan:
    """Prepare up to ``max_inputs`` feeds of the signature for one length (``frames`` replaces a leading -1)."""
    sig = info.signatures[SIGNATURE]
    task = (info.metadata or {}).get("task")
    specs = {}
    for name, t in sig.inputs.items():
        shp = list(t.shape_signature or t.shape)
        if any(s < 0 for s in shp):
            if frames is None:
                raise ModelError(f"{info.path}: input {name!r} has dynamic shape {shp}: give the number of frames (frames)")
            shp = [frames if i == 0 and s < 0 else (1 if s < 0 else s) for i, s in enumerate(shp)]
        specs[name] = (shp, str(t.dtype).lower())
    feeds: list[dict[str, np.ndarray]] = []
    if samples is not None and len(specs) == 1:
        (name, (shp, dtype)), = specs.items()
        pick = np.linspace(0, len(samples) - 1, min(max_inputs, len(samples))).round().astype(int)
        for i in pick:
            s = np.asarray(samples[i], np.float32)
            if list(s.shape[1:]) != shp[1:]:
                raise DataError(
                    f"{source}: samples have shape [T,{','.join(map(str, s.shape[1:]))}] but input {name!r} "
                    f"expects {shp} (wrong eval data for this model?)"
                )
            feeds.append({name: np.ascontiguousarray(fit_length(s, shp[0]), dtype=dtype)})
        src = f"real:{source}"
    else:
        n = max(1, min(max_inputs, 8))
        for _ in range(n):
            feeds.append({k: random_input(shp, rng, task, dtype) for k, (shp, dtype) in specs.items()})
        src = "random"
    return InputPlan(frames=frames, feeds=feeds, source=src, shapes={k: v[0] for k, v in specs.items()})


def plan_for(path: str, frames: int | None = None, inputs: str | None = "auto", max_inputs: int = 32,
             seed: int = 0) -> InputPlan:
    """Inputs for ``path`` at one length (``None``: its natural length; the first one for sign models)."""
    info = read_model_info(path)
    src = find_inputs(path) if inputs == "auto" else inputs
    samples = load_samples(src) if src else None
    f = frames if frames is not None else natural_frames(info)[0]
    rng = np.random.default_rng(seed)
    try:
        return make_inputs(info, f, samples, src or "", max_inputs, rng)
    except DataError:
        if inputs != "auto":
            raise
        return make_inputs(info, f, None, "", max_inputs, rng)
