"""Which landmark model the LiteRT hand tracker runs: the bundle's float one or a cached int8 variant.

The int8 variant (:mod:`edgelite.convert.hand_landmarks`, made once with the convert extra, which
needs TensorFlow) lives in ``cache_dir()/hands/`` under a name derived from the bundle's content, so a
different ``hand_landmarker.task`` never picks up a stale variant. The runtime only reads it.

Choices (``HandTrackerOptions.landmark_model``):

- ``"float"`` (default): the bundle's model (float16 weights, float32 compute) — MediaPipe's own numbers.
- ``"int8"``: the cached int8 variant; a :class:`ModelError` when it has not been made.
- ``"auto"``: ``"int8"`` when cached, else ``"float"`` (results then depend on the cache: not the
  default, e.g. a device without the cached file would disagree with the host).
- a path to a ``.tflite`` landmark model with the same inputs/outputs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError, ModelError

CHOICES = ("auto", "float", "int8")


def int8_landmarks_path(task_path: str | os.PathLike) -> Path:
    """Cache path of the int8 landmark model made from the bundle at ``task_path``."""
    from edgelite.runtime.core.paths import cache_dir

    h = hashlib.sha256(Path(task_path).read_bytes()).hexdigest()[:16]
    return cache_dir() / "hands" / f"hand_landmarks_int8_{h}.tflite"


def select_landmark_model(task_path: str | os.PathLike, float_model: bytes, choice: str) -> tuple[bytes, str]:
    """(model bytes, variant name: ``"float"``, ``"int8"`` or the path) for ``choice`` (see the module docstring)."""
    choice = str(choice or "float")
    if choice == "float":
        return float_model, "float"
    if choice in ("auto", "int8"):
        try:
            p = int8_landmarks_path(task_path)
        except OSError:
            p = None
        if p is not None and p.is_file():
            return p.read_bytes(), "int8"
        if choice == "auto":
            return float_model, "float"
        raise ModelError(f"int8 hand landmark model not found at {p}; make it once with "
                         "edgelite.convert.hand_landmarks.make_cached_int8_landmarks (needs the convert extra), "
                         "or use landmark_model='float'")
    if not Path(choice).is_file():
        raise EdgeliteError(f"landmark_model {choice!r}: expected one of {', '.join(CHOICES)} or a .tflite path")
    return Path(choice).read_bytes(), choice
