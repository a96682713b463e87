"""Standard TFLite metadata (the ``TFLITE_METADATA`` entry + a packed ``labels.txt``), besides edgelite's own.

Written with MediaPipe's ``metadata_writers`` (tflite-support is unmaintained and pins protobuf < 4),
so Android Studio's ML model binding, the LiteRT support library and MediaPipe's metadata readers
see the model name/description, the input/output tensor descriptions and the labels. The labels
file is appended to the flatbuffer as a zip archive (the "associated files" mechanism); the
flatbuffer itself, including the ``edgelite`` JSON entry, is unchanged by it, so the TF-free reader
(:mod:`edgelite.runtime.core.modelfile`) and tflite-runtime 2.14 read the file as before.

Order matters: any later rewrite through the flatbuffer object API drops the appended zip, so
:func:`add_standard_metadata` is the last step of a conversion.
"""

from __future__ import annotations

import json
from typing import Any

from edgelite.runtime.core.errors import ModelError

LABELS_FILE = "labels.txt"
# The metadata fields edgelite writes (name, description, feature tensors, TENSOR_AXIS_LABELS files)
# all exist since metadata schema 1.0.0, which is what tflite-support's version rules give for them.
MIN_PARSER_VERSION = "1.0.0"
_PYWRAP = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"


def _ensure_metadata_version_module() -> None:
    """The mediapipe 1.2.x wheels ship ``metadata.py`` but not its compiled helper
    ``_pywrap_metadata_version`` (only used to stamp ``min_parser_version``). When it is missing,
    register a stand-in returning :data:`MIN_PARSER_VERSION`, correct for the fields written here."""
    import importlib
    import sys
    import types

    try:
        importlib.import_module(_PYWRAP)
        return
    except ImportError:
        pass
    parts = _PYWRAP.split(".")
    for i in range(3, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                sys.modules[name] = types.ModuleType(name)
    mod = types.ModuleType(_PYWRAP)
    mod.GetMinimumMetadataParserVersion = lambda metadata_buf, *a: MIN_PARSER_VERSION  # type: ignore[attr-defined]
    sys.modules[_PYWRAP] = mod
    setattr(sys.modules[".".join(parts[:-1])], parts[-1], mod)


def _descriptions(meta: dict[str, Any]) -> tuple[str, str, str]:
    """(model description, input description, output description) from edgelite metadata."""
    task = meta.get("task", "model")
    inp = meta.get("input") or {}
    labels = meta.get("labels") or []
    q = (meta.get("quantization") or {}).get("variant", "fp32")
    if task == "accel":
        idesc = (f"Raw accelerometer window [T,3] float32 in {inp.get('units', 'm/s^2')} at "
                 f"{inp.get('sample_rate_hz', '?')} Hz (x,y,z; NaN = missing sample; T >= {inp.get('min_samples', 1)}). "
                 "Resampling, NaN filling and features run inside the model.")
    elif task == "signs":
        idesc = (f"MediaPipe holistic landmarks [T,543,3] float32 (x,y,z; NaN = not tracked), layout "
                 f"{inp.get('layout', 'mediapipe-holistic-543')}. Landmark selection and normalisation run inside the model.")
    else:
        idesc = f"float32 input {inp.get('shape')}"
    mdesc = (f"edgelite {task} classifier ({len(labels)} classes, variant {q}); raw input in, "
             "class probabilities out. Full edgelite metadata in the 'edgelite' metadata entry.")
    odesc = f"Class probabilities [{len(labels)}] float32 (softmax), in the order of {LABELS_FILE}."
    return mdesc, idesc, odesc


def add_standard_metadata(tflite: bytes, meta: dict[str, Any], source: str = "model") -> bytes:
    """Return ``tflite`` with standard TFLite metadata and ``labels.txt`` packed as an associated file."""
    try:
        _ensure_metadata_version_module()
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer as mw
    except ImportError as e:
        raise ModelError(f"{source}: standard metadata needs mediapipe ({e})") from None
    labels = [str(x) for x in meta.get("labels") or []]
    mdesc, idesc, odesc = _descriptions(meta)
    name = f"edgelite-{meta.get('task', 'model')}"
    writer = mw.MetadataWriter.create(bytearray(tflite))
    writer.add_general_info(name, mdesc)
    writer.add_feature_input(name=str((meta.get("input") or {}).get("name", "input")), description=idesc)
    writer.add_classification_output(
        mw.Labels().add(labels) if labels else None,
        name=str((meta.get("output") or {}).get("name", "probabilities")), description=odesc)
    try:
        out, _ = writer.populate()
    except Exception as e:  # the populator validates tensor counts and file names
        raise ModelError(f"{source}: writing standard TFLite metadata failed: {e}") from None
    finally:
        del writer  # its __del__ removes a temp folder: run it now, not at interpreter shutdown
    return bytes(out)


def read_standard_metadata(tflite: bytes) -> dict[str, Any] | None:
    """The standard metadata as MediaPipe's ``MetadataDisplayer`` reads it: ``{"metadata": {...},
    "associated_files": [...], "labels": [...]}``, or ``None`` when the model has none."""
    _ensure_metadata_version_module()
    from mediapipe.tasks.python.metadata import metadata as mdm

    try:
        disp = mdm.MetadataDisplayer.with_model_buffer(bytearray(tflite))
    except ValueError:  # "The model does not have metadata."
        return None
    files = list(disp.get_packed_associated_file_list())
    labels: list[str] = []
    if LABELS_FILE in files:
        labels = disp.get_associated_file_buffer(LABELS_FILE).decode("utf-8").splitlines()
    return {"metadata": json.loads(disp.get_metadata_json()), "associated_files": files, "labels": labels}
