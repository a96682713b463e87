"""Fuzz the TF-free .tflite reader and metadata validation with mutated real models (the test fixture's
model, exported through the real export path): only ModelError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import FUZZ_SETTINGS, check, fuzz


@pytest.fixture(scope="module")
def seeds(shared, tiny_accel_model):
    pytest.importorskip("pyarrow")
    return fuzz.Seeds(shared, tiny_accel_model)


def test_fuzz_model_reader(seeds):
    outcomes = []

    @FUZZ_SETTINGS
    @given(seed=st.integers(0, 2**31 - 1))
    def run(seed):
        outcomes.append(check("model_tflite", seeds, seed))

    run()
    assert "clean" in outcomes
