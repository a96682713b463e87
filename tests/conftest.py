"""Shared test fixtures: the real data in ../shared (or $EDGELITE_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent


def _shared() -> Path | None:
    env = os.environ.get("EDGELITE_SHARED")
    p = Path(env) if env else REPO.parent / "shared"
    return p if (p / "data").is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    """Root of the shared, read-only data (``../shared``); tests needing it skip only when it is absent."""
    p = _shared()
    if p is None:
        pytest.skip("shared data not found: set EDGELITE_SHARED")
    return p


@pytest.fixture(scope="session")
def accel_dir(shared: Path) -> Path:
    return shared / "data" / "accel"
