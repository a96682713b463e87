"""Raspberry Pi footprint: runtime-only install size on aarch64 per runtime, and `import edgelite.runtime` time.

Size: the Pi bundle's requirements (what install.sh installs: edgelite + numpy + the runtime) are
installed for aarch64/cp311 (`pip install --target --platform manylinux..._aarch64 --only-binary=:all:
--no-index --find-links WHEELS`) and the target folder is measured: that is site-packages without pip
and setuptools. Import time: `import edgelite.runtime` in fresh host processes (median of --repeat).
Targets (issue 11): tflite-runtime flavour <= 80 MB, import <= 0.5 s.

    python benchmarks/pi_footprint.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TARGET_MB = {"tflite-runtime": 80.0}
IMPORT_TARGET_S = 0.5


def dir_mb(p: Path) -> float:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def install_size(runtime: str, work: Path) -> dict:
    from edgelite.convert.deploy.wheels import (PLATFORM_ARGS, build_project_wheel, download_device_wheels,
                                                install_requirements)

    wheels = work / f"wheels-{runtime}"
    download_device_wheels(runtime, wheels)
    build_project_wheel(wheels)
    target = work / f"site-{runtime}"
    reqs = install_requirements(runtime)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target),
                    *PLATFORM_ARGS, "--no-index", "--find-links", str(wheels), *reqs], check=True)
    parts: dict[str, float] = {}
    for p in target.iterdir():
        if p.name.endswith((".dist-info", ".libs")) or p.name == "bin":
            key = p.name.split("-")[0].split(".")[0].lower()
        else:
            key = p.name.lower()
        parts[key] = parts.get(key, 0.0) + (dir_mb(p) if p.is_dir() else p.stat().st_size / 1e6)
    total = dir_mb(target)
    return {"runtime": runtime, "requirements": reqs, "total_mb": round(total, 1),
            "parts_mb": {k: round(v, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 0.05},
            "wheels": sorted(w.name for w in wheels.glob("*.whl")),
            "target_mb": TARGET_MB.get(runtime), "meets_target": total <= TARGET_MB.get(runtime, float("inf"))}


def import_time(repeat: int) -> dict:
    code = ("import time; t, c = time.perf_counter(), time.process_time(); import edgelite.runtime; "
            "print(time.perf_counter() - t, time.process_time() - c)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    vals, cpu = [], []
    for _ in range(repeat):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                           cwd=tempfile.gettempdir())
        w, c = r.stdout.strip().splitlines()[-1].split()
        vals.append(float(w))
        cpu.append(float(c))
    return {"median_s": round(statistics.median(vals), 3), "min_s": round(min(vals), 3), "max_s": round(max(vals), 3),
            "cpu_median_s": round(statistics.median(cpu), 3), "repeat": repeat, "target_s": IMPORT_TARGET_S,
            "meets_target": statistics.median(vals) <= IMPORT_TARGET_S}


def main() -> int:
    from bench_common import command_line, header, machine, save

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pi-footprint-") as tmp:
        sizes = [install_size(rt, Path(tmp)) for rt in ("tflite-runtime", "litert")]
    imp = import_time(a.repeat)
    m = machine()
    rows = ["| runtime flavour (aarch64, cp311) | install MB | target | largest parts (MB) |", "|---|---|---|---|"]
    for s in sizes:
        parts = ", ".join(f"{k} {v}" for k, v in list(s["parts_mb"].items())[:6])
        tgt = f"<= {s['target_mb']:.0f} MB: {'met' if s['meets_target'] else 'MISSED'}" if s["target_mb"] else "as small as the wheel allows"
        rows.append(f"| {' + '.join(s['requirements'])} | {s['total_mb']} | {tgt} | {parts} |")
    md = (header("Raspberry Pi footprint: runtime-only install size (aarch64) and import time (host)", m, command_line())
          + "\n".join(rows) + "\n\nSize = the `pip install --target` folder for aarch64/cp311 (site-packages without pip/"
          "setuptools).\n\n"
          f"`import edgelite.runtime` on this host: median {imp['median_s']} s (min {imp['min_s']}, max {imp['max_s']}, "
          f"{imp['repeat']} fresh processes; target <= {IMPORT_TARGET_S} s: {'met' if imp['meets_target'] else 'MISSED'}; "
          f"a busy machine inflates wall time: CPU time of the import, median {imp['cpu_median_s']} s).\n")
    save("pi_footprint", {"machine": m, "sizes": sizes, "import": imp}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
