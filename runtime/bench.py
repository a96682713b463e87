"""Latency harness for ``.tflite`` models, like TFLite's ``benchmark_model`` but from Python with real inputs.

For each configuration (threads x XNNPACK on/off x input length) it measures, in a fresh interpreter:

- ``init_ms``: create the interpreter + signature runner and allocate tensors;
- ``first_ms``: the first call (XNNPACK prepares its packed weights lazily, so this is often the slowest);
- ``warmup`` calls (not recorded), then ``runs`` timed calls of the ``serving_default`` signature runner
  (what an application sees: resize check + copy in + invoke + copy out), cycling through up to
  ``max_inputs`` prepared inputs;
- per-call latency ``mean/std/min/p50/p95/p99/max`` in ms, ``cpu_ms`` (process CPU time per call; on a
  loaded machine it moves less than wall time), throughput in calls/s (and frames/s for sequences);
- ``peak_rss_mb``: peak resident memory of the process (``VmHWM``; reset before each configuration where
  Linux allows it, otherwise the process-lifetime peak), ``rss_delta_mb`` across the configuration;
- the 1-minute load average before and after (results from a shared machine must say how busy it was).

Inputs are *real* when an ``.npz`` with ``x_flat``/``lengths`` (a run's ``eval_data.npz``) is given or
found next to the model (or one folder up, for ``convert/model_<variant>.tflite``); samples are cropped
(centre) or tiled to the benchmarked length. Otherwise inputs are random with the signature's shape:
accelerometer windows ``[T,3]`` around gravity, sign sequences ``[T,543,3]`` with the NaN pattern of
real landmark data (face/pose present, usually one hand missing, some frames with no hands).

Per-op profiling: the Python interpreter of ai-edge-litert / tflite-runtime exposes no op profiler
(only the C++ ``benchmark_model`` does), so :func:`op_profile_support` reports it as unavailable and the
result carries the model's op histogram instead.

Only numpy, the stdlib and LiteRT are imported here.

>>> res = bench_model("model.tflite", BenchOptions(threads=(1, 2), xnnpack=(True, False), runs=200))  # doctest: +SKIP
>>> print(render_markdown(res))                                                                       # doctest: +SKIP
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from edgelite.runtime.errors import DataError, ModelError
from edgelite.runtime.interpreter import SIGNATURE, interpreter_class, load_interpreter, runtime_version
from edgelite.runtime.modelfile import ModelInfo, read_model_info

#: Row ranges of the MediaPipe Holistic 543-landmark layout (Kaggle order).
SIGN_PARTS = {"face": (0, 468), "left_hand": (468, 489), "pose": (489, 522), "right_hand": (522, 543)}
DEFAULT_SIGN_FRAMES = (16, 64, 256)
STAT_KEYS = ("mean_ms", "std_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")


@dataclass
class BenchOptions:
    """What to benchmark.

    ``threads``/``xnnpack``/``frames``: the configuration grid (``frames=None``: the model's natural
    length: accel ``window_samples``, signs :data:`DEFAULT_SIGN_FRAMES`, fixed-shape models their shape).
    ``inputs``: ``.npz`` path (``x_flat``/``lengths``), ``"auto"`` (look next to the model) or ``None``
    (random). ``runs`` timed calls after ``warmup`` calls; ``max_inputs`` distinct inputs cycled.
    """

    threads: tuple[int, ...] = (1,)
    xnnpack: tuple[bool, ...] = (True,)
    frames: tuple[int, ...] | None = None
    runs: int = 100
    warmup: int = 10
    inputs: str | None = "auto"
    max_inputs: int = 32
    backend: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise ValueError(f"runs must be >= 1, got {self.runs}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if not self.threads or any(int(t) < 1 for t in self.threads):
            raise ValueError(f"threads must be positive integers, got {self.threads}")
        if self.frames is not None and (not self.frames or any(int(f) < 1 for f in self.frames)):
            raise ValueError(f"frames must be positive integers, got {self.frames}")


# --------------------------------------------------------------------------- machine and memory


def _read_proc(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read_proc("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine_info(backend: str = "auto") -> dict[str, Any]:
    """CPU model, logical cores (and those usable by this process), memory, OS, Python, numpy, runtime."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    mem_total = None
    for line in _read_proc("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        rt = runtime_version(backend)
    except Exception as e:  # noqa: BLE001 - recorded, not fatal
        rt = f"unavailable ({e})"
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "mem_total_gb": mem_total,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtime": rt,
        "load_avg_1_5_15": load_average(),
    }


def _status_kb(field_name: str) -> int | None:
    for line in _read_proc("/proc/self/status").splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (``VmHWM``) of this process; False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024


def peak_rss_mb() -> float:
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb / 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# --------------------------------------------------------------------------- statistics


def latency_stats(samples_ms: Iterable[float]) -> dict[str, float]:
    """``mean/std/min/p50/p95/p99/max`` (ms) of per-call latencies; percentiles by linear interpolation."""
    x = np.asarray(list(samples_ms), dtype=np.float64)
    if x.size == 0:
        raise ValueError("no latency samples")
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    return {
        "mean_ms": float(x.mean()),
        "std_ms": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "min_ms": float(x.min()),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(x.max()),
    }


# --------------------------------------------------------------------------- inputs


def find_inputs(model_path: str) -> str | None:
    """``eval_data.npz`` next to the model or one folder up (``RUN/convert/model_fp16.tflite``)."""
    d = os.path.dirname(os.path.abspath(model_path))
    for cand in (os.path.join(d, "eval_data.npz"), os.path.join(os.path.dirname(d), "eval_data.npz")):
        if os.path.isfile(cand):
            return cand
    return None


def load_samples(path: str) -> list[np.ndarray]:
    """Samples ``[T_i, ...] float32`` from an ``.npz`` with ``x_flat`` + ``lengths`` (or a single ``x``)."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: input file not found (expected an .npz with x_flat and lengths, e.g. a run's eval_data.npz)")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if "x_flat" in files and "lengths" in files:
                xf, ln = np.asarray(z["x_flat"], np.float32), np.asarray(z["lengths"])
            elif "x" in files:
                x = np.asarray(z["x"], np.float32)
                return [x[i] for i in range(len(x))] if x.ndim >= 2 else [x]
            else:
                raise DataError(f"{path}: needs arrays 'x_flat' and 'lengths' (or 'x'); has {', '.join(files) or 'none'}")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz ({e})") from None
    if ln.ndim != 1 or not np.issubdtype(ln.dtype, np.integer) or (ln < 0).any():
        raise DataError(f"{path}: 'lengths' must be a 1-D array of non-negative integers, got {ln.dtype} {ln.shape}")
    if int(ln.sum()) != len(xf):
        raise DataError(f"{path}: 'x_flat' has {len(xf)} rows but 'lengths' sums to {int(ln.sum())}")
    samples = [s for s in np.split(xf, np.cumsum(ln)[:-1]) if len(s)] if len(ln) else []
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
        a, b = SIGN_PARTS[part]
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
                raise ModelError(f"{info.path}: input {name!r} has dynamic shape {shp}: give frames (--frames)")
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


# --------------------------------------------------------------------------- measurement


def op_profile_support(backend: str = "auto") -> tuple[bool, str]:
    """Whether the Python runtime offers a per-op profiler (it does not in ai-edge-litert 2.x / tflite-runtime)."""
    cls, name = interpreter_class(backend)
    for attr in ("get_profiling_results", "enable_profiling", "profile"):
        if hasattr(cls, attr):
            return True, f"{name}.Interpreter.{attr}"
    return False, f"{name} Python Interpreter has no op profiler (use the C++ benchmark_model --enable_op_profiling)"


def bench_config(
    path: str,
    plan: InputPlan,
    threads: int,
    xnnpack: bool,
    runs: int,
    warmup: int,
    backend: str = "auto",
) -> dict[str, Any]:
    """Benchmark one configuration in a fresh interpreter; returns a flat dict (see module doc)."""
    gc.collect()
    peak_reset = reset_peak_rss()
    rss0 = rss_mb()
    load0 = load_average()
    t0 = time.perf_counter()
    interp = load_interpreter(path, num_threads=threads, xnnpack=xnnpack, backend=backend)
    interp.allocate_tensors()
    runner = interp.get_signature_runner(SIGNATURE)
    init_ms = (time.perf_counter() - t0) * 1e3
    feeds = plan.feeds
    try:
        t0 = time.perf_counter()
        runner(**feeds[0])
        first_ms = (time.perf_counter() - t0) * 1e3
        for i in range(warmup):
            runner(**feeds[i % len(feeds)])
        lat = np.empty(runs, np.float64)
        perf = time.perf_counter_ns
        c0 = time.process_time()
        w0 = perf()
        for i in range(runs):
            f = feeds[i % len(feeds)]
            s = perf()
            runner(**f)
            lat[i] = perf() - s
        wall_s = (perf() - w0) / 1e9
        cpu_s = time.process_time() - c0
    except ValueError as e:
        msg = str(e).strip().splitlines()
        raise ModelError(f"{path}: inference failed ({'xnnpack' if xnnpack else 'no xnnpack'}, "
                         f"{threads} threads, frames={plan.frames}): {msg[-1] if msg else e}") from None
    lat_ms = lat / 1e6
    stats = latency_stats(lat_ms)
    res: dict[str, Any] = {
        "threads": int(threads),
        "xnnpack": bool(xnnpack),
        "frames": plan.frames,
        "input_shapes": plan.shapes,
        "inputs": plan.source,
        "runs": int(runs),
        "warmup": int(warmup),
        "init_ms": init_ms,
        "first_ms": first_ms,
        **stats,
        "cpu_ms": cpu_s * 1e3 / runs,
        "throughput_per_s": runs / float(lat_ms.sum() / 1e3) if lat_ms.sum() > 0 else None,
        "wall_s": wall_s,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_scope": "config" if peak_reset else "process",
        "rss_delta_mb": (rss_mb() or 0.0) - (rss0 or 0.0),
        "load_avg_before": load0,
        "load_avg_after": load_average(),
        "latencies_ms": [round(float(v), 4) for v in lat_ms],
    }
    if plan.frames and res["throughput_per_s"]:
        res["frames_per_s"] = res["throughput_per_s"] * plan.frames
    del runner, interp
    gc.collect()
    return res


@dataclass
class Case:
    """One entry of an interleaved comparison: ``label`` (unique), model ``path``, settings and inputs."""

    label: str
    path: str
    plan: InputPlan
    threads: int = 1
    xnnpack: bool = True
    backend: str = "auto"


def bench_cases(cases: list[Case], runs: int = 200, warmup: int = 20, rounds: int = 5,
                progress: Any = None) -> dict[str, dict[str, Any]]:
    """Benchmark several models/settings *interleaved*, for fair ratios on a busy machine.

    All interpreters are opened first (``init_ms``, ``first_ms`` each), warmed up, then ``rounds`` rounds
    each run ``runs // rounds`` timed calls per case, the case order rotating every round, so load
    changes hit every case alike. Returns ``{label: config dict}`` with the keys of :func:`bench_config`
    (``peak_rss_mb`` is the process peak; ``rss_delta_mb`` what opening that interpreter added).
    """
    if len({c.label for c in cases}) != len(cases):
        raise ValueError("case labels must be unique")
    rounds = max(1, min(rounds, runs))
    per = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    state = []
    load0 = load_average()
    prime = load_interpreter(cases[0].path, num_threads=1, backend=cases[0].backend)
    del prime
    for c in cases:
        rss0 = rss_mb() or 0.0
        t0 = time.perf_counter()
        interp = load_interpreter(c.path, num_threads=c.threads, xnnpack=c.xnnpack, backend=c.backend)
        interp.allocate_tensors()
        runner = interp.get_signature_runner(SIGNATURE)
        init_ms = (time.perf_counter() - t0) * 1e3
        t0 = time.perf_counter()
        runner(**c.plan.feeds[0])
        first_ms = (time.perf_counter() - t0) * 1e3
        for i in range(warmup):
            runner(**c.plan.feeds[i % len(c.plan.feeds)])
        state.append({"case": c, "interp": interp, "runner": runner, "init_ms": init_ms, "first_ms": first_ms,
                      "rss_delta_mb": (rss_mb() or 0.0) - rss0, "lat": [], "cpu_s": 0.0, "k": 0})
    perf = time.perf_counter_ns
    for r, n in enumerate(per):
        order = state[r % len(state):] + state[: r % len(state)]
        for st in order:
            runner, feeds, lat = st["runner"], st["case"].plan.feeds, st["lat"]
            c0 = time.process_time()
            for _ in range(n):
                f = feeds[st["k"] % len(feeds)]
                st["k"] += 1
                t = perf()
                runner(**f)
                lat.append(perf() - t)
            st["cpu_s"] += time.process_time() - c0
        if progress is not None:
            progress(r + 1, rounds)
    out: dict[str, dict[str, Any]] = {}
    load1 = load_average()
    for st in state:
        c = st["case"]
        lat_ms = np.asarray(st["lat"], np.float64) / 1e6
        res = {
            "label": c.label, "path": c.path, "threads": c.threads, "xnnpack": c.xnnpack, "frames": c.plan.frames,
            "input_shapes": c.plan.shapes, "inputs": c.plan.source, "runs": int(runs), "warmup": int(warmup),
            "rounds": rounds, "init_ms": st["init_ms"], "first_ms": st["first_ms"], **latency_stats(lat_ms),
            "cpu_ms": st["cpu_s"] * 1e3 / runs,
            "throughput_per_s": runs / float(lat_ms.sum() / 1e3) if lat_ms.sum() > 0 else None,
            "peak_rss_mb": peak_rss_mb(), "peak_rss_scope": "process", "rss_delta_mb": st["rss_delta_mb"],
            "size_bytes": os.path.getsize(c.path), "load_avg_before": load0, "load_avg_after": load1,
            "latencies_ms": [round(float(v), 4) for v in lat_ms],
        }
        out[c.label] = res
    for st in state:
        st.pop("runner"), st.pop("interp")
    gc.collect()
    return out


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


def _parse_onoff(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).lower() in ("on", "1", "true", "yes")


def bench_model(path: str | os.PathLike, options: BenchOptions | None = None, progress: Any = None) -> dict[str, Any]:
    """Benchmark a ``.tflite`` over the configuration grid of ``options``.

    Returns ``{"model": {...}, "machine": {...}, "options": {...}, "op_profile": {...}, "configs": [...]}``;
    each config has ``threads, xnnpack, frames, init_ms, first_ms, mean/std/min/p50/p95/p99/max_ms,
    cpu_ms, throughput_per_s, peak_rss_mb, load_avg_before/after, latencies_ms``.
    ``progress``: optional callable ``(done, total, config)`` called after each configuration.
    """
    opts = options or BenchOptions()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: model file not found")
    info = read_model_info(path)
    if SIGNATURE not in info.signatures:
        raise ModelError(f"{path}: has no {SIGNATURE!r} signature (signatures: {', '.join(info.signatures) or 'none'})")
    rng = np.random.default_rng(opts.seed)
    inputs = find_inputs(path) if opts.inputs == "auto" else opts.inputs
    samples = load_samples(inputs) if inputs else None
    natural = natural_frames(info)
    frames_list: tuple[int | None, ...] = tuple(opts.frames) if opts.frames else natural
    if natural == (None,) and opts.frames:
        frames_list = (None,)  # fixed-shape model: --frames does not apply
    try:
        plans = [make_inputs(info, f, samples, inputs or "", opts.max_inputs, rng) for f in frames_list]
    except DataError:
        if opts.inputs != "auto":
            raise
        # An eval_data.npz found near the model that belongs to another model: use random inputs.
        plans = [make_inputs(info, f, None, "", opts.max_inputs, rng) for f in frames_list]
    grid = [(p, int(t), _parse_onoff(x)) for p in plans for t in opts.threads for x in opts.xnnpack]
    # Prime: the first interpreter of a process pays for loading the runtime's shared libraries.
    del_me = load_interpreter(path, num_threads=1, backend=opts.backend)
    del del_me
    configs = []
    for i, (plan, t, x) in enumerate(grid):
        configs.append(bench_config(path, plan, t, x, opts.runs, opts.warmup, opts.backend))
        if progress is not None:
            progress(i + 1, len(grid), configs[-1])
    ok, note = op_profile_support(opts.backend)
    meta = info.metadata or {}
    sig = info.signatures[SIGNATURE]
    return {
        "model": {
            "path": path,
            "name": os.path.basename(path),
            "size_bytes": info.size_bytes,
            "size_kb": round(info.size_bytes / 1024, 1),
            "task": meta.get("task"),
            "inputs": {k: (t.shape_signature or t.shape) for k, t in sig.inputs.items()},
            "input_dtypes": {k: t.dtype for k, t in sig.inputs.items()},
            "outputs": {k: (t.shape_signature or t.shape) for k, t in sig.outputs.items()},
            "ops": dict(sorted(info.op_histogram.items(), key=lambda kv: -kv[1])),
        },
        "machine": machine_info(opts.backend),
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()},
        "op_profile": {"available": ok, "note": note},
        "configs": configs,
    }


# --------------------------------------------------------------------------- output


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per configuration without the raw latencies (for tables and JSON summaries)."""
    return [{k: v for k, v in c.items() if k != "latencies_ms"} for c in result["configs"]]


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def render_table(result: dict[str, Any]) -> str:
    """Markdown table of all configurations (also readable as plain text)."""
    has_frames = any(c.get("frames") for c in result["configs"])
    head = ["threads", "xnnpack"] + (["frames"] if has_frames else []) + [
        "init ms", "first ms", "mean ms", "std", "min", "p50 ms", "p95 ms", "p99 ms", "max", "cpu ms", "calls/s", "peak RSS MB", "load1"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in result["configs"]:
        row = [str(c["threads"]), "on" if c["xnnpack"] else "off"] + ([_f(c.get("frames"))] if has_frames else []) + [
            _f(c["init_ms"], 1), _f(c["first_ms"], 2), _f(c["mean_ms"]), _f(c["std_ms"]), _f(c["min_ms"]),
            _f(c["p50_ms"]), _f(c["p95_ms"]), _f(c["p99_ms"]), _f(c["max_ms"]), _f(c["cpu_ms"]),
            _f(c["throughput_per_s"], 0), _f(c["peak_rss_mb"], 0), _f((c.get("load_avg_before") or [None])[0], 1)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine_line(m: dict[str, Any]) -> str:
    la = m.get("load_avg_1_5_15")
    return (f"{m.get('cpu')} ({m.get('cores')} cores, {m.get('cores_usable')} usable), {m.get('os')}, "
            f"Python {m.get('python')}, numpy {m.get('numpy')}, {m.get('runtime')}; load average "
            f"{'/'.join(str(x) for x in la) if la else 'n/a'}")


def render_markdown(result: dict[str, Any], title: str | None = None) -> str:
    m = result["model"]
    cores = result["machine"].get("cores") or 0
    la = (result["machine"].get("load_avg_1_5_15") or [0])[0]
    lines = [
        f"# {title or 'Latency: ' + m['name']}",
        "",
        f"- model: `{m['path']}` ({m['size_kb']} KB, task {m.get('task') or '?'}, inputs {m['inputs']})",
        f"- machine: {machine_line(result['machine'])}",
        f"- inputs: {result['configs'][0]['inputs'] if result['configs'] else '-'}; "
        f"{result['options']['runs']} timed calls after {result['options']['warmup']} warm-up calls per configuration",
        f"- op profile: {result['op_profile']['note'] if not result['op_profile']['available'] else 'available'}",
    ]
    if la and cores and la > 0.7 * cores:
        lines.append(f"- **note:** the machine was busy (load average {la} on {cores} cores): wall-clock latencies "
                     "are inflated and noisy; compare configurations of the same run, and `cpu ms` (process CPU time "
                     "per call) rather than absolute numbers.")
    lines += ["", render_table(result), ""]
    return "\n".join(lines)


def write_json(result: dict[str, Any], out_path: str | os.PathLike, raw: bool = True) -> str:
    """Write ``result`` atomically (``raw=False`` drops the per-call latency lists)."""
    out_path = os.fspath(out_path)
    data = result if raw else {**result, "configs": summary_rows(result)}
    d = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(d, exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, default=float)
        f.write("\n")
    os.replace(tmp, out_path)
    return out_path
