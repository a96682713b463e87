"""Refuse to bundle a model the chosen runtime cannot load.

Three sources, strongest first: a real load in that runtime (``ai-edge-litert`` in this Python, or
the cached tflite-runtime 2.14 environment of :mod:`edgelite.convert.compat` when it exists); the
``runtimes`` result that ``edgelite convert`` stored in ``convert.json`` beside the model; and, always,
the op versions read from the file compared with what tflite-runtime 2.14 registers
(``tensorflow/lite/core/kernels/register.cc`` at v2.14: e.g. FULLY_CONNECTED up to v11, DIV up to v2).
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgelite.runtime.core.errors import ModelError

# Highest op versions tflite-runtime 2.14 registers, for the ops whose newer versions our converter emits.
TFLITE214_MAX_VERSIONS = {
    "FULLY_CONNECTED": 11,  # v12: per-channel int8 weights / int4
    "DIV": 2,  # int8 DIV is newer
    "BATCH_MATMUL": 4,
    "SOFTMAX": 3,
    "MUL": 6,
    "ADD": 4,
    "SUB": 3,
    "MEAN": 3,
    "TRANSPOSE": 6,
    "STRIDED_SLICE": 8,
    "GATHER": 6,
    "CONV_2D": 7,
    "DEPTHWISE_CONV_2D": 7,
    "DEQUANTIZE": 5,
    "QUANTIZE": 3,
}
CONVERT_JSON_NAMES = {"litert": "ai-edge-litert", "tflite-runtime": "tflite-runtime-2.14"}


def op_version_problems(op_versions: dict[str, list[int]], runtime: str) -> list[str]:
    """``["FULLY_CONNECTED v12 (tflite-runtime 2.14 has up to v11)", ...]``; empty for ai-edge-litert."""
    if runtime != "tflite-runtime":
        return []
    out = []
    for op, versions in sorted(op_versions.items()):
        top = TFLITE214_MAX_VERSIONS.get(op)
        if top is not None and max(versions) > top:
            out.append(f"{op} v{max(versions)} (tflite-runtime 2.14 has up to v{top})")
    return out


def convert_json_verdict(model_path: str, runtime: str) -> dict[str, Any] | None:
    """The ``runtimes`` entry ``edgelite convert`` recorded for this file and runtime, if any."""
    rep = os.path.join(os.path.dirname(os.path.abspath(model_path)), "convert.json")
    try:
        with open(rep, encoding="utf-8") as f:
            variants = json.load(f).get("variants", {})
    except (OSError, ValueError):
        return None
    for v in variants.values():
        if isinstance(v, dict) and v.get("path") == os.path.basename(model_path):
            return (v.get("runtimes") or {}).get(CONVERT_JSON_NAMES[runtime])
    return None


def real_load(model_path: str, runtime: str) -> dict[str, Any] | None:
    """Load and run the model in the runtime when it is available here; ``None`` when it is not."""
    from edgelite.convert import compat

    if runtime == "litert":
        try:
            import ai_edge_litert  # noqa: F401
        except ImportError:
            return None
        res = compat.run_loader(__import__("sys").executable, "ai_edge_litert", [model_path])
    else:
        py, _ = compat.ensure_tflite214_env(build=False)
        if py is None:
            return None
        res = compat.run_loader(py, "tflite_runtime", [model_path])
    if "import_error" in res:
        return None
    return res.get(os.path.abspath(model_path))


def check_loadable(model_path: str, op_versions: dict[str, list[int]], runtime: str) -> str:
    """Raise :class:`ModelError` when ``runtime`` cannot load the model; return how that was decided."""
    name = CONVERT_JSON_NAMES[runtime]
    probs = op_version_problems(op_versions, runtime)
    if probs:
        raise ModelError(f"{model_path}: {name} cannot load this model: {', '.join(probs)}; "
                         "pick a variant that loads there (see convert.md) or the litert runtime")
    r = real_load(model_path, runtime)
    if r is None:
        r, how = convert_json_verdict(model_path, runtime), "convert.json"
    else:
        how = f"loaded in {r.get('version') or name}"
    if r is None:
        return "op versions"
    if r.get("ok") is False:
        raise ModelError(f"{model_path}: {name} cannot load this model ({how}: {r.get('error')}); "
                         "pick a variant that loads there (see convert.md) or the litert runtime")
    return how


def nan_unsafe_sign_graph(meta: dict[str, Any], op_versions: dict[str, Any], runtime: str) -> str | None:
    """Why this sign model would give wrong answers under tflite-runtime 2.14 on aarch64, or ``None``.

    tflite-runtime 2.14's aarch64 broadcast ADD/SUB kernels clamp with FMAXNM and turn NaN (a missing
    landmark) into -FLT_MAX (``benchmarks/results/pi_nan_kernels.md``). Sign graphs exported since the
    NaN-safe preprocessing keep NaN out of arithmetic and carry validity as a boolean mask, which puts a
    LOGICAL_NOT op in the graph; an edgelite sign graph without one predates that fix.
    """
    if runtime != "tflite-runtime" or meta.get("task") != "signs":
        return None
    if not str((meta.get("preprocessing") or {}).get("name", "")).startswith("edgelite-signs/"):
        return None
    if "LOGICAL_NOT" in op_versions:
        return None
    return ("its in-graph sign preprocessing predates the NaN-safe version (no LOGICAL_NOT op): under "
            "tflite-runtime 2.14 on aarch64 missing landmarks turn into -3.4e38 and every answer is wrong; "
            "export the model again with this edgelite (retrain, or re-export model.keras) or use the litert runtime")
