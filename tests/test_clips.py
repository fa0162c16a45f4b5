"""The coach on real recordings (../shared/clips): the targets of the issues, measured."""

from __future__ import annotations

import pytest

from device.core.coach import analyze
from device.core.skeleton import L_EAR, L_EYE, L_SHOULDER, R_ANKLE
from device.offline.evaluate import (
    dose_response,
    evaluate_dir,
    format_perturbation,
    miss,
    originals,
    perturbation,
    summary,
)
from device.vision.pose import MoveNet
from device.vision.tracks import load_track


@pytest.fixture(scope="session")
def rows(clips, model_path, tracks):
    pose = MoveNet(model_path, mode="crop")
    return {r["clip"]: r for r in evaluate_dir(clips, lambda: pose, tracks)}


@pytest.fixture(scope="session")
def team_rows(clips, tmp_path_factory):
    """The same clips over the team's tracks (../shared/clips/tracks_team, made on
    another CPU: the model's int8 kernels differ in their last bits, and crop
    tracking carries that forward). Copied, so that nothing is written beside them."""
    import shutil

    from tests.helpers import unavailable

    team = clips / "tracks_team"
    if not team.is_dir():
        unavailable(f"the team's tracks not found at {team}")
    copy = tmp_path_factory.mktemp("tracks_team")
    for track in team.glob("*.npz"):
        shutil.copy(track, copy)

    def no_model():
        pytest.fail("a clip has no track in tracks_team: the team's tracks are the input here")

    return {r["clip"]: r for r in evaluate_dir(clips, no_model, copy)}


@pytest.fixture(scope="session")
def warp_rows(clips, model_path, tracks):
    """The warped clips (../shared/clips/warps) and their originals at amount 0."""
    pose = MoveNet(model_path, mode="crop")
    warped = evaluate_dir(clips / "warps", lambda: pose, tracks)
    return warped + originals(clips / "warps", warped, lambda: pose, tracks)


def test_hips_shifting_is_judged_from_the_front_without_a_calibration_and_follows_the_dose(
        warp_rows):
    dose = dose_response(warp_rows)["hips_shifting"]["front"]
    (n0, judged0, flagged0), (n3, judged3, flagged3) = dose["0.00"], dose["0.30"]
    assert n0 and n3 and judged0 == n0 and judged3 == n3  # every front rep judged
    # Measured: 0/7 and 6/8 (docs/measured.md, "Hips shifting sideways"); the targets are
    # 10% and 90%: the lower bound below is what the rule holds, not the target.
    assert flagged0 <= 0.15 * n0 and flagged3 >= 0.7 * n3, dose


@pytest.mark.parametrize("which", ["this machine's tracks", "the team's tracks"])
def test_exact_count_rate_on_either_cpu(request, which):
    rows = request.getfixturevalue("rows" if which.startswith("this") else "team_rows")
    s = summary(list(rows.values()))
    assert s["exact"] / s["clips"] >= 0.95, s
    assert [r["clip"] for r in rows.values() if miss(r) > 1] == []
    assert {r["clip"]: r["counted"] for r in rows.values()
            if r["labelled"] == 0 and r["counted"]} == {}



def test_a_last_bit_nudge_of_what_the_crop_follows_changes_no_count(clips, model_path, rows):
    """Issue 23, item 6: the crop follows the last frame's keypoints, whose last
    bits differ between CPUs. Noise of 1e-4 frame heights on what it follows
    (seed 2) changed 4 of 39 counts with MoveNet's own crop; with the held square
    none (docs/measured.md, "Counts on any CPU"). One is allowed for a new draw's luck."""
    p = perturbation(clips, list(rows.values()), lambda: MoveNet(model_path, mode="crop"),
                     "keypoints", 1e-4, seed=2)
    assert p["clips"] == len(rows) and len(p["changed"]) <= 1, format_perturbation(p)

def test_front_studio_deadlift_counts_three(rows):
    assert rows["bbdl_front_studio.mp4"]["counted"] == 3


def test_squats_and_knee_dominant_reps_are_flagged(rows):
    for name in ("squat_barbell_side.mp4", "squat_barbell_side_b.avi",
                 "kbdl_kneedominant_side.mp4"):
        r = rows[name]
        assert r["faults"].get("knees_bent_too_much", 0) >= 0.9 * r["labelled"], name


def test_correct_hinges_are_rarely_called_squats(rows):
    for name in ("kbdl_correct_side.mp4", "kbdl_correct_oblique.mp4"):
        r = rows[name]
        assert r["faults"].get("knees_bent_too_much", 0) <= 0.1 * r["counted"], name


def test_swings_are_not_too_fast_with_the_exercise_set_and_are_without_it(rows, tracks):
    """Issue 26: the dev swing clip (labels.json's program_exercise) is judged as a
    swing, never too fast; the same track as a deadlift is too fast on most reps,
    so the exercise's rule is what makes the difference."""
    name = "kbswing_russian_oblique.mp4"
    row = rows[name]
    assert row["counted"] == row["labelled"] == 10
    assert "too_fast" not in row["faults"]
    tr = load_track(tracks / "kbswing_russian_oblique.npz")
    as_deadlift = analyze(tr.keypoints, tr.t, tr.frame_size)
    assert as_deadlift["faults"].get("too_fast", 0) >= 5, as_deadlift["faults"]


def test_rounded_backs_seen_from_the_side_are_flagged(rows):
    r = rows["kbdl_roundedback_side.mp4"]
    assert r["faults"].get("back_rounding", 0) >= 0.7 * r["counted"]
    for name in ("kbdl_correct_side.mp4", "kbdl_kneedominant_side.mp4"):
        assert rows[name]["faults"].get("back_rounding", 0) <= 0.1 * rows[name]["counted"], name


def test_front_only_faults_are_unjudged_on_side_clips(rows):
    r = rows["kbdl_correct_side.mp4"]
    assert r["unjudged"].get("knees_caving", 0) == r["counted"]


def test_a_mirrored_recording_gives_the_same_reps_and_faults(rows, tracks):
    # Facing left or right must not matter (DESIGN.md: signed angles that flip
    # with the facing direction are a known failure of other counters).
    swap = [0, L_EYE + 1, L_EYE, L_EAR + 1, L_EAR]
    swap += [i + 1 if (i - L_SHOULDER) % 2 == 0 else i - 1 for i in range(L_SHOULDER, R_ANKLE + 1)]
    paths = [tracks / f"{name.rsplit('.', 1)[0]}.npz" for name in rows]
    assert paths and all(p.is_file() for p in paths), "a clip's track is missing"
    for path in paths:
        tr = load_track(path)
        mirrored = tr.keypoints[:, swap].copy()
        mirrored[:, :, 1] = 1.0 - mirrored[:, :, 1]
        a = analyze(tr.keypoints, tr.t, tr.frame_size)
        b = analyze(mirrored, tr.t, tr.frame_size)
        assert (a["rep_count"], a["faults"]) == (b["rep_count"], b["faults"]), path.name


def test_squatting_is_caught_from_every_view_and_hinges_are_not_called_squats(rows):
    # Issue 11's targets, per view as the coach saw each rep: at least 90% of
    # squat and knee-dominant reps flagged, at most 10% of the other hinge reps.
    by_view = summary(list(rows.values()))["knee_by_view"]
    for view in ("front", "oblique", "side"):
        found, squats = by_view[view]["recall"]
        alarms, hinges = by_view[view]["false_alarms"]
        assert squats and found >= 0.9 * squats, (view, by_view[view])
        assert alarms <= 0.1 * hinges, (view, by_view[view])


def test_every_reported_angle_is_physiological_or_null_with_its_reason(rows):
    from device.core.features import PHYSIOLOGICAL_MAX

    nulls = 0
    for r in rows.values():
        for rep in r["reps"]:
            for name, top in PHYSIOLOGICAL_MAX.items():
                if rep[name] is None:
                    nulls += 1
                    assert rep[f"{name}_why"] in ("not_seen", "poorly_seen", "out_of_range"), (
                        r["clip"], rep["index"], name)
                else:
                    assert 0 <= rep[name] <= top, (r["clip"], rep["index"], name, rep[name])
    assert nulls < 0.1 * sum(len(r["reps"]) for r in rows.values())  # the exception


def test_at_an_angle_the_verdicts_agree_with_the_side_view_of_the_same_reps(rows):
    # kbdl_correct_side and kbdl_correct_oblique are the same ten reps, filmed at
    # the same time from the side and about 45 degrees off the front.
    from device.core.faults import JUDGED_IN

    side = rows["kbdl_correct_side.mp4"]["reps"]
    angle = rows["kbdl_correct_oblique.mp4"]["reps"]
    assert len(side) == len(angle) == 10
    assert all(a["view"] == "oblique" and 35 <= a["camera_deg"] <= 60 for a in angle), angle
    for fault in sorted(JUDGED_IN["side"]):
        pairs = [(s, a) for s, a in zip(side, angle, strict=True) if fault not in s["unjudged"]]
        agree = sum(fault not in a["unjudged"] and (fault in s["faults"]) == (fault in a["faults"])
                    for s, a in pairs)
        assert pairs and agree >= 0.9 * len(pairs), (fault, agree, len(pairs))


def test_the_arms_menu_never_opens_on_any_real_clip(rows, tracks, clips):
    """Issue 26, item 5, on real people: every dev clip's track (arm circles, a
    squat with the hands behind the head, hinges, swings, walking, push-ups)
    through the real Processor with the arms' menu on. None may open it; the
    question it asks first ("asked") is counted and reported, since the glass
    shows it."""
    import json

    from device.core.coach import Coach
    from device.service.hub import StateHub
    from device.service.pipeline import Processor
    from device.vision.sources import Frame

    names = [n for n in json.loads((clips / "labels.json").read_text())
             if not n.startswith("_") and (tracks / f"{n.rsplit('.', 1)[0]}.npz").is_file()]
    assert len(names) >= 35, names
    asked = {}
    for name in names:
        tr = load_track(tracks / f"{name.rsplit('.', 1)[0]}.npz")
        processor = Processor(None, Coach(), StateHub(), menu=True)
        acts = []
        for kp, t in zip(tr.keypoints, tr.t, strict=True):
            events = processor.coach_step(Frame(t_s=float(t), keypoints=kp,
                                                size=tr.frame_size), kp)
            acts += [e["action"] for e in events if e["type"] == "menu"]
        assert "opened" not in acts, (name, acts)
        if acts:
            asked[name] = acts.count("asked")
    print(f"\nthe menu's question on the dev clips: {asked or 'none'}")
