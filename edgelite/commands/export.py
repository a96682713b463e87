"""Write a deploy bundle for a .tflite: model, labels.txt, metadata.json, a minimal example, README.

Targets:
  pi       wheels/ (edgelite built from this project; with --with-wheels also aarch64/cp311 wheels of
           numpy + the runtime, for a Pi without internet), install.sh, run_model.py (20-line example);
           on the Pi: `sh install.sh`, then `edgelite predict MODEL FILE...` (same code as here)
  android  ModelRunner.kt: Interpreter.runSignature with the model's exact input/output names
  ios      ModelRunner.swift: SignatureRunner with the model's exact input/output names
  web      a static site that runs the model in a phone's browser (LiteRT.js wasm; MediaPipe hand
           tracking for sign models), offline from its own files; serve it with `edgelite serve web DIR`.
           Needs TensorFlow and the run's saved_model/ (a fixed-length web variant is re-traced) and the
           pinned npm runtime files (`make web-deps`)

examples:
  edgelite export runs/uci/convert/model_int8-dynamic.tflite --target pi --out bundles/pi
  edgelite export runs/uci/model.tflite --target pi --runtime tflite-runtime --with-wheels --out bundles/pi214
  edgelite export runs/uci/model.tflite --target android --out bundles/android
  edgelite export runs/uci/model.tflite --target web --out sites/uci && edgelite serve web sites/uci --https
"""

from __future__ import annotations

import argparse
import sys

PATH = ("export",)
HELP = "write a deploy bundle (model, labels, metadata, example, README) for pi/android/ios"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.tflite", help="model with edgelite metadata")
    p.add_argument("--target", required=True, choices=["pi", "android", "ios", "web"], help="device kind")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder (created)")
    p.add_argument("--runtime", default="litert", choices=["litert", "tflite-runtime"],
                   help="pi: interpreter package on the device (default litert = ai-edge-litert; "
                        "tflite-runtime = 2.14 with numpy<2); the model is refused if it cannot load there")
    p.add_argument("--with-wheels", action="store_true",
                   help="pi: also download aarch64/cp311 wheels of numpy and the runtime (offline install)")
    configure_web(p)


def configure_web(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("web target")
    g.add_argument("--run", metavar="RUN", help="run folder holding saved_model/ (default: found next to the model)")
    g.add_argument("--web-deps", metavar="DIR", help="npm node_modules with the pinned runtime files "
                   "(default: ~/.cache/edgelite/web/node_modules, filled by `make web-deps`)")
    g.add_argument("--hand-model", metavar="FILE", help="hand_landmarker.task (default: ../shared/models)")
    g.add_argument("--pose-model", metavar="FILE", help="pose_landmarker_full.task, for landmark sets with pose")
    g.add_argument("--sign-frames", type=int, default=192, metavar="T",
                   help="fixed frames per sign in the web variant (default 192 = the segmenter's maximum)")


def run_web(args: argparse.Namespace) -> int:
    from edgelite.convert.web import export_web_site, site_size_mb

    files = export_web_site(args.model, args.out, run_dir=args.run, node_modules=args.web_deps,
                            hand_task=args.hand_model, pose_task=args.pose_model, sign_frames=args.sign_frames)
    print(f"wrote web site to {args.out}: {len(files)} files, {site_size_mb(args.out):.1f} MB")
    print(f"serve it: edgelite serve web {args.out} --https --host 0.0.0.0   (then open it on the phone)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.target == "web":
        return run_web(args)
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
