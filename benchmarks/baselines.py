"""Classical baselines on the project's own data and splits: scikit-learn ExtraTrees (400 trees) vs the network.

Every row uses exactly the samples and leak-free folds the trainers use (``load_accel_data`` /
``load_sign_data`` + ``signer_folds``), pools the held-out predictions of every fold like the
trainers' ``report.json`` and reports accuracy and macro-F1 for two feature sets:

- ``summary``: simple statistics per channel. Accel: mean, sd, min, max, p10/p50/p90 and mean |Δ| of
  x, y, z and |a| on the window the network sees (cleaned, fitted to its length). Signs: per selected
  landmark coordinate the NaN-aware mean, sd, min and max over frames, plus the share of frames with
  each part detected.
- ``raw``: resampled raw samples. Accel: the fitted window ``[n,3]`` flattened. Signs: the selected
  points ``[P,3]`` of 16 evenly resampled frames, flattened (NaN → 0).
- ``normalised`` (signs only): mean, sd, min, max over frames of the network's own per-frame features
  (the NumPy twin of its in-graph preprocessing), so the trees see what the network sees.

The network column is read from run folders when given (``--net ROW=RUN/report.json``), else the
README's landed numbers (source says which). Writes benchmarks/results/baselines.{md,json}.

    python benchmarks/baselines.py                   # all rows (about 10 min on 2 busy cores)
    python benchmarks/baselines.py --only uci,wand   # some rows
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import command_line, header, machine, save

# network numbers the README reports (the .tflite on the same splits; accel rows: this branch's runs)
README_NET = {
    "uci": (0.946, 0.901), "wand": (1.0, 1.0), "shapes-device": (0.93, 0.93), "shapes-recording": (0.96, 0.96),
    "words-TheCamNelson": (0.994, 0.992), "words-dmohazab": (0.760, 0.794), "letters-TheCamNelson": (0.974, 0.974),
    "letters-dmohazab": (0.833, 0.845), "asl": (0.981, 0.981),
}


def _rows(shared: str) -> dict[str, dict]:
    acc = os.path.join(shared, "data/accel")
    tr = os.path.join(shared, "data/mp-data/traduttore")
    words, letters = os.path.join(tr, "MP_Data_16actions.tar.xz"), os.path.join(tr, "LETTER_Data.tar.xz")
    sig = os.path.join(tr, "signers.csv")
    rows = {
        "uci": ("accel", "UCI walking, 18 users", "5 time blocks per user, 1-window gaps",
                dict(data=os.path.join(acc, "uci-walking/Dataset"), fmt="continuous")),
        "wand": ("accel", "Magic wand", "leave-one-user-out", dict(data=os.path.join(acc, "magic-wand"), fmt="magic-wand")),
        "shapes-device": ("accel", "Sensor Logger square/triangle", "leave-one-device-out",
                          dict(data=os.path.join(acc, "sensorlogger-wand/training"), fmt="sensorlogger")),
        "shapes-recording": ("accel", "Sensor Logger square/triangle", "5-fold over recordings",
                             dict(data=os.path.join(acc, "sensorlogger-wand/training"), fmt="sensorlogger", split="recording")),
    }
    for name, path, lm in (("words", words, "hands+pose"), ("letters", letters, "hands")):
        for s in ("TheCamNelson", "dmohazab"):
            rows[f"{name}-{s}"] = ("signs", f"traduttore {name} ({lm})", f"signer {s} held out",
                                   dict(data=path, fmt="mp-data", signers=sig, landmarks=lm, holdout=[s]))
    rows["asl"] = ("signs", "asl-signs 2 signs (kaggle)", "signer 5-fold",
                   dict(data=os.path.join(shared, "data/asl-signs"), fmt="asl-signs", landmarks="kaggle"))
    return {k: dict(zip(("task", "data", "split", "cfg"), v)) for k, v in rows.items()}


# ----------------------------------------------------------------------------------------- features
def accel_features(windows: np.ndarray) -> dict[str, np.ndarray]:
    """``windows [N,n,3]`` → ``{"summary": [N,32], "raw": [N,3n]}``."""
    sig = np.concatenate([windows, np.linalg.norm(windows, axis=-1, keepdims=True)], -1)
    stats = [sig.mean(1), sig.std(1), sig.min(1), sig.max(1), *np.percentile(sig, [10, 50, 90], axis=1),
             np.abs(np.diff(sig, axis=1)).mean(1)]
    return {"summary": np.concatenate(stats, 1), "raw": windows.reshape(len(windows), -1)}


def sign_features(pts: list[np.ndarray], frames: int = 16) -> dict[str, np.ndarray]:
    """Selected points ``[T,P,3]`` per sequence → ``{"summary": [N,4·3P+P], "raw": [N,frames·3P]}``."""
    summ, raw = [], []
    for p in pts:
        p = np.asarray(p, np.float32)
        flat = p.reshape(len(p), -1)
        with np.errstate(all="ignore"), _quiet():
            s = [np.nanmean(flat, 0), np.nanstd(flat, 0), np.nanmin(flat, 0), np.nanmax(flat, 0),
                 np.isfinite(p[..., 0]).mean(0)]
        summ.append(np.nan_to_num(np.concatenate(s)))
        idx = np.minimum((np.arange(frames) * len(p) / frames).astype(int), len(p) - 1)
        raw.append(np.nan_to_num(flat[idx]).reshape(-1))
    return {"summary": np.stack(summ), "raw": np.stack(raw)}


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *a):
        self._w.__exit__(*a)


def load_row(row: dict) -> tuple[dict[str, np.ndarray], np.ndarray, list, list[str]]:
    """``(features by kind, y, folds, classes)`` with the trainer's own samples and folds."""
    if row["task"] == "accel":
        from edgelite.train.accel.train import AccelTrainConfig, load_accel_data

        d = load_accel_data(AccelTrainConfig(out="", verbose=0, **row["cfg"]))
        return accel_features(d.windows), d.y, d.folds, d.classes
    from edgelite.runtime.signs.features import SignPreprocessConfig, select_points
    from edgelite.train.signs.train import SignTrainConfig, load_sign_data, signer_folds

    cfg = SignTrainConfig(out="", verbose=False, **row["cfg"])
    xs, labels, signers, classes = load_sign_data(cfg)
    pre = SignPreprocessConfig(landmark_set=cfg.landmarks, max_len=16)
    cidx = {c: i for i, c in enumerate(classes)}
    y = np.array([cidx[v] for v in labels], np.int64)
    folds = signer_folds(signers, cfg.folds, cfg.holdout or None, cfg.seed)
    pts = [select_points(x, pre) for x in xs]
    feats = sign_features(pts)
    feats["normalised"] = normalised_sign_features(pts, pre)
    return feats, y, folds, classes


def normalised_sign_features(pts: list[np.ndarray], pre) -> np.ndarray:
    """The network's own per-frame features (NumPy twin: NaN-aware normalisation, dominant-hand mirroring,
    motion) at 16 frames → mean, sd, min, max over the valid frames ``[N, 4F]``."""
    from edgelite.runtime.signs.features import batch_features_from_points

    f, m = batch_features_from_points(pts, pre)
    w = m[..., None] > 0
    n = np.maximum(w.sum(1), 1)
    mean = (f * w).sum(1) / n
    sd = np.sqrt(np.maximum(((f - mean[:, None]) ** 2 * w).sum(1) / n, 0))
    big = np.float32(1e9)
    mn = np.where(w, f, big).min(1)
    mx = np.where(w, f, -big).max(1)
    return np.nan_to_num(np.concatenate([mean, sd, np.where(mn == big, 0, mn), np.where(mx == -big, 0, mx)], 1))


def evaluate_trees(feats: np.ndarray, y: np.ndarray, folds: list, classes: list[str], seed: int = 0) -> dict:
    from edgelite.train.report import classification_metrics
    from sklearn.ensemble import ExtraTreesClassifier

    ys, ps, accs = [], [], []
    for f in folds:
        clf = ExtraTreesClassifier(n_estimators=400, n_jobs=1, random_state=seed).fit(feats[f.train], y[f.train])
        p = np.zeros((len(f.val), len(classes)))
        p[:, clf.classes_] = clf.predict_proba(feats[f.val])
        ys.append(y[f.val])
        ps.append(p)
        accs.append(float(np.mean(p.argmax(1) == y[f.val])))
    m = classification_metrics(np.concatenate(ys), np.concatenate(ps), classes)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n_val": m["n"], "fold_accuracy": accs}


def network(name: str, given: dict[str, str]) -> dict:
    if name in given:
        rep = json.load(open(given[name], encoding="utf-8"))
        return {"accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"], "source": given[name]}
    a, f = README_NET[name]
    return {"accuracy": a, "macro_f1": f, "source": "README (landed main)"}


def markdown(res: dict, m: dict) -> str:
    lines = [header("Network vs ExtraTrees (400 trees) on the project's splits", m, command_line()),
             "Same samples and folds as the trainers; held-out predictions of all folds pooled. "
             "Network = the `.tflite` (pooled out-of-fold metrics of its run).", "",
             "| data | split | network acc / F1 | trees summary | trees raw | trees normalised (signs) | best | "
             "network ≥ best tree |", "|---|---|---|---|---|---|---|---|"]
    for name, r in res.items():
        n, t = r["network"], r["trees"]
        cell = (lambda k: f"{t[k]['accuracy']:.3f} / {t[k]['macro_f1']:.3f}" if k in t else "–")
        best = max(v["accuracy"] for v in t.values())
        win = max([("network", n["accuracy"])] + [(f"trees {k}", v["accuracy"]) for k, v in t.items()],
                  key=lambda kv: kv[1])[0]
        lines.append(f"| {r['data']} | {r['split']} | {n['accuracy']:.3f} / {n['macro_f1']:.3f} | {cell('summary')} | "
                     f"{cell('raw')} | {cell('normalised')} | {win} | {'yes' if n['accuracy'] >= best else '**no**'} |")
    lines += ["", "Network sources: " + "; ".join(f"{k}: {r['network']['source']}" for k, r in res.items()), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated rows: " + ", ".join(README_NET))
    ap.add_argument("--net", action="append", default=[], help="ROW=RUN/report.json: network numbers from a run")
    ap.add_argument("--name", default="baselines")
    ap.add_argument("--merge", action="store_true", help="keep the rows of an existing results JSON not rerun")
    args = ap.parse_args(argv)
    from edgelite.runtime.core.paths import shared_dir

    rows = _rows(str(shared_dir()))
    only = [r for r in args.only.split(",") if r] or list(rows)
    given = dict(kv.split("=", 1) for kv in args.net)
    m = machine()
    res = {}
    for name in only:
        row = rows[name]
        t0 = time.time()
        feats, y, folds, classes = load_row(row)
        trees = {kind: evaluate_trees(f, y, folds, classes) for kind, f in feats.items()}
        res[name] = {"data": row["data"], "split": row["split"], "n": len(y), "n_folds": len(folds),
                     "network": network(name, given), "trees": trees, "seconds": round(time.time() - t0, 1)}
        print(f"{name}: summary {trees['summary']['accuracy']:.3f}  raw {trees['raw']['accuracy']:.3f}  "
              f"network {res[name]['network']['accuracy']:.3f}  ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    if args.merge:
        old = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"{args.name}.json")
        if os.path.exists(old):
            prev = json.load(open(old, encoding="utf-8"))["rows"]
            res = {k: res.get(k, prev.get(k)) for k in list(prev) + [k for k in res if k not in prev]}
    save(args.name, {"machine": m, "rows": res}, markdown(res, m))
    print(markdown(res, m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
