"""The coach: one step per frame, keypoints in, reps, faults and cues out.

``step(state, keypoints, t_s, params) -> (state, events)`` over frozen
dataclasses; `Coach` is a small stateful wrapper for the pipeline and
`analyze` the batch twin over a whole track.

A rep (DESIGN.md) is a hinge from standing to depth and back to lockout,
counted at the lockout. The depth signal is hip flexion: trunk inclination
plus thigh inclination, both from vertical, which a hinge and a squat both
drive, and which arm movements, walking and standing do not.

Phases: ``absent`` (nobody usable in view) -> ``ready`` (someone is there;
counting is armed once they have stood still, upright or at depth, for
``arm_s``) -> ``standing`` -> ``descending`` -> ``bottom`` -> ``ascending`` ->
lockout (a rep) -> ``standing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from device.core import faults as faults_mod
from device.core.features import Calibration, Features, measure
from device.core.filters import MIN_SCORE, OneEuroParams, OneEuroState, one_euro_step
from device.core.skeleton import CUES, FAULT_WORDS, FAULTS, PRAISE, PRAISE_FIXED


@dataclass(frozen=True)
class CoachParams:
    """Thresholds of the rep logic; angles in degrees, times in seconds."""

    stand_deg: float = 40.0  # hip flexion below this is standing (lockout)
    start_deg: float = 50.0  # above this a descent has begun (hysteresis band 40..50)
    depth_deg: float = 70.0  # a rep must reach this hip flexion
    turn_deg: float = 15.0  # fall from the peak that marks the bottom / rise that marks a bounce
    min_rep_s: float = 0.6  # shorter down-and-up movements are not reps
    min_down_s: float = 0.15  # a faster "descent" is a keypoint glitch or a fall, not a hinge
    arm_s: float = 0.4  # be still this long before counting starts (>= travel_tau_s)
    # Feet faster than this (torso lengths / s) are walking: a slow clinical walk
    # of 0.8 m/s is about 1.6 torso lengths per second.
    still_torso_per_s: float = 1.0
    travel_tau_s: float = 0.4  # averaging time of the feet position for that speed
    absent_s: float = 1.0  # unseen this long: the person has left
    bridge_s: float = 0.5  # a keypoint dropout up to this long is bridged
    set_idle_s: float = 10.0  # standing idle this long ends a set
    cue_repeat_s: float = 6.0  # the same cue is not repeated sooner than this
    upright_leg_frac: float = 0.35  # hips must be this far above the ankles, in leg lengths
    max_hinge_deg: float = 120.0  # a trunk tilted further (shoulders far below hips) is lying
    calib_quantile: float = 0.85
    calib_rate_per_s: float = 0.8
    filter: OneEuroParams = field(default_factory=OneEuroParams)

    def __post_init__(self) -> None:
        if not 0 < self.stand_deg < self.start_deg < self.depth_deg < 180:
            raise ValueError("need 0 < stand_deg < start_deg < depth_deg < 180 (degrees)")
        for name in ("turn_deg", "min_rep_s", "min_down_s", "arm_s", "absent_s", "set_idle_s",
                     "still_torso_per_s", "travel_tau_s", "bridge_s", "cue_repeat_s",
                     "calib_rate_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.arm_s < self.travel_tau_s:
            raise ValueError("arm_s must be >= travel_tau_s: walking is only seen after that")
        if not 0.5 <= self.calib_quantile < 1:
            raise ValueError("calib_quantile must be in [0.5, 1)")


@dataclass(frozen=True)
class RepTrack:
    """What is known of the rep in progress."""

    start_s: float | None = None  # None: the set started at depth
    peak_hip: float = 0.0
    peak_hinge: float = 0.0
    peak_knee: float = 0.0
    bottom_s: float = 0.0
    low_hip: float = 180.0  # lowest hip flexion since the bottom
    score_sum: float = 0.0
    frames: int = 0
    bottom: tuple = ()  # features at the bottom, for fault checks


@dataclass(frozen=True)
class CoachState:
    filt: OneEuroState | None = None
    seen_s: np.ndarray | None = None  # (17,) last time each keypoint was seen
    bridged: int = 0  # keypoints bridged over a dropout in this frame
    cal: Calibration = Calibration()
    phase: str = "absent"
    last_seen_s: float = -math.inf
    still_since_s: float | None = None
    hip_xy: tuple[float, float] | None = None
    feet_avg: tuple[float, float] = (0.0, 0.0)
    feet_t_s: float = 0.0
    travel: float = 0.0  # smoothed speed of the feet, torso lengths per second
    rep: RepTrack = RepTrack()
    standing_ref: tuple = ()  # features while standing, for fault checks
    rep_count: int = 0
    partial_count: int = 0
    set_index: int = 0
    set_reps: int = 0
    set_active: bool = False
    last_stand_s: float = 0.0  # last frame below stand_deg
    view_votes: tuple[int, int, int] = (0, 0, 0)  # front, oblique, side
    hinge_deg: float = 0.0
    hip_deg: float = 0.0
    knee_deg: float = 0.0
    last_fault: str | None = None
    cue_id: str | None = None
    cue_s: float = -math.inf
    last_rep: dict | None = None
    t_s: float = 0.0


VIEWS = ("front", "oblique", "side")


def view_of(votes: tuple[int, int, int]) -> str:
    return VIEWS[int(np.argmax(votes))] if sum(votes) else "unknown"


def _to_xy(keypoints: np.ndarray, aspect: float) -> np.ndarray:
    """(y, x, score) normalized -> (x, y) in frame heights (aspect = width / height)."""
    xy = np.empty((17, 2))
    xy[:, 0] = keypoints[:, 1] * aspect
    xy[:, 1] = keypoints[:, 0]
    return xy


def step(state: CoachState, keypoints: np.ndarray, t_s: float, aspect: float,
         params: CoachParams) -> tuple[CoachState, list[dict]]:
    """Advance the coach by one frame.

    keypoints: (17, 3) (y, x, score) on the full frame; t_s: frame time in
    seconds; aspect: frame width / height. Returns the new state and the
    events of this frame (``{"type": "rep" | "partial" | "set_end" | "cue", ...}``).
    """
    events: list[dict] = []
    scores = keypoints[:, 2]
    valid = scores >= MIN_SCORE
    filt = one_euro_step(state.filt, _to_xy(keypoints, aspect), valid[:, None], t_s,
                         params.filter)
    # Bridge short dropouts: a keypoint unseen for at most bridge_s keeps its
    # filtered position at the lowest usable weight.
    seen_s = np.where(valid, t_s, state.seen_s) if state.seen_s is not None else \
        np.where(valid, t_s, -np.inf)
    bridged = ~valid & (t_s - seen_s <= params.bridge_s)
    usable = np.where(bridged, MIN_SCORE, scores)
    f = measure(filt.x, usable)
    state = replace(state, filt=filt, seen_s=seen_s, t_s=t_s,
                    bridged=int(bridged.sum()))
    if f is None or not _upright(f, state.cal, params):
        return _unseen(state, t_s, params, events), events
    if state.phase == "absent":
        state = replace(state, phase="ready", still_since_s=None, cal=Calibration(t_s=t_s))
    cal = state.cal.update(f, t_s, params.calib_quantile, params.calib_rate_per_s)
    hinge, thigh, shin = f.angles(cal)
    hip = hinge + thigh
    state = replace(state, cal=cal, last_seen_s=t_s, hinge_deg=hinge, hip_deg=hip,
                    knee_deg=thigh + shin)
    avg, travel, jumped = _travel(state, f, t_s, params)
    state = replace(state, hip_xy=(f.hip_x, f.hip_y), feet_avg=avg, travel=travel,
                    feet_t_s=t_s if f.legs else state.feet_t_s)
    if jumped or travel > params.still_torso_per_s:
        # Walking, or the model jumped to another person: nothing here is a rep.
        if state.phase in ("descending", "bottom", "ascending"):
            state = _partial(state, events)
        if jumped:
            state = replace(state, cal=Calibration(t_s=t_s), travel=0.0, view_votes=(0, 0, 0),
                            feet_t_s=0.0)
        return replace(state, phase="ready", still_since_s=None), events
    frame_score = float(usable[5:17].mean())
    return _advance(state, f, hip, t_s, frame_score, params, events), events


def _upright(f: Features, cal: Calibration, params: CoachParams) -> bool:
    """Someone on their feet: trunk not past max_hinge_deg, hips well above the ankles."""
    if f.torso_dy < -f.torso_len * math.cos(math.radians(180.0 - params.max_hinge_deg)):
        return False
    if not f.legs:  # a hinge cannot be judged without the legs: step back into view
        return False
    _, thigh, shin = cal.lengths()
    leg = max(thigh + shin, f.thigh_len + f.shin_len)
    return f.hip_height > params.upright_leg_frac * leg


def _travel(state: CoachState, f: Features, t_s: float,
            params: CoachParams) -> tuple[tuple[float, float], float, bool]:
    """Where the feet have been lately, how fast they travel, and whether the skeleton jumped.

    Speed is the lag between the ankles and an exponential average of their
    position (time constant ``travel_tau_s``) divided by that constant: for a
    steady walk it equals the walking speed, and unlike a frame-to-frame
    difference it does not grow with keypoint jitter at high frame rates. The
    ankles, not the hips: they stay planted in a hinge and move in a walk.
    Units: torso lengths per second; held when the ankles are not seen.
    A jump (the single-pose model switching to another person) is a move of
    the hips by more than half a torso length between two frames.
    """
    torso = max(state.cal.lengths()[0], f.torso_len, 1e-6)
    jumped = (state.hip_xy is not None
              and math.hypot(f.hip_x - state.hip_xy[0], f.hip_y - state.hip_xy[1]) > 0.5 * torso)
    if not f.legs:
        return state.feet_avg, state.travel, jumped
    x, y = f.hip_x - f.hip_over_ankle, f.hip_y + f.hip_height
    if state.feet_t_s <= 0.0 or t_s <= state.feet_t_s:
        return (x, y), 0.0, jumped
    k = (t_s - state.feet_t_s) / (params.travel_tau_s + t_s - state.feet_t_s)
    avg = (state.feet_avg[0] + k * (x - state.feet_avg[0]),
           state.feet_avg[1] + k * (y - state.feet_avg[1]))
    return avg, math.hypot(x - avg[0], y - avg[1]) / torso / params.travel_tau_s, jumped


def _unseen(state: CoachState, t_s: float, params: CoachParams, events: list) -> CoachState:
    if state.phase == "absent" or t_s - state.last_seen_s < params.absent_s:
        return state
    if state.phase in ("descending", "bottom", "ascending"):
        state = _partial(state, events)
    state = _end_set(state, events)
    return replace(state, phase="absent", still_since_s=None, hip_xy=None, feet_t_s=0.0,
                   cal=Calibration(),
                   view_votes=(0, 0, 0))


def _advance(s: CoachState, f: Features, hip: float, t_s: float, frame_score: float,
             p: CoachParams, events: list) -> CoachState:
    phase = s.phase
    if phase == "ready":
        # While getting still, remember the deepest point: a set that starts at
        # depth may already be on its way up when counting is armed.
        if s.still_since_s is None or hip >= s.rep.peak_hip:
            s = replace(s, rep=RepTrack(start_s=None, peak_hip=hip, peak_hinge=s.hinge_deg,
                                        peak_knee=s.knee_deg, bottom_s=t_s, bottom=_ref(f)))
        still = s.still_since_s if s.still_since_s is not None else t_s
        s = replace(s, still_since_s=still)
        if t_s - still < p.arm_s:
            return s
        if hip < p.stand_deg:
            return replace(s, phase="standing", standing_ref=_ref(f), last_stand_s=t_s,
                           view_votes=_vote(s.view_votes, f, s.cal), rep=RepTrack())
        if s.rep.peak_hip >= p.depth_deg:  # the set starts at depth: its first lockout counts
            return replace(s, phase="bottom" if hip > s.rep.peak_hip - p.turn_deg
                           else "ascending", rep=replace(s.rep, low_hip=hip))
        return s
    rep = replace(s.rep, score_sum=s.rep.score_sum + frame_score, frames=s.rep.frames + 1)
    if phase == "standing":
        s = replace(s, standing_ref=_ref(f), view_votes=_vote(s.view_votes, f, s.cal))
        if s.set_active and s.last_rep and t_s - s.last_rep["end_s"] > p.set_idle_s:
            s = _end_set(s, events)
        if hip > p.start_deg:
            # The rep began when the person last stood.
            return replace(s, phase="descending", rep=RepTrack(
                start_s=s.last_stand_s, peak_hip=hip, bottom_s=t_s, frames=1,
                score_sum=frame_score))
        return replace(s, last_stand_s=t_s) if hip < p.stand_deg else s
    if phase in ("descending", "bottom"):
        if hip >= rep.peak_hip:
            rep = replace(rep, peak_hip=hip, peak_hinge=s.hinge_deg, peak_knee=s.knee_deg,
                          bottom_s=t_s, bottom=_ref(f))
        if hip < p.stand_deg:  # back up without a bottom worth the name
            return _partial(replace(s, rep=rep), events, back_to="standing")
        if rep.peak_hip >= p.depth_deg and hip < rep.peak_hip - p.turn_deg:
            return replace(s, phase="ascending", rep=replace(rep, low_hip=hip))
        return replace(s, rep=rep, phase="bottom" if rep.peak_hip >= p.depth_deg else phase)
    # ascending
    rep = replace(rep, low_hip=min(rep.low_hip, hip))
    if hip < p.stand_deg:
        return _lockout(replace(s, rep=rep), f, t_s, p, events)
    if hip > rep.low_hip + p.turn_deg:
        if rep.low_hip < p.start_deg + p.turn_deg:
            # Came most of the way up, then went down again: no lockout, a partial.
            s = _partial(replace(s, rep=rep), events, back_to="descending")
            return replace(s, rep=RepTrack(start_s=t_s, peak_hip=hip, bottom_s=t_s))
        # A bounce at the bottom: the same rep.
        return replace(s, phase="bottom", rep=rep)
    return replace(s, rep=rep)


def _ref(f: Features) -> tuple:
    return (f.hip_w, f.knee_w, f.ankle_w, f.shoulder_w, f.hip_over_ankle, f.torso_len)


def _vote(votes: tuple[int, int, int], f: Features, cal: Calibration) -> tuple[int, int, int]:
    """View from the standing shoulder width against the torso length."""
    torso = max(cal.lengths()[0], 1e-6)
    ratio = f.shoulder_w / torso
    i = 0 if ratio > 0.55 else (2 if ratio < 0.25 else 1)
    v = list(votes)
    v[i] += 1
    return (v[0], v[1], v[2])


def _partial(s: CoachState, events: list, back_to: str = "ready") -> CoachState:
    """A hinge that never reached depth, or never locked out: reported, not counted."""
    events.append({"type": "partial", "peak_hip_deg": round(s.rep.peak_hip, 1),
                   "t_s": s.t_s})
    return replace(s, phase=back_to, partial_count=s.partial_count + 1, rep=RepTrack(),
                   last_stand_s=s.t_s)


def _lockout(s: CoachState, f: Features, t_s: float, p: CoachParams,
             events: list) -> CoachState:
    rep = s.rep
    # A set that starts at depth has only its way up to time: half the minimum.
    duration = t_s - (rep.start_s if rep.start_s is not None else rep.bottom_s)
    if duration < (p.min_rep_s if rep.start_s is not None else p.min_rep_s / 2) or (
            rep.start_s is not None and rep.bottom_s - rep.start_s < p.min_down_s):
        return _partial(s, events, back_to="standing")
    view = view_of(s.view_votes)
    found, unjudged = faults_mod.judge(rep, s.standing_ref, view, rep.start_s, t_s)
    confidence = rep.score_sum / max(rep.frames, 1)
    count = s.rep_count + 1
    summary = {
        "index": count,
        "start_s": None if rep.start_s is None else round(rep.start_s, 3),
        "bottom_s": round(rep.bottom_s, 3), "end_s": round(t_s, 3),
        "hinge_deg": round(rep.peak_hinge, 1), "knee_deg": round(rep.peak_knee, 1),
        "hip_deg": round(rep.peak_hip, 1),
        "down_s": None if rep.start_s is None else round(rep.bottom_s - rep.start_s, 3),
        "up_s": round(t_s - rep.bottom_s, 3),
        "faults": found, "unjudged": unjudged, "view": view,
        "confidence": round(confidence, 3),
        "score": max(0, 100 - 25 * len(found)),
    }
    events.append({"type": "rep", **summary})
    s = replace(s, phase="standing", rep=RepTrack(), rep_count=count, set_active=True,
                set_reps=s.set_reps + 1 if s.set_active else 1,
                set_index=s.set_index + (0 if s.set_active else 1),
                last_stand_s=t_s, last_rep=summary, standing_ref=_ref(f),
                last_fault=found[0] if found else None)
    return _cue(s, found, t_s, p, events)


def _cue(s: CoachState, found: list[str], t_s: float, p: CoachParams,
         events: list) -> CoachState:
    """One cue at a time, most important fault first, no repeats within cue_repeat_s."""
    if found:
        cue_id = found[0]
    elif s.cue_id in FAULTS:
        cue_id = "praise_fixed"
    else:
        cue_id = "praise"
    if cue_id == s.cue_id and t_s - s.cue_s < p.cue_repeat_s:
        return s
    events.append({"type": "cue", "id": cue_id, "text": cue_text(cue_id), "t_s": t_s})
    return replace(s, cue_id=cue_id, cue_s=t_s)


def cue_text(cue_id: str | None) -> str | None:
    if cue_id is None:
        return None
    return {"praise": PRAISE, "praise_fixed": PRAISE_FIXED}.get(cue_id) or CUES[cue_id]


def _end_set(s: CoachState, events: list) -> CoachState:
    if not s.set_active:
        return s
    events.append({"type": "set_end", "set": s.set_index, "reps": s.set_reps, "t_s": s.t_s})
    return replace(s, set_active=False, set_reps=0)


def snapshot(s: CoachState) -> dict:
    """What the mirror shows: JSON-ready, no history, nothing personal."""
    present = s.phase != "absent"
    return {
        "present": present,
        "phase": s.phase,
        "rep_count": s.rep_count,
        "set_reps": s.set_reps,
        "partial_reps": s.partial_count,
        "view": view_of(s.view_votes),
        "hinge_deg": round(s.hinge_deg, 1) if present else None,
        "hip_deg": round(s.hip_deg, 1) if present else None,
        "knee_deg": round(s.knee_deg, 1) if present else None,
        "last_fault": s.last_fault,
        "last_fault_text": FAULT_WORDS.get(s.last_fault) if s.last_fault else None,
        "cue": cue_text(s.cue_id),
        "cue_id": s.cue_id,
        "last_rep": s.last_rep,
        "t_s": round(s.t_s, 3),
    }


class Coach:
    """Stateful convenience around `step` for the live pipeline."""

    def __init__(self, params: CoachParams | None = None) -> None:
        self.params = params or CoachParams()
        self.state = CoachState()

    def update(self, keypoints: np.ndarray, t_s: float, aspect: float) -> list[dict]:
        self.state, events = step(self.state, keypoints, t_s, aspect, self.params)
        return events

    def snapshot(self) -> dict:
        return snapshot(self.state)


def analyze(keypoints: np.ndarray, t: np.ndarray, frame_size: tuple[int, int],
            params: CoachParams | None = None) -> dict:
    """The batch twin: a whole track -> the analysis report of DESIGN.md (minus `source`)."""
    params = params or CoachParams()
    aspect = frame_size[1] / frame_size[0]
    state = CoachState()
    reps: list[dict] = []
    for kp, t_s in zip(keypoints, t, strict=True):
        state, events = step(state, kp, float(t_s), aspect, params)
        reps.extend(e for e in events if e["type"] == "rep")
    counts: dict[str, int] = {}
    for r in reps:
        for fault in r["faults"]:
            counts[fault] = counts.get(fault, 0) + 1
    for r in reps:
        r.pop("type", None)
    return {
        "frames": int(len(t)),
        "duration_s": round(float(t[-1] - t[0]), 3) if len(t) else 0.0,
        "view": view_of(state.view_votes) if sum(state.view_votes) else _dominant_view(reps),
        "rep_count": state.rep_count,
        "partial_reps": state.partial_count,
        "reps": reps,
        "faults": counts,
    }


def _dominant_view(reps: list[dict]) -> str:
    views = [r["view"] for r in reps if r["view"] != "unknown"]
    return max(set(views), key=views.count) if views else "unknown"
