"""An emulated Raspberry Pi OS userland: an arm64 Debian bookworm root run with qemu-user-static.

``ensure_root()`` builds (once, cached under ``<cache>/pi-root``) a root with
``mmdebstrap --variant=extract --arch=arm64 bookworm`` holding python3, python3-venv and libstdc++6 (Python 3.11 and
glibc 2.36, like Raspberry Pi OS bookworm 64-bit). Programs run with
``qemu-aarch64-static -L ROOT ROOT/usr/bin/python3 ...``: qemu looks absolute paths up under ROOT first
(the dynamic loader, libc, /usr/lib/python3.11), so no chroot or binfmt_misc is needed.

Why ROOT/proc/cpuinfo exists: XNNPACK (inside ai-edge-litert 2.x) reads /proc/cpuinfo to detect the
ARM CPU's features; under qemu-user it would read this x86 machine's file, find no ARM CPU and crash
(segfault at Interpreter creation). qemu's ``-L`` lookup finds ROOT/proc/cpuinfo first, so the root
carries the cpuinfo of a Raspberry Pi 4 (4 x Cortex-A72) and XNNPACK picks its ARMv8 NEON kernels.

Emulated timings mean nothing (qemu translates every instruction): the check verifies function only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from edgelite.runtime.core.errors import EdgeliteError

SUITE = "bookworm"
PACKAGES = ["python3", "python3-venv", "libstdc++6", "zlib1g"]  # libstdc++: numpy, LiteRT
STAMP = ".edgelite-root-v2"
QEMU = "qemu-aarch64-static"

# /proc/cpuinfo of a Raspberry Pi 4 Model B (BCM2711, 4 x Cortex-A72, ARMv8-A with NEON/crc32).
CPUINFO_A72 = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n"
    for i in range(4)
) + "Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n"


def root_dir() -> Path:
    """``$EDGELITE_PI_ROOT``, else ``<cache>/pi-root``."""
    env = os.environ.get("EDGELITE_PI_ROOT")
    if env:
        return Path(env)
    from edgelite.runtime.core.paths import cache_dir

    return cache_dir() / "pi-root"


def missing_tools() -> list[str]:
    """Debian packages this needs that are not installed (``mmdebstrap``, ``qemu-user-static``)."""
    need = {"mmdebstrap": "mmdebstrap", QEMU: "qemu-user-static"}
    return [pkg for exe, pkg in need.items() if shutil.which(exe) is None]


def is_ready(root: Path) -> bool:
    return (root / STAMP).is_file() and (root / "usr/bin/python3").exists()


def ensure_root(build: bool = True, timeout_s: float = 900) -> tuple[Path | None, str]:
    """Return ``(root, note)`` of a ready arm64 root, building it if needed; ``(None, reason)`` on failure."""
    root = root_dir()
    if is_ready(root) and shutil.which(QEMU):
        return root, f"cached root {root}"
    missing = missing_tools()
    if missing:
        return None, f"needs the Debian packages {' '.join(missing)} (apt-get install {' '.join(missing)})"
    if not build:
        return None, f"no arm64 root at {root} (building disabled)"
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = ["mmdebstrap", "--variant=extract", "--arch=arm64", "--include=" + ",".join(PACKAGES),
           "--quiet", SUITE, str(tmp)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"mmdebstrap failed: {type(e).__name__}: {e}"
    if r.returncode != 0 or not (tmp / "usr/bin/python3").exists():
        tail = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        shutil.rmtree(tmp, ignore_errors=True)
        return None, f"mmdebstrap {SUITE} arm64 failed: {tail}"
    _finish(tmp)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root, f"built {root}"


def _finish(root: Path) -> None:
    """cpuinfo for XNNPACK (see module doc); drop Debian's pip guard (installs go to venvs anyway)."""
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/cpuinfo").write_text(CPUINFO_A72)
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    (root / STAMP).write_text(f"mmdebstrap --variant=extract --arch=arm64 {SUITE} + {' '.join(PACKAGES)}\n")


def qemu_argv(root: Path, exe: str | os.PathLike, *args: str) -> list[str]:
    """argv running the aarch64 program ``exe`` (a host path) in ``root``."""
    return [QEMU, "-L", str(root), os.fspath(exe), *map(str, args)]


def run_in_root(root: Path, exe: str | os.PathLike, args: list[str], timeout_s: float = 1800,
                env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run an aarch64 program under qemu; raises EdgeliteError naming the command when it fails."""
    e = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
         "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # .pyc files are written on first import: later runs start faster
    e.update(env or {})
    argv = qemu_argv(root, exe, *args)
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=e, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise EdgeliteError(f"emulated {' '.join(argv[3:6])} timed out after {timeout_s:.0f} s") from None
    if r.returncode != 0:
        tail = " | ".join((r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-3:])
        raise EdgeliteError(f"emulated {' '.join(map(str, argv[3:6]))} failed (exit {r.returncode}): {tail[-600:]}")
    return r
