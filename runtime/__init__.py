"""edgelite.runtime: run edgelite ``.tflite`` models with LiteRT. Imports numpy and LiteRT only.

(MediaPipe/OpenCV are imported lazily, only by the camera path; pyarrow only to read parquet.)
The task classes (:class:`AccelClassifier`, :class:`SignRecognizer`, ...) are imported on first use.
"""

from __future__ import annotations

from edgelite.runtime.core.errors import DataError, EdgeliteError, ModelError
from edgelite.runtime.core.model import EdgeModel, load_interpreter
from edgelite.runtime.core.results import Category, ClassificationResult

from edgelite._lazy import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes("edgelite.runtime", globals(), _LAZY)
