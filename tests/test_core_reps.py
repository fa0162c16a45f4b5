"""Counting rules on the synthetic stick figure (device/core/synth.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from device.core.coach import Coach, CoachParams, analyze
from device.core.synth import Session, session_track


def run(**kw) -> dict:
    kp, t, size = session_track(Session(**kw))
    return analyze(kp, t, size)


@pytest.mark.parametrize("view", ["side", "front"])
def test_counts_each_hinge_once_at_lockout(view):
    r = run(view=view, reps=5)
    assert r["rep_count"] == 5
    assert r["partial_reps"] == 0
    assert r["view"] == view
    for rep in r["reps"]:
        assert rep["start_s"] < rep["bottom_s"] < rep["end_s"]
        assert 60 <= rep["hinge_deg"] <= 90


def test_rep_is_counted_at_lockout_not_at_the_bottom():
    kp, t, size = session_track(Session(reps=1))
    coach = Coach()
    count_at = None
    for k, ts in zip(kp, t, strict=True):
        coach.update(k, float(ts), size[1] / size[0])
        if count_at is None and coach.snapshot()["rep_count"] == 1:
            count_at = float(ts)
    rep = analyze(kp, t, size)["reps"][0]
    assert count_at == pytest.approx(rep["end_s"], abs=1e-3)  # end_s is rounded to ms
    assert count_at > rep["bottom_s"] + 0.3


def test_noise_and_dropouts_do_not_change_the_count():
    assert run(reps=6, noise=0.004, dropout_rate=0.05, seed=3)["rep_count"] == 6


def test_walking_in_is_not_a_rep():
    r = run(reps=3, walk_in_s=3.0)
    assert r["rep_count"] == 3


def test_only_walking_and_standing_count_nothing():
    assert run(reps=0, walk_in_s=4.0, tail_s=3.0)["rep_count"] == 0
    assert run(reps=0, lead_s=5.0)["rep_count"] == 0


def test_a_second_person_passing_is_not_counted():
    r = run(reps=4, passerby_at_s=2.5, pause_s=1.5)
    assert r["rep_count"] == 4


def test_a_set_that_starts_at_depth_counts_its_first_lockout():
    r = run(reps=4, start_at_depth=True)
    assert r["rep_count"] == 4
    assert r["reps"][0]["start_s"] is None
    assert "too_fast" in r["reps"][0]["unjudged"]


def test_shallow_hinges_are_partial_never_counted():
    r = run(reps=4, depth=0.6)
    assert r["rep_count"] == 0
    assert r["partial_reps"] == 4


def test_nobody_in_view_is_absent():
    coach = Coach()
    coach.update(np.zeros((17, 3), np.float32), 0.0, 4 / 3)
    snap = coach.snapshot()
    assert snap["present"] is False and snap["phase"] == "absent"


def test_batch_twin_matches_the_step_function():
    kp, t, size = session_track(Session(reps=3, noise=0.003, seed=5))
    coach = Coach()
    reps = []
    for k, ts in zip(kp, t, strict=True):
        reps += [e for e in coach.update(k, float(ts), size[1] / size[0]) if e["type"] == "rep"]
    batch = analyze(kp, t, size)
    assert [r["end_s"] for r in reps] == [r["end_s"] for r in batch["reps"]]


def test_time_comes_from_timestamps_not_frame_counts():
    # The same session at 15 and 60 fps gives the same reps at the same times.
    a = run(reps=3, fps=15.0)
    b = run(reps=3, fps=60.0)
    assert a["rep_count"] == b["rep_count"] == 3
    for ra, rb in zip(a["reps"], b["reps"], strict=True):
        assert ra["end_s"] == pytest.approx(rb["end_s"], abs=0.1)


def test_params_out_of_range_are_refused():
    with pytest.raises(ValueError, match="stand_deg"):
        CoachParams(stand_deg=60, start_deg=50)
    with pytest.raises(ValueError, match="min_rep_s"):
        dataclasses.replace(CoachParams(), min_rep_s=0)
