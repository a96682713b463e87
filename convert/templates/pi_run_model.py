#!/usr/bin/env python3
"""Run $model_file on a Raspberry Pi (or any Linux/macOS box) with LiteRT — no TensorFlow.

    python3 run_model.py                 # demo input (zeros of $demo_length samples)
    python3 run_model.py input.csv       # numeric CSV, one time step per row
    python3 run_model.py input.npy       # array shaped like the model input, e.g. $input_shape

Needs numpy and one runtime: `pip install ai-edge-litert` (Python >= 3.9, 64-bit OS) or
`pip install tflite-runtime==2.14.0 "numpy<2"` (Python <= 3.11). Model: signature
'$signature', input '$input_name' $input_dtype $input_shape (NaN = missing value),
output '$output_name' ($output_kind), task '$task'.
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        sys.exit("no TFLite runtime: pip install ai-edge-litert (or tflite-runtime==2.14.0 'numpy<2')")

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURE = "$signature"
INPUT_NAME = "$input_name"
OUTPUT_NAME = "$output_name"
INPUT_SHAPE = $input_shape_py  # -1 = any length
DEMO_LENGTH = $demo_length


def load_input(path):
    """[T, ...] float32 from .npy or a numeric CSV (header/non-numeric lines are skipped)."""
    feat = INPUT_SHAPE[1:]
    width = int(np.prod(feat)) if feat else 1
    if path is None:
        return np.zeros([DEMO_LENGTH] + feat, np.float32)
    if path.endswith(".npy"):
        x = np.load(path, allow_pickle=False).astype(np.float32)
    else:
        rows = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                parts = [p.strip() for p in line.replace(";", ",").split(",") if p.strip()]
                try:
                    vals = [float(p) for p in parts]
                except ValueError:
                    continue  # header or a comment line
                if len(vals) < width:
                    sys.exit(f"{path} line {n}: expected at least {width} numbers, got {len(vals)}")
                rows.append(vals[-width:])  # e.g. t,x,y,z -> x,y,z
        if not rows:
            sys.exit(f"{path}: no numeric rows")
        x = np.asarray(rows, np.float32)
    x = x.reshape([-1] + feat)
    if len(x) == 0:
        sys.exit(f"{path}: empty input")
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help=".csv or .npy input (default: demo zeros)")
    ap.add_argument("--model", default=os.path.join(HERE, "$model_file"))
    ap.add_argument("--labels", default=os.path.join(HERE, "labels.txt"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=3)
    args = ap.parse_args()

    with open(args.labels, encoding="utf-8") as f:
        labels = [ln.rstrip("\n") for ln in f if ln.strip()]
    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    runner = interpreter.get_signature_runner(SIGNATURE)
    x = load_input(args.input)
    t0 = time.perf_counter()
    probs = runner(**{INPUT_NAME: x})[OUTPUT_NAME].reshape(-1)
    ms = (time.perf_counter() - t0) * 1e3
    order = np.argsort(-probs)[: args.top]
    print(f"input {list(x.shape)}  ({ms:.2f} ms)")
    for i in order:
        name = labels[i] if i < len(labels) else str(i)
        print(f"{name}\t{probs[i]:.4f}")


if __name__ == "__main__":
    main()
