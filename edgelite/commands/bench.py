"""Measure the latency of a .tflite with LiteRT, like TFLite's benchmark_model, from Python with real inputs.

For every combination of --threads x --xnnpack x --frames it creates a fresh interpreter and reports
init time, the first call, then (after --warmup calls) per-call latency mean/std/min/p50/p95/p99/max
over --runs calls of the serving_default signature, process CPU ms per call, calls/s, peak RSS, and the
load average (a busy machine inflates wall-clock numbers: the table says so).

Inputs: real samples from --inputs (an .npz with x_flat/lengths such as a run's eval_data.npz; found
automatically next to the model or one folder up), cropped/tiled to each length; --random uses random
inputs of the signature's shape (sign models get the NaN pattern of real landmark data).
--frames applies to models with a dynamic time dimension (default: accel window_samples; sign
models 16,64,256). The JSON (--json OUT) has p50_ms/p95_ms/p99_ms per configuration, the raw
latencies and the machine info.

examples:
  edgelite bench runs/wand/model.tflite
  edgelite bench runs/wand/convert/model_int8.tflite --threads 1,2 --xnnpack on,off --runs 500 --json bench.json
  edgelite bench runs/asl/model.tflite --frames 16,64,256 --random
  edgelite bench --ssh pi@raspberrypi.local runs/wand/model.tflite --threads 1,4 --json pi4.json

--ssh USER@HOST runs the benchmark on a real device (e.g. a Raspberry Pi): it exports the Pi bundle,
copies it with scp into --remote-dir, installs it into a venv there (pip; offline with --with-wheels),
runs `edgelite bench` there with the same options and brings the JSON back. Key-based login only
(BatchMode; --ssh-key picks the key).
"""

from __future__ import annotations

import argparse
import sys

PATH = ("bench",)
HELP = "latency of a .tflite per threads/XNNPACK/input length: p50/p95/p99, init, first call, RSS"


def _ints(name: str, s: str) -> tuple[int, ...]:
    from edgelite.runtime.core.errors import EdgeliteError

    try:
        vals = tuple(int(v) for v in s.split(",") if v.strip())
    except ValueError:
        raise EdgeliteError(f"--{name}: expected comma-separated integers like 1,2, got {s!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise EdgeliteError(f"--{name}: expected positive integers, got {s!r}")
    return vals


def _onoff(s: str) -> tuple[bool, ...]:
    from edgelite.runtime.core.errors import EdgeliteError

    out = []
    for v in s.split(","):
        v = v.strip().lower()
        if v in ("on", "1", "true", "yes"):
            out.append(True)
        elif v in ("off", "0", "false", "no"):
            out.append(False)
        elif v:
            raise EdgeliteError(f"--xnnpack: expected on, off or on,off, got {s!r}")
    if not out:
        raise EdgeliteError("--xnnpack: expected on, off or on,off")
    return tuple(out)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL.tflite", help="model file")
    p.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    p.add_argument("--xnnpack", default="on", help="on, off or on,off (default on)")
    p.add_argument("--frames", default=None, help="input lengths for a dynamic time dimension, e.g. 16,64,256")
    p.add_argument("--runs", type=int, default=200, help="timed calls per configuration (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before timing (default 20)")
    p.add_argument("--inputs", default=None, help=".npz with x_flat/lengths (default: eval_data.npz found near the model)")
    p.add_argument("--random", action="store_true", help="random inputs of the signature's shape, even if data is found")
    p.add_argument("--runtime", default="auto", choices=["auto", "litert", "tflite_runtime"], help="interpreter package")
    p.add_argument("--json", metavar="OUT", default=None, help="write results (with raw latencies) to this JSON file")
    g = p.add_argument_group("remote device over SSH")
    g.add_argument("--ssh", metavar="USER@HOST", default=None, help="benchmark on this device instead of here")
    g.add_argument("--ssh-key", metavar="FILE", default=None, help="private key for ssh/scp (-i)")
    g.add_argument("--ssh-port", type=int, default=None, help="SSH port (default 22)")
    g.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE", help="extra ssh -o option")
    g.add_argument("--remote-dir", default="edgelite-bench", help="folder on the device (default ~/edgelite-bench)")
    g.add_argument("--remote-python", default="python3", help="Python on the device that creates the venv")
    g.add_argument("--device-runtime", default="litert", choices=["litert", "tflite-runtime"],
                   help="runtime installed on the device (default litert)")
    g.add_argument("--with-wheels", action="store_true", help="ship aarch64 wheels (device without internet)")


def _run_ssh(args: argparse.Namespace) -> int:
    import json
    import os

    from edgelite.convert.deploy.ssh import SshTarget, bench_over_ssh
    from edgelite.runtime.bench.inputs import find_inputs

    fwd = ["--threads", args.threads, "--xnnpack", args.xnnpack, "--runs", str(args.runs), "--warmup", str(args.warmup)]
    fwd += (["--frames", args.frames] if args.frames else []) + (["--random"] if args.random else [])
    inputs = None if args.random else (args.inputs or find_inputs(args.model))
    target = SshTarget(args.ssh, args.ssh_port, args.ssh_key, args.ssh_option)
    res, table = bench_over_ssh(args.model, target, fwd, runtime=args.device_runtime, with_wheels=args.with_wheels,
                                remote_dir=args.remote_dir, python=args.remote_python, inputs=inputs,
                                log=lambda m: print(m, file=sys.stderr))
    print(table.rstrip())
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"ssh": args.ssh, **res}, f, indent=1)
        os.replace(tmp, args.json)
        print(f"saved {args.json}")
    return 0


def run(args: argparse.Namespace) -> int:
    from edgelite.runtime.bench import BenchOptions, bench_model, render_markdown, write_json
    from edgelite.runtime.core.errors import EdgeliteError

    if args.runs < 1 or args.warmup < 0:
        raise EdgeliteError(f"--runs must be >= 1 and --warmup >= 0 (got {args.runs}, {args.warmup})")
    if args.ssh:
        return _run_ssh(args)
    opts = BenchOptions(
        threads=_ints("threads", args.threads),
        xnnpack=_onoff(args.xnnpack),
        frames=_ints("frames", args.frames) if args.frames else None,
        runs=args.runs,
        warmup=args.warmup,
        inputs=None if args.random else (args.inputs or "auto"),
        backend=args.runtime,
    )

    def progress(done: int, total: int, c: dict) -> None:
        print(f"  [{done}/{total}] threads={c['threads']} xnnpack={'on' if c['xnnpack'] else 'off'} "
              f"frames={c['frames']}: p50 {c['p50_ms']:.3f} ms", file=sys.stderr)

    from edgelite.commands._flags import cli_names

    with cli_names({"(frames)": "(--frames)"}):
        res = bench_model(args.model, opts, progress=progress)
    print(render_markdown(res))
    if args.json:
        write_json(res, args.json)
        print(f"saved {args.json}")
    return 0
