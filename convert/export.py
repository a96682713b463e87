"""Keras model + in-graph preprocessing → ``.tflite`` with a ``serving_default`` signature and metadata.

Keras 3 pitfall: wrapping a Keras 3 model in a plain ``tf.Module`` converts without error into a
``.tflite`` without weights (NaN out). We export through ``keras.export.ExportArchive`` into a
SavedModel and convert that with ``TFLiteConverter.from_saved_model(signature_keys=[...])``;
the parity tests guard it.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.core.metadata import validate
from edgelite.runtime.core.modelfile import METADATA_NAME, read_model_info

SIGNATURE = "serving_default"


def export_saved_model(
    model: Any,
    serve: Callable[[Any], Any],
    input_name: str,
    input_shape: list[int | None],
    output_name: str,
    out_dir: str,
    endpoints: dict[str, Callable[[Any], dict[str, Any]]] | None = None,
) -> str:
    """Write a SavedModel whose ``serving_default`` maps ``{input_name: x}`` → ``{output_name: serve(x)}``.

    ``serve`` takes the raw, unbatched input tensor (e.g. ``[T, 3]``) and returns the unbatched output.
    ``model`` is tracked so that its weights are saved. ``endpoints``: further signatures on the same
    input, name → function returning a dict of outputs (e.g. the ``openset`` score signature).
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)

    @tf.function(input_signature=[tf.TensorSpec(input_shape, tf.float32, name=input_name)])
    def endpoint(x):
        return {output_name: serve(x)}

    archive.add_endpoint(SIGNATURE, endpoint)
    for name, fn in (endpoints or {}).items():
        archive.add_endpoint(name, tf.function(fn, input_signature=[tf.TensorSpec(input_shape, tf.float32, name=input_name)]))
    archive.write_out(out_dir, verbose=False)
    return out_dir


def converter_from_saved_model(saved_model_dir: str, extra_signatures: list[str] | None = None) -> Any:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SIGNATURE, *(extra_signatures or [])])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.allow_custom_ops = False
    return conv


def convert_to_tflite(converter: Any, source: str = "model") -> bytes:
    """Run the converter; builtin ops only. A model that would need Flex ops raises :class:`ModelError` naming them."""
    try:
        data = converter.convert()
    except Exception as e:  # the converter raises ConverterError with the op list in the message
        msg = str(e)
        ops = sorted(set(_flex_ops_in_message(msg)))
        if ops:
            raise ModelError(
                f"{source}: needs TensorFlow ops that are not TFLite builtins ({', '.join(ops)}); "
                "edgelite models must run without Flex/SELECT_TF_OPS"
            ) from None
        raise ModelError(f"{source}: TFLite conversion failed: {msg.strip().splitlines()[-1] if msg.strip() else e}") from None
    info = read_model_info(source, buf=data)
    if info.custom_ops:
        raise ModelError(f"{source}: converted model uses custom/Flex ops {info.custom_ops}; builtin ops only")
    return data


def _flex_ops_in_message(msg: str) -> list[str]:
    import re

    # e.g. "Some ops are not supported by the native TFLite runtime ... tf.Cumprod {device = ""}"
    return re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", msg)


def embed_metadata(tflite: bytes, metadata: dict[str, Any], source: str = "model") -> bytes:
    """Return ``tflite`` with ``metadata`` stored as JSON in the flatbuffer's metadata entry ``"edgelite"``.

    An existing ``"edgelite"`` entry is replaced. The runtime reads it back with no TensorFlow
    (:func:`edgelite.runtime.core.modelfile.read_metadata`).
    """
    from edgelite.convert import tfcompat

    schema = tfcompat.schema()
    validate(metadata, source)
    model = tfcompat.to_object(tflite)
    payload = json.dumps(metadata, separators=(",", ":"), sort_keys=False).encode("utf-8")
    buf = schema.BufferT()
    buf.data = list(payload)
    if model.metadata is None:
        model.metadata = []
    existing = [m for m in model.metadata if (m.name.decode() if isinstance(m.name, bytes) else m.name) == METADATA_NAME]
    if existing:
        model.buffers[existing[0].buffer] = buf
    else:
        model.buffers.append(buf)
        meta = schema.MetadataT()
        meta.name = METADATA_NAME
        meta.buffer = len(model.buffers) - 1
        model.metadata.append(meta)
    out = tfcompat.to_bytes(model)
    if read_model_info(source, buf=out).metadata != json.loads(payload):
        raise ModelError(f"{source}: embedded metadata did not read back identically")
    return out


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def export_tflite(
    model: Any,
    serve: Callable[[Any], Any],
    input_name: str,
    input_shape: list[int | None],
    output_name: str,
    metadata: dict[str, Any],
    out_path: str | os.PathLike,
    saved_model_dir: str | None = None,
    endpoints: dict[str, Callable[[Any], dict[str, Any]]] | None = None,
) -> bytes:
    """Float32 ``.tflite`` of ``serve`` (preprocessing + model) with ``metadata`` embedded; written atomically.

    If ``saved_model_dir`` is given the intermediate SavedModel is kept there (the conversion toolkit
    re-converts it into quantized variants); otherwise a temporary folder is used. ``endpoints``: extra
    signatures (see :func:`export_saved_model`), converted next to ``serving_default``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        sm = saved_model_dir or os.path.join(tmp, "saved_model")
        export_saved_model(model, serve, input_name, input_shape, output_name, sm, endpoints)
        data = convert_to_tflite(converter_from_saved_model(sm, list(endpoints or {})), source=os.fspath(out_path))
    data = embed_metadata(data, metadata, source=os.fspath(out_path))
    write_atomic(out_path, data)
    return data
