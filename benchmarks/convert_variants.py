"""Convert a real run folder into all variants and save the table to benchmarks/results/.

    python benchmarks/convert_variants.py ../main/runs/uci            # → benchmarks/results/convert_uci.{json,md}
    python benchmarks/convert_variants.py runs/wand --name wand
    python benchmarks/convert_variants.py runs/words --name signs-words --from runs/words/convert --no-baseline
      (--from: save the table of a finished `edgelite convert RUN --out DIR` instead of converting again)

Also converts a *plain* full-int8 model (whole graph quantized, preprocessing included) as a
baseline, to show why edgelite keeps the preprocessing float: it is run on the same held-out
samples and hard inputs, and its failures are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def plain_int8_baseline(run: str) -> dict:
    import tensorflow as tf

    from edgelite.convert.export import converter_from_saved_model
    from edgelite.convert.parity import TFReference, compare, edge_inputs, load_eval_data
    from edgelite.convert.calibration import load_calibration
    from edgelite.runtime.core.model import load_interpreter

    meta = json.load(open(os.path.join(run, "metadata.json")))
    name_in, name_out = meta["input"]["name"], meta["output"]["name"]
    cal = load_calibration(os.path.join(run, "eval_data.npz"))
    conv = converter_from_saved_model(os.path.join(run, "saved_model"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ({name_in: s} for s in cal.samples)
    try:
        data = conv.convert()
    except Exception as e:  # noqa: BLE001 - recorded, this is a baseline
        return {"convert_error": str(e).strip().splitlines()[-1]}
    ev = load_eval_data(os.path.join(run, "eval_data.npz"))
    ref = TFReference(os.path.join(run, "saved_model"), name_in, name_out)
    runner = load_interpreter(data, num_threads=1).get_signature_runner("serving_default")
    out, errors = [], 0
    ref_ok = []
    first_error = None
    for s in ev.samples:
        try:
            out.append(runner(**{name_in: s})[name_out])
            ref_ok.append(ref(s))
        except Exception as e:  # noqa: BLE001
            errors += 1
            first_error = first_error or str(e).strip().splitlines()[0][:200]
    res = {"size_bytes": len(data), "samples": len(ev.samples), "failed_samples": errors, "first_error": first_error}
    if out:
        res["parity_on_samples_that_ran"] = compare(np.stack(ref_ok), np.stack(out))
    edges = {}
    for k, x in edge_inputs(ev.samples[0], int(meta["input"].get("min_samples", 1))).items():
        try:
            y = runner(**{name_in: x})[name_out]
            edges[k] = {"finite": bool(np.isfinite(y).all()), "max_abs_diff_vs_tf": float(np.abs(y - ref(x)).max())}
        except Exception as e:  # noqa: BLE001
            edges[k] = {"error": str(e).strip().splitlines()[0][:200]}
    res["edge_inputs"] = edges
    return res


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--name", default=None)
    ap.add_argument("--variants", default="fp32,fp16,int8-dynamic,int4-weights,int8,int16x8")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--from", dest="from_dir", default=None, help="folder of a finished `edgelite convert` (convert.json)")
    args = ap.parse_args()
    from edgelite.convert.pipeline import convert_run
    from edgelite.convert.quantize import parse_variants
    from edgelite.convert.report import render_markdown, write_report
    from edgelite.runtime.bench.machine import machine_info

    name = args.name or os.path.basename(os.path.normpath(args.run))
    with tempfile.TemporaryDirectory() as tmp:
        if args.from_dir:
            with open(os.path.join(args.from_dir, "convert.json"), encoding="utf-8") as f:
                res = json.load(f)
        else:
            res = convert_run(args.run, parse_variants(args.variants), tmp,
                              command=f"edgelite convert {args.run} --variants {args.variants} --out DIR")
        res.pop("report_paths", None)
        res["machine"] = machine_info()
        if not args.no_baseline:
            res["plain_int8_baseline"] = plain_int8_baseline(args.run)
        out = os.path.join(HERE, "results")
        os.makedirs(out, exist_ok=True)
        write_report(tmp, res)
        md = render_markdown(res)
        if "plain_int8_baseline" in res:
            md += "\n## Baseline: plain full-int8 conversion (preprocessing quantized too)\n\n```json\n" + json.dumps(
                res["plain_int8_baseline"], indent=1) + "\n```\n"
        shutil.copyfile(os.path.join(tmp, "convert.json"), os.path.join(out, f"convert_{name}.json"))
        with open(os.path.join(out, f"convert_{name}.md"), "w", encoding="utf-8") as f:
            f.write(md)
    print(md)
    print(f"saved {out}/convert_{name}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
