"""Robust shipped models: several fitted models as ONE graph, and the spread of a run over seeds.

A single network's held-out accuracy moves with nothing but its random seed, so a run can report
mean ± sd over seeds × folds (:func:`edgelite.train.common.seed_summary`) and ship an *ensemble*:

- ``folds``: the cross-validation fold models (each trained without its held-out part; together they
  have seen every sample), averaged. Costs no extra training.
- ``seeds``: the final fits on ALL the data of every seed, averaged (one extra training per seed); the
  default when a run has several seeds.
- ``none``: one model (the final fit of the first seed, or fold 1's model without a final fit); the
  default with one seed.

:func:`ensemble_model` builds one Keras model with the members' inputs whose output is the mean of
their probabilities; the trainers' serving functions put the in-graph preprocessing in front of it
once, so the exported ``.tflite`` has the members' usual signature and only builtin ops (ADD/MUL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgelite.runtime.core.errors import EdgeliteError

ENSEMBLE_KINDS = ("folds", "seeds", "none")


def seed_list(seed: int, n_seeds: int) -> list[int]:
    """The seeds of a run: ``seed, seed+1, …`` (``n_seeds`` of them, at least 1)."""
    if int(n_seeds) < 1:
        raise EdgeliteError(f"number of seeds must be at least 1, got {n_seeds}")
    return [int(seed) + i for i in range(int(n_seeds))]


def resolve_kind(kind: str | None, final: bool, n_folds: int, n_seeds: int = 1) -> str:
    """The ensemble kind a run ships. ``None`` (the default) = ``seeds`` when several seeds run and a final
    fit is wanted, else ``none`` (one final fit, or fold 1's model without a final fit): measured in
    ``benchmarks/results/robust*.md``, the fold ensemble is free but below one final fit on unseen data
    (its members each miss a fold), while the seeds' final fits average to the best and steadiest model."""
    if kind is None:
        return "seeds" if final and n_seeds >= 2 else "none"
    if kind not in ENSEMBLE_KINDS:
        raise EdgeliteError(f"ensemble {kind!r}: expected one of {', '.join(ENSEMBLE_KINDS)}")
    if not final and kind != "none":
        raise EdgeliteError(f"ensemble {kind!r} replaces the shipped model; it cannot be combined with shipping "
                            "fold 1's model (no final fit)")
    if kind == "folds" and n_folds < 2:
        raise EdgeliteError(f"an ensemble of the fold models needs at least 2 cross-validation folds, this split has {n_folds}")
    if kind == "seeds" and n_seeds < 2:
        raise EdgeliteError("an ensemble of the seeds' final fits needs at least 2 seeds")
    return kind


def ensemble_model(members: list[Any], name: str | None = None) -> Any:
    """One Keras model: the members' inputs → the mean of their output probabilities ``[B, C]``.

    Members must take the same inputs (shapes/dtypes) and give the same number of classes. Each is
    wrapped under a unique name (``member1``, …) so their identical layer names do not clash. One
    member is returned as it is.
    """
    import keras

    if not members:
        raise EdgeliteError("an ensemble needs at least one member model")
    if len(members) == 1:
        return members[0]
    first = members[0]
    specs = [(tuple(t.shape[1:]), str(t.dtype)) for t in first.inputs]
    for i, m in enumerate(members[1:], 2):
        got = [(tuple(t.shape[1:]), str(t.dtype)) for t in m.inputs]
        if got != specs or tuple(m.outputs[0].shape[1:]) != tuple(first.outputs[0].shape[1:]):
            raise EdgeliteError(f"ensemble member {i} takes {got} → {m.outputs[0].shape}; member 1 takes "
                                f"{specs} → {first.outputs[0].shape}")
    inputs = [keras.Input(shape=s, dtype=d, name=t.name) for (s, d), t in zip(specs, first.inputs)]
    x = inputs if len(inputs) > 1 else inputs[0]
    outs = [keras.Model(m.inputs, m.outputs[0], name=f"member{i + 1}")(x) for i, m in enumerate(members)]
    out = keras.layers.Average(name="ensemble_mean")(outs)
    return keras.Model(inputs, out, name=name or f"{first.name}_ensemble{len(members)}")


@dataclass
class Shipped:
    """The model a run ships and how it was made (``record`` goes to ``training.final_fit`` / the report)."""

    model: Any
    record: dict[str, Any]
    n_train: int
    members: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        e = self.record.get("ensemble")
        if e:
            return f"mean of {e['members']} {'fold models' if e['kind'] == 'folds' else 'final fits'} (seeds {e['seeds']})"
        return "final fit on all data" if self.record.get("used") else "fold 1's model"


def test_metrics(y: np.ndarray, prob: np.ndarray, member_inputs: Any, members: list[Any], classes: list[str],
                 what: str = "") -> dict[str, Any]:
    """Held-out test metrics of the shipped model (``prob [N,C]`` from its ``.tflite``) and, for an ensemble,
    each member's accuracy (Keras on ``member_inputs``, what the members take) with their mean ± sd."""
    from edgelite.train.report import classification_metrics

    m = classification_metrics(y, prob, classes)
    out: dict[str, Any] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"], "what": what,
                           "evaluated_with": "the shipped model.tflite via edgelite.runtime (LiteRT)"}
    if len(members) > 1:
        accs = [float(np.mean(mm.predict(member_inputs, verbose=0, batch_size=256).argmax(1) == y)) for mm in members]
        out.update(members=accs, members_mean=float(np.mean(accs)), members_sd=float(np.std(accs, ddof=1)),
                   members_evaluated_with="each member alone in Keras (same graph as its .tflite up to float order)")
    return out


def ship(kind: str, fold_models: list[Any], seeds: list[int], fit_all: Callable[[int], tuple[Any, int]],
         first: Any, n_all: int, fold_n_train: list[int], epochs_rule: str) -> Shipped:
    """Build the shipped model of ``kind`` (see the module doc).

    ``fold_models``: every seed's fold models (seed-major); ``fit_all(seed)`` → ``(model, epochs)`` fits
    on ALL ``n_all`` samples; ``first``: fold 1's :class:`~edgelite.train.common.FoldFit` (for ``none``
    without a final fit, else None).
    """
    if kind == "folds":
        rec = {"used": False, "ensemble": {
            "kind": "folds", "members": len(fold_models), "seeds": seeds, "combine": "mean of probabilities",
            "n_train_per_member": [int(n) for n in fold_n_train]},
            "n_train": int(n_all),
            "note": (f"model.tflite averages the probabilities of the {len(fold_models)} cross-validation fold models "
                     f"(seeds {', '.join(map(str, seeds))}); each was trained without its held-out part and every "
                     "sample was in the training part of all but its own fold's members")}
        return Shipped(ensemble_model(fold_models), rec, int(n_all), list(fold_models))
    if kind == "seeds":
        fits = [fit_all(s) for s in seeds]
        epochs = fits[0][1]
        rec = {"used": True, "epochs": int(epochs), "epochs_rule": epochs_rule, "n_train": int(n_all),
               "ensemble": {"kind": "seeds", "members": len(fits), "seeds": seeds, "combine": "mean of probabilities"},
               "note": f"model.tflite averages the probabilities of {len(fits)} models fitted on ALL the data "
                       f"(seeds {', '.join(map(str, seeds))}); the report's metrics come from the cross-validation folds"}
        return Shipped(ensemble_model([m for m, _ in fits]), rec, int(n_all), [m for m, _ in fits])
    from edgelite.train.common import final_fit_record

    if first is not None:
        return Shipped(first.model, final_fit_record(False, None, first.n_train, epochs_rule), int(first.n_train))
    model, epochs = fit_all(seeds[0])
    return Shipped(model, final_fit_record(True, epochs, n_all, epochs_rule), int(n_all), [model])
