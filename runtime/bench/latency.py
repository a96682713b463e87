"""Timing: the one place edgelite times model calls (warm-up, timed runs, CPU time, RSS) and the statistics of a
latency sample (mean/std/min/p50/p95/p99/max in ms).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from edgelite.runtime.bench.inputs import InputPlan
from edgelite.runtime.bench.machine import (
    load_average,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
)
from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.core.model import (
    SIGNATURE,
    interpreter_class,
    load_interpreter,
)

STAT_KEYS = ("mean_ms", "std_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")


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
