"""Foundation: package layout, CLI behaviour, TF-free runtime, model-file errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgelite.cli import _command_modules, main
from edgelite.runtime.core.errors import ModelError
from edgelite.runtime.core.modelfile import read_model_info

REPO = Path(__file__).resolve().parent.parent


def test_layout_and_package_mapping():
    import edgelite.convert
    import edgelite.runtime
    import edgelite.train

    for mod, folder in [(edgelite.train, "train"), (edgelite.convert, "convert"), (edgelite.runtime, "runtime")]:
        assert Path(mod.__file__).resolve().parent.name == folder
    for name in ["train", "convert", "runtime", "benchmarks", "tests", "pyproject.toml", "README.md"]:
        assert (REPO / name).exists(), name


def test_runtime_never_imports_tf_or_upper_layers():
    """runtime must not import tensorflow/keras or edgelite.train/convert anywhere (not even lazily)."""
    bad = []
    files = sorted((REPO / "runtime").rglob("*.py"))
    assert len(files) > 20 and any(p.parent.name == "io" for p in files)  # every subpackage is scanned
    for p in files:
        for i, line in enumerate(p.read_text().splitlines(), 1):
            s = line.strip()
            if s.startswith(("import ", "from ")) and any(
                w in s.split()[1] for w in ("tensorflow", "keras", "edgelite.train", "edgelite.convert")
            ):
                bad.append(f"{p.relative_to(REPO)}:{i}: {s}")
    assert not bad, bad


def test_convert_does_not_import_train():
    files = sorted((REPO / "convert").rglob("*.py"))
    assert files
    for p in files:
        assert "edgelite.train" not in p.read_text(), p


BLOCK_TF = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
                raise ImportError('blocked for this test: ' + name)
    sys.meta_path.insert(0, Block())
    """
)


def test_runtime_imports_and_runs_with_tensorflow_unimportable(tiny_accel_model):
    code = BLOCK_TF + textwrap.dedent(
        f"""
        import numpy as np
        import edgelite.runtime, edgelite.runtime.accel.features, edgelite.runtime.accel.windows
        import edgelite.runtime.accel.io, edgelite.runtime.accel.resample, edgelite.runtime.core.modelfile
        from edgelite.runtime import EdgeModel
        m = EdgeModel.open({str(tiny_accel_model)!r})
        p = m.predict(np.random.randn(40, 3).astype(np.float32))
        assert abs(p.sum() - 1) < 1e-4, p
        assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules
        try:
            import tensorflow
        except ImportError:
            print('OK', m.labels)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "OK" in r.stdout


def test_every_subcommand_has_help(capsys):
    mods = _command_modules()
    assert {m.PATH[0] for m in mods} >= {"train", "predict"}
    for m in mods:
        with pytest.raises(SystemExit) as e:
            main([*m.PATH, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "usage: edgelite " + " ".join(m.PATH) in out
        assert len(out.splitlines()) > 5, f"{m.PATH}: --help too thin"


def test_cli_error_is_one_line_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgelite", "predict", str(tmp_path / "missing.tflite"), "x.csv"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgelite: error:") and "missing.tflite" in lines[0], r.stderr
    r = subprocess.run([sys.executable, "-m", "edgelite", "--debug", "predict", str(tmp_path / "missing.tflite"), "x.csv"],
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" in r.stderr


@pytest.mark.parametrize("content,expect", [
    (b"", "too small"),
    (b"PK\x03\x04" + b"\0" * 100, "not a TFLite model"),
    (b"hello world, this is not a model at all", "not a TFLite model"),
])
def test_bad_model_files(tmp_path, content, expect):
    p = tmp_path / "bad.tflite"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=expect) as e:
        read_model_info(p)
    assert str(p) in str(e.value)


def test_truncated_model_is_a_clear_error(tmp_path, tiny_accel_model):
    data = Path(tiny_accel_model).read_bytes()
    from edgelite.runtime import EdgeModel

    for cut in (20, len(data) // 3, len(data) - 100):
        p = tmp_path / f"cut{cut}.tflite"
        p.write_bytes(data[:cut])
        with pytest.raises(ModelError) as e:
            read_model_info(p)
        assert str(p) in str(e.value)
        with pytest.raises(ModelError) as e:  # the model class says the same, never an interpreter crash
            EdgeModel.open(p)
        assert str(p) in str(e.value)


def test_metadata_roundtrip_and_sidecar_check(tmp_path, tiny_accel_model):
    from edgelite.runtime.core.metadata import load_model_metadata

    info = read_model_info(tiny_accel_model)
    assert info.metadata["task"] == "accel" and info.metadata["labels"] == ["a", "b", "c"]
    assert info.signatures["serving_default"].inputs["accel"].shape_signature == [-1, 3]
    assert info.custom_ops == [] and info.flex_ops == []
    m = tmp_path / "m.tflite"
    m.write_bytes(Path(tiny_accel_model).read_bytes())
    (tmp_path / "metadata.json").write_text(json.dumps({**info.metadata, "labels": ["x", "y", "z"]}))
    with pytest.raises(ModelError, match="disagree"):
        load_model_metadata(m)
    (tmp_path / "metadata.json").write_text(json.dumps(info.metadata))
    assert load_model_metadata(m)["labels"] == ["a", "b", "c"]


def test_shared_dir_env_override(tmp_path, monkeypatch):
    from edgelite.runtime.core.paths import shared_dir

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("EDGELITE_SHARED", str(tmp_path))
    assert shared_dir() == tmp_path.resolve()
    monkeypatch.setenv("EDGELITE_SHARED", str(tmp_path / "nope"))
    from edgelite.runtime.core.errors import EdgeliteError

    with pytest.raises(EdgeliteError, match="EDGELITE_SHARED"):
        shared_dir()
