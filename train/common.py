"""What every trainer shares: the run folder, the one cross-validation loop, the final fit on all the data.

A run = cross-validation over leak-free folds (signer / user / time block; each fold's model is
early-stopped on an inner split of its *training* part and evaluated as a ``.tflite`` on its held-out
part) for the report, then — unless ``final=False`` — one model fitted on ALL the data for the epoch
count the folds chose (the mean of their best epochs). The early-stopping split only picks epochs:
the final fit folds it back in, so no signer/session is silently left out of the shipped model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from edgelite.runtime.core.errors import EdgeliteError
from edgelite.train.splits import Fold

# what a trainer (or `edgelite convert` into RUN/convert) writes into a run folder
RUN_ENTRIES = frozenset({
    "model.keras", "saved_model", "model.tflite", "metadata.json", "report.json", "confusion_matrix.png",
    "training_curves.png", "eval_data.npz", "checkpoints", "convert", "report.json.tmp", "eval_data.npz.tmp.npz",
    "holdout",
})


class RunFolderError(EdgeliteError):
    """The output folder exists and cannot be used as a new run folder."""


def prepare_run_dir(out: str | os.PathLike, overwrite: bool = False) -> str:
    """Create ``out``; an existing non-empty run folder is an error unless ``overwrite``, and then it is
    emptied completely (checkpoints included). A folder holding anything a trainer does not write is
    never emptied."""
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise RunFolderError(f"{out}: exists and is not a folder")
    entries = sorted(os.listdir(out)) if os.path.isdir(out) else []
    if entries:
        foreign = [e for e in entries if e not in RUN_ENTRIES]
        if foreign:
            raise RunFolderError(f"{out}: not empty and not a run folder (holds {', '.join(foreign[:5])}); "
                                 "choose a new or empty folder")
        if not overwrite:
            raise RunFolderError(f"{out}: a run folder already exists here ({', '.join(entries[:6])}); "
                                 "choose a new folder or allow overwriting it")
        for e in entries:
            p = os.path.join(out, e)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    os.makedirs(out, exist_ok=True)
    return out


@dataclass
class FoldFit:
    """One fitted model and how: ``best_epoch`` is 1-based (lowest early-stopping loss), None without a split."""

    model: Any
    history: dict[str, list[float]]
    best_epoch: int | None
    n_train: int
    n_early_stopping: int = 0
    early_stopping: str = "none"
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class CVResult:
    """Pooled out-of-fold predictions of every fold's ``.tflite`` and per-fold records."""

    y_true: np.ndarray          # [N_pooled] class indices
    prob: np.ndarray            # [N_pooled, C]
    index: np.ndarray           # [N_pooled] sample index of each pooled row
    seen: np.ndarray            # [N_pooled] bool: the row's class was in that fold's training part
    folds: list[dict[str, Any]]
    histories: list[dict[str, list[float]]]
    best_epochs: list[int]
    first: FoldFit | None = None  # fold 1's fit, kept for --no-final
    models: list[Any] = field(default_factory=list)  # every fold's model, kept for a fold ensemble


def best_epoch(history: dict[str, list[float]], monitor: str = "loss") -> int | None:
    """1-based epoch with the lowest ``val_loss`` (``monitor="accuracy"``: the highest ``val_accuracy``,
    ties broken by the lowest ``val_loss``), as :func:`early_stopping` picks it; None without a split."""
    loss = history.get("val_loss") or []
    if not len(loss):
        return None
    if monitor == "accuracy" and history.get("val_accuracy"):
        acc = history["val_accuracy"]
        return int(max(range(len(acc)), key=lambda i: (acc[i], -loss[i], -i))) + 1
    return int(np.argmin(loss)) + 1


def early_stopping(monitor: str, patience: int):
    """Keras callback: stop after ``patience`` epochs without improvement and restore the best weights.

    ``monitor="accuracy"``: best = highest ``val_accuracy``, ties broken by the lowest ``val_loss``
    (accuracy saturates on easy splits; the first saturated epoch is rarely the best one).
    ``monitor="loss"``: best = lowest ``val_loss``.
    """
    import keras

    class BestEpoch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best, self.best_epoch, self.weights, self.wait = None, None, None, 0

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss = float(logs.get("val_loss", np.inf))
            key = (float(logs.get("val_accuracy", 0.0)), -loss) if monitor == "accuracy" else (-loss,)
            if self.best is None or key > self.best:
                self.best, self.best_epoch, self.wait = key, epoch + 1, 0
                self.weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= patience:
                    self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return BestEpoch()


def final_epoch_count(best_epochs: list[int], fallback: int) -> int:
    """The epoch count of the final fit: the rounded mean of the folds' best epochs (else ``fallback``)."""
    return max(1, int(round(float(np.mean(best_epochs))))) if best_epochs else int(fallback)


def cross_validate(folds: list[Fold], y: np.ndarray, fit: Callable[[int, Fold, str], FoldFit],
                   evaluate: Callable[[int, Fold, FoldFit, str], tuple[np.ndarray, dict[str, Any]]],
                   log: Callable[[str], None], keep_first: bool = False, keep_models: bool = False) -> CVResult:
    """The one fold loop: ``fit(k, fold, prefix)`` then ``evaluate(k, fold, fit, tflite_path)`` → ``(prob [n_val,C],
    extra fold info)``; the ``.tflite`` goes to a temporary folder. Returns pooled held-out predictions
    (and every fold's model with ``keep_models``)."""
    ys, probs, idx, seen, recs, hists, bests, models = [], [], [], [], [], [], [], []
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            prefix = f"[fold {k + 1}/{len(folds)} held out: {', '.join(fold.held_out)}] " if len(folds) > 1 else ""
            if len(prefix) > 90:
                prefix = f"[fold {k + 1}/{len(folds)} held out: {len(fold.held_out)} groups] "
            ff = fit(k, fold, prefix)
            prob, extra = evaluate(k, fold, ff, os.path.join(tmp, f"fold{k + 1}.tflite"))
            acc = float(np.mean(prob.argmax(1) == y[fold.val])) if len(fold.val) else 0.0
            rec = {**fold.describe(), "n_train": ff.n_train, "n_early_stopping": ff.n_early_stopping,
                   "early_stopping": ff.early_stopping, "best_epoch": ff.best_epoch,
                   "epochs_run": len(ff.history.get("loss", [])), "accuracy": acc, **ff.info, **extra}
            log(f"{prefix}held-out accuracy of the .tflite: {acc:.4f} ({len(fold.val)} samples; trained on "
                f"{ff.n_train}, early stopping on {ff.n_early_stopping}, best epoch {ff.best_epoch})")
            recs.append(rec)
            hists.append(ff.history)
            if ff.best_epoch is not None:
                bests.append(ff.best_epoch)
            ys.append(y[fold.val])
            probs.append(prob)
            idx.append(fold.val)
            seen.append(np.isin(y[fold.val], y[fold.train]))
            if keep_models:
                models.append(ff.model)
            if keep_first and k == 0:
                first = ff
            else:
                del ff
    return CVResult(np.concatenate(ys), np.concatenate(probs), np.concatenate(idx), np.concatenate(seen),
                    recs, hists, bests, first, models)


def fold_summary(cv: CVResult, classes: list[str]) -> dict[str, Any]:
    """Mean ± sd over folds of accuracy and macro-F1 (each fold on its own held-out part)."""
    from edgelite.train.report import classification_metrics

    accs, f1s = [], []
    start = 0
    for rec in cv.folds:
        n = rec["n_val"]
        m = classification_metrics(cv.y_true[start:start + n], cv.prob[start:start + n], classes)
        rec["macro_f1"] = m["macro_f1"]
        accs.append(m["accuracy"])
        f1s.append(m["macro_f1"])
        start += n
    sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
    return {"n_folds": len(cv.folds), "accuracy_mean": float(np.mean(accs)), "accuracy_sd": sd(accs),
            "macro_f1_mean": float(np.mean(f1s)), "macro_f1_sd": sd(f1s)}


def merge_seed_runs(cvs: list[CVResult], seeds: list[int]) -> CVResult:
    """One :class:`CVResult` of several seeds' cross-validations (same folds): rows and fold records
    concatenated seed by seed, each fold record tagged with its ``seed``."""
    for cv, s in zip(cvs, seeds):
        for rec in cv.folds:
            rec["seed"] = int(s)
    if len(cvs) == 1:
        return cvs[0]
    cat = (lambda name: np.concatenate([getattr(c, name) for c in cvs]))
    return CVResult(cat("y_true"), cat("prob"), cat("index"), cat("seen"), [r for c in cvs for r in c.folds],
                    [h for c in cvs for h in c.histories], [b for c in cvs for b in c.best_epochs], cvs[0].first,
                    [m for c in cvs for m in c.models])


def seed_summary(cv: CVResult, classes: list[str], seeds: list[int]) -> dict[str, Any]:
    """:func:`fold_summary` over seeds × folds (``accuracy_mean``/``accuracy_sd`` … over every fold of every
    seed, sample sd) plus each seed's own fold mean and pooled accuracy, and which seeds ran."""
    s = fold_summary(cv, classes)
    per = []
    for seed in seeds:
        recs = [r for r in cv.folds if r.get("seed", seeds[0]) == seed]
        n = sum(r["n_val"] for r in recs)
        per.append({"seed": int(seed), "accuracy_mean": float(np.mean([r["accuracy"] for r in recs])),
                    "macro_f1_mean": float(np.mean([r["macro_f1"] for r in recs])),
                    "pooled_accuracy": float(sum(r["accuracy"] * r["n_val"] for r in recs) / max(n, 1))})
    pooled = [p["pooled_accuracy"] for p in per]
    return {**s, "seeds": [int(x) for x in seeds], "n_seeds": len(seeds), "n_runs": len(cv.folds), "per_seed": per,
            "pooled_accuracy_sd_over_seeds": float(np.std(pooled, ddof=1)) if len(pooled) > 1 else 0.0,
            "spread_note": f"mean ± sd (ddof=1) over {len(seeds)} seed(s) × {len(cv.folds) // max(len(seeds), 1)} "
                           "fold(s), each fold's .tflite on its own held-out part; same folds for every seed"}


def counts(cv: CVResult, n_samples: int, final: dict[str, Any] | None) -> dict[str, Any]:
    """Sample counts per fold, summed over folds, and of the shipped model — each kept apart."""
    per = [{"fold": i + 1, "n_train": r["n_train"], "n_early_stopping": r["n_early_stopping"], "n_val": r["n_val"]}
           for i, r in enumerate(cv.folds)]
    return {"n_samples": int(n_samples), "folds": per,
            "folds_total": {k: int(sum(p[k] for p in per)) for k in ("n_train", "n_early_stopping", "n_val")},
            "shipped_model": final}


def inner_split(idx: np.ndarray, y: np.ndarray, groups: np.ndarray | None, frac: float, seed: int,
                what: str = "groups") -> tuple[np.ndarray, np.ndarray, str]:
    """Early-stopping split inside the training indices ``idx``: whole groups when ≥ 3 groups show
    several classes each (single-class groups always stay in training), else a stratified ``frac`` of
    the samples per class (classes with ≥ 5 samples)."""
    rng = np.random.default_rng(seed + 1)
    if groups is not None:
        g = np.asarray(groups).astype(str)[idx]
        # only groups showing several classes (users/signers, not e.g. one negatives file) are held out
        uniq = sorted(u for u in set(g.tolist()) if len(set(y[idx][g == u].tolist())) > 1)
        if len(uniq) >= 3:
            n_hold = max(1, int(round(frac * len(uniq))))
            held = list(rng.permutation(uniq)[:n_hold])
            m = np.isin(g, held)
            if set(y[idx[~m]].tolist()) == set(y[idx].tolist()):  # every class keeps training samples
                return idx[~m], idx[m], f"{what} {','.join(map(str, sorted(held)))}"
    val = []
    for c in np.unique(y[idx]):
        ci = idx[y[idx] == c]
        n = int(round(frac * len(ci)))
        if len(ci) >= 5 and n > 0:
            val.extend(rng.choice(ci, n, replace=False).tolist())
    m = np.isin(idx, val)
    return idx[~m], idx[m], f"random {frac:.0%} of the training samples per class"


def subset(idx: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``idx`` (random, sorted, deterministic)."""
    idx = np.asarray(idx)
    if len(idx) <= limit:
        return idx
    return np.sort(idx[np.random.default_rng(seed).permutation(len(idx))[:limit]])


def write_run_eval_data(run_dir: str, xs: list[np.ndarray], y: np.ndarray, eval_idx: np.ndarray,
                        calib_idx: np.ndarray, heldout_for_model: bool) -> str:
    """``RUN/eval_data.npz`` through the one writer (:mod:`edgelite.runtime.core.evaldata`)."""
    from edgelite.runtime.core.evaldata import FILENAME, write_eval_data

    return write_eval_data(os.path.join(run_dir, FILENAME), [xs[i] for i in eval_idx], y[eval_idx],
                           [xs[i] for i in calib_idx], y[calib_idx], heldout_for_model)


def fit_openset_from_cv(cv: CVResult, classes: list[str], target_reject: float,
                        reject_labels: dict[str, str] | None = None, method: str = "msp") -> dict[str, Any] | None:
    """The ``openset`` metadata fitted on the out-of-fold predictions of classes each fold had trained on."""
    from edgelite.runtime.core.openset import fit_openset

    keep = cv.seen
    if keep.sum() < 10:
        return None
    return fit_openset(cv.prob[keep], cv.y_true[keep], classes, method=method, target_reject=target_reject,
                       reject_labels=reject_labels,
                       fitted_on=f"out-of-fold predictions of {len(cv.folds)} cross-validation fold(s)")


def final_fit_record(used: bool, epochs: int | None, n_train: int, rule: str) -> dict[str, Any]:
    """``training.final_fit`` of the metadata and report."""
    if not used:
        return {"used": False, "note": "model.tflite is fold 1's model (trained without its held-out part)",
                "n_train": int(n_train)}
    return {"used": True, "epochs": int(epochs), "epochs_rule": rule, "n_train": int(n_train),
            "note": "model.tflite was fitted on ALL the data (early-stopping split folded back in); "
                    "the report's metrics come from the cross-validation folds"}
