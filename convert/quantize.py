"""Quantized variants of an edgelite SavedModel: ``fp32``, ``fp16``, ``int8-dynamic`` and ``int8``.

Every variant keeps float32 input/output and the float model's ``serving_default`` signature
(same input/output names and shapes), and carries the edgelite metadata plus a ``quantization``
entry saying which variant it is.

- ``fp32``: plain float conversion (builtin ops only).
- ``fp16``: float16 weights, dequantized at load time; activations float32.
- ``int8-dynamic``: dynamic-range quantization (int8 weights, float activations). Dense layers use
  per-tensor weight scales (``_experimental_disable_per_channel_quantization_for_dense_layers``):
  per-channel dense weights emit ``FULLY_CONNECTED`` version 12, which tflite-runtime 2.14 rejects.
- ``int8``: full-integer quantization of the *network*, calibrated on a representative set of real
  training inputs. The in-graph preprocessing (NaN masking, statistics, resampling) stays float:
  quantizing the raw input would map NaN to an arbitrary int8 code and break the NaN handling.

How ``int8`` keeps the preprocessing float (selective quantization, the mechanism behind
``tf.lite.experimental.QuantizationDebugger``'s ``denylisted_nodes``): the converter first writes a
*calibrated* float model (``_experimental_calibrate_only``); in that graph every op that is neither a
weighted op (conv / fully-connected / batch-matmul / ...) nor downstream of one is preprocessing,
and its output tensor name goes on the deny-list of ``mlir_quantize``. The quantizer then inserts a
single ``QUANTIZE`` where the preprocessed window enters the first layer and a ``DEQUANTIZE`` at the
output. :func:`float_op_summary` reports which ops stayed float.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from edgelite.runtime.errors import DataError, ModelError

VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8")

# Ops whose constant weights make them "the network". Everything not downstream of one of these
# (in the calibrated float graph) is preprocessing and stays float in the ``int8`` variant.
WEIGHTED_OPS = frozenset(
    {
        "CONV_2D",
        "CONV_3D",
        "DEPTHWISE_CONV_2D",
        "TRANSPOSE_CONV",
        "FULLY_CONNECTED",
        "BATCH_MATMUL",
        "EMBEDDING_LOOKUP",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "BIDIRECTIONAL_SEQUENCE_LSTM",
        "UNIDIRECTIONAL_SEQUENCE_RNN",
        "LSTM",
        "SVDF",
    }
)

MAX_CALIBRATION_SAMPLES = 200


@dataclass
class CalibrationSet:
    """Representative raw inputs: ``samples[i]`` is one unbatched input, e.g. ``[T_i, 3]`` float32."""

    samples: list[np.ndarray]
    source: str

    def __len__(self) -> int:
        return len(self.samples)


def split_flat(x_flat: np.ndarray, lengths: np.ndarray, source: str, field: str = "x_flat") -> list[np.ndarray]:
    """Split ``x_flat [sum(lengths), ...]`` into a list of ``[lengths[i], ...]`` arrays (views)."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(f"{source}: lengths for {field!r} must be a 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if (lengths < 0).any():
        raise DataError(f"{source}: lengths for {field!r} has negative entries")
    if int(lengths.sum()) != len(x_flat):
        raise DataError(f"{source}: {field!r} has {len(x_flat)} rows but its lengths sum to {int(lengths.sum())}")
    if len(lengths) == 0:
        return []
    return np.split(np.asarray(x_flat, dtype=np.float32), np.cumsum(lengths)[:-1])


def load_calibration(path: str | os.PathLike, max_samples: int = MAX_CALIBRATION_SAMPLES) -> CalibrationSet:
    """Representative samples from an ``.npz``: ``calib_x_flat``/``calib_lengths`` (a run's
    ``eval_data.npz``) or ``x_flat``/``lengths``; at most ``max_samples``, evenly spread."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: calibration data not found (expected an .npz with calib_x_flat/calib_lengths)")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if {"calib_x_flat", "calib_lengths"} <= keys:
                xf, ln, field = z["calib_x_flat"], z["calib_lengths"], "calib_x_flat"
            elif {"x_flat", "lengths"} <= keys:
                xf, ln, field = z["x_flat"], z["lengths"], "x_flat"
            else:
                raise DataError(
                    f"{path}: no calibration arrays (expected calib_x_flat + calib_lengths, or x_flat + lengths; "
                    f"found {', '.join(sorted(keys)) or 'nothing'})"
                )
    except (OSError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz ({e})") from None
    samples = split_flat(xf, ln, path, field)
    samples = [s for s in samples if len(s) > 0]
    if not samples:
        raise DataError(f"{path}: {field!r} holds no non-empty samples")
    if len(samples) > max_samples:
        idx = np.linspace(0, len(samples) - 1, max_samples).round().astype(int)
        samples = [samples[i] for i in idx]
    return CalibrationSet(samples=samples, source=path)


def _representative(cal: CalibrationSet, input_name: str) -> Callable[[], Iterator[dict[str, np.ndarray]]]:
    def gen() -> Iterator[dict[str, np.ndarray]]:
        for s in cal.samples:
            yield {input_name: np.ascontiguousarray(s, dtype=np.float32)}

    return gen


def _op_graph(tflite: bytes) -> tuple[Any, list[str]]:
    """(model object, op names of subgraph 0's operators in order)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for sg in model.subgraphs[:1]:
        for op in sg.operators:
            oc = model.operatorCodes[op.opcodeIndex]
            ops.append(names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "UNKNOWN"))
    return model, ops


def preprocessing_nodes(calibrated: bytes) -> tuple[list[str], list[str]]:
    """Split the calibrated float graph into (preprocessing node names, network op names).

    Network = weighted ops and every op downstream of one (operators are stored in topological
    order). Preprocessing = the rest; returned as the output-tensor names that
    ``mlir_quantize(denylisted_nodes=...)`` matches.
    """
    model, ops = _op_graph(calibrated)
    sg = model.subgraphs[0]
    net_tensors: set[int] = set()
    deny: list[str] = []
    net_ops: list[str] = []
    def is_const(t: int) -> bool:
        b = sg.tensors[t].buffer
        return 0 < b < len(model.buffers) and model.buffers[b].data is not None and len(model.buffers[b].data) > 0

    for name, op in zip(ops, sg.operators):
        ins = [t for t in op.inputs if t >= 0]
        # a weighted op = one of WEIGHTED_OPS with a constant operand (x @ x^T in preprocessing is not)
        weighted = name in WEIGHTED_OPS and any(is_const(t) for t in ins)
        if weighted or any(t in net_tensors for t in ins):
            net_tensors.update(op.outputs)
            net_ops.append(name)
        else:
            for t in op.outputs:
                n = sg.tensors[t].name
                deny.append(n.decode() if isinstance(n, bytes) else n)
    if not net_ops:
        raise ModelError("int8: the model has no weighted layer (conv/dense/...) to quantize")
    return deny, net_ops


def float_op_summary(tflite: bytes) -> dict[str, Any]:
    """Which ops compute in float vs int8 in subgraph 0: ``{"float": {op: n}, "int8": {op: n}}``."""
    from tensorflow.lite.python import schema_py_generated as schema

    model, ops = _op_graph(tflite)
    sg = model.subgraphs[0]
    f32 = schema.TensorType.FLOAT32
    i8 = schema.TensorType.INT8
    out: dict[str, dict[str, int]] = {"float": {}, "int8": {}, "other": {}}
    for name, op in zip(ops, sg.operators):
        types = {sg.tensors[t].type for t in list(op.inputs) + list(op.outputs) if t >= 0}
        kind = "int8" if i8 in types and f32 not in types else ("float" if f32 in types and i8 not in types else "other")
        if name in ("QUANTIZE", "DEQUANTIZE"):
            kind = "other"
        out[kind][name] = out[kind].get(name, 0) + 1
    return out


def _converter(saved_model_dir: str) -> Any:
    from edgelite.convert.export import converter_from_saved_model

    if not os.path.isdir(saved_model_dir):
        raise ModelError(f"{saved_model_dir}: SavedModel folder not found (a run folder holds saved_model/)")
    return converter_from_saved_model(saved_model_dir)


def convert_variant(
    saved_model_dir: str | os.PathLike,
    variant: str,
    metadata: dict[str, Any],
    calibration: CalibrationSet | None = None,
    source: str | None = None,
) -> bytes:
    """Convert ``saved_model_dir`` (``serving_default``) into the ``.tflite`` bytes of ``variant``.

    ``metadata`` (edgelite metadata of the float model) is embedded with an added
    ``quantization`` entry. ``calibration`` is required for ``int8``.
    """
    import tensorflow as tf

    from edgelite.convert.export import convert_to_tflite, embed_metadata

    sm = os.fspath(saved_model_dir)
    src = source or f"{sm} [{variant}]"
    if variant not in VARIANTS:
        raise ModelError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    input_name = str(metadata.get("input", {}).get("name", ""))
    conv = _converter(sm)
    quant: dict[str, Any] = {"variant": variant}
    if variant == "fp32":
        data = convert_to_tflite(conv, src)
        quant.update(weights="float32", activations="float32")
    elif variant == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
        data = convert_to_tflite(conv, src)
        quant.update(weights="float16", activations="float32")
    elif variant == "int8-dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
        data = convert_to_tflite(conv, src)
        quant.update(weights="int8", activations="float32 (dynamic-range)", dense_per_channel=False)
    else:
        if calibration is None or not len(calibration):
            raise DataError(
                f"{src}: full int8 needs calibration data from real training inputs "
                "(--calibration DATA.npz, or a run folder's eval_data.npz with calib_x_flat/calib_lengths)"
            )
        if not input_name:
            raise ModelError(f"{src}: metadata has no input name; cannot feed the calibration set")
        data = _full_int8(conv, calibration, input_name, src)
        deny_summary = float_op_summary(data)
        quant.update(
            weights="int8",
            activations="int8 (network); float32 (preprocessing)",
            calibration={"source": calibration.source, "samples": len(calibration)},
            float_ops=deny_summary["float"],
            int8_ops=deny_summary["int8"],
        )
    meta = dict(metadata)
    meta["quantization"] = quant
    data = embed_metadata(data, meta, source=src)
    _check_signature(data, metadata, src)
    return data


def _full_int8(conv: Any, calibration: CalibrationSet, input_name: str, src: str) -> bytes:
    import tensorflow as tf
    from tensorflow.lite.python import convert as tfl_convert

    from edgelite.convert.export import _flex_ops_in_message
    from edgelite.runtime.modelfile import read_model_info

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _representative(calibration, input_name)
    conv.experimental_new_quantizer = True
    conv._experimental_calibrate_only = True
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # calibration uses the deprecated tf.lite.Interpreter internally
            calibrated = conv.convert()
    except Exception as e:
        msg = str(e)
        ops = sorted(set(_flex_ops_in_message(msg)))
        if ops:
            raise ModelError(f"{src}: needs TensorFlow ops that are not TFLite builtins ({', '.join(ops)})") from None
        last = msg.strip().splitlines()[-1] if msg.strip() else repr(e)
        raise ModelError(f"{src}: calibration failed: {last}") from None
    deny, _ = preprocessing_nodes(calibrated)
    try:
        data = tfl_convert.mlir_quantize(
            calibrated,
            disable_per_channel=False,
            fully_quantize=False,  # keep float32 input/output
            denylisted_nodes=deny,
            disable_per_channel_for_dense_layers=True,
        )
    except Exception as e:
        raise ModelError(f"{src}: int8 quantization failed: {str(e).strip().splitlines()[-1] if str(e).strip() else e}") from None
    info = read_model_info(src, buf=data)
    if info.custom_ops:
        raise ModelError(f"{src}: int8 model uses custom/Flex ops {info.custom_ops}; builtin ops only")
    return data


def _check_signature(data: bytes, metadata: dict[str, Any], src: str) -> None:
    """The variant must expose ``serving_default`` with float32 input/output named as in the metadata."""
    from edgelite.runtime.modelfile import read_model_info

    info = read_model_info(src, buf=data)
    sig = info.signatures.get("serving_default")
    if sig is None:
        raise ModelError(f"{src}: converted model lost the serving_default signature")
    want_in = metadata.get("input", {}).get("name")
    want_out = metadata.get("output", {}).get("name")
    if want_in and want_in not in sig.inputs:
        raise ModelError(f"{src}: signature input is {list(sig.inputs)}, expected {want_in!r}")
    if want_out and want_out not in sig.outputs:
        raise ModelError(f"{src}: signature output is {list(sig.outputs)}, expected {want_out!r}")
    for kind, tensors in (("input", sig.inputs), ("output", sig.outputs)):
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
    paths: dict[str, str] = {}
    for v in variants:
        if progress:
            progress(v)
        data = convert_variant(saved_model_dir, v, metadata, calibration)
        p = os.path.join(out_dir, f"model_{v}.tflite")
        write_atomic(p, data)
        paths[v] = p
    return paths


def parse_variants(text: str) -> list[str]:
    """``"fp32,fp16"`` → ``["fp32", "fp16"]``; unknown names raise :class:`DataError` naming them."""
    out = []
    for v in (s.strip() for s in text.split(",")):
        if not v:
            continue
        if v not in VARIANTS:
            raise DataError(f"--variants: unknown variant {v!r}; expected a comma list of {', '.join(VARIANTS)}")
        if v not in out:
            out.append(v)
    if not out:
        raise DataError("--variants: no variant given")
    return out
