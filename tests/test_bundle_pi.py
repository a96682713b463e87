"""Pi bundle (no emulation): files, the 20-line example, install.sh, runtime loadability, runtime-only errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_pi_bundle_files_and_example(tiny_accel_model, accel_dir, tmp_path):
    from edgelite.cli import main

    out = tmp_path / "pi"
    assert main(["export", str(tiny_accel_model), "--target", "pi", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"model.tflite", "labels.txt", "metadata.json", "run_model.py", "install.sh", "README.md", "wheels"}
    wheels = [p.name for p in (out / "wheels").iterdir()]
    assert len(wheels) == 1 and wheels[0].startswith("edgelite-") and wheels[0].endswith("-py3-none-any.whl")
    example = (out / "run_model.py").read_text()
    assert len(example.splitlines()) <= 20 and "EdgeModel" in example and '"predict"' in example
    install = (out / "install.sh").read_text()
    assert "--find-links" in install and "'edgelite[runtime]'" in install and "$" in install
    readme = (out / "README.md").read_text()
    assert "install.sh" in readme and "edgelite predict" in readme and "$" not in readme.replace("$ ", "")
    # the example gives exactly what `edgelite predict` gives (one code path)
    rec = str(accel_dir / "uci-walking" / "Dataset" / "2.csv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    a = subprocess.run([sys.executable, str(out / "run_model.py"), rec], capture_output=True, text=True, env=env,
                       timeout=300, cwd=tmp_path)
    b = subprocess.run([sys.executable, "-m", "edgelite", "predict", str(out / "model.tflite"), rec],
                       capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout and json.loads(a.stdout.splitlines()[0])["label"] in {"a", "b", "c"}


def test_tflite214_refuses_newer_op_versions(tiny_accel_model):
    from edgelite.convert.deploy.loadable import check_loadable, op_version_problems
    from edgelite.runtime.core.errors import ModelError

    assert op_version_problems({"FULLY_CONNECTED": [1, 12], "ADD": [1]}, "tflite-runtime") == [
        "FULLY_CONNECTED v12 (tflite-runtime 2.14 has up to v11)"]
    assert op_version_problems({"FULLY_CONNECTED": [12]}, "litert") == []
    with pytest.raises(ModelError, match="tflite-runtime-2.14 cannot load this model: DIV v3"):
        check_loadable(str(tiny_accel_model), {"DIV": [3]}, "tflite-runtime")
    assert check_loadable(str(tiny_accel_model), {"FULLY_CONNECTED": [1]}, "litert")


def test_nan_unsafe_sign_graph_refused_for_tflite214(tmp_path):
    """A sign graph from before the NaN-safe preprocessing is refused for tflite-runtime (wrong on aarch64);
    a graph exported now passes (it has the LOGICAL_NOT of the validity mask)."""
    import keras

    from edgelite.convert.bundle import export_bundle
    from edgelite.convert.deploy.loadable import nan_unsafe_sign_graph
    from edgelite.runtime.core.errors import ModelError
    from edgelite.runtime.core.modelfile import read_model_info
    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.signs.model import build_sign_model
    from edgelite.train.signs.train import export_sign_model, sign_metadata

    meta = {"task": "signs", "preprocessing": {"name": "edgelite-signs/1"}}
    old_ops = {"SUB": [1], "SELECT_V2": [1], "NOT_EQUAL": [1]}
    assert "-3.4e38" in nan_unsafe_sign_graph(meta, old_ops, "tflite-runtime")
    assert nan_unsafe_sign_graph(meta, old_ops, "litert") is None
    assert nan_unsafe_sign_graph({"task": "accel"}, old_ops, "tflite-runtime") is None
    cfg = SignPreprocessConfig(landmark_set="hands", max_len=16)
    keras.utils.set_random_seed(0)
    model = build_sign_model(cfg.max_len, cfg.num_features, 3, "tiny")
    path = tmp_path / "signs.tflite"
    export_sign_model(model, cfg, sign_metadata(cfg, ["a", "b", "c"], {"data": "untrained"}), str(path))
    info = read_model_info(path)
    assert nan_unsafe_sign_graph(info.metadata, info.op_versions, "tflite-runtime") is None
    export_bundle(str(path), "pi", str(tmp_path / "bundle"), runtime="tflite-runtime")
    assert (tmp_path / "bundle/wheels").is_dir()
    with pytest.raises(ModelError, match="predates the NaN-safe"):
        from edgelite.convert.deploy.pibundle import add_pi_wheels

        add_pi_wheels(str(tmp_path / "b2"), str(path), old_ops, info.metadata, "tflite-runtime", False)


def test_export_rejects_wheels_for_other_targets(tiny_accel_model, tmp_path, capsys):
    from edgelite.cli import main

    assert main(["export", str(tiny_accel_model), "--target", "android", "--with-wheels", "--out", str(tmp_path)]) == 2
    assert "--target pi only" in capsys.readouterr().err


def test_missing_extra_messages():
    from edgelite.extras import missing_extra_message

    assert missing_extra_message("tensorflow.python") == (
        "tensorflow is not installed: this needs edgelite[train] (pip install 'edgelite[train]')")
    assert "edgelite[parquet]" in missing_extra_message("pyarrow")
    assert missing_extra_message("edgelite.nothing") is None


def _runtime_only_python() -> str | None:
    """A cached venv (<cache>/venv-runtime-only) with only numpy + ai-edge-litert, plus this checkout's wheel."""
    from edgelite.convert.deploy.wheels import build_project_wheel
    from edgelite.runtime.core.paths import cache_dir

    venv = cache_dir() / "venv-runtime-only"
    py = venv / "bin/python"
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        wheel = build_project_wheel(cache_dir() / "wheel-runtime-only")
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[runtime]"],
                       check=True, capture_output=True, timeout=900)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                        "--force-reinstall", str(wheel)], check=True, capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"runtime-only venv could not be built ({type(e).__name__}); needs PyPI or a pip cache")
    return str(py)


def test_runtime_only_install_names_the_extra(tiny_accel_model, shared, tmp_path):
    py = _runtime_only_python()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def edgelite(*args):
        return subprocess.run([py, "-m", "edgelite", *args], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path, env=env)

    r = subprocess.run([py, "-c", "import tensorflow"], capture_output=True, cwd=tmp_path, env=env)
    assert r.returncode != 0  # really runtime-only
    acc = shared / "data/accel/uci-walking/Dataset"
    from edgelite.runtime.core.modelfile import read_metadata

    (tmp_path / "r/saved_model").mkdir(parents=True)  # a run folder shaped like `edgelite train` writes
    (tmp_path / "r/saved_model/saved_model.pb").write_bytes(b"")
    (tmp_path / "r/metadata.json").write_text(json.dumps(read_metadata(tiny_accel_model)))
    for args, extra in [
        (["train", "accel", "--data", str(acc), "--format", "continuous", "--epochs", "1", "--out", "t"], "train"),
        (["train", "signs", "--data", str(shared / "data/asl-signs"), "--format", "asl-signs", "--out", "s"], "train"),
        (["convert", str(tmp_path / "r"), "--variants", "fp32", "--out", "c"], "train"),
    ]:
        r = edgelite(*args)
        lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("convert:")]  # progress
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert f"needs edgelite[{extra}]" in lines[0] and "internal error" not in lines[0]
    r = edgelite("predict", str(tiny_accel_model), str(acc / "2.csv"))
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[0])["label"] in {"a", "b", "c"}, r.stderr
    sys.path.insert(0, str(REPO / "benchmarks"))
    from tiny_sign_model import make_tiny_sign_model

    sign = make_tiny_sign_model(str(tmp_path / "signs.tflite"))
    parquet = next((shared / "data/asl-signs/train_landmark_files").rglob("*.parquet"))
    r = edgelite("predict", sign, str(parquet))
    assert r.returncode == 2 and "needs edgelite[parquet]" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_pi_check_comparison_can_fail():
    from edgelite.convert.deploy.picheck import compare_lines

    h = [{"input": "a.zip", "label": "x", "top": [["x", 0.9], ["y", 0.1]]}, {"summary": {"frames": 3}}]
    same = compare_lines("same", h, [{"input": "a.zip", "label": "x", "top": [["x", 0.900001], ["y", 0.099999]]}])
    assert same.ok and same.lines == 1 and abs(same.max_abs_dp - 1e-6) < 1e-9
    flipped = compare_lines("flip", h, [{"input": "a.zip", "label": "y", "top": [["y", 0.6], ["x", 0.4]]}])
    assert not flipped.ok and abs(flipped.max_abs_dp - 0.5) < 1e-9
    assert not compare_lines("missing", h, []).ok
    w = [{"t_start": 0.1, "label": "x", "top": [{"label": "x", "score": 0.7}]}]
    assert compare_lines("webcam", w, w).ok
    assert not compare_lines("other", h, [{"input": "b.zip", "label": "x", "top": [["x", 0.9]]}]).ok
    drift = [{"input": "a.zip", "label": "x", "top": [["x", 0.90002], ["y", 0.09998]]}]
    assert not compare_lines("drift", h, drift).ok  # same label, |dp| 2e-5 > the default 1e-5
    assert compare_lines("drift", h, drift, tolerance=1e-4).ok
