from __future__ import annotations

import numpy as np
import pytest

from device.core.filters import EDGE_MARGIN, MIN_SCORE, OneEuroParams, one_euro_step, seen


def test_one_euro_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(0)
    p = OneEuroParams()
    state = None
    out = []
    for i in range(300):
        x = np.array([0.5 if i < 150 else 0.7]) + rng.normal(0, 0.01, 1)
        state = one_euro_step(state, x, np.array([True]), i / 30.0, p)
        out.append(state.x[0])
    out = np.array(out)
    assert np.std(out[50:150]) < 0.5 * 0.01  # steadier than the raw noise
    assert abs(out[-1] - 0.7) < 0.01  # follows the step


def test_invalid_samples_keep_the_last_value():
    p = OneEuroParams()
    s = one_euro_step(None, np.array([1.0, 2.0]), np.array([True, True]), 0.0, p)
    s = one_euro_step(s, np.array([9.0, 9.0]), np.array([True, False]), 0.1, p)
    assert s.x[1] == 2.0 and s.x[0] > 1.0


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="min_cutoff_hz"):
        OneEuroParams(min_cutoff_hz=0)


def test_a_keypoint_is_seen_when_confident_and_inside_the_frame():
    kp = np.full((17, 3), 0.5, dtype=np.float32)
    kp[:, 2] = 0.9
    kp[1, 2] = MIN_SCORE - 0.01  # unsure
    kp[2, 0] = -0.05  # above the frame: the crop reached past it
    kp[3, 1] = 1.0 - EDGE_MARGIN / 2  # on the right edge
    kp[4, 0] = EDGE_MARGIN + 1e-6  # just inside
    assert seen(kp) == [True, False, False, False] + [True] * 13
    # The margin is compared in double precision, as the rule reads: exactly at
    # it is inside; float32's nearest value to it is 0.4 nm closer to the edge.
    at = kp.astype(np.float64)
    at[4, 0] = EDGE_MARGIN
    assert seen(at)[4]
    kp[4, 0] = EDGE_MARGIN  # as float32: 0.019999999552965164
    assert not seen(kp)[4]
