"""The edgelite metadata that travels inside every ``.tflite`` (and as a checked ``metadata.json`` sidecar).

Schema (a JSON object; keys beyond these are allowed):

- ``format``: ``"edgelite.metadata/1"``
- ``edgelite_version``: version that wrote it
- ``task``: ``"accel"`` or ``"signs"``
- ``labels``: class names, index = output position
- ``input``: signature input: ``name``, ``dtype``, ``shape`` (``-1`` = any length) and, per task,
  ``units`` / ``sample_rate_hz`` / ``window_s`` / ``window_samples`` / ``gravity`` (accel) or
  ``layout`` / ``landmark_set`` (signs)
- ``output``: ``name`` and ``kind`` (``"probabilities"``)
- ``preprocessing``: parameters of the in-graph preprocessing (mirrored by the NumPy twin)
- ``training``: data summary and metrics
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgelite._version import __version__
from edgelite.runtime.core.errors import ModelError

FORMAT = "edgelite.metadata/1"
REQUIRED = ("format", "task", "labels", "input", "output", "preprocessing")


def make_metadata(
    task: str,
    labels: list[str],
    input: dict[str, Any],
    output: dict[str, Any],
    preprocessing: dict[str, Any],
    training: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    meta = {
        "format": FORMAT,
        "edgelite_version": __version__,
        "task": task,
        "labels": [str(x) for x in labels],
        "input": input,
        "output": output,
        "preprocessing": preprocessing,
        "training": training or {},
    }
    meta.update(extra)
    validate(meta, "<new metadata>")
    return meta


def validate(meta: Any, source: str) -> dict[str, Any]:
    """Check the metadata's required fields; raise :class:`ModelError` naming the field."""
    if not isinstance(meta, dict):
        raise ModelError(f"{source}: edgelite metadata must be a JSON object")
    for k in REQUIRED:
        if k not in meta:
            raise ModelError(f"{source}: edgelite metadata has no {k!r} field")
    if meta["format"] != FORMAT:
        raise ModelError(f"{source}: metadata format {meta['format']!r} is not {FORMAT!r}")
    if not isinstance(meta["labels"], list) or not meta["labels"]:
        raise ModelError(f"{source}: metadata 'labels' must be a non-empty list")
    return meta


def write_sidecar(meta: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``metadata.json`` atomically."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def load_model_metadata(model_path: str | os.PathLike) -> dict[str, Any]:
    """Metadata embedded in the model, else from a ``metadata.json`` sidecar next to it.

    If both exist they must agree on labels and input, otherwise the sidecar is stale: error.
    """
    from edgelite.runtime.core.modelfile import read_metadata

    model_path = os.fspath(model_path)
    embedded = read_metadata(model_path)
    side_path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "metadata.json")
    side = None
    if os.path.exists(side_path):
        try:
            with open(side_path, encoding="utf-8") as f:
                side = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ModelError(f"{side_path}: unreadable metadata sidecar ({e})") from None
    if embedded is not None:
        validate(embedded, model_path)
        if side is not None and (side.get("labels") != embedded["labels"] or side.get("input") != embedded["input"]):
            raise ModelError(f"{side_path}: sidecar labels/input disagree with the metadata inside {model_path}")
        return embedded
    if side is not None:
        return validate(side, side_path)
    raise ModelError(f"{model_path}: no edgelite metadata inside the model and no metadata.json beside it")
