"""Load and call ``.tflite`` models with LiteRT (``ai_edge_litert``) or ``tflite_runtime``; no TensorFlow.

>>> model = EdgeModel.open("model.tflite")           # doctest: +SKIP
>>> probs = model(accel=np.zeros((150, 3), np.float32))["probabilities"]   # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import ModelError, RuntimeMissingError
from edgelite.runtime.core.modelfile import ModelInfo, read_model_info

SIGNATURE = "serving_default"


def interpreter_class(backend: str = "auto") -> tuple[type, str]:
    """Return ``(Interpreter class, backend name)``.

    ``backend``: ``"auto"`` (ai_edge_litert, falling back to tflite_runtime), ``"litert"`` or
    ``"tflite_runtime"``.
    """
    errors = []
    if backend in ("auto", "litert"):
        try:
            from ai_edge_litert.interpreter import Interpreter

            return Interpreter, "ai_edge_litert"
        except ImportError as e:
            errors.append(f"ai_edge_litert: {e}")
    if backend in ("auto", "tflite_runtime"):
        try:
            from tflite_runtime.interpreter import Interpreter

            return Interpreter, "tflite_runtime"
        except ImportError as e:
            errors.append(f"tflite_runtime: {e}")
    if backend not in ("auto", "litert", "tflite_runtime"):
        raise ValueError(f"unknown runtime backend {backend!r}; expected auto, litert or tflite_runtime")
    raise RuntimeMissingError(
        "no TFLite runtime importable (" + "; ".join(errors) + "): pip install 'edgelite[runtime]'"
    )


def runtime_version(backend: str = "auto") -> str:
    _, name = interpreter_class(backend)
    if name == "ai_edge_litert":
        from importlib.metadata import version

        return f"ai-edge-litert {version('ai-edge-litert')}"
    import tflite_runtime

    return f"tflite-runtime {getattr(tflite_runtime, '__version__', '?')}"


def load_interpreter(
    model: str | os.PathLike | bytes,
    num_threads: int | None = None,
    xnnpack: bool = True,
    backend: str = "auto",
) -> Any:
    """Create an interpreter for a model path or its bytes. ``xnnpack=False`` disables the default delegate."""
    cls, name = interpreter_class(backend)
    kwargs: dict[str, Any] = {}
    if num_threads is not None:
        kwargs["num_threads"] = int(num_threads)
    if not xnnpack:
        # BUILTIN_WITHOUT_DEFAULT_DELEGATES = reference kernels without the XNNPACK delegate.
        try:
            from ai_edge_litert.interpreter import OpResolverType  # type: ignore
        except ImportError:
            from tflite_runtime.interpreter import OpResolverType  # type: ignore
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
        src = "<bytes>"
    else:
        src = os.fspath(model)
        kwargs["model_path"] = src
    try:
        return cls(**kwargs)
    except ValueError as e:
        msg = str(e).strip().splitlines()
        raise ModelError(f"{src}: {name} cannot load this model: {msg[-1] if msg else e}") from None
    except RuntimeError as e:
        msg = str(e).strip().splitlines()
        raise ModelError(f"{src}: {name} cannot load this model: {msg[-1] if msg else e}") from None


@dataclass
class EdgeModel:
    """A ``.tflite`` model with its ``serving_default`` signature runner and edgelite metadata.

    Call it with keyword arrays named like the signature's inputs; it returns a dict of outputs.
    Inputs of any length along a dynamic dimension are resized automatically. Calls are serialised
    by a lock: a TFLite interpreter must never run in two threads at once (open one model per
    thread for parallelism).
    """

    path: str
    info: ModelInfo
    interpreter: Any
    runner: Any
    backend: str
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        num_threads: int | None = None,
        xnnpack: bool = True,
        backend: str = "auto",
        signature: str = SIGNATURE,
    ) -> "EdgeModel":
        path = os.fspath(path)
        info = read_model_info(path)
        if signature not in info.signatures:
            have = ", ".join(info.signatures) or "none"
            raise ModelError(f"{path}: has no {signature!r} signature (signatures: {have})")
        interp = load_interpreter(path, num_threads=num_threads, xnnpack=xnnpack, backend=backend)
        _, name = interpreter_class(backend)
        try:
            runner = interp.get_signature_runner(signature)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: cannot prepare signature {signature!r}: {str(e).strip()[:300]}") from None
        return cls(path=path, info=info, interpreter=interp, runner=runner, backend=name)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.info.metadata or {}

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.get("labels", []))

    @property
    def input_names(self) -> list[str]:
        return list(self.info.signatures[SIGNATURE].inputs)

    @property
    def output_names(self) -> list[str]:
        return list(self.info.signatures[SIGNATURE].outputs)

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        feed = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        try:
            with self._lock:
                return {k: np.array(v, copy=True) for k, v in self.runner(**feed).items()}
        except (ValueError, RuntimeError) as e:  # LiteRT reports kernel failures at invoke as RuntimeError
            raise ModelError(f"{self.path}: inference failed: {str(e).strip()[:300]}") from None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the single-input/single-output signature on ``x`` and return the output array."""
        if len(self.input_names) != 1 or len(self.output_names) != 1:
            raise ModelError(f"{self.path}: predict() needs one input and one output")
        return self(**{self.input_names[0]: x})[self.output_names[0]]
