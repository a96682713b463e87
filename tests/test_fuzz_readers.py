"""Fuzz the accelerometer and sign readers with mutated real files from ../shared: any input gives a
result or the project's own error (DataError/LimitError), never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import FUZZ_SETTINGS, check, fuzz

READERS = ["accel_continuous", "accel_unibuc_labels", "accel_magic_wand", "accel_sensorlogger_zip",
           "accel_sensorlogger_csv", "accel_detect", "signs_parquet", "signs_mp_npy", "signs_mp_tar",
           "signs_train_csv"]


@pytest.fixture(scope="module")
def seeds(shared):
    pytest.importorskip("pyarrow")
    return fuzz.Seeds(shared)


@pytest.mark.parametrize("target", READERS)
def test_fuzz_reader(target, seeds):
    outcomes = []

    @FUZZ_SETTINGS
    @given(seed=st.integers(0, 2**31 - 1))
    def run(seed):
        outcomes.append(check(target, seeds, seed))

    run()
    # the mutations must reach both the success path and the error paths
    assert len(outcomes) >= min(50, FUZZ_SETTINGS.max_examples) and "clean" in outcomes
