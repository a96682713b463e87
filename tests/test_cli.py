"""The command line: help texts, quiet logs, warnings format, cache management."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edgelite.cli import GROUPS, build_parser
from edgelite.runtime.core import logs

REPO = Path(__file__).resolve().parent.parent
NOISE = re.compile(r"XNNPACK|Sparsity tensors|fully_quantize|absl::InitializeLog|^[IW]\d{4} |retracing|oneDNN|"
                   r"TensorFlow binary is optimized|^INFO: ", re.M)


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def _walk(p: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, p
    for name, sub in _subparsers(p).items():
        yield from _walk(sub, (*path, name))


def test_every_option_has_help_and_every_command_examples():
    parser = build_parser()
    seen = []
    for path, p in _walk(parser):
        seen.append(path)
        for a in p._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert a.help and a.help.strip(), f"edgelite {' '.join(path)}: {a.option_strings or a.dest} has no help"
        text = p.format_help()
        assert "examples:" in text or "workflow:" in text, f"edgelite {' '.join(path)} --help shows no examples"
        assert "``" not in text, f"edgelite {' '.join(path)} --help shows reST double backticks"
        for m in re.finditer(r"^  edgelite ([\w-]+)(?: ([\w-]+))?", text, re.M):
            assert m.group(1) in _subparsers(parser), f"example names unknown command {m.group(1)!r}"
    assert {("train",), ("run",), ("record",), ("cache",), ("predict",), ("cache", "info")} <= set(seen)
    assert set(GROUPS) <= {p[0] for p in seen if p}


def test_is_noise_keeps_real_errors():
    assert logs.is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert logs.is_noise("I0000 00:00:1796067734.556614   12931 reader.cc:83] Reading SavedModel from: /tmp/x")
    assert logs.is_noise("W0000 00:00:1796067734.556203   12931 tf_tfl_flatbuffer_helpers.cc:364] Ignored output_format.")
    assert logs.is_noise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert logs.is_noise("fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32")
    for real in ["edgelite: error: x.csv: no rows", "E0000 00:00:17.5 1 op.cc:1] real failure",
                 "Traceback (most recent call last):", "100%|██████| 10/10 [00:01<00:00]"]:
        assert not logs.is_noise(real), real


def test_warning_is_one_line():
    line = logs.format_warning(UserWarning("two\nlines"), UserWarning, "x.py", 3)
    assert line == "edgelite: warning: two lines\n"


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgelite", *args], capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)})


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    import numpy as np

    p = tmp_path_factory.mktemp("rec") / "walk.csv"
    rng = np.random.default_rng(0)
    t = np.arange(160) / 32.0
    np.savetxt(p, np.c_[t, rng.normal(0, 3, (160, 3))], delimiter=",", header="t,x,y,z", comments="", fmt="%.5f")
    return p


def test_predict_and_inspect_are_quiet_unless_verbose(tiny_accel_model, recording):
    r = _cli("predict", str(tiny_accel_model), str(recording))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[0])["label"] in ("a", "b", "c")
    assert not NOISE.search(r.stderr), r.stderr
    r = _cli("inspect", str(tiny_accel_model))
    assert r.returncode == 0 and "probabilities" in r.stdout, r.stderr
    assert not NOISE.search(r.stderr), r.stderr
    r = _cli("--verbose", "predict", str(tiny_accel_model), str(recording))
    assert r.returncode == 0, r.stderr
    assert "XNNPACK" in r.stderr, "--verbose should let LiteRT's INFO lines through"


def test_warnings_print_as_one_edgelite_line():
    """After setup(): a warning is one `edgelite: warning:` line, native noise on fd 2 is dropped, the rest kept."""
    code = ("import warnings, sys; from edgelite.runtime.core import logs; logs.setup();"
            "warnings.warn('first\\nsecond'); print('I0000 00:00:1.0 1 x.cc:1] noise', file=sys.stderr);"
            "print('kept', file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stderr.splitlines() == ["edgelite: warning: first second", "kept"], r.stderr


def test_cache_info_and_clean(tmp_path):
    env = {**os.environ, "EDGELITE_CACHE": str(tmp_path)}
    (tmp_path / "archives" / "x-1").mkdir(parents=True)
    (tmp_path / "archives" / "x-1" / "a.bin").write_bytes(b"\0" * 4096)
    (tmp_path / "signs").mkdir()
    (tmp_path / "signs" / "k.frames.npy").write_bytes(b"\0" * 1000)
    run = lambda *a: subprocess.run([sys.executable, "-m", "edgelite", "cache", *a], capture_output=True, text=True,
                                    timeout=60, env=env)
    r = run("info", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["by_kind"] == {"archives": 4096, "signs": 1000} and d["total_bytes"] == 5096
    r = run("clean", "--what", "archives", "--dry-run")
    assert r.returncode == 0 and (tmp_path / "archives").exists()
    r = run("clean", "--what", "archives")
    assert r.returncode == 0 and not (tmp_path / "archives").exists() and (tmp_path / "signs").exists(), r.stdout
    r = run("clean", "--what", "all")
    assert r.returncode == 0 and list(tmp_path.iterdir()) == []
    r = run("clean", "--what", "nonsense")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_readme_documents_the_cache_and_tables_are_whole():
    text = (REPO / "README.md").read_text()
    assert "## Caches" in text
    for kind in ("archives", "signs", "compat-env", "edgelite cache clean"):
        assert kind in text.split("## Caches", 1)[1], kind
    # A table split by a blank line renders as two tables, the second without header: every block of
    # table rows must start with a header row followed by a |---| separator.
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            assert i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]), f"README line {i + 1}: table without header"
