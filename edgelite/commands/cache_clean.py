"""Remove cached data from the edgelite cache (``$EDGELITE_CACHE``, else ``~/.cache/edgelite``).

Everything there is rebuilt on demand: archives are unpacked again, sign sequences decoded again,
the tflite-runtime 2.14 venv rebuilt (needs python3.11 and the network) the next time it is needed.

examples:
  edgelite cache clean --what archives
  edgelite cache clean --what compat-env --dry-run
  edgelite cache clean --what all
"""

from __future__ import annotations

import argparse

from edgelite.runtime.core.cache import KIND_NAMES

PATH = ("cache", "clean")
HELP = "remove cached archives, sign caches, the compat venv, or all"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--what", choices=[*KIND_NAMES, "other", "all"], default="all",
                   help="which kind of cached data to remove (default: all)")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")


def run(args: argparse.Namespace) -> int:
    from edgelite.runtime.core.cache import clean_cache, human_size

    gone = clean_cache(args.what, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for e in gone:
        print(f"{verb} {e.path} ({e.kind}, {human_size(e.bytes)})")
    print(f"{verb} {len(gone)} entr{'y' if len(gone) == 1 else 'ies'}, {human_size(sum(e.bytes for e in gone))}")
    return 0
