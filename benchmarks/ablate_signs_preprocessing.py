"""Ablation of the sign preprocessing on asl-signs (2 signs, 21 signers), signer 5-fold, Keras predictions.

Each spec is ``key=value,...`` with ``set`` (landmark set), ``mirror`` (0/1), ``drop`` (drop hand-less
frames, 0/1), ``z`` (use z, 0/1), ``L`` (max_len). Keras on NumPy features equals the ``.tflite``
(parity-tested), so no export is done here. Results are appended to
``benchmarks/results/signs_ablation.jsonl``.

    nice python benchmarks/ablate_signs_preprocessing.py "set=kaggle;set=kaggle,mirror=0" 30 tiny
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main() -> None:
    from edgelite.runtime.core.paths import shared_dir
    from edgelite.runtime.signs.features import SignPreprocessConfig, select_points
    from edgelite.train.signs.train import (SignTrainConfig, _features, inner_split, load_sign_data, signer_folds,
                                           train_fold)

    specs = sys.argv[1].split(";") if len(sys.argv) > 1 else ["set=kaggle"]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    size = sys.argv[3] if len(sys.argv) > 3 else "tiny"
    out = Path(__file__).resolve().parent / "results" / "signs_ablation.jsonl"
    cfg = SignTrainConfig(data=str(shared_dir() / "data" / "asl-signs"), fmt="asl-signs", out="/tmp/edgelite_ablation",
                          epochs=epochs, size=size, verbose=False)
    xs, labels, signers, classes = load_sign_data(cfg)
    cidx = {c: i for i, c in enumerate(classes)}
    y = np.array([cidx[v] for v in labels])
    folds = signer_folds(signers, 5, None, 0)
    for spec in specs:
        kw = dict(kv.split("=") for kv in spec.split(",") if "=" in kv)
        pre = SignPreprocessConfig(landmark_set=kw.get("set", "kaggle"), max_len=int(kw.get("L", 64)),
                                   mirror=kw.get("mirror", "1") == "1", drop_handless=kw.get("drop", "1") == "1",
                                   use_z=kw.get("z", "0") == "1")
        pts = [select_points(x, pre) for x in xs]
        t0 = time.time()
        correct = n = 0
        accs = []
        for k, f in enumerate(folds):
            tr, iv, _ = inner_split(f.train, y, signers, 0.12, k)
            model, _ = train_fold(cfg, pre, classes, pts, y, tr, iv, f"{cfg.out}/ck{k}.weights.h5")
            fv, mv = _features([pts[i] for i in f.val], pre)
            p = model.predict([fv, mv], verbose=0).argmax(1)
            c = int((p == y[f.val]).sum())
            correct += c
            n += len(f.val)
            accs.append(round(c / len(f.val), 3))
        rec = {"spec": spec, "size": size, "epochs": epochs, "accuracy": round(correct / n, 4), "fold_accuracy": accs,
               "n": n, "seconds": round(time.time() - t0)}
        print(json.dumps(rec), flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
