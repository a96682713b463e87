"""The npm files a web site needs (copied by the web export) and where the npm-installed cache lives.

``convert/web/package.json`` + ``package-lock.json`` pin the packages; ``make web-deps`` runs ``npm ci`` into
``<cache>/web`` (``$EDGELITE_WEB_DEPS`` points elsewhere). Each entry: (npm package, file inside it, path in the site).
"""

from __future__ import annotations

import os

RUNTIME_FILES = [
    ("@litertjs/core", "dist/index.js", "runtime/litertjs/core/index.js"),
    ("@litertjs/wasm-utils", "dist/index.js", "runtime/litertjs/wasm-utils/index.js"),
    *[("@litertjs/core", f"wasm/litert_wasm_{v}internal.{e}", f"runtime/litertjs/wasm/litert_wasm_{v}internal.{e}")
      for v in ("", "compat_", "threaded_") for e in ("js", "wasm")],
]
VISION_FILES = [
    ("@mediapipe/tasks-vision", "vision_bundle.mjs", "runtime/tasks-vision/vision_bundle.mjs"),
    *[("@mediapipe/tasks-vision", f"wasm/vision_wasm_{v}internal.{e}", f"runtime/tasks-vision/wasm/vision_wasm_{v}internal.{e}")
      for v in ("", "nosimd_") for e in ("js", "wasm")],
]


def default_node_modules() -> str:
    """``$EDGELITE_WEB_DEPS`` or ``<cache>/web/node_modules`` (filled by ``make web-deps``)."""
    env = os.environ.get("EDGELITE_WEB_DEPS")
    if env:
        return env
    from edgelite.runtime.core.paths import cache_dir

    return os.path.join(os.fspath(cache_dir()), "web", "node_modules")
