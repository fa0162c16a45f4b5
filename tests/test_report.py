"""The analysis report a clinician reads: `analyze` text and `analyze --html`."""

from __future__ import annotations

import re

from device.cli import main
from device.core.synth import Session, demo_session, session_track
from device.vision.tracks import Track, save_track


def track(tmp_path, name="s.npz", **kw):
    kp, t, size = session_track(Session(**kw)) if kw else demo_session()
    path = tmp_path / name
    save_track(path, Track(kp, t, size))
    return path


def test_the_text_speaks_words_says_what_was_not_checked_and_means_its_figures(
        tmp_path, capsys):
    assert main(["analyze", str(track(tmp_path, view="side", style="squat", reps=3))]) == 0
    out = capsys.readouterr().out
    assert "3 reps counted, seen from the side" in out
    assert "Squatting, not hinging" in out and "knees_bent_too_much" not in out
    assert 'cue: "Drive your hips back, as if touching a wall behind you"' in out
    assert "Not checked from the side: knees caving in, hips shifting sideways." in out
    assert re.search(r"Set 1: 3 reps, \d+\.\d\d–\d+\.\d\d s; down \d\.\d s, up \d\.\d s", out)
    spans = re.findall(r"Rep \d  (\S+) s", out)
    assert len(spans) == 3 and all(re.fullmatch(r"\d+\.\d\d–\d+\.\d\d", s) for s in spans)
    assert "What the figures mean: hip flexion is" in out
    assert "->" not in out  # one format for times


def test_the_html_page_has_the_hip_angle_over_time_with_reps_and_faults_marked(tmp_path,
                                                                                 capsys):
    out = tmp_path / "report.html"
    assert main(["analyze", str(track(tmp_path)), "--html", str(out)]) == 0
    text = capsys.readouterr().out
    page = out.read_text()
    counted = int(re.search(r"(\d+) reps counted", text).group(1))
    assert page.count('<rect class="rep"') == counted == 8  # the demo: 5 hinges, 3 squats
    assert page.count(">Squatting, not hinging</text>") == 3  # on the reps where it happened
    assert "<path d=\"M" in page and "depth 70°" in page
    assert page.count("<tr><td>") == counted
    assert "Drive your hips back" in page and "What the figures mean" in page
    assert "@page" in page  # prints on one A4 page
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_a_report_that_cannot_be_written_is_one_line(tmp_path, capsys):
    assert main(["analyze", str(track(tmp_path)), "--html", "/proc/report.html"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    # As root the folder passes the up-front check and the write fails; as anyone
    # else the check refuses it first. One line either way.
    assert "report /proc/report.html: " in err and (
        "cannot be written" in err or "folder /proc is not writable" in err), err


def test_the_snapshot_says_what_a_rep_from_here_is_judged_on_as_the_reps_are():
    """The framing page's live list (snapshot `judged`) is what the reps seen
    from there are judged on, in every view, and shrinks before calibration."""
    from device.core.coach import Coach
    from device.core.skeleton import FAULTS
    from device.core.synth import Session, session_track

    for view in ("front", "oblique", "side"):
        kp, t, size = session_track(Session(view=view, reps=2))
        coach = Coach()
        early = None
        for k, ts in zip(kp, t, strict=True):
            coach.update(k, float(ts), size[1] / size[0])
            snap = coach.snapshot()
            if early is None and snap["present"] and snap["view"] != "unknown":
                early = snap
        snap = coach.snapshot()
        rep = snap["last_rep"]
        assert snap["view"] == rep["view"] == view
        assert snap["judged"] == [f for f in FAULTS if f not in rep["unjudged"]], view
        assert early is not None and not early["calibrated"]
        # Before the standing calibration: no knees or weight by the centre of
        # mass; from the front the heels' rise is read against the rep's top.
        waits = {"front": {"knees_caving"},
                 "oblique": {"weight_on_toes", "weight_on_heels"},
                 "side": {"weight_on_toes", "weight_on_heels"}}[view]
        assert not waits & set(early["judged"]) and waits <= set(snap["judged"]), (
            view, early["judged"], snap["judged"])
        assert ("weight_on_toes" in early["judged"]) == (view == "front")
