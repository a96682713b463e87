"""The Raspberry Pi bundle: the model plus everything to install the *same* edgelite runtime on the Pi.

``wheels/`` holds an edgelite wheel built from this checkout (and, with ``with_wheels``, aarch64/cp311
wheels of numpy, the chosen runtime and, for sign models, pyarrow), ``install.sh`` creates a venv and
pip-installs from ``wheels/`` (offline when the device wheels are there), ``run_model.py`` is a short
example of the runtime API and ``README.md`` says how to run ``edgelite predict`` / ``edgelite run``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from edgelite.convert.deploy.loadable import check_loadable, nan_unsafe_sign_graph
from edgelite.convert.deploy.wheels import build_project_wheel, download_device_wheels, install_requirements

RUNTIMES = ("litert", "tflite-runtime")
RUNTIME_NOTES = {
    "litert": "ai-edge-litert (LiteRT, Google's maintained successor of tflite-runtime; numpy 2; "
              "Python 3.9-3.12 on 64-bit Pi OS)",
    "tflite-runtime": "tflite-runtime 2.14 (the last release; numpy<2, Python <= 3.11; smaller install, "
                      "but frozen: newer op versions do not load)",
}


def bundle_extras(meta: dict[str, Any]) -> tuple[str, ...]:
    """Optional extras the device needs for this model: sign models read Kaggle parquet files and run
    live from a camera (OpenCV; hand tracking with LiteRT, no MediaPipe)."""
    return ("parquet", "video") if meta.get("task") == "signs" else ()


def pi_values(meta: dict[str, Any], runtime: str) -> dict[str, str]:
    """Template placeholders specific to the Pi bundle."""
    extras = bundle_extras(meta)
    reqs = install_requirements(runtime, extras)
    return {
        "runtime": runtime,
        "runtime_note": RUNTIME_NOTES[runtime],
        "pip_requirements": " ".join(shlex.quote(r) for r in reqs),
        "example_input": ("../shared/data/asl-signs/train_landmark_files/2044/185948800.parquet"
                          if meta.get("task") == "signs" else "recording.zip"),
    }


def add_pi_wheels(out_dir: str, model_path: str, op_versions: dict[str, list[int]], meta: dict[str, Any],
                  runtime: str, with_wheels: bool) -> tuple[list[str], str]:
    """Refuse an unloadable model, then fill ``out_dir/wheels``; returns (wheel paths, how loadability was checked)."""
    if runtime not in RUNTIMES:
        from edgelite.runtime.core.errors import DataError

        raise DataError(f"runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    why = nan_unsafe_sign_graph(meta, op_versions, runtime)
    if why:
        from edgelite.runtime.core.errors import ModelError

        raise ModelError(f"{model_path}: {why}")
    how = check_loadable(model_path, op_versions, runtime)
    wheels = Path(out_dir) / "wheels"
    if wheels.is_dir():
        for old in wheels.glob("*.whl"):
            old.unlink()
    build_project_wheel(wheels)
    if with_wheels:
        download_device_wheels(runtime, wheels, bundle_extras(meta))
    return sorted(os.fspath(p) for p in wheels.glob("*.whl")), how
