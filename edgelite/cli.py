"""``edgelite`` command line: ``edgelite <command> [<subcommand>] ...``; see ``edgelite --help``.

Errors a user can fix (:class:`edgelite.runtime.core.errors.EdgeliteError`, missing files, bad values)
print one line to stderr and exit 2; ``--debug`` shows the traceback instead. Library and native
log lines (TensorFlow/LiteRT INFO, absl duplicates, retracing warnings) are hidden unless ``--verbose``
(see :mod:`edgelite.runtime.core.logs`); Python warnings print as one ``edgelite: warning: …`` line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys
from types import ModuleType

from edgelite._version import __version__

GROUPS = {
    "train": "train a model from recordings (TensorFlow): accel | signs",
    "run": "run a .tflite live (no TensorFlow): accel streams | webcam",
    "record": "record labelled data for training",
    "serve": "serve files to a browser: web (an exported web site)",
    "cache": "show or clear what edgelite keeps in ~/.cache/edgelite",
}
#: Examples shown by ``edgelite <group> --help``.
GROUP_EXAMPLES = {
    "train": [
        "edgelite train accel --data ../shared/data/accel/uci-walking/Dataset --format continuous --out runs/uci",
        "edgelite train signs --data ../shared/data/asl-signs --format asl-signs --out runs/asl",
    ],
    "run": [
        "edgelite run accel --model runs/uci/model.tflite --source sensorlogger",
        "edgelite run accel --model runs/uci/model.tflite --source replay:../shared/data/accel/uci-walking/Dataset/7.csv",
        "edgelite run webcam --model runs/asl/model.tflite --camera 0",
    ],
    "record": ["edgelite record webcam --label hello --out my-signs"],
    "serve": ["edgelite serve web site/ --https"],
    "cache": ["edgelite cache info", "edgelite cache clean --what archives"],
}
ORDER = ["train", "convert", "inspect", "predict", "export", "serve", "run", "record", "bench", "cache"]

EPILOG = """\
workflow:
  edgelite train accel --data ../shared/data/accel/uci-walking/Dataset --format continuous --out runs/uci
  edgelite convert runs/uci --variants fp32,fp16,int8-dynamic,int8 --out runs/uci/convert
  edgelite predict runs/uci/model.tflite ../shared/data/accel/uci-walking/Dataset/7.csv
  edgelite bench runs/uci/model.tflite

Shared data is looked up in $EDGELITE_SHARED, else ../shared next to the repository.
"""


def _command_modules() -> list[ModuleType]:
    import edgelite.commands as pkg

    mods = []
    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"edgelite.commands.{m.name}"))
    return sorted(mods, key=lambda m: (ORDER.index(m.PATH[0]) if m.PATH[0] in ORDER else 99, m.PATH))


def plain_text(doc: str) -> str:
    """Module docstring → --help text: reST literals (````x````) and roles (``:func:`x```) become plain ``x``."""
    doc = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc)
    return re.sub(r"``([^`]+)``", r"\1", doc)


def _group_epilog(group: str) -> str:
    lines = GROUP_EXAMPLES.get(group, [])
    return "examples:\n" + "".join(f"  {ln}\n" for ln in lines) if lines else ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgelite",
        description="Train sensor classifiers, convert them to .tflite with in-graph preprocessing, "
        "run them with LiteRT on webcams and phone streams, and benchmark them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgelite {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow/LiteRT log lines and library warnings as they come")
    top = parser.add_subparsers(dest="command", metavar="<command>")
    groups: dict[str, argparse._SubParsersAction] = {}
    for mod in _command_modules():
        path = mod.PATH
        doc = plain_text((mod.__doc__ or mod.HELP).strip())
        if len(path) == 1:
            p = top.add_parser(path[0], help=mod.HELP, description=doc,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        else:
            if path[0] not in groups:
                g = top.add_parser(path[0], help=GROUPS.get(path[0], ""), description=GROUPS.get(path[0], ""),
                                   epilog=_group_epilog(path[0]), formatter_class=argparse.RawDescriptionHelpFormatter)
                groups[path[0]] = g.add_subparsers(dest="subcommand", metavar="<what>")
                g.set_defaults(_group=g)
            p = groups[path[0]].add_parser(path[1], help=mod.HELP, description=doc,
                                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks on errors")
        p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="show TensorFlow/LiteRT log lines")
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        (getattr(args, "_group", None) or parser).print_help()
        return 2
    from edgelite.runtime.core import logs

    # Process-wide changes (fd 2 filter, warning format) only for a real command line (argv None),
    # not when a test or a script calls main([...]) inside its own process.
    logs.setup(verbose=args.verbose, process_wide=argv is None)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from edgelite.runtime.core.errors import EdgeliteError

    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("edgelite: interrupted", file=sys.stderr)
        return 130
    except (EdgeliteError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as e:
        if args.debug:
            raise
        msg = str(e) if isinstance(e, EdgeliteError) else f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}"
        print(f"edgelite: error: {msg}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # an optional extra is not installed (e.g. train on a runtime-only Pi)
        from edgelite.extras import missing_extra_message

        msg = missing_extra_message(e.name)
        if args.debug:
            raise
        print(f"edgelite: error: {msg}" if msg else f"edgelite: internal error: ModuleNotFoundError: {e} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 2 if msg else 1
    except Exception as e:  # unexpected: still one line unless --debug
        if args.debug:
            raise
        print(f"edgelite: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
