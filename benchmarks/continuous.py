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

OUT OF VOCABULARY (``--oov``): spotter-only runs (:data:`SPOTTER_RUNS`, default spotter training)
on words without TheCamNelson and without :data:`OOV_WORDS`; held-out streams mixing TheCamNelson's
known signs with unknown stretches (TheCamNelson's :data:`OOV_WORDS`, asl-signs sequences); false
emissions per unknown stretch, in-vocabulary WER and latency with the spotter's reject option on/off.

    python benchmarks/continuous.py --train --epochs 15     # trains missing runs into ~/.cache/edgelite/continuous
    python benchmarks/continuous.py --train-spotter words12-letters-TheCamNelson   # one spotter-only run
    python benchmarks/continuous.py --oov words12-TheCamNelson,words12-letters-TheCamNelson --out-name continuous_oov
    python benchmarks/continuous.py --settings words-TheCamNelson-default --out-name continuous_words-TheCamNelson-default
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
#: Out-of-vocabulary protocol (words, TheCamNelson held out): these 4 words are left out of the
#: vocabulary (never trained on, as signs or as negatives) and are the unknown signs at test time,
#: with the asl-signs sequences (hello/thankyou by 21 other signers, another camera).
OOV_WORDS = ["hello", "thank-you", "large", "water"]
#: Spotter-only runs (``SpotterConfig()`` defaults = what ``edgelite train signs`` trains by default: 12
#: spotter epochs) beside a base run whose ``model.tflite`` serves the BEFORE columns.
#: ``negatives="letters"``: the training signers' letter recordings (LETTER_Data, except ``-`` and the
#: letters that are also vocabulary words, ``a`` and ``i``), stitched in as blank stretches.
SPOTTER_RUNS = {
    "words-TheCamNelson-default": {"base": "words-TheCamNelson", "oov": False, "negatives": None},
    "words12-TheCamNelson": {"base": "words-TheCamNelson", "oov": True, "negatives": None},
    "words12-letters-TheCamNelson": {"base": "words-TheCamNelson", "oov": True, "negatives": "letters"},
    "words12-dmohazab": {"base": "words-dmohazab", "oov": True, "negatives": None},  # validation signer
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


def _sequences(archive: str):
    from edgelite.runtime.signs import io
    from edgelite.train.signs.cache import load_dataset

    samples = io.list_mp_data(os.path.join(TRAD, archive), os.path.join(TRAD, "signers.csv"))
    xs, labels, signers = load_dataset(samples, progress=False, mmap=True)
    return xs, np.asarray(labels).astype(str), np.asarray(signers).astype(str)


def spotter_run_data(name: str):
    """``(training sequences, labels, signers, negatives)`` of the spotter-only run ``name``."""
    spec = SPOTTER_RUNS[name]
    archive, _, signer = SETTINGS[spec["base"]]
    xs, labels, signers = _sequences(archive)
    keep = [i for i in range(len(xs)) if signers[i] not in ("", signer)
            and not (spec["oov"] and labels[i] in OOV_WORDS)]
    neg = []
    if spec["negatives"] == "letters":
        lx, ll, ls = _sequences("LETTER_Data.tar.xz")
        neg = [lx[i] for i in range(len(lx)) if ls[i] not in ("", signer) and ll[i] not in set(labels) | {"-"}]
    return [xs[i] for i in keep], labels[keep], signers[keep], neg


def refit_reject(name: str, runs: str) -> str:
    """Refit ``spotting.reject`` of a spotter-only run with today's ``SpotterConfig`` defaults (no retraining)."""
    from edgelite.runtime.core.modelfile import read_model_info
    from edgelite.train.signs.spotter import SpotterConfig, add_reject

    path = os.path.join(runs, name, "spotter.tflite")
    meta = read_model_info(path).metadata
    meta["spotting"].pop("reject", None)
    xs, labels, _, _ = spotter_run_data(name)
    add_reject(path, xs, labels, SpotterConfig(), meta)
    return path


def train_spotter_run(name: str, runs: str, epochs: int | None) -> str:
    """Train the spotter of ``SPOTTER_RUNS[name]`` on the base setting's training signers → ``runs/name``."""
    from edgelite.train.signs.spotter import SpotterConfig, train_spotter

    spec = SPOTTER_RUNS[name]
    archive, lm, _ = SETTINGS[spec["base"]]
    out = os.path.join(runs, name)
    os.makedirs(out, exist_ok=True)
    xs, labels, signers, neg = spotter_run_data(name)
    cfg = SpotterConfig() if epochs is None else SpotterConfig(epochs=epochs)
    train_spotter(xs, labels, lm, os.path.join(out, "spotter.tflite"), cfg,
                  training={"data": os.path.join(TRAD, archive), "train_signers": sorted(set(signers)),
                            "negatives": spec["negatives"], "oov_words_left_out": OOV_WORDS if spec["oov"] else []},
                  negatives=neg)
    base_model = os.path.join(runs, spec["base"], "model.tflite")
    link = os.path.join(out, "model.tflite")
    if os.path.isfile(base_model) and not os.path.exists(link):
        os.symlink(base_model, link)
    return out


def oov_sequences(signer: str) -> tuple[list[np.ndarray], list[str]]:
    """Unknown signs for the test: ``signer``'s sequences of :data:`OOV_WORDS` and all asl-signs
    sequences (labels ``asl-signs:<sign>``)."""
    from edgelite.runtime.signs import io
    from edgelite.train.signs.cache import load_dataset

    xs, labels, signers = _sequences(SETTINGS["words-TheCamNelson"][0])
    keep = [i for i in range(len(xs)) if signers[i] == signer and labels[i] in OOV_WORDS]
    ax, al, _ = load_dataset(io.list_asl_signs(os.path.join(SHARED, "data", "asl-signs")), progress=False, mmap=True)
    return [xs[i] for i in keep] + list(ax), [str(labels[i]) for i in keep] + [f"asl-signs:{v}" for v in al]


def attribute(stream, sign) -> int | None:
    """Index of the reference segment (sign or out-of-vocabulary stretch) an emission overlaps most (None: none)."""
    ov = [min(sign.end_index + 1, e) - max(sign.start_index, b) for _, b, e in stream.segments]
    k = int(np.argmax(ov)) if ov else -1
    return k if k >= 0 and ov[k] > 0 else None


def oov_score(streams, outs, known: set[str], fps: float) -> dict:
    """In-vocabulary WER/latency (OOV false emissions count as insertions) and the share of OOV stretches
    that produce a known label (per source: traduttore words, asl-signs)."""
    from edgelite.train.signs.stitch import is_oov

    hyps = [[(o.label, o.t_emit) for o in out if o.label in known] for out in outs]
    ref_streams = [type(s)(s.frames, [g for g in s.segments if not is_oov(g[0])]) for s in streams]
    r = score(ref_streams, hyps, fps)
    stretches = {"all": [0, 0], "traduttore words": [0, 0], "asl-signs": [0, 0]}
    unknown = 0
    for s, out in zip(streams, outs):
        hit = {attribute(s, o) for o in out if o.label in known}
        own = [attribute(s, o) for o in out if o.label not in known]
        unknown += sum(1 for k in own if k is not None and is_oov(s.segments[k][0]))
        for k, (lab, _, _) in enumerate(s.segments):
            if is_oov(lab):
                for src in ("all", "asl-signs" if "asl-signs:" in lab else "traduttore words"):
                    stretches[src][0] += k in hit
                    stretches[src][1] += 1
    r["oov_stretches"] = {k: v[1] for k, v in stretches.items()}
    r["false_emission_share"] = {k: (v[0] / v[1] if v[1] else None) for k, v in stretches.items()}
    r["unknown_emissions_on_oov"] = unknown
    return r


def evaluate_oov(name: str, run: str, args) -> dict:
    """Mixed streams (held-out signer's known signs + unknown stretches, ``--oov-rate`` of the slots) and
    plain in-vocabulary streams, each with the reject option on and off."""
    from edgelite.runtime.signs.spotting import Spotter, SpotterOptions, spot_frames
    from edgelite.train.signs import stitch as st

    sp_path = os.path.join(run, "spotter.tflite")
    signer = SETTINGS[SPOTTER_RUNS[name]["base"]][2]
    spotters = {"on": Spotter.create_from_model_path(sp_path, SpotterOptions(unknown_label="unknown"), num_threads=1),
                "off": Spotter.create_from_model_path(sp_path, SpotterOptions(openset=False), num_threads=1)}
    known = [c for c in spotters["on"].labels if c != "-"]
    xs, labels = held_out(SPOTTER_RUNS[name]["base"], known)
    ox, ol = oov_sequences(signer)
    res = {"run": run, "reject": spotters["on"].options.min_mean, "meta_reject": None, "classes": known,
           "oov_words": OOV_WORDS, "n_oov_sequences": len(ox), "rows": {}}
    from edgelite.runtime.core.modelfile import read_model_info

    meta = read_model_info(sp_path).metadata
    res["meta_reject"] = meta["spotting"].get("reject")
    res["training"] = {k: meta["training"].get(k) for k in ("negatives", "n_negative_sequences", "train_signers",
                                                           "oov_words_left_out", "seconds")}
    res["training"]["epochs"] = meta["training"]["spotter"]["epochs"]
    for gname, opt in (("back-to-back", st.BACK_TO_BACK), ("idle gaps", st.IDLE_GAPS)):
        mixed = st.make_streams(xs, labels, args.streams, args.signs, args.seed, opt, negatives=ox,
                                negative_labels=ol, negative_rate=args.oov_rate)
        plain = st.make_streams(xs, labels, args.streams, args.signs, args.seed, opt)
        runs = {}
        for rej, sp in spotters.items():
            runs[rej] = ([spot_frames(sp, s.frames, args.fps) for s in mixed],
                         [spot_frames(sp, s.frames, args.fps) for s in plain])
            row = oov_score(mixed, runs[rej][0], set(known), args.fps)
            row["plain_wer"] = score(plain, [[(o.label, o.t_emit) for o in out if o.label in known]
                                             for out in runs[rej][1]], args.fps)["wer"]
            res["rows"][f"{gname}/reject {rej}"] = row
            fe = row["false_emission_share"]
            print(f"{name:30s} {gname:13s} reject {rej:3s} WER {row['wer']:.3f} plain {row['plain_wer']:.3f} "
                  f"false/OOV {fe['all']:.3f} (words {fe['traduttore words']}, asl {fe['asl-signs']}) "
                  f"p95 {row['latency_p95_s']}", file=sys.stderr, flush=True)
        res.setdefault("sweep", {})[gname] = reject_sweep(mixed, plain, *runs["off"], set(known), args.fps,
                                                          getattr(args, "sweep", SWEEP))
    return res


SWEEP = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def reject_sweep(mixed, plain, out_mixed, out_plain, known: set[str], fps: float, thresholds=SWEEP) -> dict:
    """Other thresholds on the reject-off emissions: dropping those with ``mean < thr`` after decoding is
    exactly what ``SpotterOptions(min_mean=thr)`` does (the test comes after NMS and affects no other candidate)."""
    def cut(outs, thr):
        return [[o for o in out if o.mean >= thr] for out in outs]

    res = {}
    for thr in thresholds:
        r = oov_score(mixed, cut(out_mixed, thr), known, fps)
        pw = score(plain, [[(o.label, o.t_emit) for o in out if o.label in known] for out in cut(out_plain, thr)], fps)
        res[f"{thr:.3f}"] = {"false_emission_share": r["false_emission_share"]["all"], "wer": r["wer"],
                             "plain_wer": pw["wer"]}
    return res


def plain_wer_by_threshold(setting: str, run: str, args, thresholds) -> dict:
    """In-vocabulary WER of ``run``'s spotter (reject off, then ``mean >= t``) on the main benchmark's streams."""
    from edgelite.runtime.signs.spotting import Spotter, SpotterOptions, spot_frames

    sp = Spotter.create_from_model_path(os.path.join(run, "spotter.tflite"), SpotterOptions(openset=False))
    known = [c for c in sp.labels if c != "-"]
    xs, labels = held_out(setting, known)
    streams, _ = make_eval_streams(setting, xs, labels, args.streams, args.signs, args.seed)
    outs = {g: [spot_frames(sp, s.frames, args.fps) for s in ss] for g, ss in streams.items()}
    return {f"{t:.3f}": {g: score(streams[g], [[(o.label, o.t_emit) for o in out if o.mean >= t] for out in outs[g]],
                                  args.fps)["wer"] for g in outs} for t in thresholds}


def select_target_keep(name: str, run: str, args) -> dict:
    """Choose the reject cap (``SpotterConfig.reject_cap``) on a *validation* signer (run ``name``, e.g.
    dmohazab held out): the threshold minimising the mean mixed-stream WER (known signs; a known label
    on an unknown stretch is an insertion) over both gap kinds; also the share of the run's
    training-signer calibration emissions it keeps, and the plain WER of the 16-word run of that signer."""
    from edgelite.runtime.core.modelfile import read_model_info
    from edgelite.train.signs.spotter import SpotterConfig, calibration_emissions

    sp_path = os.path.join(run, "spotter.tflite")
    xs, labels, _, _ = spotter_run_data(name)
    means, _ = calibration_emissions(sp_path, xs, labels, SpotterConfig(verbose=False))
    args.sweep = tuple(np.round(np.arange(0.5, 0.951, 0.025), 3))
    res = evaluate_oov(name, run, args)
    grid = {t: np.mean([res["sweep"][g][f"{t:.3f}"]["wer"] for g in res["sweep"]]) for t in args.sweep}
    best = min(grid, key=lambda t: (grid[t], -t))
    keep = float(np.mean(means >= best))
    res["selection"] = {"mean_mixed_wer_by_threshold": {f"{t:.3f}": float(v) for t, v in grid.items()},
                        "best_threshold": float(best), "target_keep": keep, "n_calibration": len(means),
                        "meta_reject": read_model_info(sp_path).metadata["spotting"].get("reject")}
    base = SPOTTER_RUNS[name]["base"]
    res["selection"]["plain_wer_16_words_by_threshold"] = plain_wer_by_threshold(
        base, os.path.join(args.runs, base), args, (0.0, 0.7, 0.75, 0.8, 0.85, 0.875))
    print(f"{name}: best threshold {best:.3f} (mean mixed WER {grid[best]:.3f}) keeps {keep:.3f} of the "
          f"training-signer calibration emissions", file=sys.stderr, flush=True)
    return res


def evaluate(setting: str, run: str, args) -> dict:
    from edgelite.runtime.signs.spotting import Spotter, SpotterOptions

    sp_path = os.path.join(run, "spotter.tflite")
    spotter = Spotter.create_from_model_path(sp_path, SpotterOptions(), num_threads=1)
    known = [c for c in spotter.labels if c != "-"]
    base = SPOTTER_RUNS.get(setting, {}).get("base", setting)
    xs, labels = held_out(base, known)
    streams, gap_kind = make_eval_streams(base, xs, labels, args.streams, args.signs, args.seed)
    res = {"run": run, "command": bench_common.command_line(), "idle_gap_kind": gap_kind, "classes": known,
           "n_held_out_sequences": len(xs), "modes": {}, "base": base,
           "spotter_epochs": spotter.model.metadata["training"]["spotter"]["epochs"],
           "reject_threshold": spotter.options.min_mean}
    skip = {"-", "unknown"}
    from edgelite.runtime.signs.classifier import SignClassifier

    clf = SignClassifier(os.path.join(run, "model.tflite"), num_threads=1)
    methods = ("segment", "sliding", "spotter") + (("spotter-no-reject",) if spotter.options.min_mean is not None else ())
    plain = Spotter.create_from_model_path(sp_path, SpotterOptions(openset=False), num_threads=1)
    for gname, ss in streams.items():
        for method in methods:
            t0 = time.time()
            if method.startswith("spotter"):
                hyps = [run_spotter(spotter if method == "spotter" else plain, s.frames, args.fps, skip) for s in ss]
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
             "| setting | gaps | segment WER | sliding WER | **spotter WER** | spotter WER, reject off | "
             "spotter latency p50 / p95 (s) | segment latency p50 / p95 (s) | sliding latency p50 / p95 (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for setting, r in results.items():
        for g in ("back-to-back", "idle gaps"):
            md = {k: r["modes"][f"{g}/{k}"] for k in ("segment", "sliding", "spotter")}
            nr = r["modes"].get(f"{g}/spotter-no-reject")
            lines.append(f"| {setting} | {g} | {md['segment']['wer']:.3f} | {md['sliding']['wer']:.3f} | "
                         f"**{md['spotter']['wer']:.3f}** | {'(no reject)' if nr is None else format(nr['wer'], '.3f')} | "
                         f"{_f(md['spotter']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['spotter']['latency_p95_s'], '{:.2f}')} | {_f(md['segment']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['segment']['latency_p95_s'], '{:.2f}')} | {_f(md['sliding']['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(md['sliding']['latency_p95_s'], '{:.2f}')} |")
    lines += ["", "| setting | idle gaps made of | spotter CPU ms / frame (1 thread) | classifier CPU ms / call (20 frames) |",
              "|---|---|---|---|"]
    for setting, r in results.items():
        lines.append(f"| {setting} | {r['idle_gap_kind']} | {r['cost_ms_per_frame_spotter']:.3f} | "
                     f"{r['cost_ms_per_call_classifier_20_frames']:.3f} |")
    lines += ["", "Runs (`model.tflite` and `spotter.tflite` from one `edgelite train signs` run with `--epochs 6` "
              "(spotter: min(epochs, 12) = 6 epochs, no reject threshold: those spotters predate it), except "
              "the `-default` rows: a spotter-only run with the default spotter training (12 epochs, reject "
              "threshold fitted, applied) beside the same `model.tflite` (BEFORE columns = the 6-epoch classifier):", ""]
    for setting, r in results.items():
        archive, lm, signer = SETTINGS[r.get("base", setting)]
        ep = r.get("spotter_epochs", 6)
        thr = r.get("reject_threshold")
        what = f"spotter {ep} epochs" + (f", reject threshold {thr:.3f} applied" if thr is not None else ", no reject")
        if setting in SPOTTER_RUNS:
            lines.append(f"- {setting} ({what}): `python benchmarks/continuous.py --train-spotter {setting}` "
                         f"then `--refit-reject {setting}` (today's threshold rule, no retraining); "
                         f"evaluated by `{r.get('command', '')}`")
            continue
        lines.append(f"- {setting} ({what}): `edgelite train signs --data ../shared/data/mp-data/traduttore/{archive} --format mp-data "
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


def oov_markdown(results: dict, m: dict, args) -> str:
    lines = [bench_common.header("Continuous signing: out-of-vocabulary stretches (reject option)", m,
                                 bench_common.command_line()),
             f"Held-out signer TheCamNelson. Vocabulary: the 16 traduttore words minus {', '.join(OOV_WORDS)} "
             f"(words12 runs; `words-TheCamNelson-default` knows all 16). Mixed streams: {args.streams} streams × "
             f"{args.signs} slots, each slot an unknown sign with probability {args.oov_rate} (TheCamNelson's "
             f"{', '.join(OOV_WORDS)} and the 210 asl-signs hello/thankyou sequences of 21 other signers), "
             f"else one of TheCamNelson's known signs; seed {args.seed}, {args.fps:g} fps. "
             "**False emissions / OOV stretch** = share of unknown stretches to which a known label is "
             "attributed (an emission belongs to the reference segment it overlaps most). **WER** = edit "
             "distance of the known emissions to the known reference (a known label on an unknown stretch is "
             "an insertion). **plain WER** = the same streams' settings without unknown signs. Reject on = "
             "the spotter's `spotting.reject` threshold (its metadata, see runtime/signs/spotting.py); "
             "rejected candidates are emitted as `unknown` here, and never count as a known label.", "",
             "| run | OOV negatives in training | spotter epochs | gaps | reject | false emissions / OOV stretch "
             "(all / traduttore words / asl-signs) | `unknown` on OOV | WER (mixed) | plain WER | latency p50 / p95 (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        tr = r["training"]
        neg = f"{tr.get('negatives')} ({tr.get('n_negative_sequences')})" if tr.get("negatives") else "none"
        for key, row in r["rows"].items():
            g, rej = key.split("/")
            fe, n = row["false_emission_share"], row["oov_stretches"]
            thr = f" ({r['reject']:.3f})" if rej.endswith("on") and r["reject"] is not None else ""
            lines.append(f"| {name} | {neg} | {tr['epochs']} | {g} | {rej.split()[-1]}{thr} | "
                         f"**{_f(fe['all'])}** of {n['all']} / {_f(fe['traduttore words'])} of {n['traduttore words']} / "
                         f"{_f(fe['asl-signs'])} of {n['asl-signs']} | {row['unknown_emissions_on_oov']} | "
                         f"{row['wer']:.3f} | {row['plain_wer']:.3f} | {_f(row['latency_p50_s'], '{:.2f}')} / "
                         f"{_f(row['latency_p95_s'], '{:.2f}')} |")
    lines += ["", "Other reject thresholds (`SpotterOptions(min_mean=…)`), measured on the same held-out streams "
              "(a trade-off curve, not used to pick the shipped threshold): false emissions / OOV stretch, "
              "WER (mixed), plain WER:", "",
              "| run | gaps | " + " | ".join(f"min_mean {t:.2f}" for t in SWEEP) + " |",
              "|---|---|" + "---|" * len(SWEEP)]
    for name, r in results.items():
        for g, sw in r.get("sweep", {}).items():
            lines.append(f"| {name} | {g} | " + " | ".join(
                f"{v['false_emission_share']:.3f} / {v['wer']:.3f} / {v['plain_wer']:.3f}" for v in sw.values()) + " |")
    lines += ["", "Reject thresholds (fitted at training time on training-signer streams, stored in the spotter):", ""]
    for name, r in results.items():
        mr = r["meta_reject"] or {}
        lines.append(f"- {name}: threshold {mr.get('threshold')} on the candidate mean = min(cap {mr.get('cap')}, "
                     f"{mr.get('quantile_threshold')}: the {1 - float(mr.get('target_keep', 1)):.2f} quantile of "
                     f"{mr.get('n')} correct emissions on {mr.get('fitted_on')}); quantiles {mr.get('quantiles')}; "
                     f"spotter trained in {r['training'].get('seconds')} s")
    lines += ["", "Runs: `python benchmarks/continuous.py --train-spotter NAME` then `--refit-reject NAME` "
              "(spotter only, `SpotterConfig()` "
              "defaults = what `edgelite train signs` trains by default, on the training signers Alex + dmohazab); "
              "negatives: LETTER_Data letters of the training signers except `-`, `a`, `i` (disjoint from the "
              "unknown signs of the test).", ""]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=os.path.join(os.path.expanduser("~"), ".cache", "edgelite", "continuous"),
                    help="folder of run folders, one per setting")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated settings (also the spotter-only runs: " + ", ".join(SPOTTER_RUNS) + ")")
    ap.add_argument("--train", action="store_true", help="train missing runs with edgelite train signs")
    ap.add_argument("--epochs", type=int, default=15, help="epochs for --train")
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--signs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out-name", default="continuous")
    ap.add_argument("--train-spotter", default=None, metavar="NAME",
                    help=f"train one spotter-only run ({', '.join(SPOTTER_RUNS)}) into --runs and exit")
    ap.add_argument("--oov", default=None, metavar="NAMES",
                    help=f"out-of-vocabulary evaluation of spotter-only runs (comma-separated: {', '.join(SPOTTER_RUNS)})"
                         "; saved as --out-name")
    ap.add_argument("--oov-rate", type=float, default=0.3, help="--oov: share of sign slots that are unknown signs")
    ap.add_argument("--select-keep", default=None, metavar="NAME",
                    help="choose the reject target_keep on a validation-signer spotter-only run (e.g. words12-dmohazab)")
    ap.add_argument("--refit-reject", default=None, metavar="NAMES",
                    help="refit the reject threshold of spotter-only runs with the current SpotterConfig defaults")
    ap.add_argument("--spotter-epochs", type=int, default=None, help="--train-spotter: epochs (default: SpotterConfig's)")
    ap.add_argument("--combine", default=None, metavar="NAMES",
                    help="merge saved results (comma-separated result names, e.g. settings run in parallel) and exit")
    return ap


def _ensure_spotter(name: str, run: str, args) -> bool:
    """Train the run's spotter when it is missing and ``--train`` allows it; False (with a message) otherwise."""
    if os.path.isfile(os.path.join(run, "spotter.tflite")):
        return True
    if not args.train:
        print(f"{run}: no spotter.tflite (use --train)", file=sys.stderr)
        return False
    if name in SPOTTER_RUNS:
        train_spotter_run(name, args.runs, args.spotter_epochs)
    else:
        train_run(name, run, args.epochs)
    return True


def _select_keep(args, m: dict) -> int:
    """``--select-keep``: the reject threshold chosen on a validation-signer run, saved as ``--out-name``."""
    name = args.select_keep
    v = select_target_keep(name, os.path.join(args.runs, name), args)
    data = {"machine": m, "args": {k: (list(x) if isinstance(x, tuple) else x) for k, x in vars(args).items()},
            "command": bench_common.command_line(), "validation": v}
    sel = v["selection"]
    base = SPOTTER_RUNS[name]["base"]
    md = (bench_common.header("Continuous signing: reject threshold chosen on a validation signer", m,
                              bench_common.command_line())
          + f"Run {name} (validation signer; never the test signer). Mean mixed-stream WER (back to back and "
            f"idle gaps) by threshold: " + ", ".join(f"{t}: {w:.3f}" for t, w in
                                                    sel["mean_mixed_wer_by_threshold"].items())
          + f"\n\nBest threshold **{sel['best_threshold']:.3f}** (it keeps {sel['target_keep']:.3f} of the "
            f"{sel['n_calibration']} correct emissions on this run's training-signer calibration streams). "
            "A share like this does not transfer between models (on the 16-word dmohazab-held-out spotter the "
            "same share means a threshold of 0.852: back-to-back WER 0.041 → 0.159, below), so the absolute value "
            "became the cap: every spotter's threshold is min(`SpotterConfig.reject_cap` = 0.80, the 2 % "
            "quantile of its training-signer correct emissions).\n\nIn-vocabulary WER of the 16-word "
            f"{base} run (6-epoch spotter, {args.streams} streams × {args.signs} signs) by threshold "
            "(back to back / idle gaps): " + ", ".join(
                f"{t}: {v['back-to-back']:.3f} / {v['idle gaps']:.3f}"
                for t, v in sel["plain_wer_16_words_by_threshold"].items()) + "\n")
    print("\n".join(bench_common.save(args.out_name, data, md)))
    return 0


def _oov(args, m: dict) -> int:
    """``--oov``: out-of-vocabulary evaluation of spotter-only runs."""
    results = {}
    for name in [n for n in args.oov.split(",") if n]:
        run = os.path.join(args.runs, name)
        if not _ensure_spotter(name, run, args):
            return 2
        results[name] = evaluate_oov(name, run, args)
    data = {"machine": m, "args": vars(args), "oov_results": results, "command": bench_common.command_line()}
    print("\n".join(bench_common.save(args.out_name, data, oov_markdown(results, m, args))))
    return 0


def _combine(args) -> int:
    """``--combine``: merge saved result files into one table."""
    import json

    results = {}
    parts = [json.load(open(os.path.join(bench_common.RESULTS, f"{n}.json"), encoding="utf-8"))
             for n in args.combine.split(",") if n]
    for p in parts:
        results.update(p["results"])
    args = argparse.Namespace(**{**parts[0]["args"], "combine": args.combine, "out_name": args.out_name})
    data = {"machine": parts[0]["machine"], "args": vars(args), "results": results,
            "commands": [p.get("command") for p in parts]}
    print("\n".join(bench_common.save(args.out_name, data, markdown(results, parts[0]["machine"], args))))
    return 0


def _settings(args, m: dict) -> int:
    """The WER/latency table of ``--settings`` (training missing runs with ``--train``)."""
    results = {}
    for setting in [s for s in args.settings.split(",") if s]:
        run = os.path.join(args.runs, setting)
        if not _ensure_spotter(setting, run, args):
            return 2
        results[setting] = evaluate(setting, run, args)
    data = {"machine": m, "args": vars(args), "results": results, "command": bench_common.command_line()}
    print("\n".join(bench_common.save(args.out_name, data, markdown(results, m, args))))
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.refit_reject:
        for name in [n for n in args.refit_reject.split(",") if n]:
            print(refit_reject(name, args.runs))
        return 0
    if args.train_spotter:
        print(train_spotter_run(args.train_spotter, args.runs, args.spotter_epochs))
        return 0
    if args.combine and not (args.select_keep or args.oov):
        return _combine(args)
    m = bench_common.machine()
    if args.select_keep:
        return _select_keep(args, m)
    if args.oov:
        return _oov(args, m)
    return _settings(args, m)


if __name__ == "__main__":
    sys.exit(main())
