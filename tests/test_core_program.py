"""A program block in the core (issue 26, item 2): the range limit said on the
way down, every rep that passes it and none that does not; a fault's own
sensitivity moving its threshold alone; the tempo as a count-down."""

from __future__ import annotations

import pytest

from device.core.coach import Coach, CoachParams
from device.core.report import tempo_step
from device.core.synth import Session, session_track


def run(session: Session, **params):
    kp, t, size = session_track(session)
    coach = Coach(CoachParams(**params))
    events, tempos = [], []
    for k, ts in zip(kp, t, strict=True):
        events += coach.update(k, float(ts), size[1] / size[0])
        snap = coach.snapshot()
        tempos.append((float(ts), snap["phase"], snap["tempo"]))
    return events, tempos


def reps(events):
    return [e for e in events if e["type"] == "rep"]


def cues(events):
    return [e for e in events if e["type"] == "cue"]


def test_a_rep_past_the_range_limit_is_told_on_the_way_down_every_time():
    events, _ = run(Session(reps=3), max_hip_deg=80.0)
    said = [e for e in cues(events) if e["id"] == "range_limit"]
    done = reps(events)
    assert len(said) == 3 and all(r["past_range"] and r["range_limit_deg"] == 80.0
                                  for r in done)
    # Each said before its rep's deepest point, not after the rep.
    assert all(c["t_s"] < r["bottom_s"] for c, r in zip(said, done, strict=True))
    assert not [e for e in cues(events) if e["id"].startswith("praise")]  # never praised


def test_a_rep_within_the_limit_is_not_warned_and_without_one_nothing_changes():
    within, _ = run(Session(reps=3), max_hip_deg=130.0)
    assert not [e for e in cues(within) if e["id"] == "range_limit"]
    assert [r["past_range"] for r in reps(within)] == [False] * 3
    assert any(e["id"].startswith("praise") for e in cues(within))
    plain, _ = run(Session(reps=3))
    assert all("past_range" not in r for r in reps(plain))
    strip = ("past_range", "range_limit_deg")
    assert [{k: v for k, v in r.items() if k not in strip} for r in reps(within)] == reps(plain)


@pytest.mark.parametrize(("down_s", "factors", "flagged"), [
    (0.6, (), False),                          # 0.40 s measured: at the line, standard
    (0.6, (("too_fast", 0.8),), True),         # strict: the line moves to 0.5 s
    (0.6, (("incomplete_lockout", 0.8),), False),  # another fault's factor: no change
    (0.55, (), True),                          # 0.34 s: too fast, standard
    (0.55, (("too_fast", 1.25),), False),      # relaxed: the line moves to 0.32 s
])
def test_a_faults_own_sensitivity_moves_its_threshold_alone(down_s, factors, flagged):
    events, _ = run(Session(reps=3, down_s=down_s), fault_factors=factors)
    assert ["too_fast" in r["faults"] for r in reps(events)] == [flagged] * 3


def test_fault_factors_name_faults():
    with pytest.raises(ValueError, match="fault_factors"):
        CoachParams(fault_factors=(("slouching", 0.8),))
    with pytest.raises(ValueError, match="tempo"):
        CoachParams(tempo=(0.0, 1.0, 2.0))


def test_the_tempo_counts_down_each_part_of_the_rep():
    # Down in 3 s, held 1 s, up in 2 s, as prescribed and as done.
    _, tempos = run(Session(reps=1, down_s=3.0, hold_s=1.0, up_s=2.0), tempo=(3.0, 1.0, 2.0))
    shown = []
    for *_, t in tempos:
        step = (t["step"], t["count"])
        if not shown or shown[-1] != step:
            shown.append(step)
    # At the top it waits ("down 3 · 2 · 1", none lit); then each second in turn.
    assert shown[0] == ("down", None)
    i = shown.index(("down", 3))
    assert shown[i:i + 6] == [("down", 3), ("down", 2), ("down", 1), ("hold", 1),
                              ("up", 2), ("up", 1)]
    assert shown[-1] == ("down", None)  # back at the top
    assert all(t["of"] == {"down": 3, "hold": 1, "up": 2}[t["step"]] for _, _, t in tempos)


def test_a_lifter_faster_than_the_tempo_is_told_to_go_up_only_when_it_is_time():
    _, tempos = run(Session(reps=1, down_s=1.0, hold_s=0.0, up_s=1.0), tempo=(3.0, 0.0, 2.0))
    steps = {t["step"] for _, phase, t in tempos if phase in ("descending", "bottom")}
    assert steps == {"down"}  # down in 1 s of 3: still counting down when they rise
    assert tempo_step(Coach().state, CoachParams()) is None  # no program, no tempo
