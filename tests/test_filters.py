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


def _one_euro_numpy(state, x, valid, t_s, p):
    """The vectorized formulation the plain-float filter replaced (its reference)."""
    def alpha(cutoff, dt):
        tau = 1.0 / (2.0 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)
    if state is None:
        return np.where(valid, x, 0.0), np.zeros_like(x), t_s, valid.copy()
    sx, sdx, st, started = state
    dt = t_s - st
    dx = sdx + alpha(p.d_cutoff_hz, dt) * ((x - sx) / dt - sdx)
    new_x = sx + alpha(p.min_cutoff_hz + p.beta * np.abs(dx), dt) * (x - sx)
    first = valid & ~started
    new_x, dx = np.where(first, x, new_x), np.where(first, 0.0, dx)
    return (np.where(valid, new_x, sx), np.where(valid, dx, sdx), t_s, started | valid)


def test_the_plain_float_filter_equals_the_vectorized_one_bit_for_bit():
    rng = np.random.default_rng(5)
    p = OneEuroParams()
    ref = got = None
    t = 0.0
    for i in range(600):
        t += float(rng.choice([1 / 30, 1 / 15, 0.1, 0.004]))
        x = rng.normal(0.5, 0.2, 34) + (0.3 if i % 97 < 5 else 0.0)  # jumps too
        valid = rng.random(34) > (0.9 if i < 5 else 0.15)  # late first samples too
        ref = _one_euro_numpy(ref, x, valid, t, p)
        got = one_euro_step(got, x, valid, t, p)
        assert list(got.x) == ref[0].tolist() and list(got.dx) == ref[1].tolist()
        assert list(got.started) == ref[3].tolist()
    assert all(got.started)


def test_the_filter_refuses_arrays_that_are_not_flat():
    p = OneEuroParams()
    with pytest.raises(ValueError, match="flat"):
        one_euro_step(None, np.zeros((17, 2)), np.ones(34, bool), 0.0, p)
    with pytest.raises(ValueError, match="flat"):
        one_euro_step(None, np.zeros(34), np.ones((17, 2), bool), 0.0, p)


def test_an_ankle_on_its_own_knee_is_not_seen_and_a_real_shin_is():
    from device.core.filters import SHIN_MIN_FRAC, off_the_knee

    xy = [(0.5, 0.5)] * 17
    valid = [True] * 17
    shin = 0.22  # the standing shin, frame heights
    xy[13], xy[15] = (0.50, 0.64), (0.50, 0.69)  # left ankle 0.05 below its knee: the knee twice
    xy[14], xy[16] = (0.60, 0.64), (0.62, 0.64 + 0.7 * shin)  # right shin leaning, 0.7 long
    out = off_the_knee(valid, xy, shin)
    assert out[15] is False and out[16] is True and sum(out) == 16
    assert off_the_knee(valid, xy, 0.0) == valid  # no standing shin known yet: nothing judged
    # at the bound's edge: just over the fraction is a shin
    xy[15] = (0.50, 0.64 + (SHIN_MIN_FRAC + 0.01) * shin)
    assert off_the_knee(valid, xy, shin)[15] is True
