"""What both fine-tuners share (``train signs --init RUN`` / ``train accel --init RUN``): the base run, the label
set, the imprinted head and the new run folder.

A fine-tune starts from an existing run folder's Keras model (``RUN/model.keras``: raw input → probabilities),
keeps its preprocessing and label order, appends the signs/gestures the new data adds (their output units
*imprinted*: weight = the class-mean embedding, scaled like the trained units, bias = the median trained bias),
trains briefly at a low learning rate, and writes a new run folder exactly like a training run
(``model.tflite`` with preprocessing in the graph and labels in the metadata, ``model.keras``,
``saved_model/``, ``metadata.json``, ``report.json``, ``eval_data.npz``) whose report and metadata say
which run it fine-tunes and on what data.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import DataError, ModelError

NEW_SIGNS = ("extend", "skip")  # new labels: extend the label set, or leave those recordings out


@dataclass
class BaseRun:
    """The run a fine-tune starts from: its folder, metadata, report (may be empty) and window/feature model."""

    path: str
    meta: dict[str, Any]
    report: dict[str, Any]
    model: Any  # the inner Keras model (features/window → probabilities)
    head: str   # name of its final Dense layer

    @property
    def classes(self) -> list[str]:
        return list(self.meta["labels"])

    def never_trained(self) -> list[str]:
        """Classes the shipped model never saw a sample of (fold 1's model with a held-out signer holding them)."""
        if (self.report.get("final_fit") or {}).get("used", True):
            return []
        return [c for c in self.report.get("classes_never_trained", []) if c in self.classes]


def load_base_run(run: str, task: str) -> BaseRun:
    """Read ``run`` (a run folder) for fine-tuning a ``task`` ("signs" / "accel") model; ModelError naming what is wrong."""
    from edgelite.runtime.core.metadata import validate

    if not os.path.isdir(run):
        raise ModelError(f"{run}: not a run folder (expected the folder `edgelite train {task}` wrote)")
    meta_path = os.path.join(run, "metadata.json")
    if not os.path.isfile(meta_path):
        raise ModelError(f"{run}: no metadata.json; expected a run folder written by `edgelite train {task}`")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = validate(json.load(f), meta_path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{meta_path}: not valid JSON ({e})") from None
    if meta.get("task") != task:
        raise ModelError(f"{run}: is a {meta.get('task')!r} run, not a {task!r} run; fine-tune it with "
                         f"`edgelite train {meta.get('task')}`")
    keras_path = os.path.join(run, "model.keras")
    if not os.path.isfile(keras_path):
        raise ModelError(f"{run}: no model.keras (fine-tuning needs the Keras model a training run writes)")
    report = {}
    rp = os.path.join(run, "report.json")
    if os.path.isfile(rp):
        with open(rp, encoding="utf-8") as f:
            report = json.load(f)
    inner, head = _inner_model(keras_path)
    if inner.output_shape[-1] != len(meta["labels"]):
        raise ModelError(f"{keras_path}: {inner.output_shape[-1]} outputs but metadata.json lists "
                         f"{len(meta['labels'])} labels (a stale sidecar?)")
    return BaseRun(os.path.abspath(run), meta, report, inner, head)


def _inner_model(keras_path: str):
    """``model.keras`` (raw-input layer + inner model) → (inner model, name of its final Dense layer)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    import edgelite.train.accel.model  # noqa: F401  (registers the custom layers)
    import edgelite.train.signs.model  # noqa: F401
    import edgelite.train.signs.preprocess  # noqa: F401

    try:
        e2e = keras.saving.load_model(keras_path, compile=False)
    except Exception as e:  # corrupt archive, unknown layers
        raise ModelError(f"{keras_path}: cannot load the Keras model ({type(e).__name__}: {str(e)[:200]})") from None
    inner = [layer for layer in e2e.layers if isinstance(layer, keras.Model)]
    model = inner[-1] if inner else e2e
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ModelError(f"{keras_path}: no final Dense layer to fine-tune")
    return model, dense[-1].name


def label_set(base: list[str], labels: np.ndarray, new_signs: str, what: str = "signs") -> tuple[list[str], np.ndarray]:
    """``(classes, keep)``: the base labels in their order + new ones (sorted) when ``new_signs="extend"``;
    ``keep`` marks the recordings used (``"skip"`` leaves out those of new labels)."""
    if new_signs not in NEW_SIGNS:
        raise DataError(f"new {what}: {new_signs!r}; expected one of {', '.join(NEW_SIGNS)}")
    labels = np.asarray(labels).astype(str)
    new = sorted(set(labels.tolist()) - set(base))
    if new_signs == "skip":
        keep = np.isin(labels, base)
        if not keep.any():
            raise DataError(f"none of the new recordings is of a known {what[:-1]} ({', '.join(base[:10])}…)")
        return list(base), keep
    return list(base) + new, np.ones(len(labels), bool)


def with_head(model: Any, head: str, classes_base: list[str], classes: list[str], emb: np.ndarray, y: np.ndarray,
              reimprint: list[str]) -> Any:
    """The model with a new final Dense of ``len(classes)`` units: trained units copied, units of new classes
    and of ``reimprint`` (never trained) set from the mean embedding ``emb [N,D]`` of their samples (``y``)."""
    import keras

    layer = model.get_layer(head)
    w, b = [np.array(v) for v in layer.get_weights()]
    trained = [i for i, c in enumerate(classes_base) if c not in reimprint]
    scale = float(np.median(np.linalg.norm(w[:, trained], axis=0))) if trained else 1.0
    bias = float(np.median(b[trained])) if trained else 0.0
    nw = np.zeros((w.shape[0], len(classes)), np.float32)
    nb = np.full(len(classes), bias, np.float32)
    nw[:, :len(classes_base)] = w
    nb[:len(classes_base)] = b
    mu = emb.mean(0) if len(emb) else 0.0
    for i, c in enumerate(classes):
        if (i >= len(classes_base) or c in reimprint) and (y == i).any():
            v = emb[y == i].mean(0) - mu  # class mean relative to the data mean: what sets it apart
            nw[:, i] = scale * v / max(float(np.linalg.norm(v)), 1e-6)
            nb[i] = bias
    act = layer.get_config().get("activation", "softmax")
    out = keras.layers.Dense(len(classes), activation=act, dtype="float32", name=head)(layer.input)
    new = keras.Model(model.inputs, out, name=model.name)
    new.get_layer(head).set_weights([nw, nb])
    return new


def embedding_model(model: Any, head: str) -> Any:
    """``inputs → the final Dense layer's input`` (the embedding the head reads)."""
    import keras

    return keras.Model(model.inputs, model.get_layer(head).input)


def set_trainable(model: Any, head: str, train: str) -> int:
    """``train="all"``: every layer but BatchNorm (statistics of a few recordings would drift);
    ``"head"``: the final Dense only. Returns the trainable parameter count."""
    import keras

    if train not in ("all", "head"):
        raise DataError(f"layers to train: {train!r}; expected 'all' or 'head'")
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        elif train == "head":
            layer.trainable = layer.name == head
    return int(sum(int(np.prod(v.shape)) for v in model.trainable_weights))


def progress(log, epochs: int):
    """Keras callback: one progress line per epoch (loss, accuracy, elapsed seconds)."""
    import time

    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            log(f"epoch {epoch + 1:3d}/{epochs}  loss {logs.get('loss', 0):.3f}  acc {logs.get('accuracy', 0):.3f}  "
                f"({time.time() - self.t0:.0f}s)")

    return Progress()


@dataclass
class FinetuneSummary:
    """What a fine-tune did, for report.json and the metadata's ``training``."""

    base: BaseRun
    data: list[str]
    classes: list[str]
    added: list[str]
    reimprinted: list[str]
    n_recordings: int
    per_class: dict[str, int]
    epochs: int
    steps: int
    train: str
    learning_rate: float
    augment: bool
    n_replay: int
    seconds: float
    cpu_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"fine_tune_of": self.base.path, "base_labels": self.base.classes, "data": list(self.data),
                "n_recordings": int(self.n_recordings), "recordings_per_class": self.per_class,
                "labels_added": self.added, "units_reimprinted": self.reimprinted,
                "head_init": "trained units copied; new units imprinted from the class-mean embedding",
                "layers_trained": self.train, "epochs": int(self.epochs), "steps": int(self.steps),
                "learning_rate": self.learning_rate, "augment": self.augment,
                "replay_of_base_samples": int(self.n_replay),
                "seconds": round(self.seconds, 1), "cpu_seconds": round(self.cpu_seconds, 1)}


def finetune_metadata(s: FinetuneSummary, metrics: dict[str, Any], openset: dict[str, Any] | None) -> dict[str, Any]:
    """The base run's metadata with the new labels, output size and a ``training`` record of the fine-tune."""
    from edgelite.runtime.core.metadata import validate

    meta = copy.deepcopy(s.base.meta)
    meta["labels"] = list(s.classes)
    meta.setdefault("output", {})["shape"] = [len(s.classes)]
    meta["training"] = {"fine_tune": s.record(), "base_training": s.base.meta.get("training", {}), "metrics": metrics}
    meta.pop("openset", None)
    if openset:
        meta["openset"] = openset
    return validate(meta, "<fine-tune metadata>")


def evaluation(prob: np.ndarray, y: np.ndarray, classes: list[str], base_prob: np.ndarray | None,
               held_out: bool) -> dict[str, Any]:
    """Accuracy of the fine-tuned ``.tflite`` (``prob``) and of the base run on the same recordings."""
    out: dict[str, Any] = {"n": int(len(y)), "accuracy": float(np.mean(prob.argmax(1) == y)) if len(y) else None,
                           "held_out": bool(held_out),
                           "source": "held-out recordings of the new data" if held_out else
                           "the fine-tune recordings themselves (seen in training: a fit check, not a held-out measure)"}
    if base_prob is not None and len(y):
        nb = base_prob.shape[1]
        bp = base_prob.argmax(1)
        out["base_accuracy"] = float(np.mean(np.where(y < nb, bp == y, False)))
        out["base_note"] = "the base run's .tflite on the same recordings (labels it lacks count as errors)"
    return out


def inherited_openset(base: BaseRun, classes: list[str], reject_labels: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The base run's open-set decision (temperature + max-probability threshold), kept and labelled as
    inherited: the fine-tune data are too few to refit it. ``reject_labels`` adds answers for new labels
    (e.g. MP_Data's idle ``"-"`` → ``"no sign"``)."""
    os_ = base.meta.get("openset")
    if not os_:
        return None
    rl = {**(os_.get("reject_labels") or {}), **{k: v for k, v in (reject_labels or {}).items() if k in classes}}
    return {**os_, "reject_labels": rl, "fitted_on": f"inherited from {base.path} (not refitted on the fine-tune data)"}


def write_finetune_run(out: str, s: FinetuneSummary, model: Any, export, save_keras, predict,
                       fit_x: list[np.ndarray], fit_labels: np.ndarray,
                       ev: tuple[list[np.ndarray], np.ndarray] | None = None,
                       reject_labels: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The new run folder: ``export(model, meta, tflite_path, saved_model_dir)``, ``save_keras(model, path)``,
    ``predict(tflite_path, xs) → [N,C]``. Evaluated on ``ev`` (held-out raw recordings + labels) or else on the
    fine-tune recordings themselves (said so); the base run's ``.tflite`` is scored on the same recordings."""
    from edgelite.convert.export import embed_metadata, write_atomic
    from edgelite.runtime.core.evaldata import FILENAME, write_eval_data
    from edgelite.runtime.core.metadata import write_sidecar
    from edgelite.train.report import write_report

    os.makedirs(out, exist_ok=True)
    tfl = os.path.join(out, "model.tflite")
    openset = inherited_openset(s.base, s.classes, reject_labels)
    export(model, finetune_metadata(s, {}, openset), tfl, os.path.join(out, "saved_model"))
    save_keras(model, os.path.join(out, "model.keras"))
    cidx = {c: i for i, c in enumerate(s.classes)}
    ex, el = ev if ev is not None else (fit_x, fit_labels)
    known = np.isin(np.asarray(el).astype(str), s.classes)
    ex = [x for x, k in zip(ex, known) if k]
    ey = np.array([cidx[v] for v in np.asarray(el).astype(str)[known]], np.int64)
    prob = predict(tfl, ex)
    base_tfl = os.path.join(s.base.path, "model.tflite")
    metrics = evaluation(prob, ey, s.classes, predict(base_tfl, ex) if os.path.isfile(base_tfl) else None,
                         held_out=ev is not None)
    meta = finetune_metadata(s, metrics, openset)
    with open(tfl, "rb") as f:
        write_atomic(tfl, embed_metadata(f.read(), meta, source=tfl))
    write_sidecar(meta, os.path.join(out, "metadata.json"))
    split = {"kind": "fine-tune", "by": "recording", "evaluated_on": metrics["source"]}
    report = write_report(out, ey, prob, s.classes, split, n_train=s.n_recordings, n_val=len(ey),
                          histories=[s.history], train_label="fine-tune (augmented)",
                          extra={"task": s.base.meta["task"], "fine_tune": s.record(), "evaluation": metrics,
                                 "openset": openset, "evaluated_with": "the fine-tuned .tflite via edgelite.runtime",
                                 **(extra or {})},
                          title=f"{s.base.meta['task']} fine-tune of {os.path.basename(s.base.path)}")
    fy = np.array([cidx[v] for v in np.asarray(fit_labels).astype(str)], np.int64)
    write_eval_data(os.path.join(out, FILENAME), ex, ey, list(fit_x), fy, heldout_for_model=ev is not None)
    return report
