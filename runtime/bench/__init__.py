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

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from edgelite.runtime.bench.inputs import (
    DEFAULT_SIGN_FRAMES,
    InputPlan,
    find_inputs,
    fit_length,
    load_samples,
    make_inputs,
    natural_frames,
    plan_for,
    random_input,
    random_sign_frames,
)
from edgelite.runtime.bench.latency import (
    STAT_KEYS,
    Case,
    bench_cases,
    bench_config,
    latency_stats,
    op_profile_support,
)
from edgelite.runtime.bench.machine import (
    cpu_model,
    load_average,
    machine_info,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
)
from edgelite.runtime.bench.report import (
    machine_line,
    render_markdown,
    render_table,
    summary_rows,
    write_json,
)
from edgelite.runtime.core.errors import DataError, ModelError
from edgelite.runtime.core.model import (
    SIGNATURE,
    interpreter_class,
    load_interpreter,
    runtime_version,
)
from edgelite.runtime.core.modelfile import ModelInfo, read_model_info
from edgelite.runtime.layout import PARTS


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
