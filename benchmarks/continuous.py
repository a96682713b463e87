"""Continuous signing: word error rate and emission latency on stitched streams of held-out signers.

For each setting (dataset + held-out signer) a run folder made by ``edgelite train signs`` holds
``model.tflite`` (isolated-sign classifier) and ``spotter.tflite`` (continuous spotter). Streams:
``--streams`` (20) seeded streams of ``--signs`` (8) signs of the held-out signer only, back to back
and with idle gaps (the held-out signer's idle ``"-"`` recordings, or hands-out-of-view gaps of
15–20 frames when that signer has none). Letters: words spelled letter by letter.

BEFORE: today's runtime ``Recognizer`` (segment and sliding modes, default options) on
``model.tflite``. AFTER: ``Spotter`` on ``spotter.tflite``. WER = edit distance / reference length
(summed over streams). Latency = stream time from a sign's last frame to the frame whose arrival
emitted it (matched signs only), at ``--fps``. Cost: CPU time per fed frame at 1 thread.

    python benchmarks/continuous.py --train --epochs 15     # trains missing runs into ~/.cache/edgelite/continuous
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common

SHARED = os.environ.get("EDGELITE_SHARED", os.path.join(bench_common.repo_root(), "..", "shared"))
TRAD = os.path.join(SHARED, "data", "mp-data", "traduttore")
SETTINGS = {
    "words-TheCamNelson": ("MP_Data_16actions.tar.xz", "hands+pose", "TheCamNelson"),
    "words-dmohazab": ("MP_Data_16actions.tar.xz", "hands+pose", "dmohazab"),
    "letters-TheCamNelson": ("LETTER_Data.tar.xz", "hands", "TheCamNelson"),
}
WORDS = ["cab", "bed", "fig", "jump", "quiz", "vex", "wok", "hymn", "glow", "sky", "zip", "fox", "tune",
         "lamp", "drop", "king", "wave", "yard", "mix", "help", "code", "band", "jolt", "puck"]


def edit_ops(ref: list[str], hyp: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """Levenshtein distance and the matched (ref index, hyp index) pairs of one optimal alignment."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    i, j, pairs = n, m, []
    while i > 0 and j > 0:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] == hyp[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(d[n, m]), pairs[::-1]


def run_recognizer(clf, mode: str, frames: np.ndarray, fps: float, skip: set[str]):
    """BEFORE: today's Recognizer (default options) with ``clf`` (a SignClassifier) → ``[(label, t_emit)]``."""
    from edgelite.runtime.signs.recognize import NO_SIGN, Recognizer, RecognizerOptions

    rec = Recognizer(clf, clf.labels, RecognizerOptions(mode=mode))
    out = []
    for i, f in enumerate(frames):
        out += [(r.label, i / fps) for r in rec.update(f, i / fps)]
    out += [(r.label, (len(frames) - 1) / fps) for r in rec.flush()]
    return [(lab, t) for lab, t in out if lab not in skip | {NO_SIGN}]


def run_spotter(spotter, frames: np.ndarray, fps: float, skip: set[str]):
    from edgelite.runtime.signs.spotting import spot_frames

    return [(s.label, s.t_emit) for s in spot_frames(spotter, frames, fps) if s.label not in skip]


def score(streams, hyps, fps: float) -> dict:
    errs = refs = 0
    lat = []
    for s, h in zip(streams, hyps):
        ref = s.labels
        e, pairs = edit_ops(ref, [lab for lab, _ in h])
        errs += e
        refs += len(ref)
        lat += [h[j][1] - (s.segments[i][2] - 1) / fps for i, j in pairs]
    la = np.asarray(lat, float)
    return {"wer": errs / max(refs, 1), "errors": errs, "ref": refs, "matched": len(lat),
            "latency_p50_s": float(np.percentile(la, 50)) if len(la) else None,
            "latency_p95_s": float(np.percentile(la, 95)) if len(la) else None,
            "latency_max_s": float(la.max()) if len(la) else None}


def held_out(setting: str, known: list[str]):
    from edgelite.runtime.signs import io
    from edgelite.train.signs.cache import load_dataset

    archive, _, signer = SETTINGS[setting]
    samples = io.list_mp_data(os.path.join(TRAD, archive), os.path.join(TRAD, "signers.csv"))
    xs, labels, signers = load_dataset(samples, progress=False, mmap=True)  # the training cache, read-only views
    keep = [i for i, (lab, s) in enumerate(zip(labels, signers)) if s == signer and lab in set(known) | {"-"}]
    return [xs[i] for i in keep], labels[keep]


def make_eval_streams(setting: str, xs, labels, n: int, k: int, seed: int):
    from edgelite.train.signs import stitch as st

    has_idle = bool((labels == "-").sum())
    gaps = st.IDLE_GAPS if has_idle else st.NOHANDS_GAPS
    out = {}
    for name, opt in (("back-to-back", st.BACK_TO_BACK), ("idle gaps", gaps)):
        if setting.startswith("letters"):
            out[name] = st.spelled_streams(xs, labels, WORDS, n, k, seed, opt)
        else:
            out[name] = st.make_streams(xs, labels, n, k, seed, opt)
    return out, ("held-out signer's idle recordings" if has_idle else "15–20 frames with hands out of view")


def frame_cost(model_path: str, frames: np.ndarray, spotter: bool) -> float:
    """Process CPU ms per fed frame at 1 thread (spotter: feed(); classifier: one call on 20 frames)."""
    from edgelite.runtime.signs.spotting import Spotter

    if spotter:
        sp = Spotter.create_from_model_path(model_path, num_threads=1)
        for i, f in enumerate(frames[:40]):
            sp.feed(f, i / 30)
        c0 = time.process_time()
        for i, f in enumerate(frames):
            sp.feed(f, i / 30)
        return 1000 * (time.process_time() - c0) / len(frames)
    from edgelite.runtime.core.model import EdgeModel

    m = EdgeModel.open(model_path, num_threads=1)
    m.predict(frames[:20])
    c0 = time.process_time()
    for _ in range(50):
        m.predict(frames[:20])
    return 1000 * (time.process_time() - c0) / 50


def train_run(setting: str, out: str, epochs: int) -> None:
    archive, lm, signer = SETTINGS[setting]
    cmd = [sys.executable, "-m", "edgelite", "train", "signs", "--data", os.path.join(TRAD, archive),
           "--format", "mp-data", "--signers", os.path.join(TRAD, "signers.csv"), "--landmarks", lm,
           "--holdout-signers", signer, "--epochs", str(epochs), "--out", out]
    print(" ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def evaluate(setting: str, run: str, args) -> dict:
    from edgelite.runtime.signs.spotting import Spotter, SpotterOptions

    sp_path = os.path.join(run, "spotter.tflite")
    spotter = Spotter.create_from_model_path(sp_path, SpotterOptions(), num_threads=1)
    known = [c for c in spotter.labels if c != "-"]
    xs, labels = held_out(setting, known)
    streams, gap_kind = make_eval_streams(setting, xs, labels, args.streams, args.signs, args.seed)
    res = {"run": run, "command": bench_common.command_line(), "idle_gap_kind": gap_kind, "classes": known, "n_held_out_sequences": len(xs), "modes": {}}
    skip = {"-", "unknown"}
    from edgelite.runtime.signs.classifier import SignClassifier

    clf = SignClassifier(os.path.join(run, "model.tflite"), num_threads=1)
    for gname, ss in streams.items():
        for method in ("segment", "sliding", "spotter"):
            t0 = time.time()
            if method == "spotter":
                hyps = [run_spotter(spotter, s.frames, args.fps, skip) for s in ss]
            else:
                hyps = [run_recognizer(clf, method, s.frames, args.fps, skip) for s in ss]
            r = score(ss, hyps, args.fps)
            r["seconds"] = round(time.time() - t0, 1)
            r["example"] = {"ref": ss[0].labels, "hyp": [lab for lab, _ in hyps[0]]}
            res["modes"][f"{gname}/{method}"] = r
            print(f"{setting:22s} {gname:13s} {method:8s} WER {r['wer']:.3f}  latency p50 "
                  f"{r['latency_p50_s']}  p95 {r['latency_p95_s']}", file=sys.stderr, flush=True)
    frames = streams["back-to-back"][0].frames
    res["cost_ms_per_frame_spotter"] = frame_cost(sp_path, frames, True)
    res["cost_ms_per_call_classifier_20_frames"] = frame_cost(os.path.join(run, "model.tflite"), frames, False)
    return res


def _f(v, fmt="{:.3f}"):
    return "—" if v is None else fmt.format(v)


def markdown(results: dict, m: dict, args) -> str:
    lines = [bench_common.header("Continuous signing: WER and latency on stitched held-out streams", m,
                                 bench_common.command_line()),
             f"{args.streams} streams × {args.signs} signs per setting and gap kind, seed {args.seed}, {args.fps:g} fps. "
             "BEFORE = runtime `Recognizer` (segment / sliding, default options) on the run's `model.tflite`; "
             "AFTER = `Spotter` on the run's `spotter.tflite`. WER = edit distance / reference length. "
             "Latency = stream time from a sign's last frame to its emission (matched signs).", "",
             "| setting | gaps | segment WER | sliding WER | **spotter WER** | spotter latency p50 / p95 (s) | "
             "segment latency p50 / p95 (s) | sliding latency p50 / p95 (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for setting, r in results.items():
        for g in ("back-to-back", "idle gaps"):
            md = {k: r["modes"][f"{g}/{k}"] for k in ("segment", "sliding", "spotter")}
            lines.append(f"| {setting} | {g} | {md['segment']['wer']:.3f} | {md['sliding']['wer']:.3f} | "
                         f"**{md['spotter']['wer']:.3f}** | {_f(md['spotter']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['spotter']['latency_p95_s'], '{:.2f}')} | {_f(md['segment']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['segment']['latency_p95_s'], '{:.2f}')} | {_f(md['sliding']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['sliding']['latency_p95_s'], '{:.2f}')} |")
    lines += ["", "| setting | idle gaps made of | spotter CPU ms / frame (1 thread) | classifier CPU ms / call (20 frames) |",
              "|---|---|---|---|"]
    for setting, r in results.items():
        lines.append(f"| {setting} | {r['idle_gap_kind']} | {r['cost_ms_per_frame_spotter']:.3f} | "
                     f"{r['cost_ms_per_call_classifier_20_frames']:.3f} |")
    lines += ["", "Runs (one per setting; `model.tflite` and `spotter.tflite` both from one default-flag training, "
              "here with `--epochs 6`):", ""]
    for setting, r in results.items():
        archive, lm, signer = SETTINGS[setting]
        lines.append(f"- {setting}: `edgelite train signs --data ../shared/data/mp-data/traduttore/{archive} --format mp-data "
                     f"--signers ../shared/data/mp-data/traduttore/signers.csv --landmarks {lm} --holdout-signers {signer} "
                     f"--epochs 6 --out {r['run']}`; evaluated by `{r.get('command', '')}`")
    lines += ["", "Notes:", "",
              "- Streams hold only the held-out signer's sequences, of the classes the run was trained on "
              "(words-dmohazab: `i` is dmohazab-only, so it never appears); no sign twice in a row; each stream "
              "starts with 8 and ends with 20 hand-less frames; idle gaps: one idle recording (or hands out of view) "
              "between every two signs; no speed jitter in evaluation streams.",
              "- BEFORE latencies can be negative: a matched emission may come from a window or merged segment "
              "that ends before the sign does; they are listed for completeness, the latency target is the spotter's.",
              "- The spotter runs every 2 frames on a 16-frame window; its cost is the process CPU time of "
              "`Spotter.feed` per frame (model calls amortised), at 1 thread.", ""]
    lines += ["Example (first back-to-back stream of each setting):", ""]
    for setting, r in results.items():
        ex = r["modes"]["back-to-back/spotter"]["example"]
        lines.append(f"- {setting}: ref `{' '.join(ex['ref'])}` → spotter `{' '.join(ex['hyp'])}`")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=os.path.join(os.path.expanduser("~"), ".cache", "edgelite", "continuous"),
                    help="folder of run folders, one per setting")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated settings")
    ap.add_argument("--train", action="store_true", help="train missing runs with edgelite train signs")
    ap.add_argument("--epochs", type=int, default=15, help="epochs for --train")
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--signs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out-name", default="continuous")
    ap.add_argument("--combine", default=None, metavar="NAMES",
                    help="merge saved results (comma-separated result names, e.g. settings run in parallel) and exit")
    args = ap.parse_args(argv)
    m = bench_common.machine()
    results = {}
    if args.combine:
        import json

        parts = [json.load(open(os.path.join(bench_common.RESULTS, f"{n}.json"), encoding="utf-8"))
                 for n in args.combine.split(",") if n]
        for p in parts:
            results.update(p["results"])
        args = argparse.Namespace(**{**parts[0]["args"], "combine": args.combine, "out_name": args.out_name})
        data = {"machine": parts[0]["machine"], "args": vars(args), "results": results,
                "commands": [p.get("command") for p in parts]}
        print("\n".join(bench_common.save(args.out_name, data, markdown(results, parts[0]["machine"], args))))
        return 0
    for setting in [s for s in args.settings.split(",") if s]:
        run = os.path.join(args.runs, setting)
        if not os.path.isfile(os.path.join(run, "spotter.tflite")):
            if not args.train:
                print(f"{run}: no spotter.tflite (use --train)", file=sys.stderr)
                return 2
            train_run(setting, run, args.epochs)
        results[setting] = evaluate(setting, run, args)
    data = {"machine": m, "args": vars(args), "results": results, "command": bench_common.command_line()}
    print("\n".join(bench_common.save(args.out_name, data, markdown(results, m, args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
