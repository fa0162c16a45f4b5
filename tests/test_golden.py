"""The coach's reports on the synthetic sessions are what tests/golden/synthetic.json
holds: a change of structure (issue 24) changes none of them. A change meant to
change the coach rewrites the file (`python -m tests.golden.reports synthetic
--write`) in its own commit, and says why."""

import copy
import json

from tests.golden.reports import GOLDEN, SESSIONS, differences, synthetic


def test_the_synthetic_sessions_reports_are_the_kept_ones():
    kept = json.loads(GOLDEN.read_text())
    assert set(kept) == set(SESSIONS)
    assert differences(kept, synthetic()) == []


def test_a_changed_count_or_fault_is_a_difference():
    kept = json.loads(GOLDEN.read_text())
    changed = copy.deepcopy(kept)
    changed["side_hinge"]["report"]["rep_count"] += 1
    changed["front_hips_shift"]["report"]["reps"][0]["faults"] = []
    assert len(differences(kept, changed)) == 2
