"""The hinges a program (or `[coach] exercise`, or `analyze --exercise`) names,
and what each changes in what is judged.

Each rule has its source beside it. An exercise the view or the keypoints
cannot tell apart from another is never guessed: it is named.
"""

from __future__ import annotations

DEFAULT = "deadlift"

# Faults that do not apply to an exercise: neither found nor "not checked from
# here" on its reps (it is not that the view could not see them).
NOT_FOR = {
    # The deadlift and the Romanian deadlift: the coach's own rules (COACHING.md).
    "deadlift": frozenset(),
    # The kettlebell swing is ballistic by design: the hips snap the bell up and
    # it falls back into the hinge, so a descent under 0.4 s is the movement, not
    # a loss of control (McGill & Marshall 2012, J Strength Cond Res 26:16,
    # "Kettlebell swing, snatch and bottoms-up carry": a rapid hip extension with
    # a relaxation-contraction cycle each swing; Tsatsouline, "Enter the
    # Kettlebell", 2006: the swing's hip snap). The lockout (a standing plank
    # at the top) is still judged; the bell's height is not looked at.
    "kettlebell_swing": frozenset({"too_fast"}),
}
# Named by the program contract (DESIGN.md via the README) but without rules of
# their own here yet: refused, not run as a deadlift under another name.
NOT_BUILT = ("good_morning", "single_leg_rdl", "dowel_hinge")
EXERCISES = tuple(NOT_FOR)


def not_for(exercise: str) -> frozenset[str]:
    return NOT_FOR[exercise]
