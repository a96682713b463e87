"""Write a deploy bundle for a .tflite: model, labels.txt, metadata.json, a minimal example, README.

Targets:
  pi       run_model.py: numpy + ai-edge-litert (or tflite-runtime 2.14) only, no TensorFlow;
           `python3 run_model.py [input.csv|input.npy]` prints the top classes
  android  ModelRunner.kt: Interpreter.runSignature with the model's exact input/output names
  ios      ModelRunner.swift: SignatureRunner with the model's exact input/output names

examples:
  edgelite export runs/uci/convert/model_int8-dynamic.tflite --target pi --out bundles/pi
  edgelite export runs/uci/model.tflite --target android --out bundles/android
"""

from __future__ import annotations

import argparse

PATH = ("export",)
HELP = "write a deploy bundle (model, labels, metadata, example, README) for pi/android/ios"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.tflite", help="model with edgelite metadata")
    p.add_argument("--target", required=True, choices=["pi", "android", "ios"], help="device kind")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder (created)")


def run(args: argparse.Namespace) -> int:
    from edgelite.convert.bundle import export_bundle

    files = export_bundle(args.model, args.target, args.out)
    print(f"wrote {args.target} bundle to {args.out}:")
    for f in files:
        print(f"  {f}")
    return 0
