"""Cues, sets and sessions: one cue at a time after each rep, where a set and a
session begin and end, and their summaries (DESIGN.md, "People, sessions and
sets"). The pure core decides these boundaries; the page and the store only
show and keep them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from device.core.person import Reference
from device.core.skeleton import FAULTS
from device.core.state import CoachParams, Events, evolve

RANGE_CUE = "range_limit"  # the cue id of a rep past its program's range limit

# Praise says only what was judged: each claim of the sentence needs its check.
# "praise": hips back, long spine, tall finish (the spine judged, from the side);
# "praise_knees": hips back, knees out, tall finish (the knees judged, from the
# front); "praise_hips": hips back, tall finish (neither: an angle, or no
# calibration yet). Sentences in device/words.py.
PRAISE_NEEDS = (("praise", {"knees_bent_too_much", "back_rounding", "incomplete_lockout"}),
                ("praise_knees", {"knees_bent_too_much", "knees_caving", "incomplete_lockout"}),
                ("praise_hips", {"knees_bent_too_much", "incomplete_lockout"}))


@dataclass(frozen=True)
class SetsState:
    """The session, its sets and the cue. The session is one person in front of
    the mirror, from stepping in (and being calibrated, or a first rep) to
    leaving for session_idle_s."""

    set_index: int = 0  # sets started so far (the current one while working)
    set_reps: tuple = ()  # summaries of the reps of the current set
    set_started_s: float | None = None  # when the current set's first rep began
    session_index: int = 0  # sessions started so far (the current one while active)
    session_active: bool = False
    session_sets: tuple[int, ...] = ()  # reps of each set this session has ended
    session_reps: int = 0
    resting_since_s: float | None = None  # a set ended and the next has not begun
    last_fault: str | None = None
    cue_id: str | None = None
    cue_s: float = -math.inf
    last_rep: dict | None = None
    last_set: dict | None = None


def praise_for(judged) -> str | None:
    """The praise whose every claim was judged on this rep, or None (too little seen)."""
    return next((cue for cue, needs in PRAISE_NEEDS if needs <= set(judged)), None)


def give_cue(s: SetsState, found: list[str], t_s: float, p: CoachParams,
             judged, past_range: bool = False) -> tuple[SetsState, Events]:
    """One cue at a time, most important fault first, no repeats within
    cue_repeat_s; praise for a clean rep says only what was judged (`judged`)."""
    if past_range:
        cue_id = RANGE_CUE  # a patient's limit comes before any fault
    elif found:
        cue_id = found[0]
    elif s.cue_id in FAULTS:
        cue_id = "praise_fixed"
    else:
        cue_id = praise_for(judged)
        if cue_id is None:
            return s, ()
    if cue_id == s.cue_id and t_s - s.cue_s < p.cue_repeat_s:
        return s, ()
    return evolve(s, cue_id=cue_id, cue_s=t_s), ({"type": "cue", "id": cue_id, "t_s": t_s},)


def range_cue(s: SetsState, t_s: float) -> tuple[SetsState, Events]:
    """A rep has just gone deeper than the program's range limit: say so now,
    on every rep that does (a patient's limit is not a cue to space out), and
    not again at the rep's end."""
    return evolve(s, cue_id=RANGE_CUE, cue_s=t_s), (
        {"type": "cue", "id": RANGE_CUE, "t_s": t_s},)


def add_rep(s: SetsState, summary: dict, t_s: float, p: CoachParams,
            judged) -> tuple[SetsState, Events]:
    """A counted rep (`summary`: the rep event's figures) joins its set, starting the
    session and the set if need be; then its cue, and the set ends at its target."""
    started: Events = ()
    if not s.session_active:  # a first rep before the standing calibration
        s, started = start_session(s, t_s)
    if not s.set_reps:
        s, more = start_set(s, summary["start_s"] if summary["start_s"] is not None
                            else summary["bottom_s"], p)
        started += more
    found = summary["faults"]
    s = evolve(s, set_reps=s.set_reps + (summary,), session_reps=s.session_reps + 1,
               last_rep=summary, last_fault=found[0] if found else None)
    s, cue = give_cue(s, found, t_s, p, judged,
                      # Said on the way down: a fault on the rep comes next, and
                      # a rep past the limit is never praised.
                      past_range=summary.get("past_range", False) and not found)
    ended: Events = ()
    if p.set_target_reps and len(s.set_reps) >= p.set_target_reps:
        s, ended = end_set(s, "target", p)  # the set is done: rest until the next one
    return s, (*started, {"type": "rep", **summary}, *cue, *ended)


def set_summary(index: int, reps: tuple) -> dict:
    """Reps, faults per rep, tempo and depth trend of a set."""
    downs = [r["down_s"] for r in reps if r["down_s"] is not None]
    ends = [r["end_s"] for r in reps]
    depth = [r["hip_deg"] for r in reps if r["hip_deg"] is not None]
    trend = float(np.polyfit(np.arange(len(depth)), depth, 1)[0]) if len(depth) >= 2 else 0.0
    return {
        "set": index, "reps": len(reps),
        "faults_per_rep": [r["faults"] for r in reps],
        "down_s_mean": round(float(np.mean(downs)), 2) if downs else None,
        "up_s_mean": round(float(np.mean([r["up_s"] for r in reps])), 2),
        "rep_period_s": round(float(np.mean(np.diff(ends))), 2) if len(ends) >= 2 else None,
        "depth_trend_deg_per_rep": round(trend, 1),
        "start_s": reps[0]["start_s"] if reps[0]["start_s"] is not None else reps[0]["bottom_s"],
        "end_s": ends[-1],
    }


def extra_set(s: SetsState, p: CoachParams) -> bool:
    """Is the set under way (or the next one) past the session's target of
    sets? Counted and kept all the same, and said to be extra."""
    return bool(p.set_target_sets) and len(s.session_sets) >= p.set_target_sets


def start_set(s: SetsState, t_s: float, p: CoachParams) -> tuple[SetsState, Events]:
    """The first rep of a set is being counted (`t_s`: when it began)."""
    index = s.set_index + 1
    started = {"type": "set_started", "set": index, "session": s.session_index,
               "number": len(s.session_sets) + 1, "extra": extra_set(s, p), "t_s": t_s}
    return evolve(s, set_index=index, set_started_s=t_s, resting_since_s=None), (started,)


def end_set(s: SetsState, reason: str, p: CoachParams) -> tuple[SetsState, Events]:
    """Close the set under way, if any. Its fault and cue go with it: the
    next set starts clean; the summary stays for the page until then."""
    if not s.set_reps:
        return s, ()
    summary = set_summary(s.set_index, s.set_reps)
    summary["extra"] = extra_set(s, p)
    return evolve(s, set_reps=(), last_set=summary, set_started_s=None,
                  session_sets=(*s.session_sets, len(s.set_reps)),
                  resting_since_s=summary["end_s"], last_fault=None, cue_id=None), \
        ({"type": "set_ended", "reason": reason, **summary},)


def start_session(s: SetsState, t_s: float) -> tuple[SetsState, Events]:
    index = s.session_index + 1
    return evolve(s, session_index=index, session_active=True, session_sets=(),
                  session_reps=0, resting_since_s=None), \
        ({"type": "session_started", "session": index, "t_s": t_s},)


def end_session(s: SetsState, reason: str, t_s: float,
                p: CoachParams) -> tuple[SetsState, Events]:
    """Close the session (and its set): nothing of this person stays on the glass."""
    if not s.session_active:
        return s, ()
    s, events = end_set(s, reason, p)
    ended = {"type": "session_ended", "session": s.session_index, "reason": reason,
             "sets": list(s.session_sets), "reps": s.session_reps, "t_s": t_s}
    return evolve(s, session_active=False, session_sets=(), session_reps=0,
                  resting_since_s=None, last_rep=None, last_set=None, last_fault=None,
                  cue_id=None), (*events, ended)


def follow_session(s: SetsState, t_s: float, p: CoachParams, *, present: bool,
                   last_seen_s: float, standing_s: float) -> tuple[SetsState, Events]:
    """After each frame: someone in view and calibrated starts a session;
    nobody in view for session_idle_s ends it. present: someone is in view;
    last_seen_s: when they last were; standing_s: how long they have stood
    still (person.Reference)."""
    if s.session_active and not present and t_s - last_seen_s >= p.session_idle_s:
        return end_session(s, "left", t_s, p)
    if not s.session_active and present and standing_s >= p.calib_s:
        return start_session(s, t_s)
    return s, ()


# Stance: ankle joint centres about hip to shoulder width apart. With the feet
# hip-width apart the ankles are about as far apart as the hip joints; with
# them shoulder-width apart, about as far as the shoulder joints. Some slack
# either side: the guide's "about".
STANCE_MIN_HIP = 0.85
STANCE_MAX_SHOULDER = 1.25


def guide(s: SetsState, r: Reference, present: bool, p: CoachParams,
          view: str) -> str | None:
    """The set-up prompt before a session's first rep: stand_tall, feet_wider,
    feet_closer, brace or hinge_when_ready (words in device/words.py); None
    once the first rep is counted, when switched off, or with nobody there
    (`present` False). r: the person's standing reference."""
    if not p.guide or not present or s.session_reps or s.set_reps:
        return None
    if r.standing_s < p.calib_s:
        return "stand_tall"
    if view in ("front", "oblique") and r.hip_w > 0 and r.shoulder_w > 0:
        if r.ankle_w < STANCE_MIN_HIP * r.hip_w:
            return "feet_wider"
        if r.ankle_w > STANCE_MAX_SHOULDER * r.shoulder_w:
            return "feet_closer"
    return "brace" if r.standing_s < p.calib_s + p.brace_s else "hinge_when_ready"


def set_state(s: SetsState, p: CoachParams) -> str:
    """idle (no set yet this session), working, resting (between sets) or done
    (the target number of sets reached)."""
    if s.set_reps:
        return "working"
    if p.set_target_sets and len(s.session_sets) >= p.set_target_sets:
        return "done"
    return "resting" if s.resting_since_s is not None else "idle"
