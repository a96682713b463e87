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

from edgelite.runtime.core.errors import DataError, ModelError, RuntimeMissingError
from edgelite.runtime.core.modelfile import ModelInfo, read_model_info

SIGNATURE = "serving_default"
OPENSET_SIGNATURE = "openset"  # optional: same input → probabilities + "ood_score" (edgelite.train.openset)


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
    Inputs of any length along a dynamic dimension are resized automatically. Inputs are checked
    (:meth:`validate_input`: rank, fixed dimensions, numeric dtype, ``min_samples``, a length limit,
    some finite value, no infinite value; :meth:`check_inputs`: none missing) and bad ones raise
    :class:`DataError`; ``validate=False`` (conversion edge-case checks that probe
    the graph itself with all-NaN or one-sample inputs) only converts to float32. Calls are serialised
    by a lock: a TFLite interpreter must never run in two threads at once (open one model per
    thread for parallelism).
    """

    path: str
    info: ModelInfo
    interpreter: Any
    runner: Any
    backend: str
    validate: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _open_runner: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        num_threads: int | None = None,
        xnnpack: bool = True,
        backend: str = "auto",
        signature: str = SIGNATURE,
        validate: bool = True,
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
        return cls(path=path, info=info, interpreter=interp, runner=runner, backend=name, validate=validate)

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

    @property
    def min_samples(self) -> int:
        """Fewest samples/frames along a dynamic first dimension: metadata ``min_samples`` (in ``input``
        or top level), else 2 for accel models (a window needs a spread) and 1 otherwise."""
        meta = self.metadata
        v = (meta.get("input") or {}).get("min_samples", meta.get("min_samples"))
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
        return 2 if meta.get("task") == "accel" else 1

    def validate_input(self, name: str, value: Any) -> np.ndarray:
        """Check one input against the signature; return it as contiguous float32.

        Raises :class:`DataError` for a non-numeric dtype, a wrong rank or fixed dimension, fewer than
        :attr:`min_samples` along a dynamic first dimension, no finite value at all, or an infinite value
        (also a float64/int value beyond float32's range); :class:`LimitError` (a DataError) for more
        samples than the limits allow (``max_frames`` for landmark inputs, else ``max_input_samples``).
        NaN marks a missing value and is passed to the model's own NaN handling.
        """
        spec = self.info.signatures[SIGNATURE].inputs.get(name)
        if spec is None:
            raise DataError(f"{self.path}: no input named {name!r} (inputs: {', '.join(self.input_names)})")
        x = _as_numeric(value, f"{self.path}: input {name!r}")
        want = list(spec.shape_signature or spec.shape)
        shape_txt = "[" + ",".join("T" if d < 0 else str(d) for d in want) + "]"
        if x.ndim != len(want) or any(w >= 0 and w != g for w, g in zip(want, x.shape)):
            raise DataError(f"{self.path}: input {name!r} must have shape {shape_txt}, got {list(x.shape)}")
        if want and want[0] < 0 and x.shape[0] < self.min_samples:
            raise DataError(f"{self.path}: input {name!r} has {x.shape[0]} sample(s) along T; "
                            f"the model needs at least {self.min_samples} (metadata min_samples)")
        if want and want[0] < 0:
            self._check_length(name, x.shape[0], want)
        with np.errstate(over="ignore", invalid="ignore"):
            x32 = np.ascontiguousarray(x, dtype=np.float32)
        if x32.size and not np.isfinite(x32).any():
            raise DataError(f"{self.path}: input {name!r} has no finite values (all NaN/inf)")
        if np.isinf(x32).any():
            n = int(np.isinf(x32).sum())
            raise DataError(f"{self.path}: input {name!r} has {n} infinite value(s) (or beyond float32's ±3.4e38); "
                            "expected finite numbers, NaN for a missing value")
        return x32

    def _check_length(self, name: str, t: int, want: list[int]) -> None:
        """Bound the dynamic first dimension: ``max_frames`` for ``[T,543,3]`` landmark inputs,
        ``max_input_samples`` otherwise (:mod:`edgelite.runtime.core.limits`; raises :class:`LimitError`)."""
        from edgelite.runtime.core.limits import check

        frames = want[1:] == [543, 3]
        check(f"{self.path}: input {name!r}", "max_frames" if frames else "max_input_samples", t,
              "frames along T" if frames else "samples along T")

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """Raise :class:`DataError` naming the inputs the signature needs that are missing."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise DataError(f"{self.path}: missing input(s) {', '.join(map(repr, missing))} "
                            f"(the signature takes {', '.join(self.input_names)})")

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        """Run the signature on keyword inputs (validated by :meth:`validate_input`); return its outputs."""
        if self.runner is None:
            raise ModelError(f"{self.path}: the model was closed")
        if self.validate:
            feed = {k: self.validate_input(k, v) for k, v in inputs.items()}
            self.check_inputs(feed)
        else:
            feed = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        try:
            with self._lock:
                return {k: np.array(v, copy=True) for k, v in self.runner(**feed).items()}
        except (ValueError, RuntimeError) as e:
            msg = str(e).strip().splitlines()
            raise ModelError(f"{self.path}: inference failed: {msg[-1] if msg else e}") from None

    def close(self) -> None:
        """Drop the interpreter (further calls fail); safe to call twice."""
        self.runner = None
        self._open_runner = None
        self.interpreter = None

    def __enter__(self) -> "EdgeModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Run the single-input/single-output signature on ``x`` and return the output array."""
        if len(self.input_names) != 1 or len(self.output_names) != 1:
            raise ModelError(f"{self.path}: predict() needs one input and one output")
        return self(**{self.input_names[0]: x})[self.output_names[0]]

    @property
    def has_ood_score(self) -> bool:
        """Whether the model has the ``openset`` signature (probabilities + in-graph ``ood_score``)."""
        return OPENSET_SIGNATURE in self.info.signatures

    def predict_scored(self, x: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(probabilities, ood_score)`` of one input in one forward pass through the ``openset`` signature;
        ``(predict(x), None)`` for a model without it (older models, quantized re-exports)."""
        if not self.has_ood_score:
            return self.predict(x), None
        if self.runner is None:
            raise ModelError(f"{self.path}: the model was closed")
        if self._open_runner is None:
            self._open_runner = self.interpreter.get_signature_runner(OPENSET_SIGNATURE)
        feed = {self.input_names[0]: self.validate_input(self.input_names[0], x) if self.validate
                else np.ascontiguousarray(x, dtype=np.float32)}
        try:
            with self._lock:
                out = {k: np.array(v, copy=True) for k, v in self._open_runner(**feed).items()}
        except (ValueError, RuntimeError) as e:
            msg = str(e).strip().splitlines()
            raise ModelError(f"{self.path}: inference failed: {msg[-1] if msg else e}") from None
        score = float(np.asarray(out.pop("ood_score")).reshape(-1)[0])
        return out[self.output_names[0]], score


def _as_numeric(value: Any, what: str) -> np.ndarray:
    """``value`` as a real-valued array, or :class:`DataError` naming its dtype (strings, objects, complex)."""
    try:
        x = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise DataError(f"{what}: not an array of numbers ({e})") from None
    if x.dtype.kind not in "iuf":
        raise DataError(f"{what}: expected numbers (float32), got dtype {x.dtype}")
    return x
