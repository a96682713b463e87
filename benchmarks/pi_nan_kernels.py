"""Why tflite-runtime 2.14 on aarch64 got every asl-signs file wrong: NaN through broadcast ADD/SUB.

Runs one-op models (``x op c`` with ``x`` [24,126,2] holding NaN and ``c`` a [2] constant: the shape of
the sign preprocessing's mirroring and centring) on the emulated arm64 root with tflite-runtime 2.14
and ai-edge-litert, builtin kernels (no XNNPACK: in a dynamic-shape graph XNNPACK does not take these
ops), and with tflite-runtime 2.14 on this x86 machine; counts NaN in and out. Then, to tell a
kernel fact from a qemu artefact, it (1) disassembles the float broadcast SUB kernel of the aarch64
tflite-runtime wheel (``llvm-objdump``) to show the instruction that clamps to the fused-activation
range, and (2) executes that instruction (``FMAXNM``) and ``FMAX`` directly under qemu on
(-FLT_MAX, NaN). FMAXNM returns the number when the other operand is a quiet NaN on every ARMv8 CPU
(IEEE 754-2008 maxNum; Arm ARM), so a real Pi computes the same -FLT_MAX.

Needs TensorFlow (to build the one-op models), the arm64 root and the pi-check venvs
(``benchmarks/pi_check.py`` or ``make pi-check`` first).

    python benchmarks/pi_nan_kernels.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OPS = {  # name -> (python expression on x, constant)
    "MUL x*[-1,1]": ("mul", [-1.0, 1.0]),
    "ADD x+[1,0]": ("add", [1.0, 0.0]),
    "SUB x-[0.5,0.5]": ("sub", [0.5, 0.5]),
    "DIV x/[0.5,0.5]": ("div", [0.5, 0.5]),
}

RUNNER = r'''
import json, sys, numpy as np
mod, xnn = sys.argv[1], sys.argv[2] == "1"
if mod == "tflite_runtime":
    from tflite_runtime.interpreter import Interpreter, OpResolverType
else:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
kw = {} if xnn else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
x = np.load(sys.argv[3])
out = {}
for m in sys.argv[4:]:
    it = Interpreter(model_path=m, **kw)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], x.shape); it.allocate_tensors(); it.set_tensor(d["index"], x); it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    out[m] = {"nan_out": int(np.isnan(y).sum()), "neg_flt_max_out": int((y == -np.finfo(np.float32).max).sum())}
print("JSON" + json.dumps(out))
'''

FP_PROBE = r'''
import ctypes, math, mmap, struct
def fn(word):
    buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(struct.pack("<II", word, 0xD65F03C0))  # <insn>; ret
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    f = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_float, ctypes.c_float)(addr)
    f.buf = buf
    return f
for name, w in (("FMAXNM s0, s0, s1", 0x1E216800), ("FMAX s0, s0, s1", 0x1E214800)):
    print(f"{name}: (-FLT_MAX, NaN) -> {fn(w)(-3.4028234663852886e38, math.nan)}")
'''


def make_models(d: Path) -> tuple[dict[str, str], Path, int]:
    import numpy as np
    import tensorflow as tf

    paths = {}
    for name, (op, c) in OPS.items():
        k = tf.constant(c, tf.float32)
        f = {"mul": lambda x: x * k, "add": lambda x: x + k, "sub": lambda x: x - k, "div": lambda x: x / k}[op]
        fn = tf.function(f, input_signature=[tf.TensorSpec([None, 126, 2], tf.float32)])
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
        p = d / f"{op}.tflite"
        p.write_bytes(conv.convert())
        paths[name] = str(p)
    x = np.random.default_rng(0).random((24, 126, 2), dtype=np.float32)
    x[::3, 5:40] = np.nan
    np.save(d / "x.npy", x)
    return paths, d / "x.npy", int(np.isnan(x).sum())


def run_models(argv_prefix: list[str], mod: str, xnn: bool, x: Path, models: list[str], d: Path) -> dict:
    script = d / "runner.py"
    script.write_text(RUNNER)
    r = subprocess.run([*argv_prefix, str(script), mod, "1" if xnn else "0", str(x), *models],
                       capture_output=True, text=True, timeout=900)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("JSON")), None)
    if line is None:
        raise SystemExit(f"{mod} failed: {r.stderr.strip()[-500:]}")
    return json.loads(line[4:])


def disassembly(wheel_so: Path) -> list[str]:
    """The float BroadcastSubSlow kernel's instructions around its FSUB (clamp to the activation range)."""
    tool = shutil.which("llvm-objdump")
    if tool is None:
        return ["(llvm-objdump not installed)"]
    syms = subprocess.run([tool, "-t", "--demangle", str(wheel_so)], capture_output=True, text=True).stdout
    want = ("tflite::reference_ops::BroadcastSubSlow<5>(tflite::ArithmeticParams const&, "
            "tflite::RuntimeShape const&, float")
    row = next((ln for ln in syms.splitlines() if "NDOpsHelperImpl<5, 1" in ln and want in ln), None)
    if row is None:
        return ["(symbol not found)"]
    start, size = int(row.split()[0], 16), int(row.split()[4], 16)
    asm = subprocess.run([tool, "-d", "--no-show-raw-insn", f"--start-address={start}",
                          f"--stop-address={start + size}", str(wheel_so)], capture_output=True, text=True).stdout
    lines = [ln.strip() for ln in asm.splitlines() if "\t" in ln]
    i = next((k for k, ln in enumerate(lines) if "fsub" in ln), None)
    return ["reference_ops::BroadcastSubSlow<5> float lambda:"] + (lines[i:i + 6] if i is not None else ["(no fsub)"])


def main() -> int:
    from bench_common import command_line, header, machine, save

    from edgelite.convert import compat
    from edgelite.convert.deploy.piroot import ensure_root, qemu_argv
    from edgelite.runtime.core.paths import cache_dir

    root, note = ensure_root()
    if root is None:
        raise SystemExit(f"no arm64 root: {note}")
    work = cache_dir() / "pi-check"
    venvs = {rt: next((p for p in sorted(work.glob(f"venv-{rt}-*")) if (p / "bin/python").exists()), None)
             for rt in ("tflite-runtime", "litert")}
    if None in venvs.values():
        raise SystemExit(f"run benchmarks/pi_check.py first (no venvs in {work})")
    rows, data = [], {"runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        models, x, n_nan = make_models(d)
        tfl, lrt = (qemu_argv(root, venvs[rt] / "bin/python") for rt in ("tflite-runtime", "litert"))
        runs = [("aarch64 (qemu) tflite-runtime 2.14, builtin kernels", tfl, "tflite_runtime", False),
                ("aarch64 (qemu) tflite-runtime 2.14, XNNPACK", tfl, "tflite_runtime", True),
                ("aarch64 (qemu) ai-edge-litert, builtin kernels", lrt, "ai_edge_litert", False)]
        py214, _ = compat.ensure_tflite214_env(build=False)
        if py214:
            runs.append(("x86-64 tflite-runtime 2.14, builtin kernels", [str(py214)], "tflite_runtime", False))
        for label, argv, mod, xnn in runs:
            res = run_models(argv, mod, xnn, x, list(models.values()), d)
            data["runs"][label] = {name: res[p] for name, p in models.items()}
            for name, p in models.items():
                r = res[p]
                rows.append(f"| {label} | {name} | {n_nan} | {r['nan_out']} | {r['neg_flt_max_out']} |")
        probe = d / "probe.py"
        probe.write_text(FP_PROBE)
        fp = subprocess.run(qemu_argv(root, root / "usr/bin/python3", probe), capture_output=True, text=True).stdout
    so = next((venvs["tflite-runtime"] / "lib").glob(
        "python3*/site-packages/tflite_runtime/_pywrap_tensorflow_interpreter_wrapper*.so"))
    asm = disassembly(so)
    data.update(fp_probe=fp.strip().splitlines(), disassembly=asm)
    m = machine()
    md = header("NaN through broadcast ADD/SUB: tflite-runtime 2.14 on aarch64", m, command_line()) + "\n".join([
        "One-op models `x op c`, x [24,126,2] float32 with NaN, c a [2] constant (the sign preprocessing's",
        "shapes).", "",
        "| runtime | op | NaN in | NaN out | -FLT_MAX out |", "|---|---|---|---|---|", *rows, "",
        "The aarch64 tflite-runtime 2.14 wheel's float broadcast SUB (`llvm-objdump -d`):", "", "```", *asm, "```", "",
        "`fsub` then `fmaxnm` with the fused-activation minimum (-FLT_MAX, loaded from the op params): FMAXNM",
        "returns the number when the other operand is a quiet NaN (IEEE 754-2008 maxNum, Arm ARM), so",
        "NaN - c becomes -FLT_MAX. The same instructions under qemu:", "", "```", *data["fp_probe"], "```", "",
        "qemu executes FMAXNM/FMAX as the architecture defines them, so this is the kernel's behaviour on a",
        "real Pi too, not an emulation artefact. The x86-64 build of the same source keeps NaN (maxss with",
        "this operand order), and ai-edge-litert's kernels keep it on aarch64. Fix (train/signs/preprocess.py):",
        "NaN never flows through arithmetic in the sign graph; validity is a boolean mask and NaN moves only",
        "through GATHER/STRIDED_SLICE/SELECT_V2. Emulated timings are not measured here (they mean nothing).", ""])
    save("pi_nan_kernels", {"machine": m, **data}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
