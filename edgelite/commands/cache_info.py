"""Show what the edgelite cache holds (``$EDGELITE_CACHE``, else ``~/.cache/edgelite``) and its size.

One line per entry: kind, size, path; then the total per kind. Kinds: archives (unpacked dataset
archives), signs (decoded sign sequences), compat-env (the tflite-runtime 2.14 venv), models
(MediaPipe .task bundles), pi (aarch64 root and wheels), web (npm packages), other.
Everything in the cache is rebuilt on demand; `edgelite cache clean` removes it.

examples:
  edgelite cache info
  edgelite cache info --json
"""

from __future__ import annotations

import argparse

PATH = ("cache", "info")
HELP = "list what is in ~/.cache/edgelite, with sizes"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    import json

    from edgelite.runtime.core.cache import KINDS, cache_entries, human_size
    from edgelite.runtime.core.paths import cache_dir

    root = cache_dir()
    entries = cache_entries(root)
    totals: dict[str, int] = {}
    for e in entries:
        totals[e.kind] = totals.get(e.kind, 0) + e.bytes
    if args.json:
        print(json.dumps({"cache": str(root), "total_bytes": sum(totals.values()), "by_kind": totals,
                          "entries": [{"path": str(e.path), "kind": e.kind, "bytes": e.bytes} for e in entries]},
                         indent=2))
        return 0
    print(f"cache: {root} ({human_size(sum(totals.values()))})")
    for e in entries:
        print(f"  {e.kind:<10} {human_size(e.bytes):>10}  {e.path.name}")
    desc = {k.name: k.description for k in KINDS}
    for kind, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{kind:<10} {human_size(n):>10}  {desc.get(kind, 'not made by edgelite (or an older version)')}")
    return 0
