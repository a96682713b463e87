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
import math
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


_MAX_LABELS = 100_000
_POSITIVE_INPUT_FIELDS = ("sample_rate_hz", "window_s", "window_samples")


def validate(meta: Any, source: str) -> dict[str, Any]:
    """Check the metadata's fields and their types; raise :class:`ModelError` naming the field.

    ``labels``: a non-empty list of strings; ``input``/``output``/``preprocessing``: JSON objects;
    ``task``: a string; ``input.sample_rate_hz``/``window_s``/``window_samples`` (when present):
    finite positive numbers (``window_samples`` an integer); ``input.shape`` (when present): a list
    of integers.
    """
    if not isinstance(meta, dict):
        raise ModelError(f"{source}: edgelite metadata must be a JSON object, got {type(meta).__name__}")
    for k in REQUIRED:
        if k not in meta:
            raise ModelError(f"{source}: edgelite metadata has no {k!r} field")
    if meta["format"] != FORMAT:
        raise ModelError(f"{source}: metadata format {str(meta['format'])[:60]!r} is not {FORMAT!r}")
    labels = meta["labels"]
    if not isinstance(labels, list) or not labels or len(labels) > _MAX_LABELS:
        raise ModelError(f"{source}: metadata 'labels' must be a non-empty list (at most {_MAX_LABELS:,})")
    bad = next((i for i, x in enumerate(labels) if not isinstance(x, str)), None)
    if bad is not None:
        raise ModelError(f"{source}: metadata labels[{bad}] is {type(labels[bad]).__name__}, expected a string")
    if not isinstance(meta["task"], str):
        raise ModelError(f"{source}: metadata 'task' must be a string")
    for k in ("input", "output", "preprocessing"):
        if not isinstance(meta[k], dict):
            raise ModelError(f"{source}: metadata {k!r} must be a JSON object, got {type(meta[k]).__name__}")
    _validate_input(meta["input"], source)
    return meta


def _validate_input(inp: dict[str, Any], source: str) -> None:
    for k in _POSITIVE_INPUT_FIELDS:
        if k not in inp or inp[k] is None:
            continue
        v = inp[k]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        if k == "window_samples":
            ok = ok and isinstance(v, int)
        if not ok:
            want = "a positive integer" if k == "window_samples" else "a finite positive number"
            raise ModelError(f"{source}: metadata input.{k} is {str(v)[:40]!r}; expected {want}")
    shape = inp.get("shape")
    if shape is not None and not (
        isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    ):
        raise ModelError(f"{source}: metadata input.shape must be a list of integers")


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
        except (OSError, ValueError, RecursionError) as e:
            raise ModelError(f"{side_path}: unreadable metadata sidecar ({e})") from None
    if embedded is not None:
        validate(embedded, model_path)
        if side is not None and (side.get("labels") != embedded["labels"] or side.get("input") != embedded["input"]):
            raise ModelError(f"{side_path}: sidecar labels/input disagree with the metadata inside {model_path}")
        return embedded
    if side is not None:
        return validate(side, side_path)
    raise ModelError(f"{model_path}: no edgelite metadata inside the model and no metadata.json beside it")
