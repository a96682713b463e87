"""K-shot adaptation to a new signer: `edgelite train signs --init RUN` with k recordings per sign.

Protocol (traduttore words and letters, signer dmohazab held out):

- base model: `edgelite train signs` on the other two signers only (``--holdout-signers dmohazab --no-final``:
  the shipped model never saw dmohazab; early stopping on a random 12 % of its training sequences), trained
  once and cached under ~/.cache/edgelite/kshot/<set>-base (``--base-epochs``).
- k = 1, 3, 5: draw k sequences of each of dmohazab's signs (``--seeds`` random draws), fine-tune the base
  run on them through the same code as the CLI (:func:`edgelite.train.signs.finetune.finetune_sign_arrays`:
  new run folder, exported ``.tflite``), and test that ``.tflite`` on ALL of dmohazab's other sequences
  (never the fine-tune ones). k = 0 = the base run's ``.tflite`` on all of dmohazab's sequences.
- also reported ("other sessions"): the same predictions restricted to test sequences of recording sessions
  (blocks of 30 consecutive sequence numbers of one label, the MP_Data recording script's unit) the draw
  did not touch, a stricter measure since sequences of one session look alike.
- fine-tune wall-clock and process CPU time per run (training only, and the whole run incl. export).

Writes benchmarks/results/kshot.{json,md,png}.

    python benchmarks/kshot.py                                   # words + letters, k 0/1/3/5, 3 seeds
    python benchmarks/kshot.py --sets words --ks 5 --seeds 0 --set-option train=head   # one variant
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import command_line, header, machine, save

SHARED = os.environ.get("EDGELITE_SHARED", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                        "..", "shared"))
TRAD = os.path.join(SHARED, "data", "mp-data", "traduttore")
SETS = {
    "words": {"archive": "MP_Data_16actions.tar.xz", "root": "MP_Data", "landmarks": "hands+pose"},
    "letters": {"archive": "LETTER_Data.tar.xz", "root": "LETTER_Data", "landmarks": "hands"},
}
SIGNER = "dmohazab"
SESSION = 30  # sequences per MP_Data recording session


def cache_root() -> str:
    from edgelite.runtime.core.paths import cache_dir

    return os.path.join(str(cache_dir()), "kshot")


def readable_signers_csv(name: str) -> tuple[str, dict[str, int]]:
    """signers.csv without the sequences that hold no landmark at all (all NaN: nothing was detected; the
    runtime refuses such an input, so they can be neither trained on nor scored), cached; and their count
    per (signer, label)."""
    import csv

    from edgelite.runtime.signs.io import list_mp_data
    from edgelite.train.signs.cache import load_dataset

    s = SETS[name]
    samples = list_mp_data(os.path.join(TRAD, s["archive"]), os.path.join(TRAD, "signers.csv"))
    xs, _, _ = load_dataset(samples, progress=False)
    empty = {tuple(q.name.split("/")) for q, x in zip(samples, xs) if not np.isfinite(x).any()}
    counts: dict[str, int] = {}
    for q, x in zip(samples, xs):
        if not np.isfinite(x).any():
            counts[f"{q.signer}/{q.label}"] = counts.get(f"{q.signer}/{q.label}", 0) + 1
    out = os.path.join(cache_root(), f"signers-{name}.csv")
    os.makedirs(cache_root(), exist_ok=True)
    with open(os.path.join(TRAD, "signers.csv"), newline="", encoding="utf-8") as f, open(out + ".tmp", "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g)
        for i, row in enumerate(r):
            if i == 0 or (row[0], row[1], row[2]) not in empty:
                w.writerow(row)
    os.replace(out + ".tmp", out)
    return out, counts


def base_run(name: str, epochs: int, signers_csv: str, log) -> str:
    """The base run of ``name`` (trained on the signers other than SIGNER), trained once and cached."""
    from edgelite.train.signs.train import SignTrainConfig, train_signs

    out = os.path.join(cache_root(), f"{name}-base")
    if os.path.isfile(os.path.join(out, "model.keras")) and os.path.isfile(os.path.join(out, "report.json")):
        return out
    s = SETS[name]
    log(f"training the {name} base run ({epochs} epochs, {SIGNER} held out) → {out}")
    train_signs(SignTrainConfig(data=os.path.join(TRAD, s["archive"]), fmt="mp-data", out=out, signers=signers_csv,
                                landmarks=s["landmarks"], holdout=[SIGNER], epochs=epochs, final=False,
                                continuous=False, overwrite=True))
    return out


def signer_data(name: str, signers_csv: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """SIGNER's sequences of set ``name`` (those listed in ``signers_csv``): ``(xs [T,543,3], labels, session ids)``."""
    import warnings

    from edgelite.runtime.signs.io import list_mp_data
    from edgelite.train.signs.cache import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the left-out empty sequences have no signer
        samples = [s for s in list_mp_data(os.path.join(TRAD, SETS[name]["archive"]), signers_csv)
                   if s.signer == SIGNER]
    xs, labels, _ = load_dataset(samples, progress=False)
    sess = np.array([f"{s.label}/{int(s.name.rsplit('/', 1)[1]) // SESSION}" for s in samples])
    return list(xs), np.asarray(labels).astype(str), sess


def draw(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k random sequence indices per label (all of a label's sequences when it has fewer than k + 1)."""
    rng = np.random.default_rng(seed)
    out = []
    for c in sorted(set(labels.tolist())):
        idx = np.where(labels == c)[0]
        out.extend(rng.choice(idx, min(k, len(idx) - 1), replace=False).tolist())
    return np.sort(np.array(out, np.int64))


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y)) if len(y) else float("nan")


def run_k(name: str, base, xs, labels, sess, k: int, seed: int, opts: dict, base_pred: np.ndarray, log) -> dict:
    """One draw: fine-tune on k per sign (the CLI's code, a new run folder), test its ``.tflite`` on the rest.
    k = 0: the base ``.tflite`` (``base_pred``: its predicted labels on all of SIGNER's sequences)."""
    from edgelite.train.signs.finetune import SignFinetuneConfig, finetune_sign_arrays
    from edgelite.train.signs.train import tflite_predict

    if k == 0:
        acc = accuracy(base_pred, labels)
        return {"set": name, "k": 0, "seed": seed, "accuracy": acc, "accuracy_other_sessions": acc,
                "n_test": int(len(labels))}
    ft = draw(labels, k, seed)
    test = np.setdiff1d(np.arange(len(xs)), ft)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        cfg = SignFinetuneConfig(init=base.path, data=[f"{SIGNER}: {k} per sign (seed {seed})"], out=out, seed=seed,
                                 verbose=False, **opts)
        t0, c0 = time.time(), time.process_time()
        rep = finetune_sign_arrays(cfg, base, [xs[i] for i in ft], labels[ft])
        total_s, total_cpu = time.time() - t0, time.process_time() - c0
        prob = tflite_predict(os.path.join(out, "model.tflite"), [xs[i] for i in test])
    pred = np.array(rep["classes"])[prob.argmax(1)]
    other = ~np.isin(sess[test], sess[ft])
    res = {"set": name, "k": k, "seed": seed, "accuracy": accuracy(pred, labels[test]),
           "accuracy_other_sessions": accuracy(pred[other], labels[test][other]),
           "base_accuracy_same_test": accuracy(base_pred[test], labels[test]),
           "n_test": int(len(test)), "n_test_other_sessions": int(other.sum()), "n_finetune": int(len(ft)),
           "train_s": rep["fine_tune"]["seconds"], "train_cpu_s": rep["fine_tune"]["cpu_seconds"],
           "total_s": round(total_s, 1), "total_cpu_s": round(total_cpu, 1), "epochs": rep["fine_tune"]["epochs"],
           "steps": rep["fine_tune"]["steps"], "labels_added": rep["fine_tune"]["labels_added"]}
    log(f"{name} k={k} seed={seed}: top-1 {res['accuracy']:.4f} on {len(test)} (other sessions "
        f"{res['accuracy_other_sessions']:.4f} on {int(other.sum())}; base {res['base_accuracy_same_test']:.4f}); "
        f"train {res['train_s']:.0f}s wall / {res['train_cpu_s']:.0f}s CPU, whole run {total_s:.0f}s")
    return res


def run_k_keras(name: str, base, xs, labels, sess, k: int, seed: int, opts: dict, log) -> dict:
    """Exploration: fine-tune (no run folder, no export) and score the Keras model on the rest of the signer."""
    from edgelite.runtime.signs.features import batch_features_from_points, select_points
    from edgelite.train.signs.finetune import SignFinetuneConfig, fit_signs

    ft = draw(labels, k, seed)
    test = np.setdiff1d(np.arange(len(xs)), ft)
    cfg = SignFinetuneConfig(init=base.path, data=[], out="", seed=seed, verbose=False, **opts)
    model, classes, s, pre, _ = fit_signs(cfg, base, [xs[i] for i in ft], labels[ft])
    f, m = batch_features_from_points([select_points(xs[i], pre) for i in test], pre)
    pred = np.array(classes)[model.predict([f, m], verbose=0, batch_size=256).argmax(1)]
    other = ~np.isin(sess[test], sess[ft])
    res = {"set": name, "k": k, "seed": seed, "accuracy": accuracy(pred, labels[test]),
           "accuracy_other_sessions": accuracy(pred[other], labels[test][other]), "n_test": int(len(test)),
           "train_s": s.seconds, "train_cpu_s": s.cpu_seconds, "total_s": s.seconds, "total_cpu_s": s.cpu_seconds}
    log(f"[keras] {name} k={k} seed={seed} {opts}: top-1 {res['accuracy']:.4f} (other sessions "
        f"{res['accuracy_other_sessions']:.4f}); train {s.seconds:.0f}s")
    return res


def summarise(rows: list[dict]) -> list[dict]:
    """Mean ± sd over seeds per (set, k)."""
    out = []
    for name in dict.fromkeys(r["set"] for r in rows):
        for k in sorted({r["k"] for r in rows if r["set"] == name}):
            rs = [r for r in rows if r["set"] == name and r["k"] == k]
            a = np.array([r["accuracy"] for r in rs])
            o = np.array([r["accuracy_other_sessions"] for r in rs])
            no = np.array([r.get("n_test_other_sessions", r["n_test"]) for r in rs])
            ok = np.isfinite(o) & (no > 0)
            sd = (lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
            row = {"set": name, "k": k, "n_draws": len(rs), "accuracy_mean": float(a.mean()), "accuracy_sd": sd(a),
                   # pooled over the draws (a draw may leave only a few untouched sessions)
                   "other_sessions_pooled": float((o[ok] * no[ok]).sum() / no[ok].sum()) if ok.any() else float("nan"),
                   "n_other_sessions": int(no[ok].sum()), "n_test": int(np.mean([r["n_test"] for r in rs]))}
            if k:
                for key in ("train_s", "train_cpu_s", "total_s", "total_cpu_s"):
                    row[key + "_mean"] = float(np.mean([r[key] for r in rs]))
            out.append(row)
    return out


def plot(summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["set"] for r in summary):
        rs = [r for r in summary if r["set"] == name]
        ks = [r["k"] for r in rs]
        ax.errorbar(ks, [r["accuracy_mean"] for r in rs], yerr=[r["accuracy_sd"] for r in rs], marker="o", capsize=3,
                    label=f"{name}: rest of {SIGNER}")
        ko = [r for r in rs if r["n_other_sessions"] >= 100]  # too few untouched sessions otherwise
        ax.plot([r["k"] for r in ko], [r["other_sessions_pooled"] for r in ko], marker="x", linestyle="--", alpha=0.7,
                label=f"{name}: other sessions only (pooled)")
    ax.axhline(0.9, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("k = fine-tune recordings per sign of the new signer")
    ax.set_ylabel("top-1 on the new signer's other sequences")
    ax.set_title(f"Adapting to a new signer ({SIGNER} held out from the base model)", fontsize=10)
    ax.set_xticks(sorted({r["k"] for r in summary}))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(summary: list[dict], rows: list[dict], opts: dict, bases: dict, m: dict) -> str:
    lines = [header("K-shot adaptation to a new signer (`edgelite train signs --init RUN`)", m, command_line()),
             f"Base runs (cached, trained once on the two other signers, {SIGNER} held out): "
             + "; ".join(f"{k}: `{v['path']}` ({v['note']})" for k, v in bases.items()) + ".",
             f"Fine-tune settings: {', '.join(f'{k}={v}' for k, v in opts.items()) or 'the CLI defaults'}. "
             "Every k > 0 row is the mean ± sd over random draws of the k recordings per sign; each draw's new run "
             "folder (exported `.tflite`) is tested on all of the signer's sequences not drawn.", "",
             "Left out everywhere: sequences with no landmark at all (nothing detected in any frame; the runtime "
             "refuses an all-NaN input): " + "; ".join(f"{k}: {v}" for k, v in bases.items() for v in
                                                      [", ".join(f"{a} {b}" for a, b in v["left_out_empty_sequences"].items())]) + ".", "",
             "| set | k | draws | top-1 rest of signer (mean ± sd) | top-1 other sessions only (pooled, n) | test seqs per draw | fine-tune wall / CPU (min) | whole run incl. export (min) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary:
        t = (f"{r['train_s_mean'] / 60:.2f} / {r['train_cpu_s_mean'] / 60:.2f}" if r["k"] else "–")
        w = f"{r['total_s_mean'] / 60:.2f}" if r["k"] else "–"
        lines.append(f"| {r['set']} | {r['k']} | {r['n_draws']} | {r['accuracy_mean']:.3f} ± {r['accuracy_sd']:.3f} | "
                     f"{r['other_sessions_pooled']:.3f} (n {r['n_other_sessions']}) | {r['n_test']} | {t} | {w} |")
    lines += ["", "k = 0 is the base run (no fine-tune). \"other sessions only\": test sequences from recording "
              "sessions (30 consecutive sequence numbers of one label) none of the drawn recordings came from.", "",
              "![accuracy vs k](kshot.png)", ""]
    return "\n".join(lines)


def parse_opts(items: list[str]) -> dict:
    from edgelite.train.signs.finetune import SignFinetuneConfig

    fields = {f.name: f.type for f in dataclasses.fields(SignFinetuneConfig)}
    out = {}
    for it in items:
        k, v = it.split("=", 1)
        if k not in fields:
            raise SystemExit(f"--set-option {k}: not a fine-tune option ({', '.join(fields)})")
        out[k] = {"True": True, "False": False}.get(v, v)
        for cast in (int, float):
            try:
                out[k] = cast(v)
                break
            except ValueError:
                pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="words,letters")
    ap.add_argument("--ks", default="0,1,3,5")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--base-epochs", type=int, default=30)
    ap.add_argument("--set-option", action="append", default=[], help="fine-tune option NAME=VALUE (exploration)")
    ap.add_argument("--name", default="kshot", help="results name (benchmarks/results/NAME.*)")
    ap.add_argument("--merge", help="comma-separated result names to merge into --name (no training)")
    ap.add_argument("--keras-only", action="store_true",
                    help="exploration: score the fine-tuned Keras model (no run folder, no .tflite)")
    args = ap.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.runtime.signs.io import read_sample  # noqa: F401
    from edgelite.train.finetune import load_base_run
    from edgelite.train.signs.train import tflite_predict

    log = lambda s: print(f"[kshot] {s}", file=sys.stderr, flush=True)  # noqa: E731
    m = machine()
    opts = parse_opts(args.set_option)
    if args.merge:
        return merge(args.merge.split(","), args.name, m, log)
    ks = [int(k) for k in args.ks.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, bases = [], {}
    for name in args.sets.split(","):
        csv_path, empty = readable_signers_csv(name)
        path = base_run(name, args.base_epochs, csv_path, log)
        base = load_base_run(path, "signs")
        xs, labels, sess = signer_data(name, csv_path)
        bp = tflite_predict(os.path.join(path, "model.tflite"), xs)
        base_pred = np.array(base.classes)[bp.argmax(1)]
        bases[name] = {"path": path, "note": f"{base.report.get('n_train')} training sequences, "
                       f"{base.report.get('split', {}).get('folds', [{}])[0].get('epochs_run')} epochs run, "
                       f"never trained: {base.never_trained() or 'none'}",
                       "left_out_empty_sequences": empty}
        log(f"{name}: {len(xs)} sequences of {SIGNER}, base top-1 {accuracy(base_pred, labels):.4f}")
        for k in ks:
            for seed in (seeds if k else seeds[:1]):
                if args.keras_only and k:
                    rows.append(run_k_keras(name, base, xs, labels, sess, k, seed, opts, log))
                else:
                    rows.append(run_k(name, base, xs, labels, sess, k, seed, opts, base_pred, log))
                write(args.name, rows, bases, opts, m)  # after every draw: a partial result survives an interruption
    for r in summarise(rows):
        log(f"{r['set']} k={r['k']}: {r['accuracy_mean']:.4f} ± {r['accuracy_sd']:.4f} "
            f"(other sessions {r['other_sessions_pooled']:.4f}, n {r['n_other_sessions']})")
    return 0


def write(name: str, rows: list[dict], bases: dict, opts: dict, m: dict) -> None:
    from bench_common import RESULTS

    summary = summarise(rows)
    data = {"machine": m, "signer": SIGNER, "options": opts, "bases": bases, "summary": summary, "runs": rows}
    os.makedirs(RESULTS, exist_ok=True)
    plot(summary, os.path.join(RESULTS, f"{name}.png"))
    save(name, data, markdown(summary, rows, opts, bases, m))


def merge(names: list[str], name: str, m: dict, log) -> int:
    """One result from several partial ones (e.g. words and letters run as two processes)."""
    import json

    from bench_common import RESULTS

    rows, bases, opts = [], {}, {}
    for n in names:
        with open(os.path.join(RESULTS, f"{n}.json"), encoding="utf-8") as f:
            d = json.load(f)
        rows += d["runs"]
        bases.update(d["bases"])
        opts = d["options"]
        m = d["machine"]
    write(name, rows, bases, opts, m)
    note = ("\nProduced as " + " and ".join(f"`python benchmarks/kshot.py --sets {n.split('_', 1)[-1]} --name {n}`"
                                             for n in names)
            + " (one process per set), then merged by the command above. The letters have few recording sessions "
            "per letter, so their \"other sessions\" figure at k ≥ 3 rests on only ~65 sequences.\n")
    with open(os.path.join(RESULTS, f"{name}.md"), "a", encoding="utf-8") as f:
        f.write(note + exploration_section(rows))
    log(f"merged {', '.join(names)} → {name}")
    return 0


def exploration_section(rows: list[dict]) -> str:
    """How the defaults were chosen: the ``kshot_explore_*`` results (one draw each, Keras model scored)
    next to the default's run on the same draw."""
    import glob
    import json

    from bench_common import RESULTS

    lines = []
    for path in sorted(glob.glob(os.path.join(RESULTS, "kshot_explore_*.json"))):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for r in d["runs"]:
            if r["k"]:
                lines.append(f"| {r['set']} | {r['k']} | {r['seed']} | {d['options']} (Keras model) | "
                             f"{r['accuracy']:.3f} | {r['accuracy_other_sessions']:.3f} | {r['train_cpu_s']:.0f} |")
                same = [q for q in rows if (q["set"], q["k"], q["seed"]) == (r["set"], r["k"], r["seed"])]
                if same and not any("defaults" in ln and ln.startswith(f"| {r['set']} | {r['k']} | {r['seed']} ")
                                    for ln in lines):
                    q = same[0]
                    lines.append(f"| {q['set']} | {q['k']} | {q['seed']} | defaults (.tflite) | {q['accuracy']:.3f} | "
                                 f"{q['accuracy_other_sessions']:.3f} | {q['train_cpu_s']:.0f} |")
    if not lines:
        return ""
    return "\n".join(["", "## How the defaults were chosen", "",
                       "Same draw, one setting changed (`--set-option`, `--keras-only`: the fine-tuned Keras model "
                       "scored without export; the `.tflite` matches it to float precision):", "",
                       "| set | k | seed | setting | top-1 rest | top-1 other sessions | train CPU s |",
                       "|---|---|---|---|---|---|---|", *lines, ""])


if __name__ == "__main__":
    raise SystemExit(main())
