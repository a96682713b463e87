"""``edgelite convert``: a run folder (or SavedModel / .tflite) → quantized variants + report.

Run-folder contract (written by the trainers): ``RUN/saved_model/`` (``serving_default``: raw
variable-length input → probabilities, preprocessing inside), ``RUN/model.tflite`` (float32 with
edgelite metadata), ``RUN/metadata.json``, ``RUN/report.json`` and ``RUN/eval_data.npz``
(``x_flat``, ``lengths``, ``y`` held-out; ``calib_x_flat``, ``calib_lengths`` <= 200 training samples).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edgelite.runtime.core.errors import DataError, ModelError


@dataclass
class ConvertSource:
    """What ``edgelite convert`` starts from."""

    label: str
    saved_model: str | None
    float_model: str | None
    metadata: dict[str, Any]
    eval_path: str | None


def _metadata_from_dir(run: str) -> dict[str, Any] | None:
    from edgelite.runtime.core.metadata import validate
    from edgelite.runtime.core.modelfile import read_metadata

    tfl = os.path.join(run, "model.tflite")
    if os.path.isfile(tfl):
        meta = read_metadata(tfl)
        if meta is not None:
            return validate(meta, tfl)
    side = os.path.join(run, "metadata.json")
    if os.path.isfile(side):
        try:
            with open(side, encoding="utf-8") as f:
                return validate(json.load(f), side)
        except json.JSONDecodeError as e:
            raise ModelError(f"{side}: not valid JSON ({e})") from None
    return None


def resolve_source(path: str | os.PathLike) -> ConvertSource:
    """A run folder, a SavedModel folder inside one, or a ``.tflite`` (fp32 only)."""
    from edgelite.runtime.core.metadata import validate
    from edgelite.runtime.core.modelfile import read_metadata

    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataError(f"{p}: not found (expected a run folder with saved_model/, a SavedModel folder or a .tflite)")
    if os.path.isdir(p) and os.path.isdir(os.path.join(p, "saved_model")):
        meta = _metadata_from_dir(p)
        if meta is None:
            raise ModelError(f"{p}: run folder has neither model.tflite with edgelite metadata nor metadata.json")
        ev = os.path.join(p, "eval_data.npz")
        fm = os.path.join(p, "model.tflite")
        return ConvertSource(p, os.path.join(p, "saved_model"), fm if os.path.isfile(fm) else None, meta,
                             ev if os.path.isfile(ev) else None)
    if os.path.isdir(p) and os.path.isfile(os.path.join(p, "saved_model.pb")):
        parent = os.path.dirname(os.path.abspath(p))
        meta = _metadata_from_dir(parent)
        if meta is None:
            raise ModelError(f"{p}: SavedModel without edgelite metadata (expected {parent}/metadata.json or model.tflite)")
        ev = os.path.join(parent, "eval_data.npz")
        return ConvertSource(p, p, None, meta, ev if os.path.isfile(ev) else None)
    if os.path.isfile(p):
        meta = read_metadata(p)  # raises a clear ModelError for non-TFLite / truncated files
        if meta is None:
            raise ModelError(f"{p}: .tflite has no edgelite metadata")
        ev = os.path.join(os.path.dirname(os.path.abspath(p)), "eval_data.npz")
        return ConvertSource(p, None, p, validate(meta, p), ev if os.path.isfile(ev) else None)
    raise DataError(f"{p}: expected a run folder with saved_model/, a SavedModel folder or a .tflite file")


def _latency_sample(meta: dict[str, Any], samples: list[np.ndarray]) -> np.ndarray:
    """A real sample of the model's nominal length (``input.window_samples``), else the median length."""
    n = meta.get("input", {}).get("window_samples")
    if not samples:
        shape = [int(n or 32)] + [int(s) for s in meta.get("input", {}).get("shape", [-1, 3])[1:]]
        return np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if not n:
        n = int(np.median([len(s) for s in samples]))
    n = int(n)
    for s in samples:
        if len(s) >= n:
            return s[:n]
    s = samples[int(np.argmax([len(s) for s in samples]))]
    return np.resize(s, (n,) + s.shape[1:]).astype(np.float32)


def convert_run(
    source: str | os.PathLike,
    variants: list[str],
    out_dir: str | os.PathLike,
    calibration: str | os.PathLike | None = None,
    eval_data: str | os.PathLike | None = None,
    max_parity: int = 500,
    max_eval: int = 5000,
    latency_runs: int = 200,
    runtimes: tuple[str, ...] | None = None,
    build_env: bool = True,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Convert, check and report; returns the ``convert.json`` dict (also written to ``out_dir``)."""
    from edgelite.convert.compat import RUNTIMES, check_compat, loads_in
    from edgelite.convert.export import write_atomic
    from edgelite.convert.parity import (TFReference, accuracy, compare, edge_inputs, latency, load_eval_data,
                                         tflite_outputs)
    from edgelite.convert.quantize import convert_variant, load_calibration
    from edgelite.convert.report import write_report
    from edgelite.runtime.core.model import EdgeModel, runtime_version
    from edgelite.runtime.core.modelfile import read_model_info

    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    src = resolve_source(source)
    meta = src.metadata
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if src.saved_model is None and any(v != "fp32" for v in variants):
        raise ModelError(
            f"{src.label}: variants {', '.join(v for v in variants if v != 'fp32')} need the TensorFlow SavedModel "
            "(give the run folder that holds saved_model/)"
        )
    cal = None
    if "int8" in variants:
        cal_path = calibration or src.eval_path
        if cal_path is None:
            raise DataError(f"{src.label}: full int8 needs --calibration DATA.npz (calib_x_flat/calib_lengths from training data)")
        cal = load_calibration(cal_path)

    paths: dict[str, str] = {}
    failed: dict[str, str] = {}
    for v in variants:
        say(f"convert: {v} …")
        p = os.path.join(out_dir, f"model_{v}.tflite")
        if src.saved_model is None:
            with open(src.float_model, "rb") as f:  # type: ignore[arg-type]
                write_atomic(p, f.read())
        else:
            try:
                write_atomic(p, convert_variant(src.saved_model, v, meta, cal))
            except ModelError as e:
                if v == "fp32" or len(variants) == 1:
                    raise
                say(f"convert: {v} failed: {e}")
                failed[v] = str(e)
                continue
        paths[v] = p

    in_name = meta["input"]["name"]
    out_name = meta["output"]["name"]
    ev = None
    ev_path = eval_data or src.eval_path
    if ev_path is not None:
        ev = load_eval_data(ev_path).subset(max_eval)
    ref = None
    ref_kind = None
    if src.saved_model is not None:
        ref = TFReference(src.saved_model, in_name, out_name)
        ref_kind = "TensorFlow SavedModel"
    elif "fp32" in paths:
        ref_kind = "fp32 .tflite"

    result: dict[str, Any] = {
        "source": src.label,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "task": meta.get("task"),
        "labels": meta.get("labels"),
        "input": meta.get("input"),
        "output": meta.get("output"),
        "runtime": runtime_version(),
        "latency_runs": latency_runs,
        "calibration": None if cal is None else {"source": cal.source, "samples": len(cal)},
        "variants": {},
    }
    if command:
        result["command"] = command
    try:
        import tensorflow as tf

        result["tensorflow"] = tf.__version__
    except ImportError:
        pass

    par_idx: np.ndarray | None = None
    ref_out = None
    if ev is not None and ev.samples:
        par_idx = np.unique(np.linspace(0, len(ev.samples) - 1, min(max_parity, len(ev.samples))).round().astype(int))
        say(f"parity: TF reference on {len(par_idx)} held-out samples …")
        if ref is not None:
            ref_out = ref.run_all([ev.samples[i] for i in par_idx])
        elif "fp32" in paths:
            ref_out = tflite_outputs(paths["fp32"], [ev.samples[i] for i in par_idx])
        result["eval"] = {"source": ev.source, "n_samples": len(ev.samples), "n_parity": int(len(par_idx))}
        result["reference"] = {"kind": ref_kind}
        if ev.y is not None and ref is not None and len(ev.samples) <= max_parity:
            result["reference"]["accuracy"] = accuracy(ref_out, ev.y[par_idx])
    lat_sample = _latency_sample(meta, ev.samples if ev is not None else [])
    result["latency_input_shape"] = list(lat_sample.shape)
    edge_base = ev.samples[0] if ev is not None and ev.samples else lat_sample
    min_len = int(meta.get("input", {}).get("min_samples", 1) or 1)
    edge_cases = edge_inputs(edge_base, min_length=min_len)
    edge_ref = {}
    if ref is not None:
        for k, x in edge_cases.items():
            try:
                edge_ref[k] = ref(x)
            except Exception as e:  # the TF model itself rejects the input: record, do not fail
                edge_ref[k] = f"{type(e).__name__}"

    fp32_size = None
    fp32_acc = None
    for v, p in paths.items():
        info = read_model_info(p)
        row: dict[str, Any] = {
            "path": os.path.basename(p),
            "size_bytes": info.size_bytes,
            "ops": info.op_histogram,
            "op_versions": info.op_versions,
            "tensor_types": info.tensor_types,
            "quantized_tensors": sum(
                1 for s in info.signatures.values() for t in list(s.inputs.values()) + list(s.outputs.values()) if t.quantized
            ),
            "signature": {
                "inputs": {n: {"dtype": t.dtype, "shape": t.shape_signature or t.shape} for n, t in info.signatures["serving_default"].inputs.items()},
                "outputs": {n: {"dtype": t.dtype, "shape": t.shape_signature or t.shape} for n, t in info.signatures["serving_default"].outputs.items()},
            },
            "quantization": (info.metadata or {}).get("quantization"),
        }
        if v == "fp32":
            fp32_size = info.size_bytes
        if ev is not None and ev.samples:
            say(f"evaluate: {v} on {len(ev.samples)} samples …")
            try:
                outs = tflite_outputs(p, ev.samples)
            except Exception as ex:  # a runtime failure on real data is a result, not a crash
                row["eval_error"] = f"{type(ex).__name__}: {str(ex).strip()[:300]}"
                outs = None
            if outs is not None and ref_out is not None and par_idx is not None:
                row["parity"] = compare(ref_out, outs[par_idx])
            if outs is not None and ev.y is not None:
                row["accuracy"] = accuracy(outs, ev.y)
                if v == "fp32":
                    fp32_acc = row["accuracy"]
        em = EdgeModel.open(p, num_threads=1, validate=False)  # probe the graph itself (all-NaN, T=1)
        edges = {}
        for k, x in edge_cases.items():
            e: dict[str, Any] = {"shape": list(x.shape)}
            try:
                y = em.predict(x)
                e["finite"] = bool(np.isfinite(y).all())
                r = edge_ref.get(k)
                if isinstance(r, np.ndarray):
                    e["max_abs_diff_vs_tf"] = float(np.abs(r - y).max())
                    e["top1_same_as_tf"] = bool(np.argmax(r) == np.argmax(y))
                elif isinstance(r, str):
                    e["tf_error"] = r
            except Exception as ex:
                e["finite"] = False
                e["error"] = f"{type(ex).__name__}: {str(ex)[:200]}"
            edges[k] = e
        row["edge_inputs"] = edges
        say(f"latency: {v} ({latency_runs} runs, 1 thread) …")
        try:
            row["latency"] = latency(p, lat_sample, runs=latency_runs)
        except Exception as ex:
            row["latency"] = {"error": f"{type(ex).__name__}: {str(ex).strip()[:300]}"}
        result["variants"][v] = row

    for v, row in result["variants"].items():
        if fp32_size:
            row["size_vs_fp32_pct"] = 100.0 * row["size_bytes"] / fp32_size
        base_acc = fp32_acc if fp32_acc is not None else (result.get("reference") or {}).get("accuracy")
        if row.get("accuracy") is not None and base_acc is not None:
            row["accuracy_delta_pt"] = 100.0 * (row["accuracy"] - base_acc)

    say("compatibility: loading every variant in each runtime …")
    length = int(meta.get("input", {}).get("window_samples") or 32)
    compat = check_compat(list(paths.values()), runtimes=runtimes or RUNTIMES, build_env=build_env, length=length)
    for v, p in paths.items():
        r = compat.get(os.path.abspath(p), {})
        result["variants"][v]["runtimes"] = r
        result["variants"][v]["loads_in"] = loads_in(r)
    for v, msg in failed.items():
        result["variants"][v] = {"error": msg}
    result["failed"] = sorted(failed)
    jp, mp = write_report(out_dir, result)
    result["report_paths"] = [jp, mp]
    return result
