"""The arms' menu at the glass (issue 26, item 5), on synthetic tracks run
through the real coach and the pipeline's Processor: the gestures that open,
step and save it, and their positive twins (arms overhead in an overhead
squat, an overhead stretch, hands up during a set) that must not open it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from device.config import Config, DeviceConfig
from device.core import gestures
from device.core.coach import Coach, CoachParams
from device.core.synth import Pose2D, Session, arms_track, figure, session_track
from device.service.hub import StateHub
from device.service.menu import GlassMenu
from device.service.pipeline import Processor
from device.service.settings import LiveSettings
from device.store import connect
from device.vision.sources import Frame

DOWN, UP = 0.0, 180.0
# Stand, both hands up (ask), the right one down (open), right hand up (next
# item: reps per set), left hand up (change it: 8 -> 10), both up (save).
OPEN_AND_SET = [(2, DOWN, DOWN), (2.6, UP, UP), (1.0, UP, DOWN), (1.0, DOWN, DOWN),
                (1.0, DOWN, UP), (0.8, DOWN, DOWN), (1.0, UP, DOWN), (0.8, DOWN, DOWN),
                (2.6, UP, UP), (1.0, DOWN, DOWN)]


EIGHT = CoachParams(set_target_reps=8)


def menu_events(track, params=EIGHT, menu=True):
    kp, t, size = track
    processor = Processor(None, Coach(params), StateHub(), menu=menu)
    events, views = [], []
    for k, ti in zip(kp, t, strict=True):
        events += processor.coach_step(Frame(t_s=float(ti), keypoints=k, size=size), k)
        views.append(processor.hub.latest()[1].get("menu"))
    return events, views


def actions(events):
    return [e["action"] for e in events if e["type"] == "menu"]


def test_both_hands_up_then_the_right_down_opens_the_menu_that_the_arms_step_and_save():
    events, views = menu_events(arms_track(OPEN_AND_SET))
    assert actions(events) == ["asked", "opened", "moved", "changed", "saved"]
    menu = [e for e in events if e["type"] == "menu"]
    assert menu[2]["item"] == "set_reps" and menu[3]["value"] == 10
    assert menu[4]["values"] == {"set_reps": 10}  # only what changed
    shown = [v for v in views if v and v["mode"] == "open"]
    assert shown[0]["items"][1] == {"id": "set_reps", "value": 8}  # starts from the settings
    assert shown[-1]["item"] == "set_reps" and shown[-1]["items"][1]["value"] == 10
    assert views[-1] is None  # closed after the save
    assert not [e for e in events if e["type"] == "rep"]  # the arms count no rep


def test_the_arms_menu_also_works_from_the_side_and_with_the_models_jitter():
    events, _ = menu_events(arms_track(OPEN_AND_SET, view="side", noise=0.004, seed=3))
    assert actions(events) == ["asked", "opened", "moved", "changed", "saved"]


def test_arms_overhead_in_an_overhead_squat_never_open_the_menu():
    # Arms up for 4 s standing before the first rep, and through every rep.
    events, views = menu_events(session_track(Session(
        view="front", style="squat", reps=3, arms_deg=180, lead_s=4.0, tail_s=4.0)))
    assert "opened" not in actions(events)
    assert not any(v and v["mode"] == "open" for v in views)
    assert len([e for e in events if e["type"] == "rep"]) == 3  # and the reps still count
    # The twin: the same squatter who lowers the right arm at the top opens it.
    twin = [(2, DOWN, DOWN), (2.6, UP, UP), (1.0, UP, DOWN)]
    assert "opened" in actions(menu_events(arms_track(twin))[0])


def test_an_overhead_stretch_brought_down_with_both_arms_never_opens_the_menu():
    for hold_s in (2.5, 6.0):  # put down within the confirm time, or after it
        stretch = [(2, DOWN, DOWN), (hold_s, UP, UP), (2.0, DOWN, DOWN), (3.0, UP, UP),
                   (2.0, DOWN, DOWN)]
        acts = actions(menu_events(arms_track(stretch))[0])
        assert "opened" not in acts and acts.count("asked") == 2, acts
        assert acts.count("closed") == 2


def test_hands_up_for_the_time_a_hand_takes_to_pass_the_head_ask_nothing():
    quick = [(2, DOWN, DOWN), (1.5, UP, UP), (1.0, UP, DOWN), (2, DOWN, DOWN)]
    assert actions(menu_events(arms_track(quick))[0]) == []


def test_no_gesture_counts_during_a_set():
    """Two reps with no target: the set stays open until 10 s of standing idle.
    The open gesture made 2 s after the last rep asks nothing; the same gesture
    once the set has ended opens the menu."""
    reps = session_track(Session(view="front", reps=2, tail_s=1.0))
    kp, t, size = reps

    def then(steps, after_s):
        a, at, _ = arms_track(steps)
        return (np.concatenate([kp, a]), np.concatenate([t, at + t[-1] + 1 / 30 + after_s]),
                size)
    gesture = [(2.6, UP, UP), (1.0, UP, DOWN), (1.0, DOWN, DOWN)]
    params = CoachParams()  # no target: the set ends by its idle pause
    during, _ = menu_events(then(gesture, 0.0), params)
    assert [e for e in during if e["type"] == "rep"] and actions(during) == []
    after, _ = menu_events(then([(12.0, DOWN, DOWN), *gesture], 0.0), params)
    kinds = [e["type"] for e in after]
    assert "set_ended" in kinds and actions(after)[:2] == ["asked", "opened"]
    assert kinds.index("set_ended") < kinds.index("menu")


def test_a_set_begun_in_an_open_menu_closes_it_unchanged():
    a, at, size = arms_track([(2, DOWN, DOWN), (2.6, UP, UP), (1.0, UP, DOWN),
                              (1.0, DOWN, DOWN), (1.0, UP, DOWN), (0.6, DOWN, DOWN)])
    reps, rt, _ = session_track(Session(view="front", reps=2, lead_s=0.5, tail_s=2.0))
    track = (np.concatenate([a, reps]), np.concatenate([at, rt + at[-1] + 1 / 30]), size)
    events, _ = menu_events(track)
    acts = actions(events)
    assert acts == ["asked", "opened", "changed", "closed"]
    assert [e for e in events if e["type"] == "menu"][-1]["reason"] == "set"
    assert len([e for e in events if e["type"] == "rep"]) == 2


def test_an_open_menu_left_alone_closes_unchanged():
    events, _ = menu_events(arms_track([(2, DOWN, DOWN), (2.6, UP, UP), (1.0, UP, DOWN),
                                        (22.0, DOWN, DOWN)]))
    assert actions(events) == ["asked", "opened", "closed"]
    assert [e for e in events if e["type"] == "menu"][-1]["reason"] == "idle"


def test_off_in_a_clinic_on_at_home_unless_set():
    assert not DeviceConfig().menu() and DeviceConfig(mode="home").menu()
    assert DeviceConfig(gestures="on").menu() and not DeviceConfig(mode="home",
                                                                   gestures="off").menu()
    events, views = menu_events(arms_track(OPEN_AND_SET), menu=False)
    assert actions(events) == [] and all(v is None for v in views)


def test_the_pose_reads_each_arm_and_nothing_unsure():
    p = gestures.GestureParams()
    assert gestures.arms(figure(Pose2D(l_arm_deg=UP, r_arm_deg=UP), "front", 0.6, 0.88, 4 / 3),
                         p) == "both"
    assert gestures.arms(figure(Pose2D(l_arm_deg=UP), "front", 0.6, 0.88, 4 / 3), p) == "left"
    assert gestures.arms(figure(Pose2D(r_arm_deg=UP), "front", 0.6, 0.88, 4 / 3), p) == "right"
    assert gestures.arms(figure(Pose2D(), "front", 0.6, 0.88, 4 / 3), p) == "down"
    # Hands at the face (arms raised 110 degrees) are not up.
    assert gestures.arms(figure(Pose2D(l_arm_deg=110, r_arm_deg=110), "front", 0.6, 0.88,
                                4 / 3), p) == "none"
    unsure = figure(Pose2D(l_arm_deg=UP, r_arm_deg=UP), "front", 0.6, 0.88, 4 / 3)
    unsure[9, 2] = 0.1  # the left wrist barely seen
    assert gestures.arms(unsure, p) == "none"


@pytest.fixture
def live(tmp_path):
    return LiveSettings(Config(), tmp_path / "settings.toml")


def saved(values):
    return [{"type": "menu", "action": "saved", "values": values, "t_s": 1.0}]


def test_a_save_at_the_glass_is_the_settings_pages_change_and_audited(live, tmp_path):
    store = tmp_path / "s.db"
    connect(store).close()
    GlassMenu(live, store).on_events(saved({"set_reps": 10, "rest_s": 45.0,
                                            "exercise": "kettlebell_swing"}))
    c = live.config.coach
    assert (c.set_reps, c.rest_s, c.exercise) == (10, 45.0, "kettlebell_swing")
    assert live.origins()["coach.set_reps"][0] == "staff page"  # kept over a restart
    assert "set_reps = 10" in (tmp_path / "settings.toml").read_text()
    rows = sqlite3.connect(store).execute(
        "SELECT account, address, action, detail FROM audit").fetchall()
    assert rows == [(None, "glass", "settings_changed",
                     "by the menu at the glass: coach.set_reps 0 -> 10; coach.rest_s 90.0 -> "
                     "45.0; coach.exercise 'deadlift' -> 'kettlebell_swing'")]


def test_a_save_during_a_program_is_not_applied(live, tmp_path):
    GlassMenu(live, tmp_path / "s.db", running=lambda: True).on_events(saved({"set_reps": 10}))
    assert live.config.coach.set_reps == 0
    assert not (tmp_path / "settings.toml").exists()
