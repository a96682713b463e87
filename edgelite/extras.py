"""Which optional extra of edgelite provides a module, for one-line "needs edgelite[X]" errors.

A runtime-only install (``pip install 'edgelite[runtime]'``, e.g. on a Raspberry Pi) cannot train or
convert; the CLI turns the ModuleNotFoundError of such a command into this hint.
"""

from __future__ import annotations

EXTRA_OF_MODULE = {
    "tensorflow": "train", "keras": "train", "tf_keras": "train", "scipy": "train", "matplotlib": "train",
    "ai_edge_quantizer": "train", "litert_quantizer": "train", "tensorflow_probability": "train",
    "pyarrow": "parquet",
    "cv2": "camera", "mediapipe": "camera",
    "ai_edge_litert": "runtime", "tflite_runtime": "runtime",
}


def extra_for(module: str | None) -> str | None:
    """``"train"`` for ``tensorflow.python``, ``None`` for a module no extra provides."""
    if not module:
        return None
    return EXTRA_OF_MODULE.get(module.split(".")[0])


def missing_extra_message(module: str | None) -> str | None:
    """``"tensorflow is not installed: this needs edgelite[train] (pip install 'edgelite[train]')"``."""
    extra = extra_for(module)
    if extra is None:
        return None
    return f"{module.split('.')[0]} is not installed: this needs edgelite[{extra}] (pip install 'edgelite[{extra}]')"


def require(*modules: str) -> None:
    """Fail fast, before any work, when a command's optional modules are missing: raises the
    ``ModuleNotFoundError`` that the CLI turns into one "needs edgelite[X]" line."""
    import importlib.util

    for m in modules:
        if importlib.util.find_spec(m) is None:
            raise ModuleNotFoundError(f"No module named {m!r}", name=m)
