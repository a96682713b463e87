"""edgelite: sensor classifiers from training to the device.

Subpackages: ``edgelite.train`` (TensorFlow) → ``edgelite.convert`` → ``edgelite.runtime`` (numpy + LiteRT).

The public Python API (imported on first use, so ``import edgelite`` stays cheap)::

    from edgelite import AccelClassifier, SignRecognizer, SignRecognizerOptions
    with AccelClassifier.create_from_model_path("wand.tflite") as clf:
        print(clf.classify(x).label)          # x: [T,3] float32 m/s² at the model's rate
"""

from __future__ import annotations

from edgelite._lazy import lazy_attributes
from edgelite._version import __version__

_API = {
    "AccelClassifier": "edgelite.runtime.accel.classifier",
    "AccelClassifierOptions": "edgelite.runtime.accel.classifier",
    "SignClassifier": "edgelite.runtime.signs.classifier",
    "SignRecognizer": "edgelite.runtime.signs.classifier",
    "SignRecognizerOptions": "edgelite.runtime.signs.classifier",
    "Recognition": "edgelite.runtime.signs.recognize",
    "EdgeModel": "edgelite.runtime.core.model",
    "Category": "edgelite.runtime.core.results",
    "ClassificationResult": "edgelite.runtime.core.results",
    "EdgeliteError": "edgelite.runtime.core.errors",
    "DataError": "edgelite.runtime.core.errors",
    "ModelError": "edgelite.runtime.core.errors",
}

__all__ = ["__version__", *_API]


__getattr__, __dir__ = lazy_attributes("edgelite", globals(), _API)
