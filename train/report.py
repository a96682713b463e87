"""Evaluation reports shared by all trainers: metrics, ``report.json``, confusion matrix and curves PNGs."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np


def classification_metrics(y_true: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Top-1/top-5 accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true`` ``[N]`` int class indices, ``prob`` ``[N, C]`` probabilities.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    c = len(classes)
    pred = prob.argmax(axis=1) if len(prob) else np.zeros(0, np.int64)
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (y_true, pred), 1)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(c), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(c), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(c), where=(precision + recall) > 0)
    present = support > 0
    k = min(5, c)
    top5 = float(np.mean([y in row for y, row in zip(y_true, np.argsort(-prob, axis=1)[:, :k])])) if len(prob) else 0.0
    return {
        "accuracy": float(np.mean(pred == y_true)) if len(y_true) else 0.0,
        "top5": top5,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "n": int(len(y_true)),
        "per_class": {
            classes[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i in range(c)
            if support[i] > 0 or predicted[i] > 0
        },
        "confusion_matrix": cm.tolist(),
    }


def plot_confusion(cm: np.ndarray, classes: list[str], path: str, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    keep = np.where((cm.sum(0) + cm.sum(1)) > 0)[0] if len(classes) > 40 else np.arange(len(classes))
    cm = cm[np.ix_(keep, keep)]
    names = [classes[i] for i in keep]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.35 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(names) <= 30:
        for i in range(len(names)):
            for j in range(len(names)):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title or "confusion matrix (rows normalised, counts shown)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(histories: list[dict[str, list[float]]], path: str, title: str = "", train_label: str = "train",
                val_label: str = "held-out") -> None:
    """Loss and accuracy per epoch; one line per fold (``val_*`` = the curve named ``val_label``). Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, hist in enumerate(histories):
        tag = "" if len(histories) == 1 else f" fold {k + 1}"
        for ax, key in zip(axes, ["loss", "accuracy"]):
            if key in hist:
                ax.plot(hist[key], color=f"C{k}", lw=1.2, label=f"{train_label}{tag}")
            if f"val_{key}" in hist:
                ax.plot(hist[f"val_{key}"], color=f"C{k}", lw=1.2, ls="--", label=f"{val_label}{tag}")
    for ax, key in zip(axes, ["loss", "accuracy"]):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle(title or "training curves")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def update_report(run_dir: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Add or replace top-level ``fields`` of ``run_dir/report.json`` (atomically); returns the report."""
    path = os.path.join(run_dir, "report.json")
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    report.update(fields)
    _write_json(run_dir, report)
    return report


def _write_json(run_dir: str, report: dict[str, Any]) -> None:
    tmp = os.path.join(run_dir, "report.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(run_dir, "report.json"))


def write_report(
    run_dir: str,
    y_true: np.ndarray,
    prob: np.ndarray,
    classes: list[str],
    split: dict[str, Any],
    n_train: int,
    n_val: int,
    histories: list[dict[str, list[float]]] | None = None,
    extra: dict[str, Any] | None = None,
    title: str = "",
    train_label: str = "train",
    val_label: str = "early-stopping split",
) -> dict[str, Any]:
    """Write ``report.json``, ``confusion_matrix.png`` and ``training_curves.png`` into ``run_dir``.

    ``y_true``/``prob`` are held-out predictions (from the ``.tflite``); ``n_train``/``n_val`` must count the
    same thing (e.g. both summed over the folds). Returns the report dict.
    """
    m = classification_metrics(y_true, prob, classes)
    report: dict[str, Any] = {
        "accuracy": m["accuracy"],
        "top5": m["top5"],
        "macro_f1": m["macro_f1"],
        "classes": list(classes),
        "split": split,
        "n_train": int(n_train),
        "n_val": int(n_val),
        "per_class": m["per_class"],
        "confusion_matrix": m["confusion_matrix"],
    }
    report.update(extra or {})
    _write_json(run_dir, report)
    plot_confusion(np.array(m["confusion_matrix"]), list(classes), os.path.join(run_dir, "confusion_matrix.png"),
                   title=f"{title} acc={m['accuracy']:.3f} macro-F1={m['macro_f1']:.3f}".strip())
    plot_curves(histories or [], os.path.join(run_dir, "training_curves.png"), title=title, train_label=train_label,
                val_label=val_label)
    return report
