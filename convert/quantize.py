"""Quantization policy: which ``.tflite`` variants exist and how each is made.

Every variant keeps float32 input/output and the float model's ``serving_default`` signature, and
carries the edgelite metadata plus a ``quantization`` entry saying what was done.

All variants except ``fp32`` are made from the fp32 ``.tflite`` by the maintained quantizer
(``litert-quantizer``, formerly ``ai-edge-quantizer``) with a *recipe*: regex rules on op output
tensor names, the last matching rule wins. Every recipe ends with a ``no_quantize`` rule for the
in-graph preprocessing, matched by name scope (:data:`PREPROCESS_SCOPE_RE`: the exporters put it under
``edgelite_preprocess/`` and in the Keras preprocessing layers ``signal``, ``features``,
``feature_norm``, ``signal_norm``, ``sign_preprocess``). Quantizing the raw input would map NaN to
an arbitrary integer code and break the NaN handling; float16 preprocessing constants flip
threshold features. A model without those scopes (hand-written ``serve`` functions) falls back to
the structural split of :func:`edgelite.convert.graph.network_ops`, turned into exact-name rules.

- ``fp16``: float16 weights of the network (``float_casting``), activations float32.
- ``int8-dynamic``: int8 weights, activations quantized on the fly; dense weights per-tensor
  (per-channel dense needs ``FULLY_CONNECTED`` v12, which tflite-runtime 2.14 rejects).
- ``int4-weights``: int4 weights (per-channel), dequantized to float32 at load; float activations.
- ``int8`` / ``int16x8``: full-integer network (int8 or int16 activations, int8 weights) calibrated
  on real training inputs plus hard variants (NaN, all-NaN, shortest). Also kept float: ``DIV``
  (no int8 kernel in tflite-runtime 2.14: the sign model's masked mean) and ops touching a tensor
  whose calibrated range exceeds :data:`RANGE_LIMIT` (attention masks filled with -1e9).

Full-integer variants try two levels: ``network`` (every supported network op integer) and, if its
self-check on calibration samples fails, ``weighted-only`` (conv/dense integer, the rest float: the
sign transformer's layer norms and attention lose everything in int8, 12.5 % top-1 agreement).

Flatbuffer surgery kept, because the quantizer has no option for it: the ``edgelite`` JSON metadata
entry (:func:`edgelite.convert.export.embed_metadata`) and the name compaction of
:func:`edgelite.convert.graph.compact`, both through :mod:`edgelite.convert.tfcompat`. What the
quantizer replaced is gone: restoring fp32 preprocessing constants after fp16 conversion,
un-fusing names and stripping calibration stats so ``mlir_quantize(denylisted_nodes=...)`` would
honour a denylist, and the private converter flags.

The quantizer's report (recipe, calibration, self-check, and its own per-tensor validation: SNR
and cosine similarity vs the float model on real samples) is returned in :class:`Converted` and
written to ``convert.json`` by :mod:`.pipeline`; the model itself only says which variant it is.
Calibrated ranges are true min/max (:func:`edgelite.convert.calibration.calibrate`). Runtime-level
checks (parity, accuracy, which runtimes load) are the pipeline's job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from edgelite.convert.calibration import CalibrationSet, absmax, calibrate, merge_hard_ranges, with_hard_inputs
from edgelite.convert.qcheck import self_check, validate
from edgelite.runtime.core.errors import DataError, ModelError

VARIANTS = ("fp32", "fp16", "int8-dynamic", "int4-weights", "int8", "int16x8")
CALIBRATED = ("int8", "int16x8")

PREPROCESS_SCOPE = "edgelite_preprocess"
PREPROCESS_LAYERS = ("signal", "features", "feature_norm", "signal_norm", "sign_preprocess")
PREPROCESS_SCOPE_RE = r"(^|[/;])(" + "|".join((PREPROCESS_SCOPE,) + PREPROCESS_LAYERS) + r")(_\d+)?/"

# Network ops kept float in full-integer variants: no int8 DIV kernel in tflite-runtime 2.14.
FLOAT_ONLY_OPS = ("DIV",)
# A calibrated tensor range beyond this (e.g. -1e9 attention-mask fill) cannot share one int8 scale.
RANGE_LIMIT = 1e5
LEVELS = ("network", "weighted-only")
SELF_CHECK_SAMPLES = 40
SELF_CHECK_AGREEMENT = 0.9
# The graph input/output stay float32 (the raw input carries NaN for missing values).
IO_FLOAT_RULES = [{"regex": ".*", "operation": op, "algorithm_key": "no_quantize", "op_config": {}}
                  for op in ("INPUT", "OUTPUT")]


def _exact(names: Iterable[str]) -> str:
    """Regex matching ops whose (first) output tensor is one of ``names``: the quantizer matches
    rules against ``"out1;out2;"`` (output names joined by ``;``, trailing ``;``)."""
    import re

    return "^(" + "|".join(re.escape(n) for n in sorted(set(names))) + ");"


def _rule(regex: str, op: str, algorithm: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"regex": regex, "operation": op, "algorithm_key": algorithm, "op_config": config or {}}


def _weights(bits: int, granularity: str = "CHANNELWISE", dtype: str = "INT") -> dict[str, Any]:
    return {"num_bits": bits, "symmetric": True, "granularity": granularity, "dtype": dtype}


def network_rules(variant: str, level: str = "network") -> list[dict[str, Any]]:
    """Recipe rules for the network part of ``variant`` (before the keep-float rules).

    ``level`` (full-integer variants): ``"network"`` quantizes every supported op of the network;
    ``"weighted-only"`` only conv / dense ops (layer norms, attention and activations stay float).
    """
    mm = "min_max_uniform_quantize"
    if variant == "fp16":
        return [_rule(".*", "*", "float_casting", {
            "weight_tensor_config": _weights(16, "TENSORWISE", "FLOAT"),
            "compute_precision": "FLOAT", "explicit_dequantize": True})]
    if variant == "int8-dynamic":
        cfg = {"weight_tensor_config": _weights(8), "compute_precision": "INTEGER", "explicit_dequantize": False}
        per_tensor = {**cfg, "weight_tensor_config": _weights(8, "TENSORWISE")}
        return [_rule(".*", "*", mm, cfg), _rule(".*", "FULLY_CONNECTED", mm, per_tensor)]
    if variant == "int4-weights":
        return [_rule(".*", "*", mm, {"weight_tensor_config": _weights(4), "compute_precision": "FLOAT",
                                      "explicit_dequantize": True})]
    if variant in CALIBRATED:
        act = 16 if variant == "int16x8" else 8
        cfg = {"activation_tensor_config": {"num_bits": act, "symmetric": act == 16, "granularity": "TENSORWISE",
                                            "dtype": "INT"},
               "weight_tensor_config": _weights(8), "compute_precision": "INTEGER", "explicit_dequantize": False}
        per_tensor = {**cfg, "weight_tensor_config": _weights(8, "TENSORWISE")}
        if level == "weighted-only":
            return [_rule(".*", op, mm, cfg) for op in ("CONV_2D", "DEPTHWISE_CONV_2D")] + [
                _rule(".*", "FULLY_CONNECTED", mm, per_tensor)]
        return [_rule(".*", "*", mm, cfg), _rule(".*", "FULLY_CONNECTED", mm, per_tensor)]
    raise ModelError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def preprocessing_rules(fp32: bytes) -> tuple[list[dict[str, Any]], str]:
    """Keep-float rules for the preprocessing and how it was found (``"name scope"`` or ``"structure"``)."""
    import re

    from edgelite.convert.graph import network_ops, op_output_names

    names = op_output_names(fp32)
    if any(re.search(PREPROCESS_SCOPE_RE, n) for n in names):
        return [_rule(PREPROCESS_SCOPE_RE, "*", "no_quantize")], "name scope"
    net, weighted = network_ops(fp32)
    if not weighted:
        raise ModelError("the model has no weighted layer (conv/dense/...) to quantize")
    pre = set(range(len(op_output_names(fp32, None)))) - net
    exact = sorted({n for n in op_output_names(fp32, pre)})
    return [_rule(_exact(exact), "*", "no_quantize")] if exact else [], "structure"


def _fragile_rules(qsvs: dict[str, Any], fp32: bytes) -> list[dict[str, Any]]:
    """Keep-float rules for DIV and for ops that read or write a tensor whose calibrated range
    exceeds :data:`RANGE_LIMIT` (attention masks filled with -1e9: the softmax reading one must stay
    float too, or its int8 input scale flattens every attention score into one step)."""
    from edgelite.convert.graph import op_graph, tensor_name

    rules = [_rule(".*", op, "no_quantize") for op in FLOAT_ONLY_OPS]
    huge = {name for name, q in qsvs.items() if "min" in q and "max" in q and absmax(q) > RANGE_LIMIT}
    if not huge:
        return rules
    model, _ = op_graph(fp32)
    sg = model.subgraphs[0]
    names = set()
    for op in sg.operators:
        touched = {tensor_name(sg, t) for t in list(op.inputs) + list(op.outputs) if t >= 0}
        if touched & huge and op.outputs:
            names.add(tensor_name(sg, op.outputs[0]))
    rules.append(_rule(_exact(names), "*", "no_quantize"))
    return rules


class _Quiet:
    """Silence the quantizer's INFO logs and tqdm progress bars (they would flood the CLI output)."""

    def __enter__(self) -> "_Quiet":
        import contextlib
        import io
        import logging

        self._level = logging.getLogger().level
        logging.getLogger().setLevel(logging.WARNING)
        self._err = contextlib.redirect_stderr(io.StringIO())  # tqdm bars write to sys.stderr
        self._err.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        import logging

        self._err.__exit__(*exc)
        logging.getLogger().setLevel(self._level)


def quantize_model(fp32: bytes, variant: str, input_name: str, calibration: CalibrationSet | None = None,
                   min_length: int = 1, validation: list[np.ndarray] | None = None) -> tuple[bytes, dict[str, Any]]:
    """Quantize fp32 ``.tflite`` bytes into ``variant`` with the scoped recipe; returns (bytes, report).

    Full-integer variants try the levels of :data:`LEVELS` in order and keep the first whose
    self-check (top-1 agreement with the float model on calibration samples) reaches
    :data:`SELF_CHECK_AGREEMENT`; none passing raises :class:`ModelError`.
    """
    keep, how = preprocessing_rules(fp32)
    report: dict[str, Any] = {"preprocessing_found_by": how}
    if variant not in CALIBRATED:
        data, recipe, qt = _quantize(fp32, network_rules(variant) + keep + IO_FLOAT_RULES, None, variant)
    else:
        if calibration is None or not len(calibration):
            raise DataError(f"{variant}: full-integer quantization needs calibration data from real training inputs")
        qsvs, report["calibration"] = _calibration(fp32, network_rules(variant) + keep + IO_FLOAT_RULES,
                                                   calibration, input_name, min_length)
        check = calibration.samples[:: max(1, len(calibration) // SELF_CHECK_SAMPLES)][:SELF_CHECK_SAMPLES]
        tried = []
        for level in LEVELS:
            recipe = network_rules(variant, level) + keep + IO_FLOAT_RULES + _fragile_rules(qsvs, fp32)
            data, recipe, qt = _quantize(fp32, recipe, qsvs, variant)
            tried.append({"level": level, **self_check(fp32, data, check, input_name)})
            if tried[-1]["top1_agreement"] >= SELF_CHECK_AGREEMENT:
                break
        else:
            raise ModelError(f"{variant}: no quantization level reproduces the float model on calibration samples "
                             f"({tried}); use int8-dynamic for this model")
        report.update(level=tried[-1]["level"], self_check=tried)
    report["recipe"] = [{**r, "regex": r["regex"] if len(r["regex"]) <= 200 else
                         f"<{r['regex'].count('|') + 1} exact tensor names>"} for r in recipe]
    if validation:
        with _Quiet():
            report["validation"] = validate(qt, validation, input_name)
    return data, report


def _calibration(fp32: bytes, recipe: list[dict[str, Any]], calibration: CalibrationSet, input_name: str,
                 min_length: int) -> tuple[dict[str, Any], dict[str, Any]]:
    augmented = with_hard_inputs(calibration, min_length)
    with _Quiet():
        real = calibrate(fp32, recipe, calibration.samples, input_name)
        qsvs, widened, refused = merge_hard_ranges(real, calibrate(fp32, recipe, augmented.samples, input_name))
    return qsvs, {"source": calibration.source, "samples": len(calibration), "hard_inputs": len(augmented) - len(calibration),
                  "ranges": "min/max", "widened_by_hard_inputs": widened, "hard_range_rejected": refused}


def _quantize(fp32: bytes, recipe: list[dict[str, Any]], qsvs: dict[str, Any] | None, variant: str) -> tuple[bytes, list, Any]:
    from litert_quantizer import Quantizer

    with _Quiet():
        qt = Quantizer(bytearray(fp32), recipe)
        try:
            data = bytes(qt.quantize(qsvs, enable_progress_bar=False, enable_progress_report=False).quantized_model)
        except Exception as e:  # the quantizer raises ValueError/RuntimeError with its own message
            raise ModelError(f"{variant}: quantization failed: {str(e).strip().splitlines()[-1][:300]}") from None
    return data, recipe, qt


def _converter(saved_model_dir: str) -> Any:
    from edgelite.convert.export import converter_from_saved_model

    if not os.path.isdir(saved_model_dir):
        raise ModelError(f"{saved_model_dir}: SavedModel folder not found (a run folder holds saved_model/)")
    return converter_from_saved_model(saved_model_dir)


def float_tflite(saved_model_dir: str | os.PathLike, source: str) -> bytes:
    """Plain float32 conversion of ``serving_default`` (builtin ops only)."""
    from edgelite.convert.export import convert_to_tflite

    return convert_to_tflite(_converter(os.fspath(saved_model_dir)), source)


@dataclass
class Converted:
    """One variant: the ``.tflite`` bytes and what the quantizer reported (recipe, calibration,
    per-tensor validation, float/integer op counts) for ``convert.json``."""

    data: bytes
    report: dict[str, Any]


def convert_variant(
    saved_model_dir: str | os.PathLike,
    variant: str,
    metadata: dict[str, Any],
    calibration: CalibrationSet | None = None,
    source: str | None = None,
    fp32: bytes | None = None,
    validation: list[np.ndarray] | None = None,
) -> Converted:
    """``variant`` of ``saved_model_dir`` (``serving_default``).

    ``metadata`` (edgelite metadata of the float model) is embedded with an added ``quantization``
    entry (variant, tool, weights, activations), then standard TFLite metadata (name, tensor
    descriptions, labels.txt). ``calibration`` is required for ``int8``/``int16x8``; ``fp32`` (float
    bytes) saves a re-conversion; ``validation`` samples run the quantizer's per-tensor comparison.
    """
    from edgelite.convert.export import embed_metadata
    from edgelite.convert.graph import compact, float_op_summary
    from edgelite.convert.standard_metadata import add_standard_metadata

    src = source or f"{os.fspath(saved_model_dir)} [{variant}]"
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    input_name = str(metadata.get("input", {}).get("name", ""))
    if variant in CALIBRATED and (calibration is None or not len(calibration)):
        raise DataError(
            f"{src}: full-integer quantization needs calibration data from real training inputs "
            "(an .npz with calib_x_flat/calib_lengths, e.g. a run folder's eval_data.npz)"
        )
    data = fp32 if fp32 is not None else float_tflite(saved_model_dir, src)
    quant: dict[str, Any] = {"variant": variant, "weights": "float32", "activations": "float32"}
    rep: dict[str, Any] = {}
    if variant != "fp32":
        min_len = int(metadata.get("input", {}).get("min_samples", 1) or 1)
        data, rep = quantize_model(data, variant, input_name, calibration, min_len, validation)
        data, rep["compacted_bytes"] = compact(data, PREPROCESS_SCOPE_RE)
        summary = float_op_summary(data)
        rep.update(float_ops=summary["float"], integer_ops={**summary["int8"], **summary["int16"]})
        quant.update(_describe(variant), tool=_tool_version(), preprocessing="float32")
    meta = dict(metadata)
    meta["quantization"] = quant
    data = embed_metadata(data, meta, source=src)
    _check_signature(data, metadata, src)
    return Converted(add_standard_metadata(data, meta, source=src), {**quant, **rep})


def _describe(variant: str) -> dict[str, str]:
    return {
        "fp16": {"weights": "float16 (network)", "activations": "float32"},
        "int8-dynamic": {"weights": "int8 (network; dense per-tensor)", "activations": "float32 (dynamic-range)"},
        "int4-weights": {"weights": "int4 (network, per-channel)", "activations": "float32"},
        "int8": {"weights": "int8", "activations": "int8 (network); float32 (preprocessing, DIV)"},
        "int16x8": {"weights": "int8", "activations": "int16 (network); float32 (preprocessing, DIV)"},
    }[variant]


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"litert-quantizer {version('litert-quantizer')}"
    except PackageNotFoundError:
        return "litert-quantizer (not installed)"


def _check_signature(data: bytes, metadata: dict[str, Any], src: str) -> None:
    """The variant must expose ``serving_default`` with float32 input/output named as in the metadata."""
    from edgelite.runtime.core.modelfile import read_model_info

    info = read_model_info(src, buf=data)
    if info.custom_ops:
        raise ModelError(f"{src}: converted model uses custom/Flex ops {info.custom_ops}; builtin ops only")
    sig = info.signatures.get("serving_default")
    if sig is None:
        raise ModelError(f"{src}: converted model lost the serving_default signature")
    for kind, want, tensors in (("input", metadata.get("input", {}).get("name"), sig.inputs),
                                ("output", metadata.get("output", {}).get("name"), sig.outputs)):
        if want and want not in tensors:
            raise ModelError(f"{src}: signature {kind} is {list(tensors)}, expected {want!r}")
        for name, t in tensors.items():
            if t.dtype != "FLOAT32":
                raise ModelError(f"{src}: signature {kind} {name!r} is {t.dtype}, expected FLOAT32")


def convert_variants(
    saved_model_dir: str | os.PathLike,
    variants: Iterable[str],
    metadata: dict[str, Any],
    out_dir: str | os.PathLike,
    calibration: CalibrationSet | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Write ``out_dir/model_<variant>.tflite`` for each variant; return ``{variant: path}``."""
    from edgelite.convert.export import write_atomic

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    fp32 = float_tflite(saved_model_dir, os.fspath(saved_model_dir))
    paths: dict[str, str] = {}
    for v in variants:
        if progress:
            progress(v)
        p = os.path.join(out_dir, f"model_{v}.tflite")
        write_atomic(p, convert_variant(saved_model_dir, v, metadata, calibration, fp32=fp32).data)
        paths[v] = p
    return paths


def parse_variants(text: str) -> list[str]:
    """``"fp32,fp16"`` → ``["fp32", "fp16"]``; unknown names raise :class:`DataError` naming them."""
    out = []
    for v in (s.strip() for s in text.split(",")):
        if not v:
            continue
        if v not in VARIANTS:
            raise DataError(f"unknown variant {v!r}; expected a comma list of {', '.join(VARIANTS)}")
        if v not in out:
            out.append(v)
    if not out:
        raise DataError("no variant given")
    return out
