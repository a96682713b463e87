"""``DIR/convert.json`` and ``DIR/convert.md``: the conversion table of every variant.

Per variant: size in bytes (and % of fp32), ops used with their versions, quantization summary,
parity with the TensorFlow model on held-out real samples (max abs diff, top-1 agreement),
accuracy on the validation split (and delta vs the TF model in points), hard-input checks
(NaN, all-NaN, T=2/T=1), single-thread latency (median of >= 200 runs) and the runtimes that
loaded and ran it, and the quantizer's per-tensor validation (SNR in dB, cosine similarity vs
the float model on real samples: the output and the lowest-SNR intermediate tensors).
"""

from __future__ import annotations

import json
import os
from typing import Any


def _atomic_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _fmt(v: Any, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def render_markdown(result: dict[str, Any]) -> str:
    """Markdown report of a :func:`edgelite.convert.pipeline.convert_run` result."""
    lines = [f"# Conversion report: `{result.get('source', '?')}`", ""]
    ref = result.get("reference") or {}
    ev = result.get("eval") or {}
    if ev:
        seen = ev.get("heldout_for_model") is False
        lines.append(
            ("Evaluation data (the shipped model was fitted on all the data, these samples included: accuracy "
             "here measures quantization loss, not generalisation; the run's report.json has the CV accuracy): "
             if seen else "Held-out data: ")
            + f"`{ev.get('source')}` ({ev.get('n_samples')} samples; parity on {ev.get('n_parity')}). "
            f"Reference: {ref.get('kind', '?')}"
            + (f", accuracy {100 * ref['accuracy']:.2f} %." if ref.get("accuracy") is not None else ".")
        )
    cal = result.get("calibration")
    if cal:
        lines.append(f"Calibration (int8): `{cal.get('source')}`, {cal.get('samples')} training samples.")
    lines.append(f"Latency: single thread, median of {result.get('latency_runs', '?')} calls, "
                 f"input shape {result.get('latency_input_shape')}, {result.get('runtime', '')}.")
    lines += ["", "| variant | size (bytes) | % of fp32 | max abs diff | top-1 agree | accuracy | Δ acc (pt) | "
              "NaN / T=2 / T=1 inputs | latency median (ms) | loads in |", "|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    lines += [_table_row(name, v) for name, v in result.get("variants", {}).items()]
    lines += ["", "## Ops (name:version × count) and quantization", ""]
    for name, v in result.get("variants", {}).items():
        if "error" not in v:
            lines += _detail_lines(name, v)
    cmd = result.get("command")
    if cmd:
        lines += ["", f"Command: `{cmd}`"]
    return "\n".join(lines) + "\n"


def _table_row(name: str, v: dict[str, Any]) -> str:
    if "error" in v:
        return f"| {name} | failed: {v['error'][:150]} | | | | | | | | |"
    p = v.get("parity") or {}
    acc = v.get("accuracy")
    edge = v.get("edge_inputs") or {}
    if not edge:
        edge_ok = "–"
    elif not all(e.get("finite") for e in edge.values()):
        edge_ok = "NON-FINITE/error"
    else:
        diffs = [e["max_abs_diff_vs_tf"] for e in edge.values() if "max_abs_diff_vs_tf" in e]
        edge_ok = f"finite, max diff {max(diffs):.1e}" if diffs else "finite"
    rts = v.get("runtimes") or {}
    loads = ", ".join(
        f"{rt} {'✓' if r.get('ok') else ('skipped' if r.get('ok') is None else '✗')}" for rt, r in rts.items()
    ) or "–"
    return (
        f"| {name} | {v.get('size_bytes')} | {_fmt(v.get('size_vs_fp32_pct'), '.1f')} | "
        f"{_fmt(p.get('max_abs_diff'), '.2e')} | {_fmt(None if not p else 100 * p['top1_agreement'], '.2f')} % | "
        f"{_fmt(None if acc is None else 100 * acc, '.2f')} % | {_fmt(v.get('accuracy_delta_pt'), '+.2f')} | "
        f"{edge_ok} | {_fmt((v.get('latency') or {}).get('median_ms'), '.4f')} | {loads} |"
    )


def _detail_lines(name: str, v: dict[str, Any]) -> list[str]:
    """Ops with versions, quantization, the quantizer's validation, runtime errors and hard inputs."""
    lines: list[str] = []
    ops = v.get("ops") or {}
    vers = v.get("op_versions") or {}
    opstr = ", ".join(f"{op}:{'/'.join(map(str, vers.get(op, [])))}×{n}" for op, n in ops.items())
    lines.append(f"- **{name}**: {opstr}")
    q = v.get("quantization") or {}
    if q:
        qs = {k: q[k] for k in ("weights", "activations") if k in q}
        lines.append(f"  - quantization: {json.dumps(qs)}; tensor types {json.dumps(v.get('tensor_types', {}))}")
        if q.get("preprocessing_found_by"):
            lines.append(f"  - preprocessing kept float, found by {q['preprocessing_found_by']}; "
                         f"float ops {json.dumps(q.get('float_ops', {}))}; integer ops {json.dumps(q.get('integer_ops', {}))}")
    val = v.get("validation")
    if val:
        lines.append(f"  - quantizer validation ({val.get('samples')} real samples): " + _validation_text(val))
    if v.get("eval_error"):
        lines.append(f"  - evaluation failed: {v['eval_error']}")
    for rt, r in (v.get("runtimes") or {}).items():
        if not r.get("ok"):
            lines.append(f"  - {rt}: {r.get('error') or r.get('skipped')}")
    edge = v.get("edge_inputs") or {}
    if edge:
        lines.append("  - hard inputs (max abs diff vs TF, finite): " + ", ".join(
            f"{k} {_fmt(e.get('max_abs_diff_vs_tf'), '.1e')}{'' if e.get('finite') else ' NON-FINITE'}" for k, e in edge.items()))
    return lines


def _validation_text(val: dict[str, Any]) -> str:
    def one(name: str, m: dict[str, float]) -> str:
        return f"`{name[:60]}` SNR {_fmt(m.get('snr_db'), '.1f')} dB, cos {_fmt(m.get('cosine_similarity'), '.4f')}"

    outs = "; ".join(one(k, m) for k, m in (val.get("outputs") or {}).items())
    worst = "; ".join(one(k, m) for k, m in (val.get("worst_intermediate") or {}).items())
    return f"output {outs}" + (f"; lowest-SNR tensors: {worst}" if worst else "")


def write_report(out_dir: str | os.PathLike, result: dict[str, Any]) -> tuple[str, str]:
    """Write ``convert.json`` and ``convert.md`` into ``out_dir`` atomically; return both paths."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    jp = os.path.join(out_dir, "convert.json")
    mp = os.path.join(out_dir, "convert.md")
    _atomic_text(jp, json.dumps(result, indent=2, default=_json_default) + "\n")
    _atomic_text(mp, render_markdown(result))
    return jp, mp


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
