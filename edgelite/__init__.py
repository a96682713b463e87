"""edgelite: sensor classifiers from training to the device.

Subpackages: ``edgelite.train`` (TensorFlow) → ``edgelite.convert`` → ``edgelite.runtime`` (numpy + LiteRT).

The public Python API (imported on first use, so ``import edgelite`` stays cheap)::

    from edgelite import AccelClassifier, SignRecognizer, SignRecognizerOptions
    with AccelClassifier.create_from_model_path("wand.tflite") as clf:
        print(clf.classify(x).label)          # x: [T,3] float32 m/s² at the model's rate
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    """PEP 562: import a public API name from its module on first access."""
    mod = _API.get(name)
    if mod is None:
        raise AttributeError(f"module 'edgelite' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
