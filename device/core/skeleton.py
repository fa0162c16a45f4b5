"""COCO keypoint indices and fault ids in priority order (DESIGN.md). Their words
live outside the core, in device/words.py."""

NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

# The lines a skeleton is drawn with (the mirror's overlay, the framing check).
BONES = ((L_SHOULDER, R_SHOULDER), (L_SHOULDER, L_ELBOW), (L_ELBOW, L_WRIST),
         (R_SHOULDER, R_ELBOW), (R_ELBOW, R_WRIST), (L_SHOULDER, L_HIP), (R_SHOULDER, R_HIP),
         (L_HIP, R_HIP), (L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE),
         (NOSE, L_SHOULDER), (NOSE, R_SHOULDER))

# Fault ids, most important first: the order the cue is chosen in. Safety of
# the spine first, then the movement pattern, then balance, then tempo.
FAULTS = (
    "back_rounding",
    "knees_bent_too_much",
    "knees_caving",
    "back_overarching",
    "hips_shifting",
    "incomplete_lockout",
    "weight_on_toes",
    "weight_on_heels",
    "too_fast",
)
