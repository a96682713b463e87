"""edgelite.runtime: run edgelite ``.tflite`` models with LiteRT. Imports numpy and LiteRT only.

(MediaPipe/OpenCV are imported lazily, only by the camera path; pyarrow only to read parquet.)
The task classes (:class:`AccelClassifier`, :class:`SignRecognizer`, ...) are imported on first use.
"""

from __future__ import annotations

from typing import Any

from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError
from edgelite.runtime.core.model import EdgeModel, load_interpreter
from edgelite.runtime.core.results import Category, ClassificationResult

_LAZY = {
    "AccelClassifier": "edgelite.runtime.accel.classifier",
    "AccelClassifierOptions": "edgelite.runtime.accel.classifier",
    "SignClassifier": "edgelite.runtime.signs.classifier",
    "SignRecognizer": "edgelite.runtime.signs.classifier",
    "SignRecognizerOptions": "edgelite.runtime.signs.classifier",
    "Recognition": "edgelite.runtime.signs.recognize",
}

__all__ = ["EdgeModel", "load_interpreter", "EdgeliteError", "DataError", "ModelError", "Category",
           "ClassificationResult", *_LAZY]


def __getattr__(name: str) -> Any:
    """PEP 562: import a task class from its module on first access."""
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'edgelite.runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
