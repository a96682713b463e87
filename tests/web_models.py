"""Tiny models with a run folder (``model.tflite`` + ``saved_model/``) and their exported web sites, for the
``test_web_*`` tests; built once per test process (TensorFlow; ~30 s)."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

ACCEL_META_INPUT = {"name": "accel", "dtype": "float32", "shape": [-1, 3], "units": "m/s^2", "sample_rate_hz": 32.0,
                    "window_s": 1.5, "window_samples": 48, "gravity": True, "axes": ["x", "y", "z"]}


@functools.lru_cache(maxsize=None)
def tiny_runs() -> Path:
    """``<tmp>/accel`` and ``<tmp>/signs`` run folders: untrained models through the real export paths (the sign
    model has the real in-graph preprocessing, which drops hand-less frames)."""
    import numpy as np

    from edgelite.convert.export import export_tflite
    from edgelite.runtime.accel.features import feature_names
    from edgelite.runtime.core.metadata import make_metadata
    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.accel.model import build_model, serving_fn
    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.train import export_sign_model, sign_metadata

    root = Path(tempfile.mkdtemp(prefix="edgelite-web-runs-"))
    n, f = 48, len(feature_names())
    model = build_model(n, 3, (np.zeros(f), np.ones(f)), (np.zeros(4), np.ones(4)))
    meta = make_metadata("accel", ["a", "b", "c"], dict(ACCEL_META_INPUT), {"name": "probabilities", "kind": "probabilities"},
                         {"n": n})
    (root / "accel").mkdir()
    export_tflite(model, serving_fn(model, n), "accel", [None, 3], "probabilities", meta, root / "accel" / "model.tflite",
                  saved_model_dir=str(root / "accel" / "saved_model"))
    pre = SignPreprocessConfig(max_len=16)
    sm = build_sign_model(pre.max_len, pre.num_features, 2, size="tiny")
    (root / "signs").mkdir()
    export_sign_model(sm, pre, sign_metadata(pre, ["hello", "thankyou"], {}), str(root / "signs" / "model.tflite"),
                      saved_model_dir=str(root / "signs" / "saved_model"))
    return root


@functools.lru_cache(maxsize=None)
def tiny_spotter() -> Path:
    """An untrained spotter (the default window 16, stride 2, offset 6, blank '-') through the real spotter export."""
    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.spotter import SpotterConfig, export_spotter, spotter_preprocess

    cfg = SpotterConfig()
    pre = spotter_preprocess("hands", cfg.window)
    classes = ["-", "hello", "thankyou"]
    m = build_sign_model(pre.max_len, pre.num_features, len(classes), size="tiny")
    out = Path(tempfile.mkdtemp(prefix="edgelite-web-spotter-")) / "spotter.tflite"
    export_spotter(m, pre, classes, cfg, {}, str(out))
    return out


@functools.lru_cache(maxsize=None)
def tiny_sites() -> Path:
    """Exported web sites of :func:`tiny_runs`: ``<runs>/site_accel``, ``<runs>/site_signs``."""
    from edgelite.convert.web import export_web_site

    root = tiny_runs()
    for task in ("accel", "signs"):
        export_web_site(str(root / task / "model.tflite"), str(root / f"site_{task}"))
    return root


def b64_f32(x) -> str:
    """float32 array → base64 of its bytes (NaN kept), decoded in the page by ``fromB64``."""
    import base64

    import numpy as np

    return base64.b64encode(np.ascontiguousarray(x, np.float32).tobytes()).decode()


RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def require_tools() -> None:
    """Skip (outside CI) or fail (CI=true) when chromium / playwright / the npm runtime files are missing."""
    import pytest

    from edgelite.runtime.web.browser import missing_tools

    miss = missing_tools()
    if miss:
        msg = "browser test needs: " + "; ".join(miss)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def record(group: str, name: str, row: dict) -> None:
    """Parity numbers for the report: benchmarks/results/web_parity.json (merged, written atomically)."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    p = RESULTS / "web_parity.json"
    data = json.loads(p.read_text()) if p.exists() else {}
    data.setdefault(group, {})[name] = row
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(p)


JS_FROM_B64 = "(s) => new Float32Array(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer)"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
