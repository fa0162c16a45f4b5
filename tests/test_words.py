"""The words' tables that other places repeat are generated from one source."""

import re
from pathlib import Path

from device.words import FAULT_WORDS, placements, placements_markdown

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "docs" / "install.md"


def test_the_install_docs_placement_table_is_the_one_the_coach_generates():
    assert placements_markdown() in INSTALL.read_text(encoding="utf-8"), (
        "docs/install.md's placement table is stale: paste device.words.placements_markdown()")


def test_each_placement_says_what_it_judges_and_what_waits_for_the_calibration():
    by_view = {row["view"]: row for row in placements()}
    assert FAULT_WORDS["knees_caving"] in by_view["front"]["judged"]
    assert FAULT_WORDS["back_rounding"] in by_view["front"]["unjudged"]
    assert FAULT_WORDS["back_rounding"] in by_view["oblique"]["judged"]
    assert FAULT_WORDS["hips_shifting"] in by_view["side"]["unjudged"]
    assert by_view["front"]["waits"] == [FAULT_WORDS["knees_caving"]]
    weight = [FAULT_WORDS["weight_on_toes"], FAULT_WORDS["weight_on_heels"]]
    assert by_view["side"]["waits"] == weight


def test_the_mirror_page_looks_its_phase_framing_camera_and_check_words_up():
    """Issue 24, item 3 (in part): those sentences live in device/words.py only;
    mirror.js keeps no copy of them (the browser tests show them on the glass)."""
    from device.words import page_words

    js = (REPO / "web_ui" / "static" / "mirror.js").read_text(encoding="utf-8")
    words = page_words()
    said = [*words["phases"].values(), *(x for pair in words["framing"].values() for x in pair),
            *(x for pair in words["camera"].values() for x in pair),
            *(c["part"] for c in words["checks"].values()), *(w for _, w in words["where"]),
            words["not_checked"].split("{}")[0]]
    copies = [w for w in said if len(w) > 6 and w in js]
    assert copies == [], f"mirror.js repeats words that device/words.py holds: {copies}"


def sentences_in_js(js: str) -> list[str]:
    """The string literals of a script that read as words for people: a
    capitalised word, or two words with a space (ids are single lower-case words)."""
    js = re.sub(r"^\s*//.*$|^\s*\"use strict\";", "", js, flags=re.M)
    found = []
    for lit in re.findall(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`(?:[^`\\]|\\.)*`', js):
        text = re.sub(r"\$\{[^}]*\}", " ", lit[1:-1])
        if re.search(r"\b[A-Z][a-z]{2,}|[A-Za-z]{2,} +[A-Za-z]{2,}", text):
            found.append(lit)
    return found


def sentences_in_template(html: str) -> list[str]:
    """The text a template shows that is not looked up ({{ ... }}): words of two letters or more."""
    html = re.sub(r"<!--.*?-->|<script.*?</script>|\{\{.*?\}\}|\{%.*?%\}", " ", html, flags=re.S)
    return [t.strip() for t in re.findall(r">([^<]+)<", html) if re.search(r"[A-Za-z]{2,}", t)]


def test_the_mirror_page_holds_no_sentence_of_its_own():
    """Issue 24, item 3: every line of the glass is in device/words.py (GLASS and
    the tables beside it), served to the page; mirror.js and mirror.html only
    look ids up. The check itself finds the sentences of the page before it."""
    web = REPO / "web_ui"
    js = (web / "static" / "mirror.js").read_text(encoding="utf-8")
    html = (web / "templates" / "mirror.html").read_text(encoding="utf-8")
    assert sentences_in_js(js) == []
    assert sentences_in_template(html) == []
    assert sentences_in_js('t = `Rest ${clock(left)}`; u = "Set done"; v = "bad";') == [
        "`Rest ${clock(left)}`", '"Set done"']
    assert sentences_in_template('<h2>Where the camera judges</h2><b>{{ w.x }}</b>') == [
        "Where the camera judges"]
