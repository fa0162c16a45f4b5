"""Threshold margins and the leave-one-source-out check, on rows made up here."""

from __future__ import annotations

from device.offline.margins import margins


def row(source: str, tops: list[float], label_faults=(), label="correct") -> dict:
    reps = [{"top_hip_deg": v, "top_lean_deg": 0.0, "view": "side", "knee_deg": 20.0,
             "hinge_deg": 60.0, "rise": 1.5, "depth_by": "angle", "heel_rise": 0.0,
             "hip_drop": 0.3}
            for v in tops]
    return {"clip": f"{source}.mp4", "source": source, "source_label": label,
            "label_faults": list(label_faults), "label_clean": [], "labelled": len(reps),
            "reps": reps, "seat_max_s": 0.0, "exercise": "hinge", "view_label": "side",
            "view_ratio": 0.2, "other_max_s": 0.0, "person_changes": 0}


def lockout(rows):
    return next(e for e in margins(rows) if e["threshold"] == "faults.LOCKOUT_MAX_DEG")


def test_margins_name_the_nearest_example_on_each_side():
    e = lockout([row("a", [5.0, 12.0]), row("b", [8.0]),
                 row("c", [40.0], label_faults=["incomplete_lockout"], label="bad")])
    assert (e["negatives"], e["negative_edge"], e["margin_negative"]) == (3, 12.0, 18.0)
    assert (e["positives"], e["positive_edge"], e["margin_positive"]) == (1, 40.0, 10.0)
    assert e["loso_misjudged"] == {}


def test_a_source_beyond_all_others_is_named_by_the_leave_out_check():
    # Source "b" tops out at 28 deg, the others at 10: a threshold set midway from
    # the others (10 .. 40 -> 25) would call b's clean rep incomplete.
    e = lockout([row("a", [10.0]), row("b", [28.0]), row("d", [9.0]),
                 row("c", [40.0], label_faults=["incomplete_lockout"], label="bad")])
    assert e["loso_misjudged"] == {"b": 1}
