"""The one place edgelite touches private / internal TensorFlow APIs.

Each helper checks that the attribute it needs exists and raises :class:`ModelError` naming the
attribute and the installed TensorFlow version when it does not (a TF upgrade that renames one of
them must fail loudly here, not silently produce a different model).

Used: ``tensorflow.lite.tools.flatbuffer_utils`` and ``tensorflow.lite.python.schema_py_generated``
(the flatbuffer object API: the ``edgelite`` metadata entry, op lists, name compaction).

No longer used, because the maintained quantizer (:mod:`edgelite.convert.quantize`) does their job
with public recipes: ``TFLiteConverter._experimental_disable_per_channel_quantization_for_dense_layers``
(now a per-tensor ``FULLY_CONNECTED`` rule), ``_experimental_calibrate_only`` and
``mlir_quantize(denylisted_nodes=...)`` (now ``no_quantize`` rules on the preprocessing scope).
"""

from __future__ import annotations

import importlib
from typing import Any

from edgelite.runtime.core.errors import ModelError

def tf_version() -> str:
    try:
        import tensorflow as tf

        return str(tf.__version__)
    except ImportError:
        return "not installed"


def _missing(what: str) -> ModelError:
    return ModelError(
        f"TensorFlow {tf_version()} has no {what}; edgelite's converter relies on this internal API "
        "(tested with TensorFlow 2.21). Install a tested TensorFlow version or update edgelite.convert.tfcompat"
    )


def require_attr(obj: Any, name: str, what: str | None = None) -> Any:
    """``getattr(obj, name)``, or a :class:`ModelError` naming it and the TF version."""
    if not hasattr(obj, name):
        raise _missing(what or f"{type(obj).__name__}.{name}")
    return getattr(obj, name)


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise _missing(f"module {name}") from None


def flatbuffer_utils() -> Any:
    """``tensorflow.lite.tools.flatbuffer_utils`` with the two functions edgelite uses checked."""
    mod = _module("tensorflow.lite.tools.flatbuffer_utils")
    for fn in ("convert_bytearray_to_object", "convert_object_to_bytearray"):
        require_attr(mod, fn, f"tensorflow.lite.tools.flatbuffer_utils.{fn}")
    return mod


def schema() -> Any:
    """``tensorflow.lite.python.schema_py_generated`` (BufferT, MetadataT, BuiltinOperator, TensorType)."""
    mod = _module("tensorflow.lite.python.schema_py_generated")
    for cls in ("BufferT", "MetadataT", "BuiltinOperator", "TensorType"):
        require_attr(mod, cls, f"tensorflow.lite.python.schema_py_generated.{cls}")
    return mod


def to_object(tflite: bytes) -> Any:
    """Mutable flatbuffer object (``ModelT``) of ``tflite`` bytes.

    Buffers stored *after* the flatbuffer (``offset``/``size``, as the quantizer writes them) are
    copied inline: TF's object API would otherwise write back offsets into data it dropped.
    """
    model = flatbuffer_utils().convert_bytearray_to_object(bytearray(tflite))
    for b in model.buffers or []:
        off, size = int(getattr(b, "offset", 0) or 0), int(getattr(b, "size", 0) or 0)
        if off > 1:
            if off + size > len(tflite):
                raise ModelError(f"buffer at offset {off} + {size} bytes lies beyond the {len(tflite)}-byte model")
            b.data = list(tflite[off:off + size])
            b.offset, b.size = 0, 0
    return model


def to_bytes(model: Any) -> bytes:
    return bytes(flatbuffer_utils().convert_object_to_bytearray(model))
