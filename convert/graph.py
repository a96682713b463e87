"""Reading a converted ``.tflite`` graph: op lists, the network/preprocessing split, float-vs-int summaries.

Used by the quantization policy (:mod:`edgelite.convert.quantize`) to check what a recipe did and
as the fallback when a model carries no preprocessing name scope: network = weighted ops (with a
constant operand) and everything downstream of one (operators are stored in topological order);
preprocessing = the rest.
"""

from __future__ import annotations

from typing import Any

from edgelite.convert import tfcompat

# Ops whose constant weights make them "the network".
WEIGHTED_OPS = frozenset({
    "CONV_2D", "CONV_3D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL",
    "EMBEDDING_LOOKUP", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "LSTM", "SVDF",
})


def op_graph(tflite: bytes) -> tuple[Any, list[str]]:
    """(model object, builtin op names of subgraph 0's operators in order)."""
    schema = tfcompat.schema()
    model = tfcompat.to_object(tflite)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = []
    for op in model.subgraphs[0].operators:
        oc = model.operatorCodes[op.opcodeIndex]
        ops.append(names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "UNKNOWN"))
    return model, ops


def tensor_name(sg: Any, t: int) -> str:
    n = sg.tensors[t].name
    return n.decode() if isinstance(n, bytes) else (n or "")


def _is_const(model: Any, sg: Any, t: int) -> bool:
    b = sg.tensors[t].buffer
    return 0 < b < len(model.buffers) and model.buffers[b].data is not None and len(model.buffers[b].data) > 0


def network_ops(tflite: bytes) -> tuple[set[int], set[int]]:
    """(indices of network ops, indices of weighted ops) in subgraph 0."""
    model, ops = op_graph(tflite)
    sg = model.subgraphs[0]
    net_tensors: set[int] = set()
    net, weighted = set(), set()
    for i, (name, op) in enumerate(zip(ops, sg.operators)):
        ins = [t for t in op.inputs if t >= 0]
        w = name in WEIGHTED_OPS and any(_is_const(model, sg, t) for t in ins)
        if w:
            weighted.add(i)
        if w or any(t in net_tensors for t in ins):
            net.add(i)
            net_tensors.update(op.outputs)
    return net, weighted


def op_output_names(tflite: bytes, indices: set[int] | None = None) -> list[str]:
    """Output tensor names (what quantizer recipes match) of the ops at ``indices`` (all if None)."""
    model, _ = op_graph(tflite)
    sg = model.subgraphs[0]
    return [tensor_name(sg, t) for i, op in enumerate(sg.operators)
            if indices is None or i in indices for t in op.outputs if t >= 0]


def float_op_summary(tflite: bytes) -> dict[str, dict[str, int]]:
    """Which ops compute in float vs integer in subgraph 0: ``{"float": {op: n}, "int8": {..}, "int16": {..}, "other": {..}}``.

    An op is integer when an activation it reads or writes is INT8/INT16 and none is FLOAT32;
    weight-only / dynamic ops (float activations, integer constants) count as float.
    """
    schema = tfcompat.schema()
    model, ops = op_graph(tflite)
    sg = model.subgraphs[0]
    tt = schema.TensorType
    out: dict[str, dict[str, int]] = {"float": {}, "int8": {}, "int16": {}, "other": {}}
    for name, op in zip(ops, sg.operators):
        acts = [t for t in list(op.inputs) + list(op.outputs) if t >= 0 and not _is_const(model, sg, t)]
        types = {sg.tensors[t].type for t in acts}
        if name in ("QUANTIZE", "DEQUANTIZE") or not types:
            kind = "other"
        elif tt.FLOAT32 in types:
            kind = "float"
        elif tt.INT16 in types:
            kind = "int16"
        elif tt.INT8 in types:
            kind = "int8"
        else:
            kind = "other"
        out[kind][name] = out[kind].get(name, 0) + 1
    return out


def compact(tflite: bytes, scope_re: str) -> tuple[bytes, int]:
    """Drop debug bulk: preprocessing tensor names (``scope_re``) become ``pre/<index>``, fused names
    (``a;b;c``) keep their first part, empty quantization tables go. Returns (model, bytes saved).

    Names are debug information only (signatures refer to tensors by index); an accel model's
    preprocessing is ~280 small float ops whose long scoped names and empty tables cost ~10 KB,
    which is what kept a dynamic-range model above 30 % of fp32. Run after quantization: recipes
    match names.
    """
    import re

    model = tfcompat.to_object(tflite)
    sg = model.subgraphs[0]
    keep = set(sg.inputs) | set(sg.outputs)
    for i, t in enumerate(sg.tensors):
        q = t.quantization
        if q is not None and q.details is None and all(
                getattr(q, a) is None or len(getattr(q, a)) == 0 for a in ("min", "max", "scale", "zeroPoint")):
            t.quantization = None
        if i in keep:
            continue
        n = tensor_name(sg, i)
        t.name = (f"pre/{i}" if re.search(scope_re, n) else n.split(";")[0]).encode()
    out = tfcompat.to_bytes(model)
    return out, len(tflite) - len(out)
