"""Sessions and sets: what the big number counts, and when it starts again."""

from __future__ import annotations

import numpy as np

from device.core.coach import Coach, CoachParams
from device.core.synth import Session, session_track


def nobody(seconds: float, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    n = int(round(seconds * fps))
    return np.zeros((n, 17, 3), np.float32), np.arange(1, n + 1) / fps


def play(coach: Coach, parts) -> list[dict]:
    """Feed (keypoints, t) parts one after another on the coach's clock; return the events."""
    events = []
    for kp, t in parts:
        t0 = 0.0 if coach.state.t_s is None else coach.state.t_s + 1 / 30
        for k, ts in zip(kp, t, strict=True):
            events += coach.update(k, float(ts) + t0, 4 / 3)
    return events


def track(**kw):
    kp, t, _ = session_track(Session(**kw))
    return kp, t


def of(events, kind):
    return [e for e in events if e["type"] == kind]


def test_the_big_number_is_this_sets_count_and_a_new_set_starts_from_zero():
    coach = Coach()
    ev = play(coach, [track(reps=3, tail_s=12.0)])  # three reps, then 12 s standing idle
    snap = coach.snapshot()
    assert of(ev, "session_started") and snap["session"] == 1
    assert [e["reason"] for e in of(ev, "set_ended")] == ["idle"]
    assert (snap["set_reps"], snap["sets_done"], snap["set_state"]) == (0, [3], "resting")
    assert snap["rest_s"] > 1.0 and snap["last_fault"] is None and snap["cue_id"] is None
    ev = play(coach, [track(reps=2, lead_s=1.0, tail_s=0.5)])
    snap = coach.snapshot()
    assert (snap["set_reps"], snap["set_number"], snap["sets_done"]) == (2, 2, [3])
    assert snap["rep_count"] == 5  # the lifetime total goes on underneath
    assert len(of(ev, "set_started")) == 1


def test_a_set_target_ends_the_set_at_its_last_rep_and_the_session_is_done():
    coach = Coach(CoachParams(set_target_reps=2, set_target_sets=2))
    ev = play(coach, [track(reps=2, tail_s=3.0)])
    snap = coach.snapshot()
    ended = of(ev, "set_ended")
    assert [e["reason"] for e in ended] == ["target"] and ended[0]["reps"] == 2
    # The set is done at the moment its last rep counts, not after an idle pause.
    assert ended[0]["end_s"] == of(ev, "rep")[-1]["end_s"]
    assert (snap["set_reps"], snap["set_state"], snap["set_target_reps"]) == (0, "resting", 2)
    play(coach, [track(reps=2, lead_s=1.0, tail_s=1.0)])
    snap = coach.snapshot()
    assert (snap["sets_done"], snap["set_state"]) == ([2, 2], "done")


def test_leaving_ends_the_session_and_the_next_person_starts_at_zero():
    coach = Coach(CoachParams(session_idle_s=5.0))
    ev = play(coach, [track(reps=3, tail_s=1.0), nobody(3.0)])
    assert not of(ev, "session_ended")  # three seconds away is not leaving yet
    assert coach.snapshot()["sets_done"] == [3]  # but the set ended when they went
    ev = play(coach, [nobody(3.0)])
    (ended,) = of(ev, "session_ended")
    assert (ended["reason"], ended["sets"], ended["reps"]) == ("left", [3], 3)
    snap = coach.snapshot()
    assert snap["session"] is None and snap["sets_done"] == [] and snap["last_rep"] is None
    ev = play(coach, [track(reps=1, tail_s=1.0)])
    snap = coach.snapshot()
    assert (snap["session"], snap["set_reps"], snap["sets_done"]) == (2, 1, [])


def test_someone_else_stepping_in_ends_the_session_at_once():
    coach = Coach()
    a = track(reps=2, tail_s=0.5)
    b_kp, b_t = track(reps=1, lead_s=2.0, tail_s=0.5)
    b_kp = b_kp.copy()
    b_kp[:, :, 1] -= 0.3  # the next patient stands elsewhere in the frame
    ev = play(coach, [a, (b_kp, b_t)])
    ended = of(ev, "session_ended")
    assert [e["reason"] for e in ended] == ["someone_else"] and ended[0]["reps"] == 2
    snap = coach.snapshot()
    assert (snap["session"], snap["set_reps"], snap["sets_done"]) == (2, 1, [])
    # Its twin: the same two sessions from one person standing still count as one.
    coach = Coach()
    ev = play(coach, [a, track(reps=1, lead_s=2.0, tail_s=0.5)])
    assert not of(ev, "session_ended") and coach.snapshot()["set_reps"] == 3


def test_the_page_is_told_how_to_come_into_frame():
    coach = Coach()
    kp, t = track(reps=0, lead_s=2.0, tail_s=0.0)
    feet_out = kp.copy()
    feet_out[:, :, 0] += 0.2  # too close: the feet leave the bottom of the picture
    play(coach, [(feet_out, t)])
    assert coach.snapshot()["framing"] == "move_back"
    left = kp.copy()
    left[:, :, 1] -= 0.5  # cut off at the picture's left edge: their right
    play(coach, [(left, t)])
    assert coach.snapshot()["framing"] == "step_left"
    play(coach, [(kp, t)])  # its twin: the whole body in view needs nothing
    snap = coach.snapshot()
    assert snap["present"] and snap["framing"] is None


def test_the_set_up_is_guided_before_the_first_rep_and_never_holds_counting_back():
    coach = Coach()
    guides = []
    kp, t = track(view="front", reps=1, lead_s=6.0, tail_s=1.0)
    for k, ts in zip(kp, t, strict=True):
        coach.update(k, float(ts), 4 / 3)
        g = coach.snapshot()["guide"]
        if not guides or guides[-1] != g:
            guides.append(g)
    assert guides == ["stand_tall", "brace", "hinge_when_ready", None], guides
    assert coach.snapshot()["set_reps"] == 1
    # Feet together, seen from the front: "wider" first; the rep still counts.
    narrow = kp.copy()
    for ankle in (15, 16):
        narrow[:, ankle, 1] = (kp[:, 15, 1] + kp[:, 16, 1]) / 2
    coach = Coach()
    seen = set()
    for k, ts in zip(narrow, t, strict=True):
        coach.update(k, float(ts), 4 / 3)
        seen.add(coach.snapshot()["guide"])
    assert "feet_wider" in seen and "hinge_when_ready" not in seen
    assert coach.snapshot()["set_reps"] == 1
    # Switched off in the settings: no prompts at all.
    coach = Coach(CoachParams(guide=False))
    play(coach, [(kp, t)])
    assert coach.snapshot()["guide"] is None and coach.snapshot()["set_reps"] == 1


def test_a_set_past_the_target_of_sets_is_an_extra_set_on_the_glass_and_in_the_store(tmp_path):
    """5 reps x 2 sets, then a third set: counted and kept, and both the glass
    and the store say it is extra (was "Set 3 of 2", and 9 sets kept against 2)."""
    from device.store import Recorder, connect
    from device.store.queries import session

    coach = Coach(CoachParams(set_target_reps=5, set_target_sets=2))
    rec = Recorder(tmp_path / "s.db")
    snaps = []

    def feed(parts):
        for kp, t in parts:
            t0 = 0.0 if coach.state.t_s is None else coach.state.t_s + 1 / 30
            for k, ts in zip(kp, t, strict=True):
                rec.on_events(coach.update(k, float(ts) + t0, 4 / 3))
                snaps.append(coach.snapshot())

    feed([track(reps=5, tail_s=3.0), track(reps=5, lead_s=1.0, tail_s=3.0)])
    assert (snaps[-1]["set_state"], snaps[-1]["sets_done"]) == ("done", [5, 5])
    assert not any(s["set_extra"] for s in snaps)  # its twin: the two sets are not extra
    feed([track(reps=2, lead_s=1.0, tail_s=0.5)])
    now = snaps[-1]
    assert (now["set_state"], now["set_number"], now["set_extra"]) == ("working", 3, True)
    assert now["set_target_sets"] == 2 and now["set_reps"] == 2
    # The store agrees: three sets in one session, the third marked extra, at once.
    stored = session(connect(tmp_path / "s.db"), 1)
    assert stored["sets"] == 3
    assert [bool((d["summary"] or {}).get("extra")) for d in stored["sets_detail"]] == [
        False, False, True]
    feed([track(reps=3, lead_s=0.5, tail_s=3.0)])  # the extra set's fifth rep ends it
    assert (snaps[-1]["set_state"], snaps[-1]["sets_done"]) == ("done", [5, 5, 5])
    ended = session(connect(tmp_path / "s.db"), 1)["sets_detail"][2]
    assert ended["summary"]["extra"] is True and ended["reps"] == 5
    rec.close()
