"""Fault checks on a finished rep: measurable definitions, thresholds and their sources.

Every fault id of DESIGN.md is defined here. A fault that the rep's view cannot
show, or whose measure was never seen during the rep, goes to ``unjudged``:
the report never claims a fault is absent when it could not look.

What 17 keypoints can and cannot show: there are no spine keypoints, so back
rounding is estimated from the head-shoulder-hip geometry (the head and upper
back curling forward of the trunk line), not measured on the spine itself; the
feet have no toe or heel keypoints, so the weight distribution is estimated
from a centre-of-mass proxy over the ankle and from the ankle rising.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from device.core.exercises import DEFAULT, not_for
from device.core.skeleton import FAULTS

# Which faults each view can show. Front: sideways (frontal-plane) faults and
# the foreshortening estimates; side: sagittal-plane faults; oblique: only the
# ones whose measure survives a 45-degree projection.
JUDGED_IN = {
    "front": {"knees_bent_too_much", "knees_caving", "hips_shifting", "incomplete_lockout",
              "weight_on_toes", "too_fast"},
    "side": {"knees_bent_too_much", "back_rounding", "back_overarching", "incomplete_lockout",
             "weight_on_toes", "weight_on_heels", "too_fast"},
    # At an angle the side-view faults are judged once the camera's angle is
    # known and corrected (reps._at_an_angle); unjudged where it is not.
    "oblique": {"knees_bent_too_much", "back_rounding", "back_overarching", "incomplete_lockout",
                "weight_on_toes", "weight_on_heels", "too_fast"},
    "unknown": {"knees_bent_too_much", "too_fast"},
}
# The side-view faults, judged at an angle only where the camera's angle to the
# person is known and within CoachParams.sagittal_deg (reps._at_an_angle).
SAGITTAL = {"back_rounding", "back_overarching", "weight_on_toes", "weight_on_heels"}
# Judged against the person's own still standing only (the standing calibration),
# per view: from the front the heels' rise is read against the rep's own top.
NEEDS_CALIBRATION = {"front": {"knees_caving"},
                     "side": {"weight_on_toes", "weight_on_heels"},
                     "oblique": {"weight_on_toes", "weight_on_heels"}}


def judged_from(view: str, *, calibrated: bool, angle_ok: bool = True) -> list[str]:
    """The faults a rep seen from `view` is judged on, in priority order: the
    view's own (JUDGED_IN), less those that need the standing calibration when
    there is none, and, at an angle, the side-view ones when the camera's angle
    is not known or is outside the corrected range (`angle_ok` False). A rep can
    still leave one unjudged if its measure was never seen (`judge`)."""
    judged = set(JUDGED_IN.get(view, JUDGED_IN["unknown"]))
    if not calibrated:
        judged -= NEEDS_CALIBRATION.get(view, set())
    if view == "oblique" and not angle_ok:
        judged -= SAGITTAL
    return [f for f in FAULTS if f in judged]

# knees_bent_too_much: the knees, not the hips, make the movement. In a hinge
# the trunk inclines further than the knees flex; in a squat the knees flex
# well past the trunk's inclination (Escamilla et al., Med Sci Sports Exerc
# 2000;32:1265: conventional deadlift trunk 45-60 deg from vertical with knee
# flexion around 60 deg at lift-off; back squat at parallel: knee flexion over
# 100 deg with the trunk near 40-50 deg): gaps of about 10-25 deg against 70-80
# deg. Judged when the knee flexion exceeds the trunk inclination by this many
# degrees and is deep in itself.
KNEE_OVER_HINGE_DEG = 60.0
KNEE_MIN_DEG = 90.0
# From the front and at an angle the trunk's lean is read by foreshortening,
# which a squat's forward lean also shows, so the gap above cannot tell them
# apart (a front squat reads trunk 60-67 deg, knee 117-129). What every view
# measures alike is how far the hips come down: the hip joint's height above
# the ankle against the standing leg length (vertical extents, no angle). Thigh
# and shank are of equal length (Winter, table 4.1: 0.245 and 0.246 of height),
# so hips level with the knees, a thigh parallel to the floor, is a drop of
# 0.5 leg lengths: a squat to parallel. A hinge keeps the hips above the knees
# ("knees bend only a little", COACHING.md). Not used from the side, where the
# knee angle itself is seen and a deadlift from the floor starts with the hips
# nearly that low.
HIP_DROP_SQUAT = 0.5
# knees_caving: the knee-to-ankle separation ratio (KASR: knee separation over
# ankle separation, Mizner et al. 2012; explains about 35% of the variance of
# 3-D knee abduction in drop jumps) below 0.6 at the bottom, and narrower than
# the person's own standing ratio by a fifth (so a narrow natural stance is not
# a fault). No published cut-off for a two-legged squat or hinge was found
# (Noyes et al. 2005 normalise by hip separation and publish group means, not a
# cut-off): 0.6 is our conservative line, well inside the visual rule "the
# knee does not cross the medial malleolus" (Myer et al., Strength Cond J 2014),
# which is KASR below about 1. An estimate, as 2-D valgus is (Straub & Powers,
# IJSPT 2022: 2-D against 3-D, R² 0-64% across studies).
KNEE_ANKLE_RATIO_MIN = 0.6
KNEE_RATIO_DROP = 0.8
# hips_shifting: the body moves sideways over the feet (person.body_over_feet:
# the hips' and shoulders' midpoint less the ankles'), averaged over the deep
# part of the rep, against the top the rep began from (no calibration), by more
# than this fraction of that top's hip width either way (about 2-3 cm for a
# 19 cm hip-joint width). Published criteria are pass/fail by eye ("the line of
# the hips stays parallel to the ground", Myer et al. 2014; NASM's
# "asymmetrical weight shift") and raters agree poorly on the pelvis (kappa 0.17
# within one rater, Ressman et al. 2021); none gives a number. 0.12 is about two
# standard deviations of the clean front reps of the dev clips (|0.001-0.09|,
# one set's first rep from the bar at 0.10); pixel warps of 0.3 hip widths read
# 0.08-0.26 (docs/measured.md, "The faults from the mirror's view"). Front view only: at an angle
# the hinge's own backward hip travel projects onto the same image axis.
HIP_SHIFT_FRAC = 0.12
# back_rounding: the head-neck line (shoulder to ear) flexes forward of the
# trunk line (hip to shoulder) by more than this many degrees at its most, in
# the deep part of the rep (filtered keypoints). "Neutral spine" asks for the
# head in line with the trunk; 30 deg is over half of the adult active cervical
# flexion range (about 50-60 deg: Youdas et al., Phys Ther 1992;72:770), which
# is no longer neutral. The line moves with the upper back too, which is why
# it stands for rounding; an estimate, since the spine itself has no keypoints.
NECK_FLEX_DEG = 30.0
# back_overarching: at the top the trunk (hip-to-shoulder line) leans back past
# vertical by more than this (from the side). Coaching asks for a vertical trunk
# at lockout; lumbar overextension itself has no keypoints, so only a lean well
# past what clean lockouts show is called. Clean side-view tops on the dev clips
# lean back by at most 5 deg, except one source's barbell lockouts at up to 20
# deg (`hinge-mirror eval --margins`: that source is 15 deg beyond all others, so
# a threshold read off the others would misjudge it). The top is the most
# backward of about ten frames, each with 3-5 deg of keypoint noise on a trunk's
# angle: 30 deg keeps two noise widths beyond the largest clean lean seen.
LEAN_BACK_DEG = 30.0
# incomplete_lockout: the straightest hip flexion of the top stays above this.
# The rep counts once hip flexion falls under the coach's stand_deg (40 deg), so
# 30-40 deg is "not quite tall". Clean dev reps top out at up to 25.1 deg (a
# dowel drill; 21.8 on the next source: `hinge-mirror eval --margins`, where
# leaving either source out moves the edge by 3.3 deg); 30 deg keeps the noise
# width of a two-segment angle (about 5 deg) beyond the largest clean top. A
# standing reference per person was tried and rejected: the frames before a set
# include setting up, which biased it by 18-35 deg.
LOCKOUT_MAX_DEG = 30.0
# weight_on_toes / weight_on_heels: the centre-of-mass proxy (Winter's segment
# masses over the keypoints) projects, in foot lengths from the ankle, past the
# ball of the foot or behind the ankle. With the ankle about a quarter of the
# foot from the heel (Winter: foot 0.152 of height), the ball of the foot is
# about 0.5 foot lengths ahead of the ankle and the heel 0.25 behind; the
# coaching target is the mid-foot (about +0.25). The external load is not in
# the proxy. The ankle keypoint itself drifts up as the shin tilts: by up to
# 0.21 shin lengths on clean side-view reps of the dev clips (`hinge-mirror eval
# --margins`; only one source's reps show a measurable rise, so no source can be
# left out), which at 0.2 flagged a correct rep. A rise of a quarter of the shin
# (about 10 cm: heels clearly off the floor) counts as weight on the toes;
# weight on the heels is the proxy at the back edge of the heel.
COM_TOES_FOOT = 0.5
COM_HEELS_FOOT = -0.2
HEEL_RISE_SHIN = 0.25
# too_fast: a descent (from leaving standing to the bottom) shorter than this.
# ACSM's position stand on resistance-training progression (Med Sci Sports
# Exerc 2009;41:687) describes slow to moderate lowering of 1-2 s; below 0.4 s
# the lowering is a drop, not control.
MIN_DOWN_S = 0.4


@dataclass(frozen=True)
class Measures:
    """What the checks read of a rep, folded in frame by frame while it is under
    way (reps._track_rep) and finished at its end. Angles in degrees."""

    neck_max: float = -math.inf  # head flexed against the trunk, deep part of the rep
    knee_ratio_min: float = math.inf  # knee / ankle separation, deep part
    # The body over the feet in the deep part of the rep: the sum of
    # person.body_over_feet and its frames.
    shift_sum: float = 0.0
    shift_n: int = 0
    # The result at the finish: the mean deep-part shift from the rep's top, in the
    # top's hip widths, + toward the person's left (nan where it could not be measured).
    shift: float = math.nan
    com_max: float = -math.inf  # centre of mass ahead of the ankle, foot lengths
    com_min: float = math.inf
    heel_rise_max: float = 0.0  # ankle lift over the standing ankle, shin lengths
    heel_seen: bool = False  # heel_rise_max was measured on some frame
    ankle_high: float = math.inf  # from the front: the ankles' highest (least y) this rep
    drop_max: float = 0.0  # the hips' lowest point, in leg lengths below standing
    top_hip: float = 180.0  # the straightest hip flexion of the top
    top_lean: float = math.inf  # most backward signed lean at the top


def judge(rep, ref, view: str, *, calibrated: bool, tolerance: float = 1.0,
          frame_s: float = 0.0, exercise: str = DEFAULT,
          factors: tuple[tuple[str, float], ...] = ()) -> tuple[list[str], list[str]]:
    """Faults found on a rep and faults that could not be judged, both in priority order.

    `rep` is the coach's RepTrack (its peak angles, its times and its
    `Measures`), `ref` its standing Reference; `calibrated`
    says whether the reference is from at least a second of still standing.
    `tolerance` is the staff's sensitivity setting: every threshold above is
    widened by this factor (above 1: fewer faults called) or narrowed (below 1).
    The thresholds' sources are for 1.0; the other settings are a clinician's
    choice, not a measured cut-off. `frame_s`: the time between the rep's frames;
    a duration measured in frames is compared half a frame short of its
    threshold, so that a descent of exactly the threshold is never decided by
    the last bits of its frames' times. `exercise`: faults that do not apply to
    it (device/core/exercises.py) are neither found nor unjudged. `factors`:
    a program's per-fault sensitivity, (fault id, factor) pairs on top of
    `tolerance` for that fault alone.
    """
    own = dict(factors)
    m = rep.measures
    inapplicable = not_for(exercise)
    judged = set(judged_from(view, calibrated=calibrated)) - inapplicable
    found: set[str] = set()
    measured: set[str] = set()

    def check(fault: str, available: bool, condition: Callable[[float], bool]) -> None:
        # The fault's threshold factor: the staff's sensitivity times the program's for it.
        if fault in judged and available:
            measured.add(fault)
            if condition(tolerance * own.get(fault, 1.0)):
                found.add(fault)

    check("knees_bent_too_much", rep.peak_knee > 0,
          lambda k: rep.peak_knee >= KNEE_MIN_DEG
          and (rep.peak_knee > rep.peak_hinge + KNEE_OVER_HINGE_DEG * k
               or (view != "side" and m.drop_max >= HIP_DROP_SQUAT * k)))
    check("knees_caving", math.isfinite(m.knee_ratio_min) and ref.ankle_w > 0,
          lambda k: m.knee_ratio_min < KNEE_ANKLE_RATIO_MIN / k
          and m.knee_ratio_min < KNEE_RATIO_DROP / k * ref.knee_w / ref.ankle_w)
    check("hips_shifting", math.isfinite(m.shift), lambda k: abs(m.shift) > HIP_SHIFT_FRAC * k)
    check("back_rounding", math.isfinite(m.neck_max),
          lambda k: m.neck_max > NECK_FLEX_DEG * k)
    check("back_overarching", math.isfinite(m.top_lean),
          lambda k: m.top_lean < -LEAN_BACK_DEG * k)
    check("incomplete_lockout", True, lambda k: m.top_hip > LOCKOUT_MAX_DEG * k)
    com_seen = math.isfinite(m.com_max)
    # From the front only the heels rising show the weight going onto the toes:
    # the centre of mass moves toward the camera, along the line of sight.
    check("weight_on_toes", m.heel_seen if view == "front" else com_seen,
          lambda k: m.heel_rise_max > HEEL_RISE_SHIN * k
          or (view != "front" and m.com_max > COM_TOES_FOOT * k))
    check("weight_on_heels", com_seen, lambda k: m.com_min < COM_HEELS_FOOT * k)
    check("too_fast", rep.start_s is not None,
          lambda k: rep.bottom_s - rep.start_s < MIN_DOWN_S / k - frame_s / 2)
    return [x for x in FAULTS if x in found], [
        x for x in FAULTS if x not in measured and x not in inapplicable]


def score(found: list[str], unjudged: list[str]) -> int:
    """0-100: each fault costs by its priority (spine first); unjudged costs nothing."""
    cost = {"back_rounding": 35, "knees_bent_too_much": 30, "knees_caving": 25,
            "back_overarching": 25, "hips_shifting": 15, "incomplete_lockout": 15,
            "weight_on_toes": 10, "weight_on_heels": 10, "too_fast": 10}
    return max(0, 100 - sum(cost[f] for f in found))
