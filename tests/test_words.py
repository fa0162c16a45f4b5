"""The words' tables that other places repeat are generated from one source."""

from pathlib import Path

from device.words import FAULT_WORDS, placements, placements_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_placement_table_is_the_one_the_coach_generates():
    assert placements_markdown() in README.read_text(encoding="utf-8"), (
        "README.md's placement table is stale: paste device.words.placements_markdown()")


def test_each_placement_says_what_it_judges_and_what_waits_for_the_calibration():
    by_view = {row["view"]: row for row in placements()}
    assert FAULT_WORDS["knees_caving"] in by_view["front"]["judged"]
    assert FAULT_WORDS["back_rounding"] in by_view["front"]["unjudged"]
    assert FAULT_WORDS["back_rounding"] in by_view["oblique"]["judged"]
    assert FAULT_WORDS["hips_shifting"] in by_view["side"]["unjudged"]
    assert by_view["front"]["waits"] == [FAULT_WORDS["knees_caving"]]
    weight = [FAULT_WORDS["weight_on_toes"], FAULT_WORDS["weight_on_heels"]]
    assert by_view["side"]["waits"] == weight
