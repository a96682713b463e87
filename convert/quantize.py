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
output. :func:`float_op_summary` reports which ops stayed float. The representative set is the
real calibration samples plus NaN / all-NaN / shortest-length variants of some of them
(:func:`with_hard_inputs`), so the int8 ranges cover what the preprocessing emits for them.

Inside the network, ops int8 cannot represent are kept float too (:func:`fragile_nodes`): ``DIV``
(no int8 kernel in tflite-runtime 2.14) and ops touching tensors whose calibrated range is huge
(attention masks filled with -1e9). The result is then checked against the calibrated float graph
on calibration samples (:func:`self_check`); below ``SELF_CHECK_AGREEMENT`` top-1 agreement the
conversion falls back to quantizing only the weighted ops (``level = "weighted-only"``), and if
that fails too it raises :class:`ModelError` recommending ``int8-dynamic``. The level used and the
self-check numbers are stored in the model's ``quantization`` metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from edgelite.runtime.core.errors import DataError, ModelError

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
# Network ops kept float in full int8: no int8 DIV kernel in tflite-runtime 2.14.
FLOAT_ONLY_OPS = frozenset({"DIV"})
# A calibrated tensor range beyond this (e.g. -1e9 attention-mask fill) cannot share an int8 scale.
RANGE_LIMIT = 1e5
SELF_CHECK_SAMPLES = 40
HARD_INPUT_EVERY = 10  # hard variants of every 10th calibration sample join the representative set
SELF_CHECK_AGREEMENT = 0.9


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

    Network = weighted ops (with a constant operand) and every op downstream of one (operators
    are stored in topological order). Preprocessing = the rest; returned as the output-tensor
    names that ``mlir_quantize(denylisted_nodes=...)`` matches.
    """
    net, _ = _network_op_indices(calibrated)
    _, ops = _op_graph(calibrated)
    if not net:
        raise ModelError("int8: the model has no weighted layer (conv/dense/...) to quantize")
    return _nodes_of(calibrated, set(range(len(ops))) - net), [ops[i] for i in sorted(net)]


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
        fp32 = convert_to_tflite(_converter(sm), src)
        data, restored = keep_preprocessing_constants_fp32(data, fp32)
        quant.update(weights="float16", activations="float32",
                     preprocessing_constants="float32", restored_constants=restored)
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
        min_len = int(metadata.get("input", {}).get("min_samples", 1) or 1)
        data, level = _full_int8(conv, calibration, input_name, src, min_length=min_len)
        deny_summary = float_op_summary(data)
        quant.update(
            weights="int8",
            activations="int8 (network); float32 (preprocessing)" if level["level"] == "network"
            else "int8 (conv/dense/matmul only); float32 (preprocessing and the rest)",
            level=level["level"],
            self_check=level["self_check"],
            calibration={"source": calibration.source, "samples": len(calibration),
                         "hard_inputs": len(with_hard_inputs(calibration, min_len)) - len(calibration)},
            float_ops=deny_summary["float"],
            int8_ops=deny_summary["int8"],
        )
    meta = dict(metadata)
    meta["quantization"] = quant
    data = embed_metadata(data, meta, source=src)
    _check_signature(data, metadata, src)
    return data


def fragile_nodes(calibrated: bytes, net_ops_only: set[int] | None = None,
                  range_limit: float = RANGE_LIMIT) -> list[str]:
    """Network ops that int8 handles badly, as node names to keep float.

    - ``DIV`` (no int8 kernel in tflite-runtime 2.14; masked-mean pooling divides by counts),
    - ops whose calibrated input/output range exceeds ``range_limit`` (e.g. attention masks filled
      with -1e9: one int8 scale cannot hold them and the real values).
    """
    if net_ops_only is None:
        net_ops_only, _ = _network_op_indices(calibrated)
    return _nodes_of(calibrated, _fragile_indices(calibrated, net_ops_only, range_limit))


def _unfuse_names(calibrated: bytes) -> bytes:
    """Replace ``;`` in tensor names of the calibrated model.

    The quantizer matches ``denylisted_nodes`` against an op's *NameLoc* only; the TFLite importer
    turns a tensor name holding ``;`` (fused ops, e.g. ``"GatherV2;"``) into a FusedLoc, so such an
    op could never be kept float (a preprocessing GATHER on the raw input got quantized). Signature
    maps refer to tensors by index, so renaming is safe.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    changed = False
    for sg in model.subgraphs:
        for t in sg.tensors:
            n = t.name.decode() if isinstance(t.name, bytes) else (t.name or "")
            if ";" in n:
                t.name = n.replace(";", "+").encode()
                changed = True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)) if changed else calibrated


def strip_float_region_stats(calibrated: bytes, float_ops: set[int]) -> bytes:
    """Drop calibration ranges of tensors that only float ops touch (subgraph 0).

    Without a recorded range the quantizer inserts no QUANTIZE/DEQUANTIZE pair there, so a
    range-preserving op (GATHER, STRIDED_SLICE, SELECT_V2) cannot be pulled into int8 by scale
    propagation: ``denylisted_nodes`` alone did not stop a GATHER on the raw input from being
    quantized. Tensors produced or consumed by an int8 op keep their ranges (the boundaries).
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    sg = model.subgraphs[0]
    boundary: set[int] = set()
    for i, op in enumerate(sg.operators):
        if i not in float_ops:
            boundary.update(t for t in list(op.inputs) + list(op.outputs) if t >= 0)
    for t_i, t in enumerate(sg.tensors):
        if t_i not in boundary and t.quantization is not None:
            t.quantization.min = None
            t.quantization.max = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _fragile_indices(calibrated: bytes, net: set[int], range_limit: float = RANGE_LIMIT) -> set[int]:
    model, ops = _op_graph(calibrated)
    sg = model.subgraphs[0]
    huge: set[int] = set()
    for t_i, t in enumerate(sg.tensors):
        q = t.quantization
        if q is not None and q.min is not None and q.max is not None and len(q.min) and len(q.max):
            if max(abs(float(np.min(q.min))), abs(float(np.max(q.max)))) > range_limit:
                huge.add(t_i)
    out = set()
    for i, (name, op) in enumerate(zip(ops, sg.operators)):
        if i in net and (name in FLOAT_ONLY_OPS or any(t in huge for t in list(op.inputs) + list(op.outputs) if t >= 0)):
            out.add(i)
    return out


def _tensor_name(sg: Any, t: int) -> str:
    n = sg.tensors[t].name
    return n.decode() if isinstance(n, bytes) else n


def _network_op_indices(calibrated: bytes) -> tuple[set[int], set[int]]:
    """(indices of network ops, indices of weighted ops) in subgraph 0."""
    model, ops = _op_graph(calibrated)
    sg = model.subgraphs[0]

    def is_const(t: int) -> bool:
        b = sg.tensors[t].buffer
        return 0 < b < len(model.buffers) and model.buffers[b].data is not None and len(model.buffers[b].data) > 0

    net_tensors: set[int] = set()
    net, weighted = set(), set()
    for i, (name, op) in enumerate(zip(ops, sg.operators)):
        ins = [t for t in op.inputs if t >= 0]
        w = name in WEIGHTED_OPS and any(is_const(t) for t in ins)
        if w:
            weighted.add(i)
        if w or any(t in net_tensors for t in ins):
            net.add(i)
            net_tensors.update(op.outputs)
    return net, weighted


def _nodes_of(calibrated: bytes, indices: set[int]) -> list[str]:
    model, _ = _op_graph(calibrated)
    sg = model.subgraphs[0]
    return [_tensor_name(sg, t) for i, op in enumerate(sg.operators) if i in indices for t in op.outputs if t >= 0]


def self_check(float_model: bytes, quant_model: bytes, samples: list[np.ndarray], input_name: str) -> dict[str, Any]:
    """Run both models (LiteRT) on ``samples``: top-1 agreement and max abs output difference."""
    from edgelite.runtime.core.model import load_interpreter

    rf = load_interpreter(float_model, num_threads=1).get_signature_runner("serving_default")
    rq = load_interpreter(quant_model, num_threads=1).get_signature_runner("serving_default")
    agree, diff, n = 0, 0.0, 0
    for s in samples:
        a = next(iter(rf(**{input_name: s}).values())).reshape(-1)
        try:
            b = next(iter(rq(**{input_name: s}).values())).reshape(-1)
        except Exception as e:  # an int8 kernel that fails at run time: this level is unusable
            return {"n": n, "top1_agreement": 0.0, "max_abs_diff": None, "error": str(e).strip()[:200]}
        if not np.isfinite(b).all():
            return {"n": n, "top1_agreement": 0.0, "max_abs_diff": None, "error": "non-finite output"}
        agree += int(np.argmax(a) == np.argmax(b))
        diff = max(diff, float(np.abs(a - b).max()))
        n += 1
    return {"n": n, "top1_agreement": agree / max(n, 1), "max_abs_diff": diff}


def with_hard_inputs(calibration: CalibrationSet, min_length: int = 1, every: int = HARD_INPUT_EVERY) -> CalibrationSet:
    """Calibration samples plus hard variants (NaN rows, a NaN channel, all NaN, T=2/T=1) of every
    ``every``-th sample.

    The model's contract includes missing values and short inputs; without them in the
    representative set the ranges fitted on clean windows do not cover what the preprocessing
    emits for an all-NaN input, and int8 saturates (seen: probabilities off by 1.0).
    """
    from edgelite.convert.parity import edge_inputs

    extra: list[np.ndarray] = []
    for s in calibration.samples[::every]:
        extra.extend(edge_inputs(s, min_length=min_length).values())
    return CalibrationSet(samples=list(calibration.samples) + extra, source=calibration.source)


def _full_int8(conv: Any, calibration: CalibrationSet, input_name: str, src: str,
               min_length: int = 1) -> tuple[bytes, dict[str, Any]]:
    """Selective full-int8: returns (model bytes, report of the level used and its self-check).

    Levels, tried in order until the self-check on calibration samples passes
    (top-1 agreement >= ``SELF_CHECK_AGREEMENT`` with the float graph):
    ``network`` (all network ops int8 except fragile ones) → ``weighted-only`` (only conv / dense /
    matmul in int8, everything between them float).
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as tfl_convert

    from edgelite.convert.export import _flex_ops_in_message
    from edgelite.runtime.core.modelfile import read_model_info

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    augmented = with_hard_inputs(calibration, min_length)
    conv.representative_dataset = _representative(augmented, input_name)
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
    calibrated = _unfuse_names(calibrated)
    net, weighted = _network_op_indices(calibrated)
    if not weighted:
        raise ModelError(f"{src}: the model has no weighted layer (conv/dense/...) to quantize to int8")
    n_ops = len(_op_graph(calibrated)[1])
    pre = set(range(n_ops)) - net
    levels = [
        ("network", pre | _fragile_indices(calibrated, net)),
        ("weighted-only", set(range(n_ops)) - weighted),
    ]
    check_samples = calibration.samples[:: max(1, len(calibration.samples) // SELF_CHECK_SAMPLES)][:SELF_CHECK_SAMPLES]
    check_samples = with_hard_inputs(CalibrationSet(check_samples, ""), min_length, every=8).samples
    tried = []
    data = b""
    for level, float_ops in levels:
        try:
            data = tfl_convert.mlir_quantize(
                strip_float_region_stats(calibrated, float_ops),
                disable_per_channel=False,
                fully_quantize=False,  # keep float32 input/output
                denylisted_nodes=sorted(set(_nodes_of(calibrated, float_ops))),
                disable_per_channel_for_dense_layers=True,
            )
        except Exception as e:
            tried.append({"level": level, "error": str(e).strip().splitlines()[-1][:200] if str(e).strip() else repr(e)})
            continue
        chk = self_check(calibrated, data, check_samples, input_name)
        tried.append({"level": level, **chk})
        if chk["top1_agreement"] >= SELF_CHECK_AGREEMENT:
            break
    else:
        summary = "; ".join(f"{t['level']}: {t.get('error') or t.get('top1_agreement')}" for t in tried)
        raise ModelError(
            f"{src}: full int8 does not reproduce the float model on the calibration samples at any level "
            f"({summary}); use int8-dynamic for this model"
        )
    info = read_model_info(src, buf=data)
    if info.custom_ops:
        raise ModelError(f"{src}: int8 model uses custom/Flex ops {info.custom_ops}; builtin ops only")
    return data, {"level": tried[-1]["level"], "self_check": tried}


def _check_signature(data: bytes, metadata: dict[str, Any], src: str) -> None:
    """The variant must expose ``serving_default`` with float32 input/output named as in the metadata."""
    from edgelite.runtime.core.modelfile import read_model_info

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


def keep_preprocessing_constants_fp32(fp16_model: bytes, fp32_model: bytes) -> tuple[bytes, int]:
    """Undo float16 storage for constants the preprocessing uses.

    The float16 converter stores *every* float constant as float16 + ``DEQUANTIZE``, including the
    preprocessing's (feature mean/std, eps, dead-bands, 1/(N-1)): threshold features such as
    mean-crossing rates then flip (seen: probabilities off by 0.19 on real windows). Each
    ``DEQUANTIZE`` of a float16 constant that feeds a preprocessing op is replaced by the float32
    constant of the same name from the float model. Returns (model, number of constants restored).
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    ref = flatbuffer_utils.convert_bytearray_to_object(bytearray(fp32_model))
    rsg = ref.subgraphs[0]
    originals: dict[str, np.ndarray] = {}
    for t in rsg.tensors:
        b = ref.buffers[t.buffer]
        if t.type == schema.TensorType.FLOAT32 and b.data is not None and len(b.data):
            originals[_name(t)] = np.frombuffer(bytes(b.data), np.float32)

    model, ops = _op_graph(fp16_model)
    sg = model.subgraphs[0]
    deq_of_const: dict[int, int] = {}  # DEQUANTIZE op index -> its float16 constant input tensor
    for i, (name, op) in enumerate(zip(ops, sg.operators)):
        if name == "DEQUANTIZE" and len(op.inputs) == 1:
            t = sg.tensors[op.inputs[0]]
            b = model.buffers[t.buffer]
            if t.type == schema.TensorType.FLOAT16 and b.data is not None and len(b.data):
                deq_of_const[i] = op.inputs[0]
    const_like = {sg.operators[i].outputs[0] for i in deq_of_const}
    net_tensors: set[int] = set()
    net: set[int] = set()
    for i, (name, op) in enumerate(zip(ops, sg.operators)):
        ins = [t for t in op.inputs if t >= 0]
        weighted = name in WEIGHTED_OPS and any(t in const_like or _is_const(model, sg, t) for t in ins)
        if weighted or any(t in net_tensors for t in ins if t not in const_like):
            net.add(i)
            net_tensors.update(op.outputs)
    consumers: dict[int, set[int]] = {}
    for i, op in enumerate(sg.operators):
        for t in op.inputs:
            if t >= 0:
                consumers.setdefault(t, set()).add(i)
    drop: set[int] = set()
    for i, c16 in deq_of_const.items():
        out_t = sg.operators[i].outputs[0]
        users = consumers.get(out_t, set())
        if not users or users <= net:
            continue  # network weights stay float16
        half = np.frombuffer(bytes(model.buffers[sg.tensors[c16].buffer].data), np.float16).astype(np.float32)
        orig = originals.get(_name(sg.tensors[c16]))
        if orig is None or orig.shape != half.shape or not np.allclose(orig, half, rtol=2e-3, atol=1e-7):
            orig = half  # no float32 twin found: at least no double rounding downstream
        buf = schema.BufferT()
        buf.data = np.ascontiguousarray(orig, np.float32).tobytes()
        model.buffers.append(buf)
        sg.tensors[out_t].buffer = len(model.buffers) - 1
        drop.add(i)
    if not drop:
        return fp16_model, 0
    sg.operators = [op for i, op in enumerate(sg.operators) if i not in drop]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), len(drop)


def _name(t: Any) -> str:
    return t.name.decode() if isinstance(t.name, bytes) else (t.name or "")


def _is_const(model: Any, sg: Any, t: int) -> bool:
    b = sg.tensors[t].buffer
    return 0 < b < len(model.buffers) and model.buffers[b].data is not None and len(model.buffers[b].data) > 0


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
