"""What is inside a ``.tflite``, read without TensorFlow (``edgelite inspect``).

Built on :mod:`edgelite.runtime.core.modelfile`: signatures (input/output names, dtypes, shapes), labels
and edgelite metadata, size, op histogram with versions, a per-tensor quantization summary and a
Flex/custom-op check, and the standard TFLite metadata (read with MediaPipe's displayer when
mediapipe is installed). Importing this module pulls in numpy-free stdlib code only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgelite.runtime.core.modelfile import _Reader, _tensor, _read_bytes, read_model_info


def tensor_quantization(buf: bytes, source: str) -> list[dict[str, Any]]:
    """Every tensor of every subgraph: ``{subgraph, index, name, dtype, shape, quantized, per_channel, scales, scale, zero_point}``."""
    r = _Reader(buf, source)
    model = r.table(r.u32(0))
    out = []
    for sgi, sg in enumerate(model.tables(2)):
        for i, t in enumerate(sg.tables(0)):
            ti = _tensor(t, i)
            d: dict[str, Any] = {
                "subgraph": sgi,
                "index": i,
                "name": ti.name,
                "dtype": ti.dtype,
                "shape": ti.shape_signature or ti.shape,
                "quantized": ti.quantized,
            }
            if ti.quantized:
                d["per_channel"] = len(ti.scale) > 1
                d["scales"] = len(ti.scale)
                d["scale"] = ti.scale[0]
                d["zero_point"] = ti.zero_point[0] if ti.zero_point else 0
            out.append(d)
    return out


def quantization_summary(tensors: list[dict[str, Any]], ops: dict[str, int] | None = None) -> dict[str, Any]:
    """Counts per dtype (``{dtype: {"tensors", "quantized", "per_channel"}}``), total and a one-phrase kind."""
    by: dict[str, dict[str, int]] = {}
    for t in tensors:
        b = by.setdefault(t["dtype"], {"tensors": 0, "quantized": 0, "per_channel": 0})
        b["tensors"] += 1
        b["quantized"] += int(t["quantized"])
        b["per_channel"] += int(bool(t.get("per_channel")))
    q = sum(b["quantized"] for b in by.values())
    ops = ops or {}
    int8 = by.get("INT8", {}).get("quantized", 0) > 0
    int16 = by.get("INT16", {}).get("quantized", 0) > 0
    floats = " with float parts" if by.get("FLOAT32", {}).get("tensors") else ""
    if int16 and "QUANTIZE" in ops:
        kind = "int16x8 (full-integer)" + floats
    elif int8 and "QUANTIZE" in ops:
        kind = "int8 (full-integer)" + floats
    elif by.get("INT4", {}).get("quantized", 0) > 0:
        kind = "int4 weights (weight-only)"
    elif int8:
        kind = "int8 weights (dynamic range)"
    elif "FLOAT16" in by:
        kind = "float16 weights"
    else:
        kind = "float32" if "FLOAT32" in by else "other"
    return {"by_dtype": dict(sorted(by.items())), "quantized_tensors": q, "kind": kind}


def inspect_model(path: str | os.PathLike) -> dict[str, Any]:
    """Everything ``edgelite inspect --json`` prints. Raises :class:`ModelError` for non-TFLite/truncated files."""
    path = os.fspath(path)
    buf = _read_bytes(path)
    info = read_model_info(path, buf=buf)
    tensors = tensor_quantization(buf, path)
    d = info.to_json()
    meta = info.metadata or {}
    d["labels"] = list(meta.get("labels", []))
    d["quantization_summary"] = quantization_summary(tensors, info.op_histogram)
    if (meta.get("quantization") or {}).get("variant"):
        d["quantization_summary"]["variant"] = meta["quantization"]["variant"]
    d["quantized_tensor_list"] = [t for t in tensors if t["quantized"]]
    d["standard_metadata"] = _standard_metadata(buf, info.metadata_names)
    d["flex_check"] = "ok: builtin ops only" if not info.custom_ops else (
        f"needs Flex ops {info.flex_ops}" if info.flex_ops else f"needs custom ops {info.custom_ops}")
    return d


def _standard_metadata(buf: bytes, names: list[str]) -> dict[str, Any] | None:
    """The standard ``TFLITE_METADATA`` as MediaPipe's displayer reads it (``None`` if absent);
    ``{"present": True, "error": ...}`` when mediapipe is not installed or cannot parse it."""
    if "TFLITE_METADATA" not in names:
        return None
    try:
        from edgelite.convert.standard_metadata import read_standard_metadata

        return read_standard_metadata(buf)
    except Exception as e:  # mediapipe missing or a malformed entry: say so, the rest still prints
        return {"present": True, "error": f"{type(e).__name__}: {e}"}


def _render_standard(sm: dict[str, Any] | None) -> list[str]:
    if sm is None:
        return ["standard metadata: none"]
    if "error" in sm:
        return [f"standard metadata: present, not readable here ({sm['error']})"]
    m = sm.get("metadata") or {}
    L = [f"standard metadata: {m.get('name')!r} — {m.get('description', '')}"]
    for sg in m.get("subgraph_metadata", []):
        for kind in ("input", "output"):
            for t in sg.get(f"{kind}_tensor_metadata", []):
                files = ", ".join(f["name"] for f in t.get("associated_files", []))
                L.append(f"  {kind:6s} {t.get('name')}: {t.get('description', '')}" + (f" [files: {files}]" if files else ""))
    L.append(f"  associated files: {', '.join(sm.get('associated_files') or []) or 'none'}; "
             f"labels.txt: {len(sm.get('labels') or [])} labels; min parser {m.get('min_parser_version')}")
    return L


def render_text(d: dict[str, Any], max_tensors: int = 12) -> str:
    """Human-readable form of :func:`inspect_model`."""
    L = [f"{d['path']}: {d['size_bytes']:,} bytes, TFLite schema v{d['schema_version']}"]
    for key, s in d["signatures"].items():
        L.append(f"signature {key!r}:")
        for kind in ("inputs", "outputs"):
            for name, t in s[kind].items():
                L.append(f"  {kind[:-1]:6s} {name}: {t['dtype'].lower()} {t['shape']}  (tensor {t['tensor']!r})")
    if not d["signatures"]:
        L.append("signatures: none (edgelite models have serving_default)")
    labels = d.get("labels") or []
    L.append(f"labels ({len(labels)}): " + (", ".join(labels[:30]) + (" …" if len(labels) > 30 else "") if labels else "none"))
    meta = d.get("metadata")
    if meta:
        L.append(f"task: {meta.get('task')}; edgelite {meta.get('edgelite_version', '?')}")
        L.append("input: " + json.dumps(meta.get("input"), separators=(", ", ": ")))
        L.append("output: " + json.dumps(meta.get("output"), separators=(", ", ": ")))
        L.append("preprocessing: " + json.dumps(meta.get("preprocessing"), separators=(", ", ": ")))
        tr = meta.get("training") or {}
        if tr:
            L.append("training: " + json.dumps(tr, separators=(", ", ": "))[:600])
    else:
        L.append("metadata: none (no edgelite metadata embedded)")
    L.extend(_render_standard(d.get("standard_metadata")))
    qs = d["quantization_summary"]
    L.append(f"quantization: {qs['kind']}" + (f" (variant {qs['variant']})" if qs.get("variant") else "") + f"; {qs['quantized_tensors']} quantized tensors")
    for dt, b in qs["by_dtype"].items():
        L.append(f"  {dt:8s} {b['tensors']:4d} tensors, {b['quantized']:4d} quantized, {b['per_channel']:3d} per-channel")
    ql = d.get("quantized_tensor_list") or []
    for t in ql[:max_tensors]:
        L.append(f"    {t['dtype'].lower():5s} {t['name'][:60]!s:60s} scale {t['scale']:.3g} zp {t['zero_point']}"
                 + (f" ({t['scales']} channels)" if t.get("per_channel") else ""))
    if len(ql) > max_tensors:
        L.append(f"    … {len(ql) - max_tensors} more (--json lists all)")
    ops = d["op_histogram"]
    L.append(f"ops ({sum(ops.values())} in {len(ops)} kinds):")
    vers = d["op_versions"]
    L.append("  " + ", ".join(f"{k} v{'/'.join(map(str, vers.get(k, [])))} ×{n}" for k, n in ops.items()))
    L.append(f"flex check: {d['flex_check']}")
    return "\n".join(L)
