"""Show what is inside a .tflite, without TensorFlow.

Prints the signature(s) with input/output names, dtypes and shapes, the labels and edgelite
metadata (task, input units / sample rate / landmark layout, preprocessing, training summary),
the file size, the op histogram with op versions, a per-tensor quantization summary and a
Flex/custom-op check. `--json` prints one JSON object instead (every quantized tensor listed).

examples:
  edgelite inspect runs/uci/model.tflite
  edgelite inspect runs/uci/convert/model_int8.tflite --json
"""

from __future__ import annotations

import argparse

PATH = ("inspect",)
HELP = "show signatures, labels, metadata, ops and quantization of a .tflite (no TensorFlow)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.tflite", help="model file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    import json

    from edgelite.convert.inspection import inspect_model, render_text

    d = inspect_model(args.model)
    print(json.dumps(d, indent=2) if args.json else render_text(d))
    return 0
