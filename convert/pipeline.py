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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgelite.runtime.core.errors import DataError, ModelError

VALIDATION_SAMPLES = 8  # real samples for the quantizer's per-tensor validation


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


@dataclass
class ConvertJob:
    """State shared by the pipeline steps of one ``edgelite convert``."""

    src: ConvertSource
    variants: list[str]
    out_dir: str
    say: Callable[[str], None]
    calibration: Any = None  # CalibrationSet for int8/int16x8
    ev: Any = None  # EvalData (held-out samples)
    paths: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # quantizer reports per variant
    result: dict[str, Any] = field(default_factory=dict)


def resolve(source: str | os.PathLike, variants: list[str], out_dir: str | os.PathLike,
            calibration: str | os.PathLike | None, eval_data: str | os.PathLike | None, max_eval: int,
            say: Callable[[str], None]) -> ConvertJob:
    """Step 1: find the SavedModel, metadata, calibration and held-out data."""
    from edgelite.convert.calibration import load_calibration
    from edgelite.convert.parity import load_eval_data
    from edgelite.convert.quantize import CALIBRATED

    src = resolve_source(source)
    if src.saved_model is None and any(v != "fp32" for v in variants):
        raise ModelError(
            f"{src.label}: variants {', '.join(v for v in variants if v != 'fp32')} need the TensorFlow SavedModel "
            "(give the run folder that holds saved_model/)"
        )
    job = ConvertJob(src, list(variants), os.fspath(out_dir), say)
    os.makedirs(job.out_dir, exist_ok=True)
    if any(v in CALIBRATED for v in variants):
        cal_path = calibration or src.eval_path
        if cal_path is None:
            raise DataError(f"{src.label}: full-integer variants need calibration data "
                            "(an .npz with calib_x_flat/calib_lengths from training data)")
        job.calibration = load_calibration(cal_path)
    ev_path = eval_data or src.eval_path
    if ev_path is not None:
        job.ev = load_eval_data(ev_path).subset(max_eval)
    return job


def convert(job: ConvertJob) -> None:
    """Step 2: write ``model_<variant>.tflite`` for every variant; a failing variant is recorded, not fatal."""
    from edgelite.convert.export import write_atomic
    from edgelite.convert.quantize import convert_variant, float_tflite

    src = job.src
    fp32 = None
    if src.saved_model is not None:
        job.say("convert: fp32 (TensorFlow converter) …")
        fp32 = float_tflite(src.saved_model, src.label)
    val = job.calibration.samples[:VALIDATION_SAMPLES] if job.calibration is not None else (
        job.ev.samples[:VALIDATION_SAMPLES] if job.ev is not None else None)
    for v in job.variants:
        job.say(f"convert: {v} …")
        p = os.path.join(job.out_dir, f"model_{v}.tflite")
        if src.saved_model is None:
            with open(src.float_model, "rb") as f:  # type: ignore[arg-type]
                write_atomic(p, f.read())
        else:
            try:
                conv = convert_variant(src.saved_model, v, src.metadata, job.calibration, fp32=fp32, validation=val)
                write_atomic(p, conv.data)
                job.reports[v] = conv.report
            except ModelError as e:
                if v == "fp32" or len(job.variants) == 1:
                    raise
                job.say(f"convert: {v} failed: {e}")
                job.failed[v] = str(e)
                continue
        job.paths[v] = p


def _header(job: ConvertJob, latency_runs: int, command: str | None) -> dict[str, Any]:
    from edgelite.runtime.core.model import runtime_version

    meta = job.src.metadata
    cal = job.calibration
    result: dict[str, Any] = {
        "source": job.src.label,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "task": meta.get("task"), "labels": meta.get("labels"), "input": meta.get("input"),
        "output": meta.get("output"), "runtime": runtime_version(), "latency_runs": latency_runs,
        "calibration": None if cal is None else {"source": cal.source, "samples": len(cal)},
        "variants": {},
    }
    ens = ((meta.get("training") or {}).get("final_fit") or {}).get("ensemble")
    if ens:  # every variant is this ensemble, one graph (the trainer's --ensemble)
        result["ensemble"] = ens
    if command:
        result["command"] = command
    try:
        import tensorflow as tf

        result["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return result


def evaluate(job: ConvertJob, max_parity: int, latency_runs: int, command: str | None) -> None:
    """Step 3: parity vs TensorFlow, accuracy, hard inputs and latency of every variant."""
    from edgelite.convert.parity import TFReference, accuracy, edge_inputs, tflite_outputs

    meta = job.src.metadata
    job.result = _header(job, latency_runs, command)
    ref = TFReference(job.src.saved_model, meta["input"]["name"], meta["output"]["name"]) \
        if job.src.saved_model is not None else None
    par_idx, ref_out = None, None
    ev = job.ev
    if ev is not None and ev.samples:
        par_idx = np.unique(np.linspace(0, len(ev.samples) - 1, min(max_parity, len(ev.samples))).round().astype(int))
        job.say(f"parity: reference on {len(par_idx)} held-out samples …")
        if ref is not None:
            ref_out = ref.run_all([ev.samples[i] for i in par_idx])
        elif "fp32" in job.paths:
            ref_out = tflite_outputs(job.paths["fp32"], [ev.samples[i] for i in par_idx])
        job.result["eval"] = {"source": ev.source, "n_samples": len(ev.samples), "n_parity": int(len(par_idx)),
                             "heldout_for_model": ev.heldout_for_model}
        job.result["reference"] = {"kind": "TensorFlow SavedModel" if ref is not None else "fp32 .tflite"}
        if ev.y is not None and ref is not None and len(ev.samples) <= max_parity:
            job.result["reference"]["accuracy"] = accuracy(ref_out, ev.y[par_idx])
    lat_sample = _latency_sample(meta, ev.samples if ev is not None else [])
    job.result["latency_input_shape"] = list(lat_sample.shape)
    edge_base = ev.samples[0] if ev is not None and ev.samples else lat_sample
    edge_cases = edge_inputs(edge_base, min_length=int(meta.get("input", {}).get("min_samples", 1) or 1))
    edge_ref = _edge_reference(ref, edge_cases)
    for v, p in job.paths.items():
        row = _model_row(p)
        rep = dict(job.reports.get(v) or {})
        row["validation"] = rep.pop("validation", None)
        row["quantization"] = {**row["quantization"], **rep}
        row.update(_accuracy_row(job, v, p, par_idx, ref_out))
        row["edge_inputs"] = _edge_row(p, edge_cases, edge_ref)
        job.say(f"latency: {v} ({latency_runs} runs, 1 thread) …")
        row["latency"] = _latency_row(p, lat_sample, latency_runs)
        job.result["variants"][v] = row
    _relative_to_fp32(job.result)


def _edge_reference(ref: Any, cases: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ref is None:
        return out
    for k, x in cases.items():
        try:
            out[k] = ref(x)
        except Exception as e:  # the TF model itself rejects the input: record, do not fail
            out[k] = f"{type(e).__name__}"
    return out


def _model_row(p: str) -> dict[str, Any]:
    """Size, ops, tensor types, signature and the embedded quantization entry."""
    from edgelite.runtime.core.modelfile import read_model_info

    info = read_model_info(p)
    sig = info.signatures["serving_default"]
    q = dict((info.metadata or {}).get("quantization") or {})
    return {
        "path": os.path.basename(p), "size_bytes": info.size_bytes, "ops": info.op_histogram,
        "op_versions": info.op_versions, "tensor_types": info.tensor_types,
        "signature": {
            "inputs": {n: {"dtype": t.dtype, "shape": t.shape_signature or t.shape} for n, t in sig.inputs.items()},
            "outputs": {n: {"dtype": t.dtype, "shape": t.shape_signature or t.shape} for n, t in sig.outputs.items()},
        },
        "quantization": q,
    }


def _accuracy_row(job: ConvertJob, v: str, p: str, par_idx: Any, ref_out: Any) -> dict[str, Any]:
    from edgelite.convert.parity import accuracy, compare, tflite_outputs

    row: dict[str, Any] = {}
    ev = job.ev
    if ev is None or not ev.samples:
        return row
    job.say(f"evaluate: {v} on {len(ev.samples)} samples …")
    try:
        outs = tflite_outputs(p, ev.samples)
    except Exception as ex:  # a runtime failure on real data is a result, not a crash
        row["eval_error"] = f"{type(ex).__name__}: {str(ex).strip()[:300]}"
        return row
    if ref_out is not None and par_idx is not None:
        row["parity"] = compare(ref_out, outs[par_idx])
    if ev.y is not None:
        row["accuracy"] = accuracy(outs, ev.y)
    return row


def _edge_row(p: str, cases: dict[str, np.ndarray], edge_ref: dict[str, Any]) -> dict[str, Any]:
    from edgelite.runtime.core.model import EdgeModel

    em = EdgeModel.open(p, num_threads=1, validate=False)  # probe the graph itself (all-NaN, T=1)
    edges = {}
    for k, x in cases.items():
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
    return edges


def _latency_row(p: str, sample: np.ndarray, runs: int) -> dict[str, Any]:
    from edgelite.convert.parity import latency

    try:
        return latency(p, sample, runs=runs)
    except Exception as ex:
        return {"error": f"{type(ex).__name__}: {str(ex).strip()[:300]}"}


def _relative_to_fp32(result: dict[str, Any]) -> None:
    rows = result["variants"]
    fp32 = rows.get("fp32", {})
    base_acc = fp32.get("accuracy", (result.get("reference") or {}).get("accuracy"))
    for row in rows.values():
        if fp32.get("size_bytes"):
            row["size_vs_fp32_pct"] = 100.0 * row["size_bytes"] / fp32["size_bytes"]
        if row.get("accuracy") is not None and base_acc is not None:
            row["accuracy_delta_pt"] = 100.0 * (row["accuracy"] - base_acc)


def compat(job: ConvertJob, runtimes: tuple[str, ...] | None, build_env: bool) -> None:
    """Step 4: load and run every variant in each runtime (ai-edge-litert, tflite-runtime 2.14)."""
    from edgelite.convert.compat import RUNTIMES, check_compat, loads_in

    job.say("compatibility: loading every variant in each runtime …")
    length = int(job.src.metadata.get("input", {}).get("window_samples") or 32)
    res = check_compat(list(job.paths.values()), runtimes=runtimes or RUNTIMES, build_env=build_env, length=length)
    for v, p in job.paths.items():
        r = res.get(os.path.abspath(p), {})
        job.result["variants"][v]["runtimes"] = r
        job.result["variants"][v]["loads_in"] = loads_in(r)


def report(job: ConvertJob) -> dict[str, Any]:
    """Step 5: record failed variants and write ``convert.json`` / ``convert.md``."""
    from edgelite.convert.report import write_report

    for v, msg in job.failed.items():
        job.result["variants"][v] = {"error": msg}
    job.result["failed"] = sorted(job.failed)
    jp, mp = write_report(job.out_dir, job.result)
    job.result["report_paths"] = [jp, mp]
    return job.result


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
    """Convert, check and report: resolve → convert → evaluate → compat → report.

    Returns the ``convert.json`` dict (also written to ``out_dir``).
    """
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    job = resolve(source, variants, out_dir, calibration, eval_data, max_eval, say)
    convert(job)
    evaluate(job, max_parity, latency_runs, command)
    compat(job, runtimes, build_env)
    return report(job)
