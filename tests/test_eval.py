"""`hinge-mirror eval` on label files as the team writes them: exact counts,
ranges for clips cut mid-rep, malformed labels, missing clips. Synthetic tracks
made here stand in for the clips (no model needed)."""

from __future__ import annotations

import json

import pytest

from device.cli import main
from device.core.synth import Session, session_track
from device.errors import HingeMirrorError
from device.offline.evaluate import evaluate_dir, format_faults_by_view, read_labels, summary
from device.vision.tracks import Track, save_track


@pytest.fixture
def folder(tmp_path):
    for name, reps in (("three", 3), ("four", 4)):
        kp, t, size = session_track(Session(view="side", reps=reps, seed=reps))
        save_track(tmp_path / f"{name}.npz", Track(kp, t, size))
    return tmp_path


def write(folder, labels) -> None:
    (folder / "labels.json").write_text(json.dumps(labels))


def no_pose():
    raise AssertionError("tracks need no model")


def test_a_range_is_exact_when_the_count_is_inside_it(folder):
    write(folder, {"_about": "notes are skipped", "three.mp4": {"reps_min": 2, "reps_max": 3},
                   "four.mp4": {"reps": 5}})
    rows = {r["clip"]: r for r in evaluate_dir(folder, no_pose)}
    assert rows["three.mp4"]["counted"] == 3 and rows["four.mp4"]["counted"] == 4
    s = summary(list(rows.values()))
    assert (s["exact"], s["off_by_one"], s["worse"]) == (1, 1, 0)
    write(folder, {"three.mp4": {"reps_min": 5, "reps_max": 6}, "four.mp4": {"reps": 4}})
    s = summary(evaluate_dir(folder, no_pose))
    assert (s["exact"], s["off_by_one"], s["worse"]) == (1, 0, 1)  # 3 is 2 short of 5..6


@pytest.mark.parametrize("labels, says", [
    ([{"clip": "three.mp4", "reps": 3}], "must be an object"),
    ({"three.mp4": 3}, "'three.mp4' must be an object"),
    ({"three.mp4": {"view": "side"}}, "neither \"reps\" nor"),
    ({"three.mp4": {"reps_min": 4, "reps_max": 2}}, "the least first"),
    ({"three.mp4": {"reps": "3"}}, "whole numbers"),
])
def test_a_malformed_label_file_is_one_line(folder, capsys, labels, says):
    write(folder, labels)
    with pytest.raises(HingeMirrorError, match=says):
        read_labels(folder)
    assert main(["eval", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "labels.json" in err[0]


def test_missing_labelled_clips_are_listed_and_fail_after_the_rest_is_reported(folder, capsys):
    write(folder, {"three.mp4": {"reps": 3}, "gone.mp4": {"reps": 2}, "lost.mp4": {"reps": 1}})
    assert main(["eval", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert "| three.mp4 |" in out  # what was there is still reported
    assert "2 labelled clip(s) missing: gone.mp4, lost.mp4" in err


def test_front_view_faults_are_counted_by_label(tmp_path):
    kp, t, size = session_track(Session(view="front", reps=3, knees_in=0.7, seed=1))
    save_track(tmp_path / "caving.npz", Track(kp, t, size))
    kp, t, size = session_track(Session(view="front", reps=2, seed=2))
    save_track(tmp_path / "clean.npz", Track(kp, t, size))
    write(tmp_path, {"caving.mp4": {"reps": 3, "rep_faults": {"1": ["knees_caving"],
                                                              "2": ["knees_caving"]}},
                     "clean.mp4": {"reps": 2, "clean": ["knees_caving"]}})
    rows = evaluate_dir(tmp_path, no_pose)
    e = summary(rows)["faults_by_view"]["knees_caving"]["front"]
    # present: reps 1-2 of the first clip; unlabelled: its rep 3; absent: the clean clip.
    assert e == {"present": [2, 2, 2], "absent": [2, 2, 0], "unlabelled": [1, 1, 1]}
    table = format_faults_by_view(rows)
    assert "| knees_caving | front | 2 / 2 / 2 = 100% | 2 / 2 / 0 = 0% | 1 / 1 / 1 = 100% |" \
        in table
    # Every fault has its row, judged or not: back_rounding is never judged from the front.
    assert "| back_rounding | front | - | - | 5 / 0 / 0 |" in table


def test_perturb_names_a_bad_kind_or_size_in_one_line():
    import subprocess
    import sys

    for spec, words in (("noise:1e-4", "the kind must be one of keypoints, pixels"),
                        ("keypoints:-1", "is not a positive number")):
        r = subprocess.run([sys.executable, "-m", "device.cli", "eval", ".", "--perturb", spec],
                           capture_output=True, text=True)
        assert r.returncode == 2 and words in r.stderr.splitlines()[-1], r.stderr


def test_perturb_kinds_agree_and_letterbox_refuses_a_keypoint_nudge(tmp_path):
    import subprocess
    import sys

    from device.cli import _perturbation
    from device.offline.evaluate import PERTURB_KINDS

    assert all(_perturbation(f"{k}:0.1") == (k, 0.1) for k in PERTURB_KINDS)
    r = subprocess.run([sys.executable, "-m", "device.cli", "eval", str(tmp_path), "--pose-mode",
                        "letterbox", "--perturb", "keypoints:1e-4"], capture_output=True, text=True)
    assert r.returncode != 0 and "only the crop follows keypoints" in r.stderr.splitlines()[-1]
