"""Rendering of latency results: text table, Markdown with the machine line, JSON written atomically.
"""

from __future__ import annotations

import json
import os
from typing import Any


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
