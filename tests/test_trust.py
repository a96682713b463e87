"""Models a user can trust: open-set decisions (temperature, threshold, reject labels) and MP_Data zeros."""

from __future__ import annotations

import numpy as np
import pytest
from edgelite.runtime.core.openset import (
    NO_SIGN,
    UNKNOWN,
    calibrate,
    decide,
    fit_openset,
    fit_temperature,
    ood_score,
)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_temperature_undoes_overconfidence():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 5)) * 1.5
    y = np.array([rng.choice(5, p=p) for p in _softmax(z)])  # labels drawn from softmax(z): T=1 is right for z
    over = _softmax(3.0 * z)  # a model 3x too confident
    assert fit_temperature(over, y) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(_softmax(z), y) == pytest.approx(1.0, rel=0.1)
    np.testing.assert_allclose(calibrate(over, 3.0), _softmax(z), atol=1e-6)


def test_calibrate_with_t1_is_identity_and_energy_is_ordered():
    p = _softmax(np.random.default_rng(1).normal(size=(10, 4)))
    np.testing.assert_allclose(calibrate(p, 1.0), p, atol=1e-9)
    sharp, flat = np.array([0.97, 0.01, 0.01, 0.01]), np.full(4, 0.25)
    for m in ("msp", "energy"):
        assert ood_score(sharp, m, 0.5) > ood_score(flat, m, 0.5)


def test_decide_rejects_below_the_threshold_and_maps_reject_labels():
    labels = ["-", "hello", "thanks"]
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 500)
    z = rng.normal(size=(500, 3))
    z[np.arange(500), y] += 3.0
    os_ = fit_openset(_softmax(z), y, labels, target_reject=0.05, reject_labels={"-": NO_SIGN, "other": UNKNOWN})
    assert os_["reject_labels"] == {"-": NO_SIGN}  # only labels the model has
    meta = {"labels": labels, "openset": os_}
    correct = _softmax(z).argmax(1) == y
    rejected = [decide(p, meta)[0] == UNKNOWN for p in _softmax(z)[correct]]
    assert 0.02 <= np.mean(rejected) <= 0.08  # ≈ target_reject of the correct ones
    assert decide(np.array([0.05, 0.9, 0.05]), meta)[0] == "hello"
    assert decide(np.array([0.33, 0.34, 0.33]), meta)[0] == UNKNOWN
    assert decide(np.array([0.9, 0.05, 0.05]), meta)[0] == NO_SIGN
    label, score, cal = decide(np.array([0.2, 0.5, 0.3]), {"labels": labels})  # no openset: plain argmax
    assert (label, score) == ("hello", 0.5) and np.allclose(cal, [0.2, 0.5, 0.3])


def test_decide_checks_the_label_count():
    from edgelite.runtime.core.errors import ModelError

    with pytest.raises(ModelError, match="3 scores but its metadata lists 2"):
        decide(np.array([0.2, 0.5, 0.3]), {"labels": ["a", "b"]})


def test_mp_data_zero_landmark_inside_a_detected_hand_is_missing():
    from edgelite.runtime.layout import PARTS
    from edgelite.runtime.signs.io import mp_frames_to_landmarks

    rng = np.random.default_rng(3)
    f = rng.uniform(0.1, 0.9, size=(2, 126)).astype(np.float32)  # left hand + right hand, 21x3 each
    f[0, 3:6] = 0.0  # left-hand landmark 1 zero-filled, the rest detected
    f[1, 63:] = 0.0  # right hand not detected at all
    out = mp_frames_to_landmarks(f)
    lh0, _ = PARTS["left_hand"]
    rh0, rh1 = PARTS["right_hand"]
    assert np.isnan(out[0, lh0 + 1]).all() and np.isfinite(out[0, lh0]).all() and np.isfinite(out[0, lh0 + 2]).all()
    assert np.isnan(out[1, rh0:rh1]).all() and np.isfinite(out[1, lh0:lh0 + 21]).all()


def test_input_range_rejects_gravity_free_windows():
    from edgelite.runtime.core.openset import fit_input_range, in_input_range

    rng = np.random.default_rng(4)
    grav = [np.array([0, 0, 9.81]) + rng.normal(0, 2.0, (75, 3)) for _ in range(200)]  # gestures with gravity
    r = fit_input_range(grav)
    assert all(in_input_range(x, r) for x in grav[:20])
    free = rng.normal(0, 2.0, (75, 3))  # user acceleration only (no gravity): mean |a| ≈ 3
    assert not in_input_range(free, r)
    meta = {"labels": ["a", "b"], "openset": {"method": "msp", "temperature": 1.0, "threshold": 0.5, "input_range": r}}
    assert decide(np.array([0.9, 0.1]), meta, grav[0])[0] == "a"
    assert decide(np.array([0.9, 0.1]), meta, free)[0] == UNKNOWN
    assert decide(np.array([0.9, 0.1]), meta)[0] == "a"  # no input given: probabilities only
