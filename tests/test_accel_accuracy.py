"""Accuracy floors of the accel trainer on real data, on splits that must generalise.

Sensor Logger square/triangle, leave-one-device-out (train on one iPhone, test on the other): the
model with the old defaults (window statistics + conv branch on the unscaled signal) scored 0.51,
i.e. chance; the ExtraTrees baseline on resampled raw samples 0.90 (benchmarks/results/baselines.md).
The floor checks that the format's defaults (window-scaled signal, its coarse course only) transfer
across phones, evaluated like the report: each fold's exported ``.tflite`` on the held-out device.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def shapes_by_device(accel_dir, tmp_path_factory) -> dict:
    from edgelite.train.accel.train import AccelTrainConfig, train_accel

    out = tmp_path_factory.mktemp("acc") / "shapes-device"
    cfg = AccelTrainConfig(data=str(accel_dir / "sensorlogger-wand/training"), fmt="sensorlogger", out=str(out),
                           final=False, verbose=0, epochs=30)
    return train_accel(cfg)


def test_shapes_leave_one_device_out_floor(shapes_by_device):
    rep = shapes_by_device
    assert rep["split"]["kind"] == "leave-one-group-out" and len(rep["split"]["folds"]) == 2
    assert rep["n_val"] == 100  # every recording held out once, by its phone
    assert rep["accuracy"] >= 0.80, f"leave-one-device-out accuracy {rep['accuracy']:.3f} (old defaults: 0.51)"
    cm = np.array(rep["confusion_matrix"])
    assert cm.shape == (2, 2) and (np.diag(cm) / cm.sum(1)).min() >= 0.6, f"one class collapsed: {cm.tolist()}"


def test_shapes_defaults_are_the_shape_model(shapes_by_device):
    """The preprocessing the metadata records is the scaled-signal one the floor was measured with."""
    from edgelite.train.accel.train import AccelTrainConfig, _arch

    arch = _arch(AccelTrainConfig(data="", fmt="sensorlogger", out=""))
    assert arch["scale"] == "window" and not arch["features"] and not arch["conv"] and arch["temporal"] > 0
