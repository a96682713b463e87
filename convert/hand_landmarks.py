"""An int8 variant of MediaPipe's hand landmark model (needs the train/convert extra; made once, cached).

The runtime never needs this module: with ``landmark_model="int8"`` it loads the result from the
cache (:mod:`edgelite.runtime.vision.hand_models`; ``"auto"`` falls back to the float model when it is
absent, the default ``"float"`` never reads it).

How (measured on crops of rendered real-landmark videos, x86, one thread; see
``benchmarks/results/hands_speed.md``):

- The bundle's ``hand_landmarks_detector.tflite`` stores float16 weights behind ``DEQUANTIZE`` ops;
  they are turned into float32 constants (exact) so that the quantizer sees a float32 model.
- Full int8 (every op, min/max calibration) halves the model's CPU time (8.1 → 4.0 ms) but moves
  landmarks by 2.1 crop px (median; p90 15) and flips handedness on 14 % of crops; dynamic-range
  int8 is *slower* than float in LiteRT 2.3 (19.8 ms: its hybrid kernels bypass XNNPACK).
- The error comes from the stem: int8 from op 8 on (after the first two inverted-residual blocks at
  112x112/56x56) up to the global pooling, with the stem, pooling and the four heads float, moves
  landmarks by ≈0.5 crop px (median) at 4.6 ms. That is :data:`FLOAT_STEM_OPS` and this module.
  In the tracker on two 24-sequence videos it adds 0.7-0.85 px to the median distance from
  MediaPipe's landmarks (1.48 → 2.20 and 0.50 → 1.35 px) for 3.8-3.9x MediaPipe's frame rate
  instead of 2.7x with the float model.
- Calibration: true min/max of every tensor over crops the float tracker cut from real-landmark
  videos (its own ROIs), so the ranges match what the tracker feeds the model.

Builtin ops only (QUANTIZE/DEQUANTIZE, int8 CONV_2D/DEPTHWISE_CONV_2D/ADD); no FULLY_CONNECTED is
quantized, so tflite-runtime 2.14 loads it too.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

import numpy as np
from edgelite.runtime.core.errors import DataError, ModelError

#: Ops kept float at the start of the landmark model (the 112x112 and 56x56 stem blocks).
FLOAT_STEM_OPS = 8


def float32_weights(tflite: bytes) -> bytes:
    """``tflite`` with every ``DEQUANTIZE`` of a float16 constant replaced by a float32 constant (the
    op removed, its output tensor given the float32 data; float16 → float32 is exact)."""
    from edgelite.convert import tfcompat

    schema = tfcompat.schema()
    m = tfcompat.to_object(tflite)
    deq = schema.BuiltinOperator.DEQUANTIZE
    converted: dict[int, int] = {}  # float16 buffer → its float32 copy
    for sg in m.subgraphs:
        kept = []
        for op in sg.operators:
            code = m.operatorCodes[op.opcodeIndex]
            src = sg.tensors[op.inputs[0]]
            data = m.buffers[src.buffer].data if 0 < src.buffer < len(m.buffers) else None
            if max(code.builtinCode, code.deprecatedBuiltinCode) == deq and src.type == schema.TensorType.FLOAT16 \
                    and data is not None and len(data):
                if src.buffer not in converted:
                    arr = np.frombuffer(bytes(bytearray(data)), np.float16).astype(np.float32)
                    buf = schema.BufferT()
                    buf.data = np.frombuffer(arr.tobytes(), np.uint8)
                    m.buffers.append(buf)
                    converted[src.buffer] = len(m.buffers) - 1
                sg.tensors[op.outputs[0]].buffer = converted[src.buffer]
                continue
            kept.append(op)
        sg.operators = kept
    # the float16 tensors stay (unread): dropping them would need re-indexing every tensor, and the
    # calibrator reads every tensor of the graph
    return tfcompat.to_bytes(m)


def with_signature(tflite: bytes) -> tuple[bytes, str]:
    """``tflite`` with a ``serving_default`` signature over its inputs/outputs (the quantizer's
    calibrator needs one) and the input tensor's name."""
    from edgelite.convert import tfcompat

    schema = tfcompat.schema()
    m = tfcompat.to_object(tflite)
    sg = m.subgraphs[0]

    def tensor_map(i: int) -> Any:
        t = schema.TensorMapT()
        t.name, t.tensorIndex = sg.tensors[i].name, i
        return t

    sd = schema.SignatureDefT()
    sd.signatureKey, sd.subgraphIndex = "serving_default", 0
    sd.inputs = [tensor_map(i) for i in sg.inputs]
    sd.outputs = [tensor_map(i) for i in sg.outputs]
    m.signatureDefs = [sd]
    name = sg.tensors[sg.inputs[0]].name
    return tfcompat.to_bytes(m), name.decode() if isinstance(name, bytes) else str(name)


def int8_op_names(fp32: bytes) -> list[str]:
    """Output names of the ops made int8: from op :data:`FLOAT_STEM_OPS` up to the first ``MEAN``
    (global pooling). Raises :class:`ModelError` when the graph is not the expected landmark model."""
    from edgelite.convert.graph import op_graph, tensor_name

    model, names = op_graph(fp32)
    sg = model.subgraphs[0]
    if "MEAN" not in names or names.index("MEAN") <= FLOAT_STEM_OPS + 10:
        raise ModelError(f"hand landmark model: expected a MobileNet-like body ending in MEAN (global pooling), "
                         f"got ops {sorted(set(names))}")
    stop = names.index("MEAN")
    return [tensor_name(sg, sg.operators[i].outputs[0]) for i in range(FLOAT_STEM_OPS, stop)]


def quantize_landmarks(float16_model: bytes, crops: np.ndarray) -> tuple[bytes, dict[str, Any]]:
    """The int8 landmark model from the bundle's float16 ``hand_landmarks_detector.tflite`` and
    calibration ``crops`` ``[N,224,224,3]`` float32 in [0,1]. Returns (bytes, report)."""
    from edgelite.convert.calibration import calibrate
    from edgelite.convert.quantize import (
        IO_FLOAT_RULES,
        _exact,
        _quantize,
        _rule,
        _weights,
    )

    crops = np.asarray(crops, np.float32)
    if crops.ndim != 4 or crops.shape[1:] != (224, 224, 3) or len(crops) < 8:
        raise DataError(f"hand landmark calibration: expected at least 8 crops [N,224,224,3], got {crops.shape}")
    fp32, input_name = with_signature(float32_weights(float16_model))
    names = int8_op_names(fp32)
    cfg = {"activation_tensor_config": {"num_bits": 8, "symmetric": False, "granularity": "TENSORWISE", "dtype": "INT"},
           "weight_tensor_config": _weights(8), "compute_precision": "INTEGER", "explicit_dequantize": False}
    recipe = [_rule(_exact(names), "*", "min_max_uniform_quantize", cfg)] + IO_FLOAT_RULES
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the calibrator's progress bar
            qsvs = calibrate(fp32, recipe, [c[None] for c in crops], input_name)
            data, _, _ = _quantize(fp32, recipe, qsvs, "int8")
    finally:
        logging.getLogger().setLevel(level)
    return data, {"int8_ops": len(names), "float_stem_ops": FLOAT_STEM_OPS, "calibration_crops": len(crops),
                  "calibration": "min/max", "bytes": len(data)}


def tracker_crops(task_path: str, frames: list[np.ndarray], limit: int = 160) -> np.ndarray:
    """Landmark-model inputs ``[N,224,224,3]`` the float LiteRT tracker cuts from ``frames`` (its own
    ROIs, every tracked hand of every frame), evenly thinned to at most ``limit``."""
    from edgelite.runtime.vision.hands import HandTrackerOptions
    from edgelite.runtime.vision.hands_litert import (
        LANDMARK_SIZE,
        LiteRTHandTracker,
        warp_crop,
    )

    opts = HandTrackerOptions(model_path=str(task_path), landmark_model="float", motion_threshold=0.0,
                              idle_detect_every=1)
    crops = []
    with LiteRTHandTracker.create_from_options(opts) as tr:
        for i, f in enumerate(frames):
            rects = [t.rect for t in tr.tracks]
            tr.process(f, i * 33)
            crops += [warp_crop(f, r, LANDMARK_SIZE, False) for r in rects]
    if not crops:
        raise DataError("hand landmark calibration: the tracker found no hand in the calibration frames")
    keep = np.linspace(0, len(crops) - 1, min(limit, len(crops))).round().astype(int)
    return np.stack([crops[k] for k in sorted(set(keep))])


def make_cached_int8_landmarks(task_path: str, frames: list[np.ndarray], overwrite: bool = False) -> tuple[str, dict]:
    """Quantize the bundle's landmark model with crops from ``frames`` and store it where the runtime
    looks (:func:`edgelite.runtime.vision.hand_models.int8_landmarks_path`); atomic write.
    Returns (path, report); an existing file is kept unless ``overwrite``."""
    import json
    import os

    from edgelite.runtime.vision.hand_models import int8_landmarks_path
    from edgelite.runtime.vision.hands import read_task_bundle
    from edgelite.runtime.vision.hands_litert import LANDMARKER_NAME

    path = int8_landmarks_path(task_path)
    report_path = path.with_suffix(".json")
    if path.is_file() and not overwrite:
        rep = json.loads(report_path.read_text()) if report_path.is_file() else {}
        return str(path), {**rep, "cached": True}
    data, rep = quantize_landmarks(read_task_bundle(task_path)[LANDMARKER_NAME], tracker_crops(task_path, frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    for p, blob in ((path, data), (report_path, (json.dumps(rep, indent=2) + "\n").encode())):
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, p)
    return str(path), {**rep, "cached": False}
