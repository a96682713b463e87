"""Open-set recognition on real shared data: does the shipped model say "unknown" to what it never learnt?

Protocol (everything measured on a test signer/user the model never saw, through the ``.tflite`` and
:func:`edgelite.runtime.core.openset.decide`, the function predict/run/API apply):

- signs: train ``edgelite train signs`` on 12 of the 16 traduttore labels (11 words + ``-`` = no sign)
  from the signers other than the test signer (early-stopping/CV signer: Alex, whose out-of-fold
  predictions fit the temperature and threshold), final fit on all of them. Test: the test signer's
  sequences of the 12 known labels (known) vs their 4 other words and the 210 asl-signs sequences
  (unknown). Optionally (``--background``) a second model with an explicit "other" class trained on
  the 28 traduttore letters.
- accel: ``edgelite train accel`` on magic wand (wing/ring/slope/negative) with users hyw + jiangyh
  (+ anonymous negatives), leave-one-user-out CV for the calibration, final fit on all of them. Test:
  user dengyl's gestures (known) vs Sensor Logger square/triangle recordings and UCI walking windows
  (unknown), all resampled to the model's rate and windowed like ``predict``.

Reported per model: closed-set top-1 on the known test data, known-vs-unknown AUROC of the raw
max-softmax, the calibrated max-softmax, the energy score and the model's in-graph ``ood_score``
(``openset`` signature: cosine to class prototypes for accel, Mahalanobis for signs — the shipped
method), and at the operating threshold: known accuracy (a rejected known sample counts as wrong), its
drop from the closed-set top-1, the share of unknown samples rejected, and an oracle bound (unknowns
rejected at the best ≤ 1 pt threshold chosen on the test data). Writes benchmarks/results/openset.{md,json}.

    python benchmarks/openset.py                 # signs + accel (about 15 min on 2 busy cores)
    python benchmarks/openset.py --only accel --epochs 30 --reject 0.01 --merge
    python benchmarks/openset.py --only signs --epochs 15 --reject 0.01 --merge --workdir /tmp/os --reuse
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import command_line, header, machine, save

UNKNOWN_WORDS = ["coffee", "muffin", "water", "large"]


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(score of a known sample > score of an unknown one), ties count half (rank formula)."""
    s = np.concatenate([known, unknown])
    order = s.argsort(kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # average ranks of ties
        m = s == v
        if m.sum() > 1:
            ranks[m] = ranks[m].mean()
    n1, n0 = len(known), len(unknown)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(meta: dict, p_known: np.ndarray, y_known: list[str], unknown: dict[str, np.ndarray],
             x_known: list | None = None, x_unknown: dict[str, list] | None = None,
             s_known: np.ndarray | None = None, s_unknown: dict[str, np.ndarray] | None = None) -> dict:
    """Closed-set accuracy, AUROC per score and operating-point numbers of ``decide`` (given the raw
    inputs ``x_*``, ``decide`` also applies the metadata's input range, as predict does; given the
    model's in-graph scores ``s_*`` (``openset`` signature), ``decide`` uses them as predict does)."""
    from edgelite.runtime.core.openset import (
        NO_SIGN,
        UNKNOWN,
        decide,
        in_input_range,
        ood_score,
    )

    labels = meta["labels"]
    os_ = meta["openset"]
    t = os_["temperature"]
    no_sign = {k for k, v in (os_.get("reject_labels") or {}).items() if v == NO_SIGN}
    closed = np.mean([labels[i] == y for i, y in zip(p_known.argmax(1), y_known)])
    expect = [NO_SIGN if y in no_sign else y for y in y_known]
    xu = [x for v in (x_unknown or {}).values() for x in v] if x_unknown else None
    sk = [None] * len(p_known) if s_known is None else list(s_known)
    su = [None] * sum(len(v) for v in unknown.values()) if s_unknown is None else list(np.concatenate(list(s_unknown.values())))
    dk = [decide(p, meta, None if x_known is None else x_known[i], sk[i])[0] for i, p in enumerate(p_known)]
    open_acc = float(np.mean([d == e for d, e in zip(dk, expect)]))
    p_unk = np.concatenate(list(unknown.values()))
    du = [decide(p, meta, None if xu is None else xu[i], su[i])[0] for i, p in enumerate(p_unk)]
    scores = {"msp_raw": lambda p: p.max(1), "msp_calibrated": lambda p: ood_score(p, "msp", t),
              "energy": lambda p: ood_score(p, "energy", t)}
    rng = os_.get("input_range")
    if rng and x_known is not None and xu is not None:
        inside = {id(p_known): np.array([in_input_range(x, rng) for x in x_known]),
                  id(p_unk): np.array([in_input_range(x, rng) for x in xu])}
        scores["msp_calibrated+input_range"] = lambda p: np.where(inside[id(p)], ood_score(p, "msp", t), -1.0)
    if s_known is not None and s_unknown is not None:  # the in-graph score: not a function of p, looked up by array
        graph = {id(p_known): np.asarray(s_known), id(p_unk): np.concatenate(list(s_unknown.values()))}
        graph.update({id(v): np.asarray(s_unknown[k]) for k, v in unknown.items()})
        scores["in_graph"] = lambda p: graph[id(p)]
    res = {"n_known": len(y_known), "n_unknown": {k: len(v) for k, v in unknown.items()},
           "closed_set_top1": float(closed), "temperature": t, "threshold": os_["threshold"],
           "auroc": {name: auroc(f(p_known), f(p_unk)) for name, f in scores.items()},
           "auroc_per_source": {src: auroc(scores["msp_calibrated"](p_known), scores["msp_calibrated"](v))
                                for src, v in unknown.items()},
           "method": os_.get("method", "msp"), "fallback": os_.get("fallback"),
           "auroc_per_source_method": {src: auroc(scores[_key(os_)](p_known), scores[_key(os_)](v))
                                       for src, v in unknown.items()} if _key(os_) in scores else {},
           "known_accuracy_at_threshold": open_acc, "known_accuracy_drop_pt": 100 * (float(closed) - open_acc),
           "unknown_rejected": float(np.mean([d in (UNKNOWN, NO_SIGN) for d in du])),
           "unknown_rejected_per_source": {}}
    res["oracle_1pt"] = _oracle(scores[_key(os_)](p_known), scores[_key(os_)](p_unk), np.array(
        [labels[i] == y for i, y in zip(p_known.argmax(1), y_known)]))
    start = 0
    for src, v in unknown.items():
        res["unknown_rejected_per_source"][src] = float(np.mean([d in (UNKNOWN, NO_SIGN) for d in du[start:start + len(v)]]))
        start += len(v)
    return res


def _key(os_: dict) -> str:
    """The ``scores`` entry of the metadata's method."""
    return "in_graph" if os_.get("method", "msp") in ("cosine", "mahalanobis") else "msp_calibrated"


def _oracle(sk: np.ndarray, su: np.ndarray, correct: np.ndarray) -> float:
    """Share of unknowns rejected at the highest threshold that costs at most 1 pt of known accuracy,
    chosen ON THE TEST DATA (an upper bound for a threshold fitted elsewhere, not a deployable number)."""
    best = 0.0
    for t in np.unique(np.concatenate([sk, su])):
        if float(np.mean(correct & (sk >= t))) >= float(np.mean(correct)) - 0.01:
            best = max(best, float(np.mean(su < t)))
    return best


def _scored(path: str, xs: list) -> tuple[np.ndarray, np.ndarray | None]:
    """``(probabilities, in-graph scores or None)`` of a ``.tflite`` on raw inputs."""
    from edgelite.train.openset import tflite_scored

    p, s = tflite_scored(path, xs)
    return p, (None if np.isnan(s).all() else s)


def _train_or_reuse(args, out: str, train) -> dict:
    """``train()`` → its report, or with ``--reuse`` the report of a run folder already in ``--workdir``."""
    import json

    rep_path = os.path.join(out, "report.json")
    if args.reuse and os.path.exists(os.path.join(out, "model.tflite")) and os.path.exists(rep_path):
        with open(rep_path, encoding="utf-8") as f:
            return json.load(f)
    return train()


# ------------------------------------------------------------------------------------------ signs
def _sign_seqs(data: str, signers_csv: str | None, keep) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    from edgelite.runtime.signs import io as sign_io
    from edgelite.train.signs.cache import load_dataset

    samples = sign_io.list_asl_signs(data) if signers_csv is None else sign_io.list_mp_data(data, signers_csv)
    xs, labels, signers = load_dataset(samples, progress=False)
    idx = [i for i in range(len(xs)) if keep(labels[i], signers[i])]
    return [xs[i] for i in idx], labels[idx], signers[idx]


def run_signs(args, tmp: str, background: str | None) -> dict:
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.train.signs.train import SignTrainConfig, train_signs

    d = os.path.join(args.shared, "data/mp-data/traduttore")
    signers_csv = os.path.join(d, "signers.csv")
    train_csv = os.path.join(tmp, "signers_train.csv")
    with open(signers_csv, newline="") as f, open(train_csv, "w", newline="") as g:
        rows = list(csv.reader(f))
        csv.writer(g).writerows([rows[0]] + [r for r in rows[1:] if r[3] != args.test_signer])
    words = os.path.join(d, "MP_Data_16actions.tar.xz")
    _, all_labels, _ = _sign_seqs(words, signers_csv, lambda lab, s: s == args.test_signer)
    known = sorted(set(all_labels.tolist()) - set(UNKNOWN_WORDS))
    out = os.path.join(tmp, "signs_bg" if background else "signs")
    cfg = SignTrainConfig(data=words, fmt="mp-data", out=out, landmarks="hands+pose", signers=train_csv,
                          holdout=[args.cv_signer], epochs=args.epochs, size=args.size, keep_labels=known,
                          background=background, background_signers=train_csv if background else None, seed=0,
                          verbose=True, openset_reject=args.reject, continuous=False)
    t0 = time.time()
    rep = _train_or_reuse(args, out, lambda: train_signs(cfg))
    t_train = time.time() - t0
    xt, yt, _ = _sign_seqs(words, signers_csv, lambda lab, s: s == args.test_signer)
    xa, _, _ = _sign_seqs(os.path.join(args.shared, "data/asl-signs"), None, lambda lab, s: True)
    tfl = os.path.join(out, "model.tflite")
    meta = EdgeModel.open(tfl).metadata
    kn = np.isin(yt, known)
    p_known, s_known = _scored(tfl, [x for x, k in zip(xt, kn) if k])
    scored = {"4 held-out words": _scored(tfl, [x for x, k in zip(xt, kn) if not k]),
              "asl-signs (hello, thankyou)": _scored(tfl, xa)}
    unknown = {k: v[0] for k, v in scored.items()}
    s_unknown = None if s_known is None else {k: v[1] for k, v in scored.items()}
    res = evaluate(meta, p_known, yt[kn].tolist(), unknown, s_known=s_known, s_unknown=s_unknown)
    res.update({"model": "signs words" + (" + background 'other' (28 letters)" if background else ""),
                "known_labels": known, "unknown_words": UNKNOWN_WORDS, "test_signer": args.test_signer,
                "calibration": meta["openset"]["fitted_on"] + f" (held-out signer {args.cv_signer})",
                "cv_top1": rep["accuracy"], "final_fit": rep["final_fit"], "train_seconds": round(t_train)})
    return res


# ------------------------------------------------------------------------------------------ accel
def _accel_windows(path: str, fmt: str, meta: dict, per_rec: int | None = None) -> list[np.ndarray]:
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.runtime.accel.windows import recording_samples

    inp = meta["input"]
    rate, window = float(inp["sample_rate_hz"]), float(inp["window_s"])
    out = []
    for rec in read_recordings(path, fmt=fmt):
        s = [x for x, _, _ in recording_samples(rec.data, rec.t, rec.rate_hz, rate, window, window)]
        if per_rec and len(s) > per_rec:
            s = [s[i] for i in np.linspace(0, len(s) - 1, per_rec).round().astype(int)]
        out.extend(s)
    return out


def run_accel(args, tmp: str) -> dict:
    from edgelite.runtime.accel.io import read_recordings
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.train.accel.train import (
        AccelTrainConfig,
        _tflite_predict,
        train_accel,
    )

    wand = os.path.join(args.shared, "data/accel/magic-wand")
    groups = sorted({r.group for r in read_recordings(wand, fmt="magic-wand")} - {args.test_user})
    out = os.path.join(tmp, "accel")
    cfg = AccelTrainConfig(data=wand, fmt="magic-wand", out=out, epochs=args.epochs, keep_groups=groups, verbose=1,
                           openset_reject=args.reject)
    t0 = time.time()
    rep = _train_or_reuse(args, out, lambda: train_accel(cfg))
    t_train = time.time() - t0
    tfl = os.path.join(out, "model.tflite")
    meta = EdgeModel.open(tfl).metadata
    test = [r for r in read_recordings(wand, fmt="magic-wand") if r.group == args.test_user]
    from edgelite.runtime.accel.windows import recording_samples

    inp = meta["input"]
    xk, yk = [], []
    for r in test:
        for x, _, _ in recording_samples(r.data, r.t, r.rate_hz, inp["sample_rate_hz"], inp["window_s"], inp["window_s"]):
            xk.append(x)
            yk.append(r.label)
    xu = {"Sensor Logger square/triangle": _accel_windows(
              os.path.join(args.shared, "data/accel/sensorlogger-wand/training"), "sensorlogger", meta),
          "UCI walking (20 windows/user)": _accel_windows(
              os.path.join(args.shared, "data/accel/uci-walking/Dataset"), "continuous", meta, per_rec=20)}
    scored = {k: _scored(tfl, v) for k, v in xu.items()}
    unknown = {k: v[0] for k, v in scored.items()}
    p_known, s_known = _scored(tfl, xk)
    s_unknown = None if s_known is None else {k: v[1] for k, v in scored.items()}
    res = evaluate(meta, p_known, yk, unknown, xk, xu, s_known, s_unknown)
    if args.compare_no_final:  # the same CV, but ship fold 1's model: how much does the final fit add?
        import dataclasses

        out1 = os.path.join(tmp, "accel_fold1")
        train_accel(dataclasses.replace(cfg, out=out1, final=False))
        p1 = _tflite_predict(os.path.join(out1, "model.tflite"), xk)
        res["fold1_model_closed_set_top1"] = float(np.mean([meta["labels"][i] == v for i, v in zip(p1.argmax(1), yk)]))
    res.update({"model": "accel magic wand (wing/ring/slope/negative)", "test_user": args.test_user,
                "train_groups": groups, "calibration": meta["openset"]["fitted_on"], "cv_top1": rep["accuracy"],
                "final_fit": rep["final_fit"], "train_seconds": round(t_train)})
    return res


def markdown(results: list[dict], m: dict) -> str:
    lines = [header("Open-set recognition: known vs unknown on held-out signers/users", m, command_line()),
             "Temperature and thresholds are fitted in training on out-of-fold predictions (known classes only; "
             "threshold = the `--reject` quantile of the correct ones' score) and applied by "
             "`edgelite.runtime.core.openset.decide`, the function predict, run accel, run webcam and the API apply. "
             "Shipped methods: the `.tflite`'s own `ood_score` (its `openset` signature, constants baked into the "
             "graph from the training data): `cosine` (accel) = max cosine similarity of the penultimate embedding "
             "to the class prototypes; `mahalanobis` (signs) = minus the smallest Mahalanobis distance of the "
             "frame-pooled stem (input projection) to the class means; `msp` (calibrated max-softmax) is their "
             "fallback for variants without that signature. Known accuracy at the threshold counts a rejected "
             "known sample as wrong. *Oracle*: unknowns rejected at the best threshold costing ≤ 1 pt of known "
             "accuracy, chosen on the test data itself (an upper bound, not deployable).", "",
             "| model | test | n known / unknown | closed top-1 | AUROC raw MSP | AUROC calibrated MSP | AUROC energy "
             "| AUROC calibrated MSP + input range (accel) | **AUROC in-graph score** | method | T | known acc @thr "
             "| drop (pt) | unknown rejected | oracle: rejected at ≤ 1 pt |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        test = r.get("test_signer") or r.get("test_user")
        a = r["auroc"]
        lines.append(f"| {r['model']} | {test} | {r['n_known']} / {sum(r['n_unknown'].values())} | "
                     f"{r['closed_set_top1']:.4f} | {a['msp_raw']:.3f} | {a['msp_calibrated']:.3f} | "
                     f"{a['energy']:.3f} | {a.get('msp_calibrated+input_range', float('nan')):.3f} | "
                     f"**{a.get('in_graph', a.get('cosine_in_graph', float('nan'))):.3f}** | {r.get('method', 'msp')} | "
                     f"{r['temperature']:.3g} | {r['known_accuracy_at_threshold']:.4f} | "
                     f"{r['known_accuracy_drop_pt']:.1f} | {r['unknown_rejected']:.3f} | "
                     f"{r.get('oracle_1pt', float('nan')):.3f} |")
    for r in results:
        if "fold1_model_closed_set_top1" in r:
            lines += ["", f"Final fit vs fold 1's model ({r['model']}, test {r.get('test_user')}): closed-set top-1 "
                          f"{r['closed_set_top1']:.4f} (final fit on all {r['final_fit']['n_train']} training windows, "
                          f"{r['final_fit']['epochs']} epochs) vs {r['fold1_model_closed_set_top1']:.4f} (fold 1's model)."]
    lines += ["", "Per unknown source (AUROC of the calibrated max-softmax / of the shipped method / share rejected "
                  "at the threshold):", ""]
    for r in results:
        for src, v in r["auroc_per_source"].items():
            meth = (r.get("auroc_per_source_method") or {}).get(src)
            lines.append(f"- {r['model']}: {src} ({r['n_unknown'][src]}): AUROC MSP {v:.3f}"
                         + (f", {r.get('method')} {meth:.3f}" if meth is not None else "")
                         + f", rejected {r['unknown_rejected_per_source'][src]:.3f}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["signs", "accel"], default=None)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--size", default="small")
    ap.add_argument("--test-signer", default="TheCamNelson")
    ap.add_argument("--cv-signer", default="Alex", help="signer held out for the calibration fold")
    ap.add_argument("--test-user", default="dengyl")
    ap.add_argument("--compare-no-final", action="store_true",
                    help="accel: also train with final=False and report fold 1's model on the test user")
    ap.add_argument("--background", action="store_true", help="also train signs with 28 letters as 'other'")
    ap.add_argument("--reject", type=float, default=0.05,
                    help="target reject rate of correct out-of-fold known samples (training's --openset-reject)")
    ap.add_argument("--shared", default=None)
    ap.add_argument("--name", default="openset")
    ap.add_argument("--merge", action="store_true", help="replace only the rerun models' rows in the results")
    ap.add_argument("--workdir", default=None, help="keep the trained run folders here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="with --workdir: evaluate the run folders already there")
    args = ap.parse_args(argv)
    from edgelite.runtime.core.paths import shared_dir

    args.shared = args.shared or str(shared_dir())
    m = machine()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.workdir:
            tmp = args.workdir
            os.makedirs(tmp, exist_ok=True)
        if args.only in (None, "accel"):
            results.append(run_accel(args, tmp))
        if args.only in (None, "signs"):
            results.append(run_signs(args, tmp, None))
            if args.background:
                letters = os.path.join(args.shared, "data/mp-data/traduttore/LETTER_Data.tar.xz")
                results.append(run_signs(args, tmp, letters))
    if args.merge:  # keep the other models' rows of an existing results file
        old = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{args.name}.json")
        if os.path.exists(old):
            import json

            new = {r["model"]: r for r in results}
            prev = json.load(open(old, encoding="utf-8"))["results"]
            results = [new.pop(r["model"], r) for r in prev] + list(new.values())
    save(args.name, {"machine": m, "results": results}, markdown(results, m))
    print(markdown(results, m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
