"""Fuzz the stream parsers: Sensor Logger push bodies, whole HTTP requests against a loopback server
(every complete request gets an HTTP answer, no unexpected server error), WebSocket frames + SensorServer
messages, Sensorstream UDP datagrams."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import FUZZ_SETTINGS, check, fuzz


@pytest.fixture(scope="module")
def seeds(shared):
    pytest.importorskip("pyarrow")
    yield fuzz.Seeds(shared)
    for s in fuzz._HTTP_SERVER:
        s.close()
    fuzz._HTTP_SERVER.clear()


@pytest.mark.parametrize("target", ["http_body", "http_request", "websocket", "udp"])
def test_fuzz_parser(target, seeds):
    outcomes = []

    @FUZZ_SETTINGS
    @given(seed=st.integers(0, 2**31 - 1))
    def run(seed):
        outcomes.append(check(target, seeds, seed))

    run()
    assert "clean" in outcomes
