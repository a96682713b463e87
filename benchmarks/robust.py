"""Robust, not lucky: does an ensemble of the fold models shrink the seed-to-seed spread on unseen data?

Protocol (accel, UCI walking = user identification): the last ``--tail`` seconds of every user's
recording are a test part no model ever trains on (``--holdout-tail``). For each seed: the usual
time-block cross-validation on the rest (5 folds, early stopping on an inner split), then

- single models: each fold model alone on the test tails (seeds × folds values), and the final fit on
  all the training part for the folds' mean best epoch (one per seed) — today's shipped model;
- the fold ensemble (mean of the fold models' probabilities; what ``--ensemble folds`` ships), one per seed;
- the seed ensemble of the final fits (``--ensemble seeds``), one value over all seeds.

Mean ± sd (ddof=1) over seeds of each. For the first seed the ensemble and a single model are also
exported as ``.tflite`` (size, 1-thread latency on a real window, and the ensemble .tflite vs the mean
of its members' probabilities). Written to ``benchmarks/results/robust.{json,md}``.

    python benchmarks/robust.py --seeds 0,1,2 --epochs 20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import command_line, header, machine, save  # noqa: E402


def _acc(prob: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(prob.argmax(1) == y))


def _ms(v: list[float]) -> dict:
    v = [float(x) for x in v]
    return {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
            "min": min(v), "max": max(v), "values": v}


def _tflite_cost(models: dict, d, cfg, tmp: str, members_prob: np.ndarray, xs_test: list) -> dict:
    """Size and latency of each exported model, and the ensemble .tflite vs the mean of its members (Keras)."""
    from edgelite.convert.parity import latency
    from edgelite.train.accel.train import _export, _tflite_predict

    out = {}
    sample = next(x for x in xs_test if len(x) >= d.n)[: d.n]
    for name, model in models.items():
        p = os.path.join(tmp, f"{name}.tflite")
        _export(cfg, d, model, {"note": "benchmarks/robust.py"}, p)
        lat = latency(p, sample, runs=200)
        out[name] = {"size_bytes": os.path.getsize(p), "latency_median_ms": lat["median_ms"], "latency_p90_ms": lat["p90_ms"]}
        if name == "fold_ensemble":
            got = _tflite_predict(p, xs_test)
            out[name]["max_abs_diff_vs_mean_of_members"] = float(np.abs(got - members_prob).max())
            out[name]["_prob"] = got  # the caller scores it
    return out


def run_accel(data: str, seeds: list[int], epochs: int, tail: float, folds: int, out: str) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.train.accel.train import (
        AccelTrainConfig,
        _cross_validate,
        _fit_all,
        _train_model,
        load_accel_data,
    )
    from edgelite.train.common import final_epoch_count
    from edgelite.train.ensemble import ensemble_model

    cfg = AccelTrainConfig(data=data, fmt="continuous", out=out, epochs=epochs, folds=folds, holdout_tail=tail)
    d = load_accel_data(cfg)
    yt = np.array([d.classes.index(v) for v in d.test.label], np.int64)
    xt = _fit_all(d.test.x, d.n, d.fit)
    rows, finals_prob, cost = [], [], None
    for s in seeds:
        t0 = time.time()
        c = dataclasses.replace(cfg, seed=s)
        cv = _cross_validate(c, d, keep_models=True)
        probs = [m.predict(xt, verbose=0, batch_size=256) for m in cv.models]
        ens = np.mean(probs, axis=0)
        ep = final_epoch_count(cv.best_epochs, cfg.epochs)
        final, _ = _train_model(c, d.n, d.classes, d.windows, d.y, None, ep, f"[final seed {s}] ")
        pf = final.predict(xt, verbose=0, batch_size=256)
        finals_prob.append(pf)
        row = {"seed": s, "cv_fold_accuracy": [r["accuracy"] for r in cv.folds],
               "test_fold_models": [_acc(p, yt) for p in probs], "test_fold_ensemble": _acc(ens, yt),
               "test_final_fit": _acc(pf, yt), "final_epochs": ep}
        if cost is None:
            with tempfile.TemporaryDirectory() as tmp:
                cost = _tflite_cost({"single": final, "fold_ensemble": ensemble_model(cv.models)}, d, c, tmp, ens, d.test.x)
            got = cost["fold_ensemble"].pop("_prob")
            cost["fold_ensemble"]["test_accuracy_tflite"] = _acc(got, yt)
            cost["members"] = len(cv.models)
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(f"seed {s}: fold models {np.mean(row['test_fold_models']):.4f}  fold ensemble {row['test_fold_ensemble']:.4f}  "
              f"final fit {row['test_final_fit']:.4f}  ({row['seconds']:.0f}s)", file=sys.stderr, flush=True)
    return {
        "data": data, "task": "accel (UCI walking, user identification)", "n_train_samples": int(len(d.y)),
        "n_test_samples": int(len(yt)), "classes": len(d.classes), "epochs_max": epochs, "folds": folds,
        "tail_s": tail, "test": d.holdout["note"], "seeds": seeds, "rows": rows,
        "fold_kind": "time-block folds", "summary": _summary(rows, finals_prob, yt), "cost": cost,
    }


def run_signs(data: str, signers_csv: str, test_signer: str, seeds: list[int], epochs: int, size: str,
              landmarks: str, out: str) -> dict:
    """Signs: ``test_signer`` is the never-trained test; signer folds over the other signers."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.common import final_epoch_count
    from edgelite.train.devices import resolve_device
    from edgelite.train.signs.data import select_view, sequence_lengths
    from edgelite.train.signs.train import (
        MAX_LEN_CAP,
        SignTrainConfig,
        _cross_validate,
        _features,
        load_sign_data,
        signer_folds,
        train_fold,
    )
    from edgelite.train.splits import Fold

    cfg = SignTrainConfig(data=data, fmt="mp-data", out=out, landmarks=landmarks, signers=signers_csv, epochs=epochs,
                          size=size, continuous=False, patience=5)
    setup = resolve_device("cpu")
    xs, labels, signers, classes = load_sign_data(cfg)
    pre = SignPreprocessConfig(landmark_set=landmarks, max_len=int(min(MAX_LEN_CAP, sequence_lengths(xs).max())))
    y = np.array([classes.index(v) for v in labels], np.int64)
    pts = select_view(xs, pre)
    test = np.where(signers == test_signer)[0]
    rest = np.where(signers != test_signer)[0]
    folds = [Fold(rest[f.train], rest[f.val], f.held_out, f.kind) for f in signer_folds(signers[rest], 5)]
    ft, mt = _features([pts[i] for i in test], pre)
    yt = y[test]
    rows, finals_prob = [], []
    for s in seeds:
        t0 = time.time()
        c = dataclasses.replace(cfg, seed=s)
        cv = _cross_validate(c, pre, classes, xs, pts, y, signers, folds, setup, keep_models=True)
        probs = [m.predict([ft, mt], verbose=0, batch_size=256) for m in cv.models]
        ep = final_epoch_count(cv.best_epochs, cfg.epochs)
        final, _ = train_fold(dataclasses.replace(c, epochs=ep), pre, classes, pts, y, rest, np.zeros(0, np.int64), "",
                              f"[final seed {s}] ", setup)
        pf = final.predict([ft, mt], verbose=0, batch_size=256)
        finals_prob.append(pf)
        rows.append({"seed": s, "cv_fold_accuracy": [r["accuracy"] for r in cv.folds],
                     "test_fold_models": [_acc(p, yt) for p in probs], "test_fold_ensemble": _acc(np.mean(probs, 0), yt),
                     "test_final_fit": _acc(pf, yt), "final_epochs": ep, "seconds": round(time.time() - t0, 1)})
        print(f"signs seed {s}: {rows[-1]}", file=sys.stderr, flush=True)
    return {
        "data": data, "task": f"signs ({len(classes)} classes, --landmarks {landmarks}, size {size})",
        "n_train_samples": int(len(rest)), "n_test_samples": int(len(test)), "classes": len(classes),
        "epochs_max": epochs, "folds": len(folds), "fold_kind": "signer folds", "tail_s": None,
        "test": f"signer {test_signer} held out (never trained on)", "seeds": seeds, "rows": rows,
        "summary": _summary(rows, finals_prob, yt), "cost": None,
    }


def _summary(rows: list[dict], finals_prob: list[np.ndarray], yt: np.ndarray) -> dict:
    return {
        "cv_fold_accuracy (seeds × folds)": _ms([a for r in rows for a in r["cv_fold_accuracy"]]),
        "single fold model (seeds × folds)": _ms([a for r in rows for a in r["test_fold_models"]]),
        "single final fit (seeds)": _ms([r["test_final_fit"] for r in rows]),
        "fold ensemble (seeds)": _ms([r["test_fold_ensemble"] for r in rows]),
        "seed ensemble of final fits": _ms([_acc(np.mean(finals_prob, axis=0), yt)]),
    }


def markdown(res: dict, m: dict) -> str:
    lines = [header("Robust, not lucky: seed spread of single models vs ensembles", m, res["command"]), ""]
    for name, r in res["sets"].items():
        lines += [f"## {name}: {r['task']}", "", f"- command: `{r.get('command', res['command'])}`",
                  f"- test: {r['test']} ({r['n_test_samples']} test samples, {r['n_train_samples']} training samples, "
                  f"{r['classes']} classes)",
                  f"- seeds {r['seeds']}; at most {r['epochs_max']} epochs per model (early stopping), {r['folds']} {r.get('fold_kind', 'time-block folds')}", "",
                  "| model | held-out top-1 mean | sd | min | max | n |", "|---|---|---|---|---|---|"]
        for k, s in r["summary"].items():
            lines.append(f"| {k} | {s['mean']:.4f} | {s['sd']:.4f} | {s['min']:.4f} | {s['max']:.4f} | {s['n']} |")
        c = r.get("cost") or {}
        if c:
            lines += ["", "| exported .tflite (fp32) | size | latency median (1 thread) | p90 |", "|---|---|---|---|"]
            for k, label in (("single", "single model"), ("fold_ensemble", f"fold ensemble ({c['members']} members)")):
                lines.append(f"| {label} | {c[k]['size_bytes'] / 1024:.0f} KiB | {c[k]['latency_median_ms']:.3f} ms | "
                             f"{c[k]['latency_p90_ms']:.3f} ms |")
            fe = c["fold_ensemble"]
            lines += ["", f"The fold-ensemble .tflite equals the mean of its members' Keras probabilities to "
                          f"{fe['max_abs_diff_vs_mean_of_members']:.1e} (max abs) on the test windows; its test top-1 "
                          f"as a .tflite: {fe['test_accuracy_tflite']:.4f}."]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--epochs", type=int, default=20, help="maximum epochs per model (default 20)")
    ap.add_argument("--tail", type=float, default=10.0, help="held-out seconds at the end of every recording")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--name", default="robust")
    ap.add_argument("--data", help="UCI walking Dataset folder (default: ../shared/data/accel/uci-walking/Dataset)")
    ap.add_argument("--set", default="uci", choices=["uci", "letters"], help="uci (accel) or letters (traduttore, signs)")
    ap.add_argument("--test-signer", default="dmohazab", help="letters: the held-out test signer")
    ap.add_argument("--size", default="tiny", help="letters: sign model size (default tiny)")
    ap.add_argument("--merge", action="store_true", help="keep the other sets of an existing results JSON")
    args = ap.parse_args(argv)
    from edgelite.runtime.core.paths import shared_dir

    seeds = [int(s) for s in args.seeds.split(",") if s]
    m = machine()
    sh = str(shared_dir())
    with tempfile.TemporaryDirectory() as tmp:
        if args.set == "uci":
            data = args.data or os.path.join(sh, "data", "accel", "uci-walking", "Dataset")
            sets = {"uci-walking": run_accel(data, seeds, args.epochs, args.tail, args.folds, tmp)}
        else:
            tr = os.path.join(sh, "data", "mp-data", "traduttore")
            sets = {f"letters-{args.test_signer}": run_signs(args.data or os.path.join(tr, "LETTER_Data.tar.xz"),
                                                              os.path.join(tr, "signers.csv"), args.test_signer, seeds,
                                                              args.epochs, args.size, "hands", tmp)}
    for v in sets.values():
        v["command"] = command_line()
    old = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{args.name}.json")
    if args.merge and os.path.exists(old):
        with open(old, encoding="utf-8") as f:
            sets = {**json.load(f)["sets"], **sets}
    res = {"command": command_line(), "machine": m, "sets": sets}
    save(args.name, res, markdown(res, m))
    print(markdown(res, m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
