"""Write a deploy bundle for a .tflite: model, labels.txt, metadata.json, a minimal example, README.

Targets:
  pi       wheels/ (edgelite built from this project; with --with-wheels also aarch64/cp311 wheels of
           numpy + the runtime, for a Pi without internet), install.sh, run_model.py (20-line example);
           on the Pi: `sh install.sh`, then `edgelite predict MODEL FILE...` (same code as here)
  android  ModelRunner.kt: Interpreter.runSignature with the model's exact input/output names
  ios      ModelRunner.swift: SignatureRunner with the model's exact input/output names

examples:
  edgelite export runs/uci/convert/model_int8-dynamic.tflite --target pi --out bundles/pi
  edgelite export runs/uci/model.tflite --target pi --runtime tflite-runtime --with-wheels --out bundles/pi214
  edgelite export runs/uci/model.tflite --target android --out bundles/android
"""

from __future__ import annotations

import argparse
import sys

PATH = ("export",)
HELP = "write a deploy bundle (model, labels, metadata, example, README) for pi/android/ios"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.tflite", help="model with edgelite metadata")
    p.add_argument("--target", required=True, choices=["pi", "android", "ios"], help="device kind")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder (created)")
    p.add_argument("--runtime", default="litert", choices=["litert", "tflite-runtime"],
                   help="pi: interpreter package on the device (default litert = ai-edge-litert; "
                        "tflite-runtime = 2.14 with numpy<2); the model is refused if it cannot load there")
    p.add_argument("--with-wheels", action="store_true",
                   help="pi: also download aarch64/cp311 wheels of numpy and the runtime (offline install)")


def run(args: argparse.Namespace) -> int:
    from edgelite.convert.bundle import export_bundle
    from edgelite.runtime.core.errors import EdgeliteError

    if args.target != "pi" and (args.with_wheels or args.runtime != "litert"):
        raise EdgeliteError("--runtime and --with-wheels apply to --target pi only")
    files = export_bundle(args.model, args.target, args.out, runtime=args.runtime, with_wheels=args.with_wheels)
    if args.target == "pi" and args.runtime == "tflite-runtime":
        from edgelite.runtime.core.modelfile import read_metadata

        if (read_metadata(args.model) or {}).get("task") == "signs":
            print("edgelite: warning: tflite-runtime 2.14 on aarch64 gave different outputs than the host for the "
                  "CNN+Transformer sign model in the emulated Pi check (benchmarks/results/pi_check.md); "
                  "prefer --runtime litert for sign models", file=sys.stderr)
    print(f"wrote {args.target} bundle to {args.out}:")
    for f in files:
        print(f"  {f}")
    return 0
