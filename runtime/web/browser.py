"""Headless Chromium (Debian's ``/usr/bin/chromium``, or ``$EDGELITE_CHROMIUM``) driven by Playwright for
Python, for the ``test_web_*`` tests and ``benchmarks/web_latency.py``. No browser download: Playwright
only drives the system browser. Playwright is imported lazily (the ``dev`` extra).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

CHROMIUM = os.environ.get("EDGELITE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-features=SharedArrayBuffer"]


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks."""
    from edgelite.runtime.web.deps import RUNTIME_FILES, VISION_FILES, default_node_modules

    miss = []
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        miss.append(f"chromium ({CHROMIUM}; apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        miss.append("playwright (pip install -e '.[dev]')")
    nm = default_node_modules()
    if not all(os.path.isfile(os.path.join(nm, p, r)) for p, r, _ in RUNTIME_FILES + VISION_FILES):
        miss.append(f"npm runtime files in {nm} (make web-deps)")
    return miss


@contextmanager
def browser(extra_args: list[str] | None = None) -> Iterator[Any]:
    """A fresh headless Chromium with an empty profile."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="edgelite-chromium-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=FLAGS + (extra_args or []),
                viewport={"width": 800, "height": 900})
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_page(ctx: Any, url: str, timeout_s: float = 90) -> Any:
    """Open ``url`` and wait until its module has loaded the model (``window.edgelite.ready``)."""
    page = ctx.new_page()
    page.on("console", lambda m: m.type == "error" and print("[browser]", m.text))
    page.goto(url)
    page.wait_for_function("() => window.edgelite && (window.edgelite.ready || "
                           "document.querySelector('#status.error'))", timeout=timeout_s * 1000)
    err = page.evaluate("() => document.querySelector('#status.error')?.textContent || null")
    if err:
        raise RuntimeError(f"page {url}: {err}")
    return page
