"""Wheels for a device bundle: edgelite itself (built from this checkout) and its runtime for aarch64.

The device (Raspberry Pi OS bookworm 64-bit: Python 3.11, glibc 2.36, aarch64) may have no internet,
so ``--with-wheels`` puts binary wheels of numpy and the chosen runtime into the bundle. pip downloads
them for the device's platform from this machine with :data:`PLATFORM_ARGS`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError

# Raspberry Pi OS bookworm 64-bit: CPython 3.11 on aarch64 with glibc 2.36.
PLATFORM_ARGS = [
    "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
    "--platform", "manylinux_2_34_aarch64", "--platform", "manylinux_2_27_aarch64",
    "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_17_aarch64",
]
# What each runtime flavour installs next to the edgelite wheel. tflite-runtime 2.14 (the last release)
# was built against numpy 1.x and crashes with numpy 2.
RUNTIME_REQUIREMENTS = {
    "litert": ["ai-edge-litert>=1.2", "numpy>=1.23"],
    "tflite-runtime": ["tflite-runtime==2.14.0", "numpy>=1.23,<2"],
}
# Optional extras a bundle may carry: sign models read Kaggle parquet files (the `parquet` extra of
# edgelite) and run live from a camera with OpenCV only ("video": no MediaPipe on the device).
EXTRA_REQUIREMENTS = {"parquet": ["pyarrow>=14"], "video": ["opencv-python-headless>=4.8"]}
PROJECT_EXTRAS = ("parquet",)  # extras that pyproject.toml defines (the rest are plain requirements)
RUNTIME_MODULE = {"litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}


def project_root() -> Path:
    """The source checkout holding pyproject.toml (a wheel can only be built from it)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise EdgeliteError(f"building the edgelite wheel needs the source checkout (no pyproject.toml in {root})")
    return root


def _pip(args: list[str], what: str, timeout_s: float) -> None:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    try:
        r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                           timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise EdgeliteError(f"{what}: pip timed out after {timeout_s:.0f} s") from None
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
        raise EdgeliteError(f"{what} failed: {lines[-1] if lines else f'pip exit code {r.returncode}'}")


def build_project_wheel(out_dir: str | os.PathLike, timeout_s: float = 600) -> Path:
    """Build ``edgelite-<version>-py3-none-any.whl`` from this checkout into ``out_dir``; returns its path."""
    root = project_root()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("edgelite-*.whl"):
        old.unlink()
    with _scratch(out) as tmp:
        src = _copy_sources(root, tmp / "src")  # never builds inside the checkout (parallel builds, stale build/)
        _pip(["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp), str(src)],
             "building the edgelite wheel", timeout_s)
        built = sorted(Path(tmp).glob("edgelite-*.whl"))
        if not built:
            raise EdgeliteError(f"building the edgelite wheel produced no edgelite-*.whl in {tmp}")
        dst = out / built[-1].name
        os.replace(built[-1], dst)
    return dst


def _copy_sources(root: Path, dst: Path) -> Path:
    """Copy what the wheel is built from (pyproject.toml, README.md and the package folders) to ``dst``."""
    try:
        import tomllib

        with open(root / "pyproject.toml", "rb") as f:
            dirs = set(tomllib.load(f)["tool"]["setuptools"]["package-dir"].values())
    except ImportError:  # Python 3.10
        dirs = {"edgelite", "train", "convert", "runtime"}
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp")
    dst.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, dst / name)
    for d in sorted(dirs):
        shutil.copytree(root / d, dst / d, ignore=ignore)
    return dst


def requirements(runtime: str, extras: tuple[str, ...] = ()) -> list[str]:
    """pip requirement strings of a runtime flavour plus optional extras."""
    if runtime not in RUNTIME_REQUIREMENTS:
        raise EdgeliteError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIME_REQUIREMENTS)}")
    reqs = list(RUNTIME_REQUIREMENTS[runtime])
    for e in extras:
        if e not in EXTRA_REQUIREMENTS:
            raise EdgeliteError(f"unknown extra {e!r}: expected one of {', '.join(EXTRA_REQUIREMENTS)}")
        reqs += EXTRA_REQUIREMENTS[e]
    return reqs


def download_device_wheels(runtime: str, out_dir: str | os.PathLike, extras: tuple[str, ...] = (),
                           timeout_s: float = 900) -> list[Path]:
    """Download aarch64/cp311 wheels of the runtime flavour (and extras, with dependencies) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _pip(["download", "-q", *PLATFORM_ARGS, "-d", str(out), *requirements(runtime, extras)],
         f"downloading aarch64 wheels for {runtime} (needs PyPI or a pip cache)", timeout_s)
    return sorted(out.glob("*.whl"))


class _scratch:
    """A temporary folder inside ``parent`` (same filesystem, so os.replace is atomic)."""

    def __init__(self, parent: Path):
        self.path = parent / f".tmp-{os.getpid()}"

    def __enter__(self) -> Path:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def install_requirements(runtime: str, extras: tuple[str, ...] = ()) -> list[str]:
    """What ``pip install --find-links wheels/`` installs on the device for a runtime flavour.

    ``litert`` is ``edgelite[runtime]``; tflite-runtime 2.14 is named explicitly (with numpy<2) because
    the ``runtime`` extra means ai-edge-litert.
    """
    requirements(runtime, extras)  # validates names
    own = tuple(e for e in extras if e in PROJECT_EXTRAS)
    plain = [r for e in extras if e not in PROJECT_EXTRAS for r in EXTRA_REQUIREMENTS[e]]
    if runtime == "litert":
        return [f"edgelite[{','.join(('runtime',) + own)}]", *plain]
    base = f"edgelite[{','.join(own)}]" if own else "edgelite"
    return [base, *RUNTIME_REQUIREMENTS[runtime], *plain]
