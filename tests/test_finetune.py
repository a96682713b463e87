"""`edgelite train signs --init RUN DATA...` / `train accel --init RUN`: fine-tune a run on a new signer's data.

A tiny real base run (asl-signs hello/thankyou, 4 signers held out, 3 epochs) is fine-tuned on one held-out
signer's recordings (written as .npy [T,543,3] files, the label from the folder name) and tested on the other
held-out signers; the label set is kept, or extended with a real new sign (traduttore "coffee" sequences).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

HELD_OUT = ["16069", "2044", "61333", "34503"]
ADAPT = "2044"  # the "new signer" whose recordings the fine-tune uses


@pytest.fixture(scope="module")
def base_run(asl_root: Path, tmp_path_factory) -> Path:
    from edgelite.cli import main

    tmp = tmp_path_factory.mktemp("ft_base")
    (tmp / "map.json").write_text(json.dumps({"hello": 0, "thankyou": 1}))
    out = tmp / "base"
    rc = main(["train", "signs", "--data", str(asl_root), "--format", "asl-signs", "--label-map", str(tmp / "map.json"),
               "--holdout-signers", ",".join(HELD_OUT), "--epochs", "3", "--size", "tiny", "--max-len", "24",
               "--no-final", "--no-continuous", "--quiet", "--out", str(out)])
    assert rc == 0
    return out


def _write_npy(asl_root: Path, signers: list[str], dest: Path) -> int:
    """The signers' asl-signs sequences as ``dest/<sign>/<id>.npy`` [T,543,3]; returns the count."""
    from edgelite.runtime.signs.io import list_asl_signs, read_parquet_sequence

    n = 0
    for s in list_asl_signs(asl_root):
        if s.signer in signers:
            (dest / s.label).mkdir(parents=True, exist_ok=True)
            np.save(dest / s.label / f"{s.name}.npy", read_parquet_sequence(s.path))
            n += 1
    return n


@pytest.fixture(scope="module")
def new_signer(asl_root: Path, tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ft_data")
    assert _write_npy(asl_root, [ADAPT], tmp / "me") == 10
    assert _write_npy(asl_root, [s for s in HELD_OUT if s != ADAPT], tmp / "others") == 30
    return tmp / "me", tmp / "others"


def _run(args: list[str], capsys) -> tuple[int, str]:
    from edgelite.cli import main

    rc = main(args)
    return rc, capsys.readouterr().err


def test_finetune_keeps_labels_and_accuracy(base_run, new_signer, tmp_path, capsys):
    from edgelite.runtime.core.model import EdgeModel

    me, others = new_signer
    out = tmp_path / "ft"
    rc, err = _run(["train", "signs", "--init", str(base_run), str(me), "--eval", str(others), "--steps", "20",
                    "--quiet", "--out", str(out)], capsys)
    assert rc == 0, err
    base_labels = json.loads((base_run / "metadata.json").read_text())["labels"]
    m = EdgeModel.open(str(out / "model.tflite"))
    assert m.labels == base_labels == ["hello", "thankyou"]
    assert m.metadata["training"]["fine_tune"]["fine_tune_of"] == str(base_run.resolve())
    rep = json.loads((out / "report.json").read_text())
    assert rep["fine_tune"]["n_recordings"] == 10 and rep["fine_tune"]["labels_added"] == []
    assert rep["evaluation"]["held_out"] and rep["evaluation"]["n"] == 30 and rep["n_val"] == 30
    # 2 signs on 3 signers neither model trained on: chance 0.5; the 3-epoch base reaches ~0.9
    assert rep["evaluation"]["accuracy"] >= 0.75, rep["evaluation"]
    assert rep["evaluation"]["accuracy"] >= rep["evaluation"]["base_accuracy"] - 0.1, rep["evaluation"]
    x = np.load(next((me / "hello").glob("*.npy")))
    assert m(inputs=x)["outputs"].shape == (2,)
    for name in ("model.keras", "saved_model", "eval_data.npz", "confusion_matrix.png", "training_curves.png"):
        assert (out / name).exists(), name


def test_finetune_extends_labels_with_a_new_sign(base_run, new_signer, shared, tmp_path, capsys):
    from edgelite.runtime.core.model import EdgeModel
    from edgelite.runtime.signs.io import list_mp_data, read_mp_sequence

    me, _ = new_signer
    trad = shared / "data" / "mp-data" / "traduttore"
    coffee = [s for s in list_mp_data(trad / "MP_Data_16actions.tar.xz") if s.label == "coffee"][:6]
    (tmp_path / "new" / "coffee").mkdir(parents=True)
    for s in coffee:
        np.save(tmp_path / "new" / "coffee" / f"{Path(s.path).name}.npy", read_mp_sequence(s.path))
    out = tmp_path / "ft"
    rc, err = _run(["train", "signs", "--init", str(base_run), str(me), str(tmp_path / "new"), "--steps", "30",
                    "--quiet", "--out", str(out)], capsys)
    assert rc == 0, err
    m = EdgeModel.open(str(out / "model.tflite"))
    assert m.labels == ["hello", "thankyou", "coffee"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["fine_tune"]["labels_added"] == ["coffee"] and not rep["evaluation"]["held_out"]
    # evaluated on the fine-tune recordings themselves (a fit check): the new sign is learnt
    assert rep["per_class"]["coffee"]["recall"] >= 0.8, rep["per_class"]
    assert rep["evaluation"]["accuracy"] >= 0.8, rep["evaluation"]
    out2 = tmp_path / "ft_skip"
    rc, err = _run(["train", "signs", "--init", str(base_run), str(me), str(tmp_path / "new"), "--new-signs", "skip",
                    "--steps", "5", "--quiet", "--out", str(out2)], capsys)
    assert rc == 0, err
    assert EdgeModel.open(str(out2 / "model.tflite")).labels == ["hello", "thankyou"]
    assert json.loads((out2 / "report.json").read_text())["fine_tune"]["n_recordings"] == 10


def test_init_must_be_a_sign_run(tmp_path, capsys):
    from edgelite.runtime.core.metadata import make_metadata, write_sidecar

    run = tmp_path / "accel_run"
    run.mkdir()
    write_sidecar(make_metadata("accel", ["a", "b"], {"name": "accel"}, {"name": "probabilities"}, {}),
                  run / "metadata.json")
    (tmp_path / "x.npy").write_bytes(b"")
    rc, err = _run(["train", "signs", "--init", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = [ln for ln in err.splitlines() if ln.startswith("edgelite: error:")]
    assert len(line) == 1 and "is a 'accel' run, not a 'signs' run" in line[0], err
    rc, err = _run(["train", "signs", "--init", str(tmp_path / "nowhere"), str(tmp_path / "x.npy"), "--out",
                    str(tmp_path / "o")], capsys)
    assert rc == 2 and "not a run folder" in err
    rc, err = _run(["train", "signs", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "needs --data and --format (or --init RUN DATA... to fine-tune a run)" in err


def test_wrong_landmark_layout_is_one_line(base_run, tmp_path, capsys):
    (tmp_path / "bad" / "hello").mkdir(parents=True)
    np.save(tmp_path / "bad" / "hello" / "1.npy", np.random.default_rng(0).random((12, 21, 3), np.float32))
    rc, err = _run(["train", "signs", "--init", str(base_run), str(tmp_path / "bad"), "--out", str(tmp_path / "o")],
                   capsys)
    assert rc == 2
    line = [ln for ln in err.splitlines() if ln.startswith("edgelite: error:")]
    assert len(line) == 1 and "1.npy" in line[0] and "543, 3" in line[0], err
    assert not (tmp_path / "o").exists()  # nothing written before the data is checked


def test_missing_landmark_part_is_refused(shared):
    """A hands+pose model and hands-only recordings (the LETTER_Data layout): DataError naming the part."""
    from edgelite.runtime.core.errors import DataError
    from edgelite.runtime.layout import PARTS
    from edgelite.runtime.signs.features import SignPreprocessConfig
    from edgelite.train.signs.finetune import check_layout

    x = np.full((10, 543, 3), np.nan, np.float32)
    x[:, slice(*PARTS["left_hand"])] = 0.5
    check_layout([x], ["a.npy"], SignPreprocessConfig(landmark_set="hands"), "RUN")
    with pytest.raises(DataError, match="a.npy: no pose landmarks in any frame, but RUN uses the 'hands\\+pose'"):
        check_layout([x], ["a.npy"], SignPreprocessConfig(landmark_set="hands+pose"), "RUN")


def test_accel_finetune_on_a_new_user(shared, tmp_path, capsys):
    """Magic wand: a base run that never saw user dengyl, fine-tuned on dengyl's recordings (label set kept)."""
    import shutil

    from edgelite.runtime.core.model import EdgeModel

    wand = shared / "data" / "accel" / "magic-wand"
    if not wand.is_dir():
        pytest.skip("magic-wand data not in shared/")
    base = tmp_path / "base"
    rc, err = _run(["train", "accel", "--data", str(wand), "--format", "magic-wand", "--holdout", "dengyl", "--epochs", "3",
                    "--no-final", "--quiet", "--out", str(base)], capsys)
    assert rc == 0, err
    me = tmp_path / "me"
    for f in wand.glob("*/*dengyl*"):
        (me / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, me / f.parent.name / f.name)
    assert len(list(me.glob("*/*"))) >= 3
    out = tmp_path / "ft"
    rc, err = _run(["train", "accel", "--init", str(base), "--data", str(me), "--format", "magic-wand", "--steps", "20",
                    "--quiet", "--out", str(out)], capsys)
    assert rc == 0, err
    m = EdgeModel.open(str(out / "model.tflite"))
    assert m.labels == json.loads((base / "metadata.json").read_text())["labels"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["task"] == "accel" and rep["fine_tune"]["fine_tune_of"] == str(base.resolve())
    # a fit check on dengyl's own windows (4 classes: chance 0.25)
    assert rep["evaluation"]["accuracy"] >= 0.6, rep["evaluation"]
    rc, err = _run(["train", "signs", "--init", str(base), str(me), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "is a 'accel' run, not a 'signs' run" in err
