"""What leaves the core: the live snapshot, the stateful `Coach` for the
pipeline, and `analyze`, the batch twin over a whole track."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from device.core.exercises import not_for
from device.core.faults import judged_from
from device.core.features import reportable
from device.core.person import angle_corrected, camera_deg, dominant_view, window_view
from device.core.reps import CoachState, interrupt, step
from device.core.sets import SetsState, end_session, end_set, extra_set, guide, set_state
from device.core.state import CoachParams, Phase, evolve


def snapshot(s: CoachState, params: CoachParams | None = None) -> dict:
    """What the mirror shows: JSON-ready, no history, nothing personal."""
    p = params or CoachParams()
    calib_s = p.calib_s
    per, sets = s.perception, s.sets
    present = s.phase != Phase.ABSENT
    now = s.t_s if s.t_s is not None else 0.0
    view = window_view(per.view)
    deg = camera_deg(per.view)
    calibrated = present and per.body.ref.standing_s >= calib_s

    def num(x: float) -> float | None:  # never NaN or infinity: strict JSON readers
        return round(x, 3) if present and math.isfinite(x) else None

    return {
        "present": present,
        "phase": s.phase,
        "rep_count": s.rep_count,  # every rep since the device started
        # The session and its sets: the big number is set_reps, this set's count.
        "set_reps": len(sets.set_reps),
        "session": sets.session_index if sets.session_active else None,
        "session_reps": sets.session_reps,
        "sets_done": list(sets.session_sets),  # reps of each set this session has ended
        "set_number": len(sets.session_sets) + (1 if sets.set_reps else 0),
        "set_state": set_state(sets, p),
        # A set past the target of sets: counted and kept, and said to be extra.
        "set_extra": bool(sets.set_reps) and extra_set(sets, p),
        "set_target_reps": p.set_target_reps or None,
        "set_target_sets": p.set_target_sets or None,
        "set_elapsed_s": None if sets.set_started_s is None
        else round(now - sets.set_started_s, 1),
        "rest_s": None if sets.resting_since_s is None or sets.set_reps
        else round(now - sets.resting_since_s, 1),
        "rest_target_s": p.rest_s,
        "set_faults": [r["faults"] for r in sets.set_reps],  # this set's strip, rep by rep
        "guide": guide(sets, per.body.ref, present, p, view),
        "partial_reps": s.partial_count,
        "view": view if present else "unknown",
        "calibrated": calibrated,
        # The camera's angle to the person (0 facing it, 90 from the side) and
        # the faults a rep seen from here now is judged on (the framing page).
        "camera_deg": None if not present or deg is None else round(deg, 1),
        "judged": [f for f in judged_from(view if present else "unknown",
                                          calibrated=calibrated, angle_ok=angle_corrected(deg, p))
                   if f not in not_for(p.exercise)],
        "bridged_keypoints": per.keypoints.bridged,
        # What the page asks of the person: to come into frame, or that it cannot
        # see them clearly (many keypoints bridged over dropouts).
        "framing": per.framing,
        "clear": not present or per.keypoints.bridged < 4,
        # The depth gauge: where this hinge is between standing and depth.
        "stand_deg": p.stand_deg, "depth_deg": p.depth_deg,
        # Each angle in its physiological range or None (features.reportable).
        **{name: reportable(name, value, view)[0] if present else None
           for name, value in (("hinge_deg", per.hinge_deg), ("hip_deg", per.hip_deg),
                               ("knee_deg", per.knee_deg))},
        "lean_deg": num(round(per.lean_deg, 1)),
        "hip_drop": num(per.hip_drop),
        "last_fault": sets.last_fault,
        "cue_id": sets.cue_id,
        "cue_s": None if sets.cue_id is None or not math.isfinite(sets.cue_s)
        else round(sets.cue_s, 3),
        "last_rep": sets.last_rep,
        "last_set": sets.last_set,
        # A program's tempo as a count-down (None without one): see `tempo_step`.
        "tempo": tempo_step(s, p) if present else None,
        "t_s": None if s.t_s is None else round(s.t_s, 3),
    }


def tempo_step(s: CoachState, p: CoachParams) -> dict | None:
    """Where the rep is in its program's tempo (CoachParams.tempo): ``step``
    (down, hold or up), ``count``, the whole seconds left of it (None: not
    begun, at the top; or, after the hold, go up now), and ``of``, its whole
    seconds. From the top until the body goes up, the clock runs from when it
    last stood: down for tempo[0] s, then held for tempo[1]; the way up runs
    from the rep's deepest point."""
    if p.tempo is None:
        return None
    down, hold, up = p.tempo
    rep, now = s.rep, s.t_s if s.t_s is not None else 0.0

    def left(step: str, end: float, length: float, elapsed: float) -> dict:
        return {"step": step, "count": max(1, math.ceil(end - elapsed - 1e-9)),
                "of": max(1, math.ceil(length - 1e-9))}

    if s.phase in (Phase.DESCENDING, Phase.BOTTOM):
        elapsed = now - (rep.start_s if rep.start_s is not None else rep.began_s)
        if elapsed < down:
            return left("down", down, down, elapsed)
        if elapsed < down + hold:
            return left("hold", down + hold, hold, elapsed)
        return {"step": "up", "count": None, "of": max(1, math.ceil(up - 1e-9))}
    if s.phase == Phase.ASCENDING:
        return left("up", up, up, now - rep.bottom_s)
    return {"step": "down", "count": None, "of": max(1, math.ceil(down - 1e-9))}


class Coach:
    """Stateful convenience around `step` for the live pipeline."""

    def __init__(self, params: CoachParams | None = None) -> None:
        self.params = params or CoachParams()
        self.state = CoachState()

    def update(self, keypoints: np.ndarray, t_s: float, aspect: float) -> list[dict]:
        self.state, events = step(self.state, keypoints, t_s, aspect, self.params)
        return events

    def snapshot(self) -> dict:
        return snapshot(self.state, self.params)

    def lose_sight(self, reason: str) -> list[dict]:
        """Frames stopped coming (a dead camera): what was under way ends, the
        session with it, and nobody is shown; the lifetime totals stay."""
        self.state, events = lost(self.state, self.params, reason)
        return events

    def recording_ended(self) -> list[dict]:
        """A recording ran out: a rep at its lockout counts, the set and the
        session close with the reason `recording_ended`."""
        self.state, events = recording_ended(self.state, self.params)
        return events


def lost(s: CoachState, p: CoachParams, reason: str) -> tuple[CoachState, list[dict]]:
    """The pure half of `Coach.lose_sight`: no frame tells the time, so the
    last frame's is used."""
    t_s = s.t_s if s.t_s is not None else 0.0
    s, ended = interrupt(s, p, walked_off=True)
    sets, closed = end_set(s.sets, reason, p)
    sets, left = end_session(sets, reason, t_s, p)
    return CoachState(rep_count=s.rep_count, partial_count=s.partial_count,
                      sets=SetsState(set_index=sets.set_index, session_index=sets.session_index),
                      t_s=s.t_s), [*ended, *closed, *left]


def recording_ended(s: CoachState, p: CoachParams) -> tuple[CoachState, list[dict]]:
    """The end of a recording (a video played as the camera, or `analyze`'s
    track): a rep at its lockout counts, the open set and the session close."""
    t_s = s.t_s if s.t_s is not None else 0.0
    s, ended = interrupt(s, p, walked_off=False)
    sets, closed = end_set(s.sets, "recording_ended", p)
    sets, left = end_session(sets, "recording_ended", t_s, p)
    return evolve(s, sets=sets), [*ended, *closed, *left]


def analyze(keypoints: np.ndarray, t: np.ndarray, frame_size: tuple[int, int],
            params: CoachParams | None = None, series: bool = False,
            follow: Callable[[list], CoachParams | None] | None = None) -> dict:
    """The batch twin: a whole track -> the analysis report of DESIGN.md (minus `source`).
    `series`: also the hip flexion of every frame (None where nobody was seen), for
    the HTML report's chart. `follow`: given each frame's events, the parameters
    from the next frame on, or None for the same (a program's blocks moving on)."""
    params = params or CoachParams()
    exercise = params.exercise
    aspect = frame_size[1] / frame_size[0]
    state = CoachState()
    reps: list[dict] = []
    sets: list[dict] = []
    rejected: list[dict] = []
    seat_s = 0.0  # the longest the centre of mass stayed behind the heels at depth
    other_s = 0.0  # the longest someone else was seen instead of the person followed
    changes = 0
    hip_series: list[float | None] = []
    for kp, t_s in zip(keypoints, t, strict=True):
        since = state.perception.identity.other_since_s
        state, events = step(state, kp, float(t_s), aspect, params)
        if follow is not None and events:
            params = follow(events) or params
        per = state.perception
        if series:
            seen_now = state.phase != Phase.ABSENT and per.last_seen_s == float(t_s)
            hip_series.append(round(per.hip_deg, 1) if seen_now and
                              math.isfinite(per.hip_deg) else None)
        seat_s = max(seat_s, per.seat.behind_s)
        other = per.identity.other_since_s
        since = other if other is not None else since
        changed = sum(e["type"] == "person_changed" for e in events)
        if since is not None and (changed or other is not None):
            other_s = max(other_s, float(t_s) - since)  # a run that became a switch too
        changes += changed
        reps.extend(e for e in events if e["type"] == "rep")
        sets.extend(e for e in events if e["type"] == "set_ended")
        rejected.extend(e for e in events if e["type"] == "rejected")
    # The recording ends: a rep at its lockout counts, an open set closes.
    state, end = recording_ended(state, params)
    if follow is not None and end:
        follow(end)
    reps.extend(e for e in end if e["type"] == "rep")
    sets.extend(e for e in end if e["type"] == "set_ended")
    counts: dict[str, int] = {}
    for r in reps:
        r.pop("type", None)
        for fault in r["faults"]:
            counts[fault] = counts.get(fault, 0) + 1
    for st in sets:
        st.pop("type", None)
    views = [r["view"] for r in reps if r["view"] != "unknown"]
    view = state.perception.view
    extra = {"series": {"t_s": [round(float(x), 3) for x in t], "hip_deg": hip_series}} \
        if series else {}
    return {**extra,
        "frames": int(len(t)),
        "duration_s": round(float(t[-1] - t[0]), 3) if len(t) else 0.0,
        "view": dominant_view(view.votes) if sum(view.votes) else
        (max(set(views), key=views.count) if views else "unknown"),
        "exercise": exercise,
        "rep_count": state.rep_count,
        "partial_reps": state.partial_count,
        "reps": reps,
        "sets": sets,
        "faults": counts,
        "rejected_frames": len(rejected),
        "rejected_why": sorted({e["reason"] for e in rejected}),
        "seat_max_s": round(seat_s, 3),
        "person_changes": changes, "other_max_s": round(other_s, 3),
        # The view's measures as averaged at the end (classify_view's thresholds).
        "view_ratio": round(view.ratio, 3), "view_asym": round(view.asym, 3),
    }
