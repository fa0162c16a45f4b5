"""Fault checks on a finished rep (first version).

Each check says what it measures, from which views it can be judged and where
its threshold comes from. Faults that need geometry the first version does not
yet measure (spine shape, head line, foot pressure, lockout extension) go to
``unjudged``: the report never claims they are absent.
"""

from __future__ import annotations

from device.core.skeleton import FAULTS

# Faults the first version cannot judge from 17 keypoints yet, in any view.
NOT_YET_MEASURED = ("back_rounding", "back_overarching", "incomplete_lockout",
                    "weight_on_toes", "weight_on_heels")
FRONT_ONLY = ("knees_caving", "hips_shifting")

# knees_bent_too_much: the knees, not the hips, make the movement. In a hinge
# the trunk inclines further than the knees flex; in a squat the knees flex
# well past the trunk's inclination (Escamilla et al., Med Sci Sports Exerc
# 2000;32:1265: conventional deadlift trunk 45-60 deg from vertical with knee
# flexion around 60 deg at lift-off; back squat at parallel: knee flexion over
# 100 deg with the trunk near 40-50 deg): gaps of about 10-25 deg against 70-80
# deg. Judged when the knee flexion exceeds
# the trunk inclination by this many degrees and is deep in itself.
KNEE_OVER_HINGE_DEG = 60.0
KNEE_MIN_DEG = 90.0
# knees_caving: knee separation over ankle separation below 0.6 at the bottom,
# the screening cut-off of Noyes et al., Am J Sports Med 2005;33:197 (normalized
# knee separation distance in the drop-jump video test).
KNEE_ANKLE_RATIO_MIN = 0.6
# hips_shifting: the hips' midpoint moves sideways over the feet by more than a
# quarter of the hip width between standing and the bottom (a coaching
# heuristic, not a published cut-off; issue 3 revisits it with the clinic).
HIP_SHIFT_FRAC = 0.25
# too_fast: a descent shorter than this. ACSM's position stand on resistance
# training progression (Med Sci Sports Exerc 2009;41:687) describes slow to
# moderate lowering of 1-2 s; below 0.4 s the lowering is a drop, not control.
MIN_DOWN_S = 0.4


def judge(rep, standing_ref: tuple, view: str, start_s: float | None,
          end_s: float) -> tuple[list[str], list[str]]:
    """Faults found on a rep and faults that could not be judged, both in priority order.

    `rep` is the coach's RepTrack; refs are (hip_w, knee_w, ankle_w,
    shoulder_w, hip_over_ankle, torso_len) in frame heights.
    """
    found: set[str] = set()
    unjudged: set[str] = set(NOT_YET_MEASURED)
    if rep.peak_knee > 0:
        if rep.peak_knee >= KNEE_MIN_DEG and rep.peak_knee > rep.peak_hinge + KNEE_OVER_HINGE_DEG:
            found.add("knees_bent_too_much")
    else:
        unjudged.add("knees_bent_too_much")
    bottom = rep.bottom
    if view == "front" and bottom and standing_ref:
        hip_w, knee_w, ankle_w, _, shift, _ = bottom
        if ankle_w > 0 and knee_w / ankle_w < KNEE_ANKLE_RATIO_MIN:
            found.add("knees_caving")
        ref_hip_w = max(standing_ref[0], hip_w, 1e-6)
        if abs(shift - standing_ref[4]) > HIP_SHIFT_FRAC * ref_hip_w:
            found.add("hips_shifting")
    else:
        unjudged.update(FRONT_ONLY)
    if start_s is not None:
        if rep.bottom_s - start_s < MIN_DOWN_S:
            found.add("too_fast")
    else:
        unjudged.add("too_fast")  # the set began at depth: no descent to time
    return ([x for x in FAULTS if x in found], [x for x in FAULTS if x in unjudged])
