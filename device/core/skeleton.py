"""COCO keypoint indices, fault ids and their cues (DESIGN.md)."""

NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

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

CUES = {
    "back_rounding": "Chest slightly forward, long spine: move as one unit",
    "knees_bent_too_much": "Drive your hips back, as if touching a wall behind you",
    "knees_caving": "Spread the floor apart; keep slight outward pressure on the knees",
    "back_overarching": "Squeeze your glutes to stand tall, without leaning back",
    "hips_shifting": "Keep your weight centered between both feet",
    "incomplete_lockout": "Finish tall: squeeze your glutes at the top",
    "weight_on_toes": "Feet like roots: keep your weight even over the whole foot",
    "weight_on_heels": "Feet like roots: keep your weight even over the whole foot",
    "too_fast": "Slow down: control the way down",
}

FAULT_WORDS = {
    "back_rounding": "Back rounding",
    "knees_bent_too_much": "Squatting, not hinging",
    "knees_caving": "Knees caving in",
    "back_overarching": "Leaning back at the top",
    "hips_shifting": "Hips shifting sideways",
    "incomplete_lockout": "Incomplete lockout",
    "weight_on_toes": "Weight on the toes",
    "weight_on_heels": "Weight on the heels",
    "too_fast": "Too fast",
}

PRAISE = "Good rep: hips back, long spine, tall finish"
PRAISE_FIXED = "Better: that one was clean"
