"""Machine facts a latency result must carry: CPU model, load average, runtime version, RSS readings (Linux /proc).
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import numpy as np
from edgelite.runtime.core.model import (
    runtime_version,
)


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
