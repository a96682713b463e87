"""Shared by tests/test_fuzz_*.py: the fuzz engine of benchmarks/fuzz.py and hypothesis settings."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location("edgelite_fuzz", REPO / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["edgelite_fuzz"] = fuzz  # dataclasses need the module registered
_spec.loader.exec_module(fuzz)

#: cases per target in the normal suite (``make fuzz`` runs ≥ 1,000 per target in capped subprocesses)
CASES = int(os.environ.get("EDGELITE_FUZZ_CASES", "200"))

FUZZ_SETTINGS = settings(
    max_examples=CASES,
    derandomize=True,  # seeded: the same cases every run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def check(name: str, seeds, seed: int) -> str:
    """Run one case; fail with the traceback if it raised anything but the project's own errors."""
    outcome, detail = fuzz.run_case(name, seeds, seed)
    assert outcome != "other", f"{name} seed {seed}: {detail}"
    return outcome
