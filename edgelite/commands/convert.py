"""Convert a trained model into quantized .tflite variants and write a comparison report.

RUN_OR_MODEL is a run folder written by `edgelite train ...` (saved_model/, model.tflite,
metadata.json, eval_data.npz), a SavedModel folder inside one, or a .tflite (fp32 copy only).

Variants (all keep float32 input/output and the `serving_default` signature; the in-graph
preprocessing stays float32 in every variant, selected by its name scope):
  fp32          float32 (TensorFlow converter)
  fp16          float16 network weights
  int8-dynamic  int8 network weights, activations quantized on the fly
  int4-weights  int4 network weights dequantized at load, float activations (ai-edge-litert only:
                tflite-runtime 2.14 has no int4 kernels)
  int8          full-integer network (int8 activations) calibrated on real training inputs
  int16x8       full-integer network with int16 activations, int8 weights
All but fp32 are made by the maintained quantizer (litert-quantizer) from the fp32 model.

Writes DIR/model_<variant>.tflite (edgelite metadata + standard TFLite metadata with labels.txt),
DIR/convert.json and DIR/convert.md (size, ops and versions, parity vs TensorFlow on held-out
samples, accuracy, hard-input checks, single-thread latency, the quantizer's per-tensor SNR, and
which runtimes — ai-edge-litert, tflite-runtime 2.14 — load each variant).

examples:
  edgelite convert runs/uci --out runs/uci/convert
  edgelite convert runs/uci --variants fp32,int8 --calibration runs/uci/eval_data.npz --out /tmp/conv
  edgelite convert runs/words --variants fp32,int8-dynamic,int4-weights,int8,int16x8 --out runs/words/convert
  edgelite convert runs/uci --variants fp16 --no-compat --out /tmp/conv
"""

from __future__ import annotations

import argparse

PATH = ("convert",)
HELP = "convert a run into fp32/fp16/int8-dynamic/int4-weights/int8/int16x8 .tflite variants + report"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_OR_MODEL", help="run folder, SavedModel folder or .tflite")
    p.add_argument("--variants", default="fp32,fp16,int8-dynamic,int4-weights,int8,int16x8",
                   help="comma list of fp32,fp16,int8-dynamic,int4-weights,int8,int16x8 (default: all)")
    p.add_argument("--calibration", metavar="DATA", default=None,
                   help=".npz with calib_x_flat/calib_lengths (or x_flat/lengths) of real training inputs "
                        "(default: RUN/eval_data.npz)")
    p.add_argument("--eval-data", metavar="NPZ", default=None,
                   help="held-out x_flat/lengths/y .npz for parity and accuracy (default: RUN/eval_data.npz)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--latency-runs", type=int, default=200, help="calls per latency measurement (default 200)")
    p.add_argument("--max-parity", type=int, default=500, help="held-out samples compared against TensorFlow")
    p.add_argument("--no-compat", action="store_true", help="skip the runtime compatibility loads")
    p.add_argument("--no-build-env", action="store_true",
                   help="do not build the tflite-runtime 2.14 environment if it is missing (report it as skipped)")


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from edgelite.convert.compat import RUNTIMES, LITERT
    from edgelite.convert.pipeline import convert_run
    from edgelite.convert.quantize import parse_variants
    from edgelite.convert.report import render_markdown
    from edgelite.runtime.core.errors import DataError

    try:
        variants = parse_variants(args.variants)
    except DataError as e:
        raise DataError(f"--variants: {e}") from None
    if args.latency_runs < 1:
        raise DataError(f"--latency-runs must be >= 1, got {args.latency_runs}")
    result = convert_run(
        args.source,
        variants,
        args.out,
        calibration=args.calibration,
        eval_data=args.eval_data,
        max_parity=args.max_parity,
        latency_runs=args.latency_runs,
        runtimes=(LITERT,) if args.no_compat else RUNTIMES,
        build_env=not args.no_build_env,
        command="edgelite " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    print(render_markdown(result))
    print(f"wrote {', '.join(result['report_paths'])}")
    if result.get("failed"):
        print(f"edgelite: error: variant(s) failed: {', '.join(result['failed'])} (see convert.md)", file=sys.stderr)
        return 1
    return 0
