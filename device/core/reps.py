"""The rep state machine: one step per frame.

``step(state, keypoints, t_s, aspect, params) -> (state, events)``. A rep
(DESIGN.md) is a hinge from standing to depth and back to lockout, counted at
the lockout. The depth signal is hip flexion: trunk inclination plus thigh
inclination, both from vertical, which a hinge and a squat both drive, and
which arm movements, walking and standing do not.

Phases (`Phase`): absent -> ready (counting is armed once the person has stood
still, upright or at depth, for ``arm_s``) -> standing -> descending -> bottom
-> ascending -> lockout (the top, watched for ``lockout_hold_s`` so that
leaning back or stopping short is seen; the rep counts at its end) ->
standing; from ready or any active phase, seated -> standing.

A lockout needs the shoulders to have risen (``rise_frac``) as well as the
hips' angle to read standing, so a long setup or hold at the bottom, over
which the calibration learns the bent body, is one rep or none; a rep in
progress for ``rep_timeout_s`` is a partial. Walking off from the top is not
a rep: the first lockout of a set that starts at depth, and one after a bottom
held for ``long_bottom_s`` (a weight set down), is watched for
``first_hold_s``, and a lockout left on foot is a partial. A seat is a body
at rest on something, or getting up off it (`person.seat_times`): sitting
down, sitting and getting up count nothing; a wall behind the back, a hand on
a chair and a pause at the bottom are support, not a seat.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.core import faults as faults_mod
from device.core.faults import Measures
from device.core.features import FOOT_PER_SHIN, Features, reportable
from device.core.filters import OneEuroState
from device.core.perception import (
    Perception,
    Sight,
    identify,
    left,
    perceive,
    switched,
)
from device.core.person import (
    Reference,
    Upright,
    body_over_feet,
    camera_deg,
    facing_sign,
    hip_shift,
    is_seated,
    trunk_lean,
    window_view,
)
from device.core.sets import (
    SetsState,
    add_rep,
    end_session,
    end_set,
    follow_session,
    range_cue,
)
from device.core.skeleton import FAULTS
from device.core.state import (
    ACTIVE,
    CoachParams,
    Event,
    Events,
    Phase,
    evolve,
)


@dataclass(frozen=True)
class RepTrack:
    """What is known of the rep in progress. Angles in degrees, times in seconds."""

    start_s: float | None = None  # None: the set started at depth
    view: str = "unknown"
    peak_hip: float = 0.0
    peak_hinge: float = 0.0
    peak_knee: float = 0.0
    bottom_s: float = 0.0
    low_hip: float = 180.0  # lowest hip flexion since the bottom
    score_sum: float = 0.0
    frames: int = 0
    top: Upright | None = None  # the Upright the rep began from (None: not yet known)
    measures: Measures = Measures()  # what the fault checks read (faults.judge)
    lockout_s: float = 0.0  # when standing was reached
    top_s: float = 0.0  # the straightest moment of the top
    top_judged: bool = False  # the top has been watched for lockout_hold_s
    ext_low: float = math.inf  # lowest shoulder height above the ankles before the top
    ext_top: float = 0.0  # highest at the top
    # Depth stood in by the shoulders' rise (CoachParams.depth_rise_frac): a set
    # that starts at depth before the calibration has seen the person stand.
    depth_by_rise: bool = False
    began_s: float = 0.0  # when this rep (or the hold it started from) began
    depth_s: float | None = None  # when depth was first reached
    held_s: float = 0.0  # how long the bottom was held before the way up
    # The trunk's length as calibrated when the rep began: over a long hold the
    # calibration learns the bent, foreshortened trunk, and would read it upright.
    torso_ref: float = 0.0
    past_range: bool = False  # went deeper than the program's range limit (max_hip_deg)


@dataclass(frozen=True)
class CoachState:
    """The coach between frames: what is seen of the person (`Perception`), the
    rep logic's own (the phase, the rep in progress, the totals), and the
    session, its sets and the cue (`sets.SetsState`)."""

    perception: Perception = Perception()
    phase: Phase = Phase.ABSENT
    still_since_s: float | None = None
    rep: RepTrack = RepTrack()
    last_stand_s: float = 0.0  # last frame below stand_deg
    rep_count: int = 0  # every rep since the start
    partial_count: int = 0
    sets: SetsState = SetsState()
    t_s: float | None = None  # the last frame accepted; None before the first

    # The filtered keypoints, for the pipeline's skeleton overlay.
    @property
    def filt(self) -> OneEuroState | None:
        return self.perception.keypoints.filt

    @property
    def seen_s(self) -> tuple[float, ...] | None:
        return self.perception.keypoints.seen_s


def step(state: CoachState, keypoints: np.ndarray, t_s: float, aspect: float,
         params: CoachParams) -> tuple[CoachState, list[Event]]:
    """Advance the coach by one frame: the person and their rep (`_frame`), then
    their session and set (`sets.follow_session`).

    keypoints: (17, 3) (y, x, score) on the full frame; t_s: frame time in
    seconds; aspect: frame width / height. Returns the new state and the
    events of this frame (`state.Event`). A rejected frame leaves the state
    as it was, except that a restarted clock starts counting over.
    """
    state, events = _frame(state, keypoints, t_s, aspect, params)
    if events and events[0]["type"] == "rejected" and events[0]["reason"] != "clock_restarted":
        return state, list(events)
    per = state.perception
    sets, more = follow_session(state.sets, t_s, params, present=state.phase != Phase.ABSENT,
                                last_seen_s=per.last_seen_s, standing_s=per.body.ref.standing_s)
    if sets is not state.sets:
        state = evolve(state, sets=sets)
    return state, [*events, *more]


def _frame(state: CoachState, keypoints: np.ndarray, t_s: float, aspect: float,
           params: CoachParams) -> tuple[CoachState, Events]:
    """The person in view (`perception`), then their rep (`decide`), for one frame."""
    if keypoints.shape != (17, 3):
        raise ValueError(f"keypoints must be (17, 3) (y, x, score), got {keypoints.shape}")
    rows = keypoints.tolist()  # plain floats from here: see filters.one_euro_step
    rejected = _reject(state, rows, t_s, params)
    if rejected == "clock_restarted":
        # The clock went back by more than a person's absence: a new recording
        # or a restarted camera. What was under way ends; counting starts over.
        state, ended = interrupt(state, params, walked_off=False)
        sets, left_set = end_set(state.sets, "left", params)
        sets, left_session = end_session(sets, "clock_restarted", state.t_s, params)
        state = CoachState(rep_count=state.rep_count, partial_count=state.partial_count,
                           sets=SetsState(set_index=sets.set_index,
                                          session_index=sets.session_index))
        state, more = _frame(state, keypoints, t_s, aspect, params)
        return state, ({"type": "rejected", "reason": rejected, "t_s": t_s}, *ended, *left_set,
                       *left_session, *more)
    if rejected is not None:
        return state, ({"type": "rejected", "reason": rejected,
                        "t_s": t_s if math.isfinite(t_s) else None},)
    who, per, raw = identify(state.perception, keypoints, rows, aspect, t_s, params)
    if who == "other":  # someone else for a moment (flicker): this frame is not theirs
        return evolve(state, perception=per), ()
    events: Events = ()
    if who == "switched":  # someone else for good: what was under way ends, all starts over
        state, ended = interrupt(state, params, walked_off=False)
        sets, left = end_session(state.sets, "someone_else", t_s, params)
        state = evolve(state, sets=sets, phase=Phase.READY, still_since_s=None, t_s=None)
        per = switched(per, t_s)
        events = ({"type": "person_changed", "t_s": t_s}, *ended, *left)
    sight = perceive(per, raw, t_s, state.t_s,
                     arriving=state.phase == Phase.ABSENT, torso_ref=state.rep.torso_ref,
                     hold_ref=bool(state.sets.set_reps) or state.phase == Phase.LOCKOUT, p=params)
    state, more = decide(evolve(state, perception=sight.perception, t_s=t_s), sight, t_s, params)
    return state, events + more


def decide(s: CoachState, sight: Sight, t_s: float,
           p: CoachParams) -> tuple[CoachState, Events]:
    """What the coach makes of what it sees on one frame (`perception.perceive`):
    the person gone, arrived, walking, or in a phase of a rep (`_advance`)."""
    if sight.f is None:
        return _unseen(s, t_s, p)
    if s.phase == Phase.ABSENT:
        s = evolve(s, phase=Phase.READY, still_since_s=None)
    if sight.walking:  # walking: nothing here is a rep
        s, events = interrupt(s, p, walked_off=True)
        return evolve(s, phase=Phase.READY, still_since_s=None), events
    return _advance(s, sight, t_s, p)


def _reject(state: CoachState, rows: list, t_s: float, p: CoachParams) -> str | None:
    """Why this frame cannot enter the coach, or None. The one rule for time:
    it must increase; a frame at or before the last one is skipped, and a
    clock that went back by more than ``absent_s`` has restarted.
    rows: the 17 keypoints' (y, x, score)."""
    if not math.isfinite(t_s):
        return "non_finite_time"
    # A sum is finite when every term is (NaN and infinities carry through);
    # only one that overflowed needs each term looked at.
    if not math.isfinite(sum(map(sum, rows))) and \
            not all(math.isfinite(v) for row in rows for v in row):
        return "non_finite_keypoints"
    if state.t_s is not None and t_s <= state.t_s:
        return "clock_restarted" if state.t_s - t_s > p.absent_s else "time_not_increasing"
    return None


def _angles(rep: RepTrack, view: str) -> dict:
    """The rep's peak angles, each in its physiological range or None, and how
    each was got (or why there is none, `<angle>_why`, DESIGN.md): a reason id
    of `features.reportable`."""
    confidence = rep.score_sum / max(rep.frames, 1)
    out: dict = {}
    for name, value in (("hinge_deg", rep.peak_hinge), ("knee_deg", rep.peak_knee),
                        ("hip_deg", rep.peak_hip)):
        out[name], out[f"{name}_why"] = reportable(name, value, view, confidence)
    return out


def _track_rep(s: CoachState, rep: RepTrack, f: Features, hip: float,
               p: CoachParams) -> RepTrack:
    """Fold this frame's fault measures into the rep (deep part of the rep only)."""
    changes = {}
    m = rep.measures
    per, body = s.perception, s.perception.body
    if f.legs:
        changes["drop_max"] = max(m.drop_max, per.hip_drop)
    shin = body.cal.lengths()[2]
    # Forward and back need to know which way the person faces (seen upright).
    sign = facing_sign(body.facing)
    neck, _, _, ahead = f.sagittal_of()
    front = window_view(per.view) == "front"
    if shin > 0 and body.ref.standing_s > 0 and sign is not None and f.sag_ok:
        foot = FOOT_PER_SHIN * shin
        com = sign * ahead / foot
        changes["com_max"] = max(m.com_max, com)
        changes["com_min"] = min(m.com_min, com)
        if not front:
            changes["heel_rise_max"] = max(m.heel_rise_max, (body.ref.ankle_y - f.ankle_y) / shin)
    if front and f.legs:
        # From the front, where the fore-aft centre of mass is not seen, the
        # ankles rising (the heels leaving the floor) are; judged at the finish
        # against the top (`_front_heels`), so no still standing is needed.
        changes["ankle_high"] = min(m.ankle_high, f.ankle_y)
    if hip >= max(p.depth_deg, rep.peak_hip - p.turn_deg):
        if not math.isnan(neck) and sign is not None and f.sag_ok:
            changes["neck_max"] = max(m.neck_max, sign * neck)
        if f.ankle_w > 0:
            changes["knee_ratio_min"] = min(m.knee_ratio_min, f.knee_w / f.ankle_w)
        if f.legs:  # judged against the rep's top at its finish (person.hip_shift)
            changes["shift_sum"] = m.shift_sum + body_over_feet(f)
            changes["shift_n"] = m.shift_n + 1
    if f.legs:
        return evolve(rep, ext_low=min(rep.ext_low, f.shoulder_height),
                      measures=evolve(m, **changes))
    return evolve(rep, measures=evolve(m, **changes)) if changes else rep


def _advance(s: CoachState, sight: Sight, t_s: float,
             p: CoachParams) -> tuple[CoachState, Events]:
    """One frame of the rep state machine: a set idle too long ends, a seat stops
    counting, a rep held too long is a partial; else the phase's own rule (PHASES)."""
    s, events = _idle(s, t_s, p)
    phase = s.phase
    if is_seated(s.perception.seat, p) and (phase == Phase.READY or phase in ACTIVE):
        # On a seat: sitting down, sitting, and getting up are not reps.
        return evolve(s, phase=Phase.SEATED, rep=RepTrack(), still_since_s=None), \
            (*events, {"type": "seated", "t_s": t_s})
    if phase in ACTIVE and t_s - s.rep.began_s > p.rep_timeout_s:
        # Held too long to be one rep (a two-minute hold, a setup that never
        # pulls): a partial, and counting re-arms as for someone just arrived.
        s, more = _partial(s)
        return evolve(s, still_since_s=None), events + more
    s, more = PHASES[phase](s, sight, t_s, p)
    return s, events + more


def _idle(s: CoachState, t_s: float, p: CoachParams) -> tuple[CoachState, Events]:
    """A set idle for set_idle_s since its last rep ends (not while a rep is under way)."""
    phase, set_reps = s.phase, s.sets.set_reps
    if set_reps and phase not in ACTIVE and phase != Phase.LOCKOUT and \
            t_s - set_reps[-1]["end_s"] > p.set_idle_s:
        sets, events = end_set(s.sets, "idle", p)
        return evolve(s, sets=sets), events
    return s, ()


def _seated(s: CoachState, sight: Sight, t_s: float,
            p: CoachParams) -> tuple[CoachState, Events]:
    if sight.hip < p.stand_deg:  # stood up from the seat
        return evolve(s, phase=Phase.STANDING, last_stand_s=t_s, rep=RepTrack()), ()
    return s, ()


def _ready(s: CoachState, sight: Sight, t_s: float,
           p: CoachParams) -> tuple[CoachState, Events]:
    """Counting arms once the person has stood still, upright or at depth, for arm_s."""
    f, hip = sight.f, sight.hip
    # While getting still, remember the deepest point and the lowest the
    # shoulders came: a set that starts at depth may already be on its way
    # up when counting is armed.
    fresh = s.still_since_s is None
    rep = s.rep
    if fresh or hip >= rep.peak_hip:
        rep = RepTrack(start_s=None, peak_hip=hip, peak_hinge=s.perception.hinge_deg,
                       peak_knee=s.perception.knee_deg, bottom_s=t_s,
                       began_s=t_s if fresh else rep.began_s, ext_low=rep.ext_low,
                       torso_ref=s.perception.body.cal.lengths()[0] if fresh
                       else rep.torso_ref)
    low = f.shoulder_height if fresh else min(rep.ext_low, f.shoulder_height)
    still = t_s if fresh else s.still_since_s
    s = evolve(s, still_since_s=still, rep=evolve(rep, ext_low=low))
    if t_s - still < p.arm_s:
        return s, ()
    if hip < p.stand_deg:
        return evolve(s, phase=Phase.STANDING, last_stand_s=t_s, rep=RepTrack()), ()
    # The set starts at depth: its first lockout counts. Seen from the front
    # or at an angle, the calibration has not yet seen this person stand, so
    # depth read through it may fall short; the shoulders' rise to the top
    # then stands in for it (depth_rise_frac).
    deep = s.rep.peak_hip >= p.depth_deg
    if deep or (s.rep.peak_hip >= p.start_deg and window_view(s.perception.view) != "side"):
        up = hip <= s.rep.peak_hip - p.turn_deg
        return evolve(s, phase=Phase.ASCENDING if up else Phase.BOTTOM, rep=evolve(
            s.rep, low_hip=hip, depth_s=s.rep.began_s,
            held_s=t_s - s.rep.began_s if up else 0.0,
            depth_by_rise=not deep)), ()
    return s, ()


def _standing(s: CoachState, sight: Sight, t_s: float,
              p: CoachParams) -> tuple[CoachState, Events]:
    hip = sight.hip
    if hip > p.start_deg:
        # The rep began when the person last stood.
        body = s.perception.body
        rep = RepTrack(start_s=s.last_stand_s, view=window_view(s.perception.view),
                       peak_hip=hip, bottom_s=t_s, frames=1, score_sum=sight.score,
                       began_s=s.last_stand_s, torso_ref=body.cal.lengths()[0], top=body.top)
        return evolve(s, phase=Phase.DESCENDING, rep=_track_rep(s, rep, sight.f, hip, p)), ()
    return (evolve(s, last_stand_s=t_s) if hip < p.stand_deg else s), ()


def _descending(s: CoachState, sight: Sight, t_s: float,
                p: CoachParams) -> tuple[CoachState, Events]:
    """Descending and at the bottom: the deepest point, depth reached, the way up."""
    hip = sight.hip
    rep = _tracked(s, sight, p)
    if hip >= rep.peak_hip:
        rep = evolve(rep, peak_hip=hip, peak_hinge=s.perception.hinge_deg,
                     peak_knee=s.perception.knee_deg, bottom_s=t_s)
    if rep.depth_s is None and rep.peak_hip >= p.depth_deg:
        rep = evolve(rep, depth_s=t_s)
    if p.max_hip_deg is not None and rep.peak_hip > p.max_hip_deg and not rep.past_range:
        # Past the program's range limit: said now, on the way down, not after the rep.
        rep = evolve(rep, past_range=True)
        sets, cue = range_cue(s.sets, t_s)
        s, said = evolve(s, sets=sets), cue
    else:
        said = ()
    reached = rep.peak_hip >= p.depth_deg or rep.depth_by_rise
    if hip < p.stand_deg and not reached:  # back up without a bottom worth the name
        s, events = _partial(evolve(s, rep=rep), back_to=Phase.STANDING)
        return s, said + events
    if not (reached and hip < rep.peak_hip - p.turn_deg):
        return evolve(s, rep=rep, phase=Phase.BOTTOM if reached else s.phase), said
    # On the way up; a frame that is already at the top is judged as one.
    rep = evolve(rep, low_hip=hip, held_s=t_s - rep.depth_s)
    if hip >= p.stand_deg:
        return evolve(s, phase=Phase.ASCENDING, rep=rep), said
    s, events = _rise(evolve(s, phase=Phase.ASCENDING), rep, sight, t_s, p)
    return s, said + events


def _ascending(s: CoachState, sight: Sight, t_s: float,
               p: CoachParams) -> tuple[CoachState, Events]:
    return _rise(s, _tracked(s, sight, p), sight, t_s, p)


def _tracked(s: CoachState, sight: Sight, p: CoachParams) -> RepTrack:
    """The rep in progress with this frame in it (its score, its fault measures)."""
    rep = s.rep
    return _track_rep(s, evolve(rep, score_sum=rep.score_sum + sight.score,
                                frames=rep.frames + 1), sight.f, sight.hip, p)


def _rise(s: CoachState, rep: RepTrack, sight: Sight, t_s: float,
          p: CoachParams) -> tuple[CoachState, Events]:
    """On the way up (`rep`: with this frame in it): the lockout, a bounce, or a partial."""
    f, hip = sight.f, sight.hip
    rep = evolve(rep, low_hip=min(rep.low_hip, hip))
    rise = p.depth_rise_frac if rep.depth_by_rise else p.rise_frac
    if hip < p.stand_deg and f.shoulder_height >= (1.0 + rise) * rep.ext_low:
        # Standing, by the hips' angle and by the shoulders having risen.
        sign = facing_sign(s.perception.body.facing)
        lean = trunk_lean(f, sign) if sign is not None and f.sag_ok else math.inf
        return evolve(s, phase=Phase.LOCKOUT, rep=evolve(
            rep, lockout_s=t_s, top_s=t_s, ext_top=f.shoulder_height,
            measures=evolve(rep.measures, top_hip=hip, top_lean=lean))), ()
    if hip > rep.low_hip + p.turn_deg:
        if rep.low_hip < p.start_deg + p.turn_deg:
            # Came most of the way up, then went down again: no lockout, a partial.
            s, events = _partial(evolve(s, rep=rep), back_to=Phase.DESCENDING)
            return evolve(s, rep=RepTrack(start_s=t_s, view=window_view(s.perception.view),
                                          peak_hip=hip, bottom_s=t_s, began_s=t_s,
                                          torso_ref=rep.torso_ref, top=rep.top)), events
        return evolve(s, phase=Phase.BOTTOM, rep=rep), ()  # a bounce at the bottom: the same rep
    return evolve(s, rep=rep), ()


def _lockout(s: CoachState, sight: Sight, t_s: float,
             p: CoachParams) -> tuple[CoachState, Events]:
    """The top, watched for lockout_hold_s (first_hold_s after a start at depth or a
    long bottom) before the rep counts."""
    f, hip = sight.f, sight.hip
    if hip > p.start_deg:  # straight into the next rep
        s, events = _finish(s, t_s, p)
        s, more = _advance(s, sight, t_s, p)
        return s, events + more
    rep = s.rep
    held = t_s - rep.lockout_s
    # The top is judged over lockout_hold_s whatever the wait: a longer
    # wait for a first lockout only asks whether the person stays.
    rep = evolve(rep, ext_top=max(rep.ext_top, f.shoulder_height))
    if not rep.top_judged:
        if hip < rep.measures.top_hip:
            rep = evolve(rep, top_s=t_s, measures=evolve(rep.measures, top_hip=hip))
        sign = facing_sign(s.perception.body.facing)
        if sign is not None and f.sag_ok:
            rep = evolve(rep, measures=evolve(
                rep.measures, top_lean=min(rep.measures.top_lean, trunk_lean(f, sign))))
        rep = evolve(rep, top_judged=held >= p.lockout_hold_s)
    s = evolve(s, rep=rep, last_stand_s=t_s)
    # A first lockout of a set that started at depth, or one after a long
    # bottom (a weight set down), is watched longer: walking off is no rep.
    watch = rep.start_s is None or rep.held_s >= p.long_bottom_s
    hold = p.first_hold_s if watch else p.lockout_hold_s
    return _finish(s, t_s, p) if held >= hold else (s, ())


Handler = Callable[[CoachState, Sight, float, CoachParams], tuple[CoachState, Events]]
# Each phase's rule for one frame (Phase.ABSENT has none: `decide` makes it READY).
PHASES: dict[Phase, Handler] = {
    Phase.READY: _ready,
    Phase.STANDING: _standing,
    Phase.DESCENDING: _descending,
    Phase.BOTTOM: _descending,
    Phase.ASCENDING: _ascending,
    Phase.LOCKOUT: _lockout,
    Phase.SEATED: _seated,
}


def interrupt(s: CoachState, p: CoachParams, walked_off: bool) -> tuple[CoachState, Events]:
    """Counting stops: drop an unfinished rep, and decide a rep still at its lockout.

    walked_off: the person walked away or vanished before the lockout was
    watched to its end, as after picking something up; that is no rep. When
    the model only jumped to someone else, or the recording ends, the rep
    counts.
    """
    if s.phase == Phase.LOCKOUT:
        return _partial(s) if walked_off else _finish(s, s.t_s, p)
    if s.phase in ACTIVE:
        return _partial(s)
    return s, ()


def _unseen(s: CoachState, t_s: float, p: CoachParams) -> tuple[CoachState, Events]:
    """Nobody measurable on this frame (even with bridged keypoints). A rep in
    progress survives bridge_s more of this, about a second of gap in all;
    after that nobody can say what happened in it, so it is a partial (the
    person is still there). After absent_s the person has left."""
    events: Events = ()
    last_seen_s = s.perception.last_seen_s
    if s.phase in ACTIVE and t_s - last_seen_s > p.bridge_s:
        s, events = _partial(s)
        s = evolve(s, still_since_s=None)
    if s.phase == Phase.ABSENT or t_s - last_seen_s < p.absent_s:
        return s, events
    s, ended = interrupt(s, p, walked_off=True)
    sets, closed = end_set(s.sets, "left", p)
    return evolve(s, sets=sets, perception=left(s.perception, t_s), phase=Phase.ABSENT,
                  still_since_s=None), events + ended + closed


def _partial(s: CoachState, back_to: Phase = Phase.READY) -> tuple[CoachState, Events]:
    """A hinge that never reached depth, or never locked out: reported, not counted."""
    return evolve(s, phase=back_to, partial_count=s.partial_count + 1, rep=RepTrack(),
                  last_stand_s=s.t_s), \
        ({"type": "partial", "peak_hip_deg": round(s.rep.peak_hip, 1), "t_s": s.t_s},)


def _set_down(s: CoachState, p: CoachParams) -> bool:
    """The rep is the weight put down at the end of a set (CoachParams.set_down_s):
    a drop straight from a top held set_down_after_s since the last counted rep,
    which may have ended its set at the target; not after a rest (set_idle_s)."""
    rep, last = s.rep, s.sets.last_rep
    if rep.start_s is None or last is None or rep.bottom_s - rep.start_s >= p.set_down_s:
        return False
    return p.set_down_after_s <= rep.start_s - last["end_s"] <= p.set_idle_s


def _front_heels(rep: RepTrack, s: CoachState) -> RepTrack:
    """From the front, the ankles' highest point in the rep against their height
    at the top the rep began from (or, for a set that starts at depth, the top it
    reached), in standing shin lengths: weight_on_toes' measure there."""
    body = s.perception.body
    top = rep.top if rep.top is not None and not math.isnan(rep.top.ankle_y) else body.top
    shin = body.cal.lengths()[2]
    m = rep.measures
    if math.isnan(top.ankle_y) or not math.isfinite(m.ankle_high) or shin <= 0:
        return rep
    return evolve(rep, measures=evolve(
        m, heel_rise_max=max(0.0, (top.ankle_y - m.ankle_high) / shin), heel_seen=True))


def _finish(s: CoachState, t_s: float, p: CoachParams) -> tuple[CoachState, Events]:
    """The end of the lockout window: judge the rep and count it."""
    rep = s.rep
    end_s = rep.top_s
    # A set that starts at depth has only its way up to time: half the minimum.
    duration = end_s - (rep.start_s if rep.start_s is not None else rep.bottom_s)
    if duration < (p.min_rep_s if rep.start_s is not None else p.min_rep_s / 2) or (
            rep.start_s is not None and rep.bottom_s - rep.start_s < p.min_down_s):
        return _partial(s, back_to=Phase.STANDING)
    if _set_down(s, p):
        return _partial(s, back_to=Phase.STANDING)  # the weight set down
    body, seen_from = s.perception.body, s.perception.view
    ref = body.ref
    view = rep.view if rep.view != "unknown" else window_view(seen_from)
    rep = evolve(rep, measures=evolve(rep.measures, shift=hip_shift(
        rep.top, body.top, rep.measures.shift_sum, rep.measures.shift_n)))
    if view == "front":
        rep = _front_heels(rep, s)
    found, unjudged = faults_mod.judge(rep, ref, view, calibrated=ref.standing_s >= p.calib_s,
                                       tolerance=p.fault_tolerance,
                                       frame_s=(t_s - rep.began_s) / max(rep.frames, 1),
                                       exercise=p.exercise, factors=p.fault_factors)
    count = s.rep_count + 1
    summary = _summary(rep, count, view, found, unjudged, ref, camera_deg(seen_from))
    if p.max_hip_deg is not None:  # a program's range limit: whether this rep kept it
        summary |= {"range_limit_deg": p.max_hip_deg, "past_range": rep.past_range}
    sets, events = add_rep(s.sets, summary, t_s, p,
                           judged=[f for f in FAULTS if f not in unjudged])
    return evolve(s, phase=Phase.STANDING, rep=RepTrack(), rep_count=count, last_stand_s=t_s,
                  sets=sets), events


def _summary(rep: RepTrack, index: int, view: str, found: list[str], unjudged: list[str],
             ref: Reference, deg: float | None) -> dict:
    """A counted rep's figures: the rep event (`state.RepEvent`) without its type.
    deg: the camera's angle to the person (person.camera_deg)."""
    m = rep.measures
    end_s = rep.top_s
    return {
        "index": index,
        "start_s": None if rep.start_s is None else round(rep.start_s, 3),
        "bottom_s": round(rep.bottom_s, 3), "end_s": round(end_s, 3),
        **_angles(rep, view),
        "down_s": None if rep.start_s is None else round(rep.bottom_s - rep.start_s, 3),
        "up_s": round(end_s - rep.bottom_s, 3),
        "faults": found, "unjudged": unjudged, "view": view,
        "confidence": round(rep.score_sum / max(rep.frames, 1), 3),
        "score": faults_mod.score(found, unjudged),
        # What the score covers: the checks this rep's view could make, of all.
        "checked": len(FAULTS) - len(unjudged), "checks": len(FAULTS),
        # The camera's angle to the person, degrees (0 front, 90 side), or None.
        "camera_deg": None if deg is None else round(deg, 1),
        "top_hip_deg": round(m.top_hip, 1),
        "top_lean_deg": round(m.top_lean, 1) if math.isfinite(m.top_lean) else None,
        "rise": round(rep.ext_top / rep.ext_low, 3),
        "depth_by": "rise" if rep.depth_by_rise else "angle",
        "heel_rise": round(m.heel_rise_max, 3),
        # back_rounding's and the weight faults' measures (None: not measured).
        "neck_max_deg": round(m.neck_max, 1) if math.isfinite(m.neck_max) else None,
        "com_foot_max": round(m.com_max, 3) if math.isfinite(m.com_max) else None,
        "com_foot_min": round(m.com_min, 3) if math.isfinite(m.com_min) else None,
        "hip_drop": round(m.drop_max, 3),
        "knee_ratio": round(m.knee_ratio_min, 3) if math.isfinite(m.knee_ratio_min)
        else None,
        "knee_ratio_standing": round(ref.knee_w / ref.ankle_w, 3) if ref.ankle_w > 0
        else None,
        # Signed, + toward the person's left, in hip widths; hips_to names the side.
        "hip_shift": round(m.shift, 3) if math.isfinite(m.shift) else None,
        "hips_to": None if not math.isfinite(m.shift) or m.shift == 0
        else "left" if m.shift > 0 else "right",
    }
