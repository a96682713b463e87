"""Shared helpers of the benchmark scripts: results folder, machine header, saving JSON/Markdown, plots.

Every script saves ``benchmarks/results/<name>.json`` (with ``machine`` info and load averages),
``<name>.md`` and ``<name>_*.png``. The machine these results come from is usually a small shared box:
the Markdown says how loaded it was.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def repo_root() -> str:
    return os.path.dirname(HERE)


def machine() -> dict[str, Any]:
    from edgelite.runtime.bench import machine_info

    m = machine_info()
    try:
        from importlib.metadata import version

        m["tensorflow"] = version("tensorflow-cpu")
    except Exception:  # noqa: BLE001
        try:
            from importlib.metadata import version

            m["tensorflow"] = version("tensorflow")
        except Exception:  # noqa: BLE001
            m["tensorflow"] = None
    return m


def load_note(m: dict[str, Any]) -> str:
    la = m.get("load_avg_1_5_15") or [None]
    cores = m.get("cores") or 1
    s = f"Load average at start: {'/'.join(str(x) for x in m.get('load_avg_1_5_15') or []) or 'n/a'} on {cores} cores."
    if la[0] is not None and la[0] > 0.7 * cores:
        s += (" **The machine was shared and busy**: absolute wall-clock latencies are inflated and their tails"
              " (p95/p99/max) are dominated by scheduling; ratios between configurations measured in the same"
              " run, interleaved, are the meaningful numbers, and `cpu ms` (process CPU time per call) is"
              " less sensitive to the load than wall time.")
    return s


def header(title: str, m: dict[str, Any], command: str) -> str:
    from edgelite.runtime.bench import machine_line

    return "\n".join([
        f"# {title}", "",
        f"- machine: {machine_line(m)}" + (f", TensorFlow {m['tensorflow']}" if m.get("tensorflow") else ""),
        f"- {load_note(m)}",
        f"- command: `{command}`", "",
    ])


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], repo_root())] + sys.argv[1:])


def save(name: str, data: dict[str, Any], markdown: str, out_dir: str = RESULTS) -> list[str]:
    """Write ``<name>.json`` and ``<name>.md`` atomically; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext, text in (("json", json.dumps(data, indent=1, default=float) + "\n"), ("md", markdown)):
        p = os.path.join(out_dir, f"{name}.{ext}")
        with open(p + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(p + ".tmp", p)
        paths.append(p)
    return paths


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distributions(groups: dict[str, list[float]], title: str, path: str, log: bool = True) -> str | None:
    """Violin + box plot of latency lists (ms), one per label; saved as PNG. None without matplotlib."""
    try:
        plt = _plt()
    except ImportError:
        return None
    import numpy as np

    labels = list(groups)
    data = [np.asarray(groups[k], float) for k in labels]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels) + 2), 4.2))
    pos = np.arange(1, len(labels) + 1)
    clipped = [np.clip(d, None, np.percentile(d, 99.5)) for d in data]  # keep the violins readable
    tr = (lambda v: np.log10(np.maximum(v, 1e-6))) if log else (lambda v: v)
    ax.violinplot([tr(d) for d in clipped], pos, showextrema=False, widths=0.8)
    ax.boxplot([tr(d) for d in data], positions=pos, widths=0.25, showfliers=False)
    ax.scatter(pos, [tr(np.percentile(d, 99)) for d in data], marker="_", s=200, color="red", label="p99", zorder=3)
    ax.set_xticks(pos, labels, rotation=30, ha="right", fontsize=8)
    if log:
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        ax.yaxis.set_major_locator(MultipleLocator(1))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{10 ** v:g}"))
    ax.set_ylabel("latency per call (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_bars(values: dict[str, dict[str, float]], title: str, path: str, ylabel: str = "ms", log: bool = False) -> str | None:
    """Grouped bars: ``{group: {series: value}}`` (e.g. per-stage p50/p95, or per-variant p50 by config)."""
    try:
        plt = _plt()
    except ImportError:
        return None
    import numpy as np

    groups = list(values)
    series = list(dict.fromkeys(s for g in groups for s in values[g]))
    x = np.arange(len(groups))
    w = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups) + 2), 4.2))
    for i, s in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, [values[g].get(s, np.nan) for g in groups], w, label=s)
    ax.set_xticks(x, groups, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def md_table(rows: list[dict[str, Any]], cols: list[tuple[str, str]], nd: int = 3) -> str:
    """Markdown table of ``rows`` with ``cols = [(key, header), ...]``."""

    def f(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "on" if v else "off"
        if isinstance(v, float):
            return f"{v:.{nd}f}" if abs(v) < 100 else f"{v:.1f}" if abs(v) < 10000 else f"{v:.0f}"
        return str(v)

    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(f(r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join(out)
