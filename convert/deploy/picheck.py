"""Install a Pi bundle offline in the emulated arm64 root and compare its output with the host's.

For one bundle (model + wheels/): create a venv inside the root, ``pip install --no-index
--find-links wheels/`` exactly what ``install.sh`` installs, then run ``edgelite predict`` (and
``edgelite run accel --source replay:``) there and here on the same files, and compare the JSON
lines: same inputs, same labels, max |Δp| over every class of every line.

The venv is made with ``python3 -m venv --without-pip`` and pip runs from Debian's own pip wheel,
because ensurepip starts a subprocess, which under qemu-user (no binfmt_misc) cannot exec an ARM
binary. Emulated timings mean nothing: qemu translates every instruction; only function is checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelite.convert.deploy.piroot import run_in_root
from edgelite.runtime.core.errors import EdgeliteError


@dataclass
class Comparison:
    """Host vs device JSON lines of one command."""

    name: str
    lines: int = 0
    inputs: int = 0
    label_matches: int = 0
    max_abs_dp: float = 0.0
    problems: list[str] = field(default_factory=list)
    tolerance: float = 1e-5  # max |Δp| allowed (see Case.max_dp)

    @property
    def ok(self) -> bool:
        return (not self.problems and self.lines > 0 and self.label_matches == self.lines
                and self.max_abs_dp <= self.tolerance)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "lines": self.lines, "inputs": self.inputs, "label_matches": self.label_matches,
                "max_abs_dp": self.max_abs_dp, "tolerance": self.tolerance, "ok": self.ok,
                "problems": self.problems[:10]}


def install_bundle(root: Path, bundle: Path, venv: Path, requirements: list[str]) -> Path:
    """Create ``venv`` in the root and install ``requirements`` from ``bundle/wheels`` offline; returns its python."""
    import shutil

    shutil.rmtree(venv, ignore_errors=True)
    run_in_root(root, root / "usr/bin/python3", ["-m", "venv", "--without-pip", str(venv)], timeout_s=300)
    pips = sorted((root / "usr/share/python-wheels").glob("pip-*.whl"))
    if not pips:
        raise EdgeliteError(f"{root}: no pip wheel in /usr/share/python-wheels (python3-venv missing?)")
    py = venv / "bin/python"
    # --no-compile: byte-compiling every installed file is most of an emulated install's time; Python
    # compiles (and caches) only what is imported.
    run_in_root(root, py, [f"{pips[-1]}/pip", "install", "-q", "--no-compile", "--no-index", "--find-links",
                           str(bundle / "wheels"), *requirements], timeout_s=1800)
    return py


def device_edgelite(root: Path, py: Path, args: list[str], cwd: str, timeout_s: float = 3600) -> list[dict]:
    """``python -m edgelite ARGS`` on the emulated device; the JSON lines of stdout."""
    r = run_in_root(root, py, ["-m", "edgelite", *args], timeout_s=timeout_s, cwd=cwd)
    return _json_lines(r.stdout)


def host_edgelite(args: list[str], cwd: str, timeout_s: float = 3600) -> list[dict]:
    """``python -m edgelite ARGS`` with this Python; the JSON lines of stdout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "edgelite", *args], capture_output=True, text=True,
                       timeout=timeout_s, cwd=cwd, env=env)
    if r.returncode != 0:
        raise EdgeliteError(f"host edgelite {' '.join(args[:2])} failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return _json_lines(r.stdout)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]


def _key(rec: dict) -> tuple:
    return (rec.get("input") or rec.get("device"), rec.get("t_start"), rec.get("t"))


def _top(rec: dict) -> dict[str, float]:
    """``{label: p}`` from ``top`` as ``[[label, p], ...]`` (predict, run accel) or ``[{"label", "score"}]`` (webcam)."""
    out = {}
    for t in rec.get("top", []):
        lab, p = (t["label"], t["score"]) if isinstance(t, dict) else t
        out[lab] = float(p)
    return out


def compare_lines(name: str, host: list[dict], device: list[dict], tolerance: float = 1e-5) -> Comparison:
    """Same keys in the same order, same label, max |Δp| over every listed class (ok when <= ``tolerance``)."""
    host, device = [r for r in host if "label" in r], [r for r in device if "label" in r]  # not summaries
    c = Comparison(name, lines=len(host), inputs=len({_key(r)[0] for r in host}), tolerance=tolerance)
    if len(host) != len(device):
        c.problems.append(f"{len(host)} host lines vs {len(device)} device lines")
    for h, d in zip(host, device):
        if _key(h) != _key(d):
            c.problems.append(f"line order differs: {_key(h)} vs {_key(d)}")
            continue
        c.label_matches += h["label"] == d["label"]
        if h["label"] != d["label"]:
            c.problems.append(f"{_key(h)}: host {h['label']} vs device {d['label']}")
        hp, dp = _top(h), _top(d)
        for lab in set(hp) & set(dp):
            c.max_abs_dp = max(c.max_abs_dp, abs(hp[lab] - dp[lab]))
    return c


@dataclass
class Case:
    """One comparison: ``edgelite predict MODEL INPUTS... ARGS`` (or ``run accel --source replay:INPUT``)."""

    name: str
    model: str
    inputs: list[str]
    args: list[str] = field(default_factory=list)
    replay: bool = False
    webcam: bool = False  # inputs[0] is a video: `run webcam --video FILE --headless --hands litert`
    # Largest |Δp| accepted. 1e-5 where the device runs the model on the very same input as the host
    # (predict, replay); the webcam path tracks hands on the device first, so its sign input differs by
    # the hand CNNs' x86-vs-ARM float rounding (see benchmarks/results/pi_check_summary.md).
    max_dp: float = 1e-5

    def argv(self, model: str) -> list[str]:
        if self.webcam:
            return ["run", "webcam", "--model", model, "--video", self.inputs[0], "--headless", "--hands", "litert",
                    *self.args]
        if self.replay:
            return ["run", "accel", "--model", model, "--source", f"replay:{self.inputs[0]}", "--quiet", *self.args]
        return ["predict", model, *self.inputs, *self.args]


def _deps_key(bundle: Path, requirements: list[str]) -> str:
    import hashlib

    h = hashlib.sha256(" ".join(requirements).encode())
    for w in sorted((bundle / "wheels").glob("*.whl")):
        if not w.name.startswith("edgelite-"):
            h.update(f"{w.name}:{w.stat().st_size}".encode())
    return h.hexdigest()[:16]


def ensure_installed(root: Path, bundle: Path, venv: Path, requirements: list[str], log=print) -> Path:
    """Install the bundle in ``venv``; when its dependency wheels are unchanged since the last check,
    only the edgelite wheel is reinstalled (the full offline install is what a cold check does)."""
    key = _deps_key(bundle, requirements)
    stamp = venv / ".edgelite-deps"
    py = venv / "bin/python"
    if stamp.is_file() and stamp.read_text() == key and py.exists():
        wheel = sorted((bundle / "wheels").glob("edgelite-*.whl"))[-1]
        pips = sorted((root / "usr/share/python-wheels").glob("pip-*.whl"))
        run_in_root(root, py, [f"{pips[-1]}/pip", "install", "-q", "--no-compile", "--no-index", "--no-deps",
                               "--force-reinstall", str(wheel)], timeout_s=900)
        log(f"  {venv.name}: dependencies cached, reinstalled {wheel.name}")
        return py
    log(f"  {venv.name}: offline install of {' '.join(requirements)} from {bundle / 'wheels'} (emulated pip, slow)")
    py = install_bundle(root, bundle, venv, requirements)
    stamp.write_text(key)
    return py


def check_bundle(root: Path, bundle: Path, venv: Path, requirements: list[str], cases: list[Case],
                 cwd: str, log=print, model: str | None = None) -> list[Comparison]:
    """Install one bundle on the emulated device and compare every case with the host.

    ``model``: the bundle's model file (default: its only ``*.tflite``)."""
    py = ensure_installed(root, bundle, venv, requirements, log)
    if model is None:
        found = sorted(bundle.glob("*.tflite"))
        if len(found) != 1:
            raise EdgeliteError(f"{bundle}: expected one .tflite, found {len(found)}")
        model = str(found[0])
    out = []
    for case in cases:
        try:
            host = host_edgelite(case.argv(case.model), cwd)
            dev = device_edgelite(root, py, case.argv(model), cwd)
            c = compare_lines(case.name, host, dev, case.max_dp)
        except EdgeliteError as e:  # one failing command must not hide the other comparisons
            c = Comparison(case.name, problems=[str(e)], tolerance=case.max_dp)
        why = '; '.join(c.problems[:3]) or f"max |dp| above {c.tolerance:g}"
        log(f"  {case.name}: {c.label_matches}/{c.lines} lines same label ({c.inputs} inputs), "
            f"max |dp| {c.max_abs_dp:.2e} (<= {c.tolerance:g}) {'OK' if c.ok else 'MISMATCH ' + why}")
        out.append(c)
    return out


def run_pi_check(cases: list[Case], runtimes: tuple[str, ...], work: Path, log=print) -> dict[str, Any]:
    """Export each case's model as a Pi bundle per runtime (with wheels), install offline, compare.

    Commands run in ``work/cwd`` (not a source checkout, whose ``edgelite/`` folder would shadow the
    installed package); give absolute input paths.

    Returns ``{"root": ..., "runtimes": {runtime: [comparison json, ...]}, "ok": bool}``.
    """
    from edgelite.convert.bundle import export_bundle
    from edgelite.convert.deploy.pibundle import bundle_extras
    from edgelite.convert.deploy.piroot import ensure_root
    from edgelite.convert.deploy.wheels import install_requirements
    from edgelite.runtime.core.modelfile import read_metadata

    root, note = ensure_root()
    if root is None:
        raise EdgeliteError(f"no emulated arm64 root: {note}")
    log(f"arm64 root: {note} (emulated with qemu-user: timings mean nothing)")
    report: dict[str, Any] = {"root": str(root), "runtimes": {}}
    cwd = str(work / "cwd")
    os.makedirs(cwd, exist_ok=True)
    for rt in runtimes:
        log(f"runtime {rt}:")
        report["runtimes"][rt] = []
        for model in dict.fromkeys(c.model for c in cases):
            meta = read_metadata(model) or {}
            tag = f"{rt}-{meta.get('task', 'model')}"
            bundle = work / f"bundle-{tag}"
            for stale in bundle.glob("*.tflite"):  # a cached bundle of another model must not be picked
                stale.unlink()
            files = export_bundle(model, "pi", bundle, runtime=rt, with_wheels=True)
            reqs = install_requirements(rt, bundle_extras(meta))
            comps = check_bundle(root, bundle, work / f"venv-{tag}", reqs,
                                 [c for c in cases if c.model == model], cwd, log,
                                 model=next(f for f in files if f.endswith(".tflite")))
            report["runtimes"][rt] += [c.to_json() for c in comps]
    report["ok"] = all(c["ok"] for v in report["runtimes"].values() for c in v)
    return report
