"""Which TFLite runtimes load and run a model: ``ai-edge-litert`` (this Python) and ``tflite-runtime`` 2.14.

tflite-runtime 2.14 (the last release, still common on Raspberry Pi OS images) needs Python <= 3.11
and numpy < 2, so it lives in its own virtual environment (default
``<cache>/venv-tflite214``, built on first use with ``python3.11 -m venv`` + pip). Each runtime is
exercised in a *subprocess* running :data:`LOADER_SCRIPT`: it loads the model, resizes the dynamic
input dimension, calls the ``serving_default`` signature (and any further one, e.g. ``openset``) and
checks that the outputs are finite.
Results are per model and runtime: ``{"ok": bool, "version": str, "error": str | None}``; a runtime
whose environment cannot be built is reported as ``{"ok": None, "skipped": reason}``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

TFLITE214 = "tflite-runtime-2.14"
LITERT = "ai-edge-litert"
RUNTIMES = (LITERT, TFLITE214)

# Runs inside the target environment: only numpy + the runtime. argv: runtime module, length, paths...
LOADER_SCRIPT = r'''
import json, sys
import numpy as np
mod, length, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
try:
    if mod == "tflite_runtime":
        import tflite_runtime
        from tflite_runtime.interpreter import Interpreter
        version = "tflite-runtime " + getattr(tflite_runtime, "__version__", "?")
    else:
        from importlib.metadata import version as _v
        from ai_edge_litert.interpreter import Interpreter
        version = "ai-edge-litert " + _v("ai-edge-litert")
except Exception as e:
    print(json.dumps({"import_error": "%s: %s" % (type(e).__name__, e)}))
    sys.exit(0)
out = {}
for p in paths:
    r = {"ok": False, "version": version, "error": None}
    try:
        it = Interpreter(model_path=p, num_threads=1)
        res, bad = {}, []
        # serving_default, then any further signature (e.g. "openset": probabilities + ood_score)
        for key in ["serving_default"] + sorted(set(it.get_signature_list()) - {"serving_default"}):
            run = it.get_signature_runner(key)
            details = run.get_input_details()
            feeds = {}
            rng = np.random.default_rng(0)
            for name, d in details.items():
                sig = list(d.get("shape_signature", d["shape"]))
                shape = [length if s < 0 else int(s) for s in sig]
                feeds[name] = rng.standard_normal(shape).astype(d["dtype"])
            out_k = run(**feeds)
            res.update(out_k if key == "serving_default" else {key + "/" + k: v for k, v in out_k.items()})
        bad = [k for k, v in res.items() if not np.all(np.isfinite(v))]
        if bad:
            r["error"] = "non-finite output " + ",".join(bad)
        else:
            r["ok"] = True
            r["outputs"] = {k: list(v.shape) for k, v in res.items()}
    except Exception as e:
        msg = str(e).strip().splitlines()
        r["error"] = "%s: %s" % (type(e).__name__, " | ".join(m for m in msg if m.strip())[-400:])
    out[p] = r
print(json.dumps(out))
'''


def venv_tflite214() -> Path:
    """Folder of the tflite-runtime 2.14 environment (``$EDGELITE_TFLITE214_VENV`` overrides)."""
    env = os.environ.get("EDGELITE_TFLITE214_VENV")
    if env:
        return Path(env)
    from edgelite.runtime.core.paths import cache_dir

    return cache_dir() / "venv-tflite214"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_tflite214_env(build: bool = True, timeout_s: float = 600) -> tuple[str | None, str]:
    """Return ``(python executable, note)`` of a working tflite-runtime 2.14 environment.

    Builds it when missing and ``build`` is true. On failure returns ``(None, reason)``.
    """
    venv = venv_tflite214()
    py = _venv_python(venv)
    if py.exists() and _imports(str(py), "tflite_runtime"):
        return str(py), f"existing environment {venv}"
    if not build:
        return None, f"no tflite-runtime 2.14 environment at {venv} (building disabled)"
    base = shutil.which("python3.11")
    if base is None:
        return None, "python3.11 not found: tflite-runtime 2.14 has no wheels for newer Python"
    print(f"edgelite: building {venv}: a {base} venv with tflite-runtime==2.14.0 and numpy<2 from PyPI (uses the "
          "network, ≈ 100 MB; once; `edgelite cache clean --what compat-env` removes it)", file=sys.stderr, flush=True)
    try:
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=timeout_s)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "tflite-runtime==2.14.0", "numpy<2"],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        tail = ""
        if isinstance(e, subprocess.CalledProcessError):
            tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
            tail = ": " + tail[0]
        return None, f"could not build {venv} ({type(e).__name__}{tail})"
    if not _imports(str(py), "tflite_runtime"):
        return None, f"{venv}: tflite_runtime does not import after install"
    return str(py), f"built {venv}"


def _imports(python: str, module: str) -> bool:
    try:
        r = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def run_loader(python: str, module: str, paths: list[str], length: int = 32, timeout_s: float = 300) -> dict[str, Any]:
    """Run :data:`LOADER_SCRIPT` with ``python`` for ``paths``; ``{path: result}`` or ``{"import_error": ...}``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        r = subprocess.run(
            [python, "-c", LOADER_SCRIPT, module, str(int(length)), *[os.path.abspath(p) for p in paths]],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=os.path.dirname(os.path.abspath(paths[0])) if paths else None,
        )
    except subprocess.TimeoutExpired:
        return {"import_error": f"loader timed out after {timeout_s:.0f} s"}
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        # A crash inside the runtime (segfault/abort) kills the whole batch: retry one by one.
        if len(paths) > 1:
            out: dict[str, Any] = {}
            for p in paths:
                one = run_loader(python, module, [p], length, timeout_s)
                if "import_error" in one:
                    return one
                out.update(one)
            return out
        err = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        return {os.path.abspath(paths[0]): {"ok": False, "error": f"runtime crashed (exit {r.returncode}): {err[-300:]}"}}
    return json.loads(lines[-1])


def check_compat(
    paths: list[str],
    runtimes: tuple[str, ...] = RUNTIMES,
    build_env: bool = True,
    length: int = 32,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model path: {runtime: result}}`` for every model and runtime (see module doc)."""
    out: dict[str, dict[str, dict[str, Any]]] = {os.path.abspath(p): {} for p in paths}
    for rt in runtimes:
        if rt == LITERT:
            python, note, mod = sys.executable, "this Python", "ai_edge_litert"
        elif rt == TFLITE214:
            python, note = ensure_tflite214_env(build=build_env)
            mod = "tflite_runtime"
        else:
            raise ValueError(f"unknown runtime {rt!r}; expected one of {', '.join(RUNTIMES)}")
        if python is None:
            for p in out:
                out[p][rt] = {"ok": None, "skipped": note}
            continue
        res = run_loader(python, mod, list(out), length=length)
        for p in out:
            if "import_error" in res:
                out[p][rt] = {"ok": None, "skipped": f"{mod} not importable in {python}: {res['import_error']}"}
            else:
                out[p][rt] = res.get(p, {"ok": False, "error": "no result from loader"})
    return out


def loads_in(result: dict[str, dict[str, Any]]) -> list[str]:
    """Runtimes (from one model's ``check_compat`` entry) that loaded and ran it."""
    return [rt for rt, r in result.items() if r.get("ok")]


# Model features tflite-runtime 2.14 (the last release) cannot run, measured here on edgelite models:
# int4 tensors (weight-only int4 dequantizes INT4 constants), FULLY_CONNECTED >= v12
# (per-channel dense), INT8 DIV (no kernel). Checked without loading, from the flatbuffer.
TFLITE214_MAX_OP_VERSION = {"FULLY_CONNECTED": 11}
TFLITE214_UNSUPPORTED_TYPES = ("INT4", "INT2")


def static_blockers(path: str | os.PathLike, runtime: str) -> list[str]:
    """Reasons (read from the file, no runtime needed) why ``runtime`` cannot load ``path``; ``[]`` if none known."""
    from edgelite.runtime.core.modelfile import read_model_info

    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if runtime != TFLITE214:
        return []
    info = read_model_info(os.fspath(path))
    out = [f"{t} tensors (no {t} kernels in tflite-runtime 2.14)" for t in TFLITE214_UNSUPPORTED_TYPES
           if info.tensor_types.get(t)]
    for op, vmax in TFLITE214_MAX_OP_VERSION.items():
        v = max(info.op_versions.get(op, [0]))
        if v > vmax:
            out.append(f"{op} version {v} (tflite-runtime 2.14 knows up to {vmax})")
    return out


def variant_loads_in(path: str | os.PathLike, runtime: str, measure: bool = True,
                     build_env: bool = False) -> dict[str, Any]:
    """Whether the model at ``path`` loads and runs in ``runtime`` (``ai-edge-litert`` or ``tflite-runtime-2.14``).

    First the static rules (:func:`static_blockers`); then, if ``measure``, a real load + run in that
    runtime's environment (:func:`check_compat`; the 2.14 environment is built only when
    ``build_env``). Returns ``{"ok": True/False/None, "runtime", "reasons": [...], "how": "rules"|"loaded"}``;
    ``ok`` is ``None`` when no blocker is known and the runtime could not be tried. ``export --target pi``
    uses it to refuse a variant the chosen runtime cannot load.
    """
    reasons = static_blockers(path, runtime)
    if reasons:
        return {"ok": False, "runtime": runtime, "reasons": reasons, "how": "rules"}
    if not measure:
        return {"ok": True, "runtime": runtime, "reasons": [], "how": "rules"}
    r = check_compat([os.fspath(path)], runtimes=(runtime,), build_env=build_env)[os.path.abspath(path)][runtime]
    why = [r["error"]] if r.get("error") else ([r["skipped"]] if r.get("skipped") else [])
    return {"ok": r.get("ok"), "runtime": runtime, "reasons": why, "how": "loaded"}
