"""``edgelite bench --ssh USER@HOST``: measure a model on a real device over SSH.

Exports the Pi bundle to a temporary folder (plus the benchmark inputs, e.g. the run's
``eval_data.npz``), copies it with ``scp`` to ``REMOTE_DIR`` on the device, installs it into
``REMOTE_DIR/venv`` there (``python3 -m venv`` + ``pip install --find-links wheels/``; offline with
``with_wheels``; an existing venv is reused and only the edgelite wheel is reinstalled), runs
``edgelite bench`` there and copies its JSON back. Uses the ``ssh``/``scp`` programs with
``BatchMode=yes`` (keys only, never a password prompt).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

from edgelite.runtime.core.errors import EdgeliteError


@dataclass
class SshTarget:
    """Where to connect: ``dest`` is ``USER@HOST`` (or a Host alias of ~/.ssh/config)."""

    dest: str
    port: int | None = None
    key: str | None = None
    options: list[str] = field(default_factory=list)  # extra ``-o Key=Value`` options

    def _common(self) -> list[str]:
        out = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]
        for o in self.options:
            out += ["-o", o]
        if self.key:
            out += ["-i", self.key]
        return out

    def ssh(self, command: str) -> list[str]:
        return ["ssh", *self._common(), *(["-p", str(self.port)] if self.port else []), self.dest, command]

    def scp(self, *paths: str) -> list[str]:
        return ["scp", "-q", "-r", *self._common(), *(["-P", str(self.port)] if self.port else []), *paths]


def _run(argv: list[str], what: str, timeout_s: float, echo: Callable[[str], None] | None = None) -> str:
    if shutil.which(argv[0]) is None:
        raise EdgeliteError(f"{what}: the {argv[0]} program is not installed (openssh-client)")
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EdgeliteError(f"{what}: timed out after {timeout_s:.0f} s") from None
    if echo and r.stderr.strip():
        for ln in r.stderr.strip().splitlines()[-40:]:
            echo(ln)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()] or [f"exit code {r.returncode}"]
        raise EdgeliteError(f"{what} failed: {lines[-1]}")
    return r.stdout


def remote_script(remote_dir: str, python: str, requirements: list[str], model_file: str,
                  bench_args: list[str]) -> str:
    """The shell commands run on the device (install into REMOTE_DIR/venv, then bench)."""
    q = shlex.quote
    reqs = " ".join(q(r) for r in requirements)
    return "\n".join([
        "set -e",
        f"cd {q(remote_dir)}",
        f"[ -x venv/bin/python ] || {q(python)} -m venv venv",
        'OFF=""; if ls bundle/wheels/numpy-*.whl >/dev/null 2>&1; then OFF="--no-index"; fi',
        f"venv/bin/python -m pip install -q --disable-pip-version-check $OFF --find-links bundle/wheels {reqs}",
        "venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "
        "bundle/wheels/edgelite-*.whl",
        f"venv/bin/edgelite bench bundle/{q(model_file)} {' '.join(q(a) for a in bench_args)} --json bench.json",
    ])


def bench_over_ssh(model: str, target: SshTarget, bench_args: list[str], runtime: str = "litert",
                   with_wheels: bool = False, remote_dir: str = "edgelite-bench", python: str = "python3",
                   inputs: str | None = None, timeout_s: float = 3600,
                   log: Callable[[str], None] = print) -> tuple[dict[str, Any], str]:
    """Run ``edgelite bench`` on ``target``; returns (its JSON, its Markdown table printed on the device)."""
    from edgelite.convert.bundle import export_bundle
    from edgelite.convert.deploy.pibundle import bundle_extras
    from edgelite.convert.deploy.wheels import install_requirements
    from edgelite.runtime.core.modelfile import read_metadata

    meta = read_metadata(model) or {}
    with tempfile.TemporaryDirectory(prefix="edgelite-ssh-") as tmp:
        bundle = os.path.join(tmp, "bundle")
        files = export_bundle(model, "pi", bundle, runtime=runtime, with_wheels=with_wheels)
        model_file = os.path.basename(next(f for f in files if f.endswith(".tflite")))
        args = list(bench_args)
        if inputs:
            shutil.copyfile(inputs, os.path.join(bundle, "bench_inputs.npz"))
            args += ["--inputs", "bundle/bench_inputs.npz"]
        log(f"copying the bundle to {target.dest}:{remote_dir} ...")
        _run(target.ssh(f"mkdir -p {shlex.quote(remote_dir)} && rm -rf {shlex.quote(remote_dir)}/bundle"),
             f"ssh {target.dest}", 120)
        _run(target.scp(bundle, f"{target.dest}:{remote_dir}/"), f"scp to {target.dest}", timeout_s)
        log(f"installing and benchmarking on {target.dest} ...")
        script = remote_script(remote_dir, python, install_requirements(runtime, bundle_extras(meta)), model_file, args)
        table = _run(target.ssh(f"sh -c {shlex.quote(script)}"), f"remote bench on {target.dest}", timeout_s, log)
        local = os.path.join(tmp, "bench.json")
        _run(target.scp(f"{target.dest}:{remote_dir}/bench.json", local), f"scp from {target.dest}", 300)
        with open(local, encoding="utf-8") as f:
            return json.load(f), table
