"""Continuous signing on the sign page (issue 17, "one behaviour everywhere"): the page's JavaScript SpotDecoder and
Spotter, running the spotter's fixed-length web variant in LiteRT.js, emit the same signs (labels, t_start, t_end,
emission time) as runtime/signs/spotting.py on stitched streams of real held-out landmark sequences.

Skips with a note when chromium / playwright / the npm runtime cache are missing; fails under CI=true.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

# the stitched fixtures and the tiny held-out-trained spotter of tests/test_continuous.py
from test_continuous import LABELS, _decode, _held_out_streams, _posts, spotter_path  # noqa: F401
from web_models import (
    JS_FROM_B64,
    RESULTS,
    b64_f32,
    record,
    require_tools,
    tiny_runs,
    tiny_sites,
)

TOL = 1e-4


@pytest.fixture(scope="module")
def spot_site(spotter_path, tmp_path_factory) -> Path:  # noqa: F811 - the imported fixture
    """The tiny sign site exported with the spotter (the run's spotter.tflite → model/spotter.tflite)."""
    require_tools()
    from edgelite.convert.web import export_web_site

    tiny_sites()
    out = tmp_path_factory.mktemp("site_spot")
    export_web_site(str(tiny_runs() / "signs" / "model.tflite"), str(out), spotter=spotter_path)
    return out


@pytest.fixture(scope="module")
def spot_page(spot_site):
    from edgelite.runtime.web.browser import browser, open_page
    from edgelite.runtime.web.server import WebServer, WebServerOptions

    with WebServer(WebServerOptions(str(spot_site), port=0)) as srv, browser() as ctx:
        page = open_page(ctx, srv.url + "signs.html?tracker=0&mode=continuous")
        yield page
        page.close()


def test_web_spotter_export_is_the_fixed_window_variant(spot_site, spotter_path):  # noqa: F811
    """model/spotter.tflite takes [window,543,3] (LiteRT.js rejects -1) and gives the dynamic spotter's outputs."""
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.core.modelfile import read_model_info

    cfg = json.loads((spot_site / "model" / "config.json").read_text())["spotter"]
    info = read_model_info(spot_site / "model" / "spotter.tflite")
    inp = next(iter(info.signatures["serving_default"].inputs.values()))
    assert inp.shape == inp.shape_signature == [cfg["spotting"]["window"], 543, 3] == cfg["input_shape"]
    s = _held_out_streams(1, __import__("edgelite.train.signs.stitch", fromlist=["x"]).BACK_TO_BACK)[0]
    w = cfg["spotting"]["window"]
    dyn, fixed = EdgeModel.open(spotter_path), EdgeModel.open(str(spot_site / "model" / "spotter.tflite"))
    for a in range(0, len(s.frames) - w, 7):
        np.testing.assert_array_equal(dyn.predict(s.frames[a:a + w]), fixed.predict(s.frames[a:a + w]))


DECODER_CASES = [("--aaaa-bbbbb-cccc--", {}), ("aaaabbbbcccc", {}), ("--aaaa-b-cccc--", {}), ("aaa-aaa", {}),
                 ("aaa---aaa", {}), ("aaaaabbaaaaa", {"merge_steps": 2}), ("----------", {}),
                 ("--aaaa--", {"threshold": 0.5, "min_score": 0.7, "unknown_label": "unknown", "conf": 0.55}),
                 ("--aaaa--", {"threshold": 0.5, "min_score": 0.7, "conf": 0.55}),
                 ("a-ab-bc--cab", {"smoothing": 3, "min_steps": 1, "nms_overlap": 0.2}),
                 ("--aaaa--bbbb--", {"min_mean": 0.85, "unknown_label": "unknown", "conf": 0.8}),
                 ("--aaaa--bbbb--", {"min_mean": 0.75, "conf": 0.8})]


def test_web_spot_decoder_matches_python_on_the_decoder_cases(spot_page):
    """The decoder unit cases of test_continuous (runs back to back, flicker, merge/split, NMS, blank, min_score and
    unknown) plus smoothing: the JavaScript SpotDecoder emits the same signs, indices and scores."""
    for seq, opt in DECODER_CASES:
        opt = dict(opt)
        probs = _posts(seq, opt.pop("conf", 0.9))
        ref = _decode(seq, probs, **opt)
        o = {"smoothing": 1, "min_steps": 2, "merge_steps": 1, **opt}
        got = spot_page.evaluate(
            "async ([labels, probs, o, n]) => { const {SpotDecoder} = await import('./js/spotting.js');"
            "const d = new SpotDecoder(labels, 0, o); const out = [];"
            "probs.forEach((p, i) => out.push(...d.push(Float32Array.from(p), i, i)));"
            "out.push(...d.flush(n, n)); return out; }", [LABELS, probs.tolist(), o, len(seq)])
        assert [(g["label"], g["start"], g["end"], g["emit"]) for g in got] == \
            [(s.label, s.start_index, s.end_index, s.emit_index) for s in ref], (seq, got)
        assert np.allclose([g["score"] for g in got], [s.score for s in ref], atol=1e-7)


def _page_spot(page, frames: np.ndarray, fps: float) -> list[dict]:
    return page.evaluate(
        f"async ([s, T, fps]) => {{ const f = ({JS_FROM_B64})(s); const e = window.edgelite; e.setMode('continuous');"
        "e.results.length = 0; const probs = [];"
        "for (let i = 0; i < T; i++) { const out = await e.feedFrame(f.subarray(i*1629, (i+1)*1629), i / fps);"
        " if (e.spotter.n % e.spotter.stride === 0) probs.push(Array.from(e.spotter.lastProbs)); }"
        "await e.flush(1 / fps);"
        "return {signs: e.results.map(r => [r.label, r.score, r.tStart, r.tEnd, r.tEmit, r.start, r.end]), probs}; }",
        [b64_f32(frames), len(frames), fps])


@pytest.mark.parametrize("gaps", ["back_to_back", "idle_gaps"])
def test_web_continuous_signs_equal_python(spot_page, spotter_path, gaps):  # noqa: F811
    """Stitched streams of held-out real sequences (TheCamNelson, 3 signs each), fed frame by frame to the page in
    continuous mode: the same signs (labels, t_start, t_end, t_emit, frame spans) as the Python Spotter (spot_frames)
    on the dynamic spotter, and the same posteriors (max |Δp| ≤ 1e-4)."""
    from edgelite.runtime.signs.spotting import Spotter, spot_frames
    from edgelite.train.signs import stitch as st

    sp = Spotter.create_from_model_path(spotter_path)
    streams = _held_out_streams(3, st.BACK_TO_BACK if gaps == "back_to_back" else st.IDLE_GAPS)
    rows, worst, n_signs = [], 0.0, 0
    for s in streams:
        ref = spot_frames(sp, s.frames, 30.0)
        got = _page_spot(spot_page, s.frames, 30.0)
        assert [g[0] for g in got["signs"]] == [r.label for r in ref], (s.labels, got["signs"])
        assert [tuple(g[5:]) for g in got["signs"]] == [(r.start_index, r.end_index + 1) for r in ref]
        for g, r in zip(got["signs"], ref):
            assert abs(g[2] - r.t_start) < 1e-9 and abs(g[3] - r.t_end) < 1e-9 and abs(g[4] - r.t_emit) < 1e-9
            assert abs(g[1] - r.score) <= TOL
        # the posteriors of every model run (window ending at each stride-th frame)
        sp.reset()
        win = np.full((sp.window, 543, 3), np.nan, np.float32)
        py = []
        for i, f in enumerate(s.frames):
            win = np.concatenate([win[1:], f[None]])
            if (i + 1) % sp.stride == 0:
                py.append(sp.probabilities(win))
        js = np.array(got["probs"][:len(py)], np.float32)
        worst = max(worst, float(np.abs(js - np.stack(py)).max()))
        n_signs += len(ref)
        rows.append({"reference": s.labels, "python": [r.to_json() for r in ref],
                     "page": [{"label": g[0], "t_start": round(g[2], 3), "t_end": round(g[3], 3)} for g in got["signs"]]})
    assert n_signs >= len(streams) * 2  # the spotter found signs (a parity of empty outputs proves nothing)
    if gaps == "back_to_back":
        RESULTS.mkdir(parents=True, exist_ok=True)
        spot_page.screenshot(path=str(RESULTS / "web_signs_continuous.png"), full_page=True)
    assert worst <= TOL, worst
    record("continuous", gaps, {"streams": len(streams), "signs": n_signs, "labels_times_equal": True,
                                "max_abs_dp": worst, "per_stream": rows})
