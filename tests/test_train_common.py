"""train/common.py: run folder refusal/overwrite, the one eval_data writer/reader, counts, epochs of the final fit."""

from __future__ import annotations

import numpy as np
import pytest
from edgelite.runtime.core.errors import DataError
from edgelite.runtime.core.evaldata import read_eval_data, write_eval_data
from edgelite.train.common import (
    CVResult,
    RunFolderError,
    counts,
    final_epoch_count,
    final_fit_record,
    inner_split,
    prepare_run_dir,
)


def test_run_folder_is_refused_then_fully_cleared_on_overwrite(tmp_path):
    run = tmp_path / "run"
    prepare_run_dir(run)  # new folder: fine
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "fold1.best.weights.h5").write_bytes(b"old")
    (run / "model.tflite").write_bytes(b"old")
    with pytest.raises(RunFolderError, match="already exists"):
        prepare_run_dir(run)
    assert (run / "model.tflite").exists()  # refusing leaves everything in place
    prepare_run_dir(run, overwrite=True)
    assert list(run.iterdir()) == []  # checkpoints/ gone too


def test_a_folder_that_is_not_a_run_is_never_emptied(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(RunFolderError, match="not a run folder.*notes.txt"):
        prepare_run_dir(tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunFolderError, match="not a folder"):
        prepare_run_dir(f)


def test_eval_data_round_trip_variable_lengths(tmp_path):
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(t, 3)).astype(np.float32) for t in (5, 1, 9)]
    xs[1][0, 2] = np.nan
    cal = [rng.normal(size=(4, 3)).astype(np.float32)]
    p = write_eval_data(tmp_path / "eval_data.npz", xs, np.array([2, 0, 1]), cal, np.array([1]), heldout_for_model=False)
    ev = read_eval_data(p)
    assert [len(x) for x in ev.x] == [5, 1, 9] and ev.y.tolist() == [2, 0, 1]
    np.testing.assert_array_equal(ev.x[1], xs[1])  # NaN kept
    np.testing.assert_array_equal(ev.calib_x[0], cal[0])
    assert ev.heldout_for_model is False and ev.calib_y.tolist() == [1]
    assert not list(tmp_path.glob("*.tmp*"))  # atomic: no temporary left


def test_eval_data_reader_names_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_eval_data(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_flat=np.zeros((5, 3), np.float32), lengths=np.array([2, 2]))
    with pytest.raises(DataError, match="5 rows but its lengths sum to 4"):
        read_eval_data(bad)
    np.savez(bad, x=np.zeros((5, 3)))
    with pytest.raises(DataError, match="x_flat"):
        read_eval_data(bad)


def test_final_epochs_are_the_mean_best_epoch():
    assert final_epoch_count([3, 4, 8], fallback=40) == 5
    assert final_epoch_count([], fallback=40) == 40
    assert final_epoch_count([1, 1], fallback=40) == 1


def test_counts_keep_folds_totals_and_shipped_model_apart():
    folds = [{"n_train": 80, "n_early_stopping": 10, "n_val": 20}, {"n_train": 70, "n_early_stopping": 10, "n_val": 30}]
    cv = CVResult(np.zeros(50, int), np.zeros((50, 2)), np.arange(50), np.ones(50, bool), folds, [], [4, 6])
    c = counts(cv, 110, final_fit_record(True, 5, 110, "mean best epoch"))
    assert c["folds_total"] == {"n_train": 150, "n_early_stopping": 20, "n_val": 50}
    assert c["shipped_model"]["n_train"] == 110 and c["shipped_model"]["epochs"] == 5
    assert [f["n_val"] for f in c["folds"]] == [20, 30]


def test_inner_split_by_group_keeps_every_class_in_training():
    y = np.array([0, 1] * 6 + [2] * 4)
    groups = np.array([g for g in "abcdef" for _ in range(2)] + ["negatives"] * 4)
    idx = np.arange(len(y))
    for seed in range(10):
        tr, iv, how = inner_split(idx, y, groups, 0.3, seed, what="signers")
        assert how.startswith("signers") and set(y[tr]) == {0, 1, 2} and not set(groups[tr]) & set(groups[iv])
        assert "negatives" not in set(groups[iv])  # a single-class group never decides the stopping epoch
        assert len(tr) + len(iv) == len(y)
    # class 2 lives in group "a" only: when "a" is drawn, stratified samples are used instead
    y2 = np.array([0, 1, 2, 2, 2, 2, 2] + [0, 1] * 3)
    g2 = np.array(["a"] * 7 + ["b", "b", "c", "c", "d", "d"])
    hows = set()
    for seed in range(12):
        tr, iv, how = inner_split(np.arange(len(y2)), y2, g2, 0.25, seed)
        assert set(y2[tr]) == {0, 1, 2} and len(iv) > 0
        hows.add(how.split()[0])
    assert hows == {"random", "groups"}


def test_best_epoch_breaks_accuracy_ties_by_loss():
    from edgelite.train.common import best_epoch

    h = {"val_accuracy": [0.9, 1.0, 1.0, 1.0, 0.95], "val_loss": [0.5, 0.3, 0.1, 0.2, 0.4]}
    assert best_epoch(h, "accuracy") == 3 and best_epoch(h, "loss") == 3
    h = {"val_accuracy": [0.5, 0.9, 0.8], "val_loss": [0.4, 0.6, 0.5]}
    assert best_epoch(h, "accuracy") == 2 and best_epoch(h, "loss") == 1
    assert best_epoch({"loss": [1.0]}) is None


def test_seed_summary_is_mean_and_sd_over_seeds_times_folds():
    from edgelite.train.common import merge_seed_runs, seed_summary

    classes = ["a", "b"]

    def cv(correct_per_fold):  # two folds of 10 rows each; fold k gets correct_per_fold[k] right
        ys, probs, folds = [], [], []
        for c in correct_per_fold:
            y = np.zeros(10, int)
            p = np.tile([0.2, 0.8], (10, 1))
            p[:c] = [0.9, 0.1]
            ys.append(y)
            probs.append(p)
            folds.append({"n_train": 30, "n_early_stopping": 5, "n_val": 10, "accuracy": c / 10})
        return CVResult(np.concatenate(ys), np.concatenate(probs), np.arange(20) % 10, np.ones(20, bool), folds, [{}, {}],
                        [3, 5], models=["m1", "m2"])

    merged = merge_seed_runs([cv([9, 7]), cv([6, 10])], [4, 5])
    s = seed_summary(merged, classes, [4, 5])
    assert s["seeds"] == [4, 5] and s["n_runs"] == 4 and s["n_seeds"] == 2
    assert s["accuracy_mean"] == pytest.approx(0.8) and s["accuracy_sd"] == pytest.approx(np.std([0.9, 0.7, 0.6, 1.0], ddof=1))
    assert [p["pooled_accuracy"] for p in s["per_seed"]] == pytest.approx([0.8, 0.8])
    assert s["pooled_accuracy_sd_over_seeds"] == pytest.approx(0.0)
    assert [r["seed"] for r in merged.folds] == [4, 4, 5, 5] and merged.models == ["m1", "m2", "m1", "m2"]
    assert merged.best_epochs == [3, 5, 3, 5] and len(merged.y_true) == 40
    one = seed_summary(merge_seed_runs([cv([9, 7])], [0]), classes, [0])
    assert one["n_seeds"] == 1 and one["accuracy_sd"] == pytest.approx(np.std([0.9, 0.7], ddof=1))
