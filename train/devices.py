"""Where training runs: CPU or local GPUs, precision, distribution strategy, batch/LR scaling.

:func:`resolve_device` turns ``"cpu" | "gpu" | "auto"`` into a :class:`DeviceSetup`:

- CPU: the default strategy, float32, no XLA.
- GPU (one or more visible to TensorFlow): ``MirroredStrategy`` over all local GPUs (one GPU:
  the same strategy with one replica), ``mixed_float16`` by default (the model's output layer
  stays float32: ``dtype="float32"`` on the classifier layer), XLA (``jit_compile``) on: fixed-shape feature
  batches compile once.
- Batch size is per replica: the global batch is ``batch × replicas`` and the learning rate
  follows the linear scaling rule (``lr × replicas``, Goyal et al. 2017); the cosine schedule's
  step count uses the global batch.

The exported ``.tflite`` is always built from a float32 copy (:func:`float32_copy`), so its
signature and numbers do not depend on the training device.
Multi-node: Keras 3 + ``MultiWorkerMirroredStrategy`` fails in ``fit()`` with TF 2.21, so only
single-node multi-GPU is offered.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

from edgelite.runtime.core.errors import EdgeliteError

DEVICES = ("cpu", "gpu", "auto")


@dataclass
class DeviceSetup:
    """The resolved training device. ``devices``: TF device names; ``replicas``: model copies in sync."""

    kind: str
    devices: list[str] = field(default_factory=list)
    precision: str = "float32"
    replicas: int = 1
    jit_compile: bool = False
    strategy: Any = None

    def scope(self):
        """Context to build + compile the model in (the strategy's scope, or a no-op)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def apply_policy(self) -> None:
        """Set the Keras dtype policy of this setup (again: exporting a fold resets it to float32)."""
        import keras

        keras.mixed_precision.set_global_policy(self.precision)

    def global_batch(self, per_replica: int) -> int:
        return int(per_replica) * self.replicas

    def learning_rate(self, lr: float) -> float:
        """Linear scaling rule: ``lr × replicas`` for the ``replicas×`` larger global batch."""
        return float(lr) * self.replicas

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for ``report.json``."""
        return {"kind": self.kind, "devices": list(self.devices), "replicas": self.replicas,
                "precision": self.precision, "xla": self.jit_compile,
                "lr_rule": "linear: lr x replicas, global batch = batch x replicas"}


def _gpus() -> list:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def resolve_device(device: str = "auto", mixed_precision: bool | None = None, xla: bool | None = None,
                   gpus: list | None = None) -> DeviceSetup:
    """``"cpu" | "gpu" | "auto"`` → :class:`DeviceSetup`; sets the Keras dtype policy globally.

    ``mixed_precision`` / ``xla``: ``None`` = on for GPU, off for CPU. ``gpus``: override the
    detected GPU list (tests). Raises :class:`EdgeliteError` for ``"gpu"`` with no GPU visible.
    """
    import keras

    if device not in DEVICES:
        raise EdgeliteError(f"device {device!r}: expected one of {', '.join(DEVICES)}")
    found = _gpus() if gpus is None else list(gpus)
    if device == "gpu" and not found:
        raise EdgeliteError("device 'gpu' requested but TensorFlow sees no GPU "
                            "(install tensorflow[and-cuda] on a CUDA machine, or use cpu)")
    if device == "cpu" or not found:
        keras.mixed_precision.set_global_policy("float32")
        return DeviceSetup("cpu", ["/cpu:0"], "float32", 1, bool(xla), None)
    import tensorflow as tf

    names = [f"/gpu:{i}" for i in range(len(found))]
    if gpus is None:
        for g in found:
            with contextlib.suppress(RuntimeError, ValueError):
                tf.config.experimental.set_memory_growth(g, True)
    precision = "mixed_float16" if mixed_precision in (None, True) else "float32"
    keras.mixed_precision.set_global_policy(precision)
    strategy = tf.distribute.MirroredStrategy(names) if gpus is None else None
    return DeviceSetup("gpu", names, precision, len(names), xla is not False, strategy)


def reset_precision() -> None:
    """Back to the float32 policy (after a mixed-precision run, before exporting)."""
    import keras

    keras.mixed_precision.set_global_policy("float32")


def float32_copy(model: Any, build: Callable[[], Any]) -> Any:
    """A float32 twin of a (possibly mixed-precision) model: ``build()`` under the float32 policy + weights.

    Used before export so the ``.tflite`` has the same float32 graph whatever the training precision.
    """
    import keras

    if keras.mixed_precision.global_policy().name == "float32" and all(
            w.dtype == "float32" for w in model.weights):
        policy_float32 = all(getattr(layer, "compute_dtype", "float32") == "float32" for layer in model.layers)
        if policy_float32:
            return model
    reset_precision()
    twin = build()
    twin.set_weights(model.get_weights())
    return twin
