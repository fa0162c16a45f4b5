"""A client's program (issue 26, item 1): its schema, its JSON, its page on the console."""

from __future__ import annotations

import io
import json

import pytest

from device.config import SENSITIVITY
from device.core.exercises import EXERCISES
from device.core.skeleton import FAULTS
from device.store import accounts, audit, connect, programs
from tests.helpers import PASSWORD, login, make_app, post, stored_session, token


@pytest.fixture
def store(tmp_path):
    return tmp_path / "data" / "hinge-mirror.db"


def block(**kw) -> dict:
    """A good block (the one the tests change a field of)."""
    return {"exercise": "deadlift", "sets": 3, "reps": 8, "rest_s": 90,
            "tempo": {"down_s": 3.0, "hold_s": 1.0, "up_s": 2.0}, "max_hip_deg": 60.0,
            "faults": {"back_rounding": "strict"}, "note": "Slow on the way down", **kw}


# The schema ------------------------------------------------------------------

def test_a_program_round_trips_through_its_json():
    raw = {"version": 1, "blocks": [block(), {"exercise": "kettlebell_swing", "sets": 2,
                                              "reps": 10}]}
    program = programs.parse(raw)
    assert len(program.blocks) == 2 and program.blocks[1].tempo is None
    assert program.blocks[1].rest_s == 60 and program.blocks[1].faults == {}  # the defaults
    exported = programs.to_dict(program)
    assert exported["blocks"][0] == block()  # every field kept as given
    assert programs.parse(exported) == program
    assert programs.loads(json.dumps(programs.to_dict(program, "K-017"))) == program
    # A fault set to standard is a fault not named; whole numbers are numbers.
    same = programs.parse({"blocks": [block(faults={"back_rounding": "strict",
                                                    "knees_caving": "standard"},
                                            max_hip_deg=60)]})
    assert programs.to_dict(same)["blocks"][0] == block()


def test_docs_staff_md_has_the_fields_table_the_schema_makes():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "staff.md").read_text()
    assert programs.fields_markdown() in page, "paste programs.fields_markdown() in"


def test_the_sensitivity_words_are_the_settings_own():
    assert programs.SENSITIVITY == SENSITIVITY
    assert programs.EXERCISES == EXERCISES and programs.FAULTS == FAULTS


BAD = [
    ({"exercise": "squat"}, "block 2: exercise = 'squat' must be one of deadlift, "
     "kettlebell_swing (good_morning, single_leg_rdl, dowel_hinge: not built yet)"),
    ({"exercise": "good_morning"}, "block 2: exercise = 'good_morning' must be one of "
     "deadlift, kettlebell_swing (good_morning, single_leg_rdl, dowel_hinge: not built yet)"),
    ({"sets": 0}, "block 2: sets = 0 must be 1..20"),
    ({"sets": 21}, "block 2: sets = 21 must be 1..20"),
    ({"reps": 0}, "block 2: reps = 0 must be 1..100"),
    ({"reps": 101}, "block 2: reps = 101 must be 1..100"),
    ({"reps": 8.5}, "block 2: reps = 8.5 must be a whole number"),
    ({"reps": "8"}, "block 2: reps = '8' must be a whole number"),
    ({"reps": True}, "block 2: reps = True must be a whole number"),
    ({"rest_s": -1}, "block 2: rest_s = -1 must be 0..600 s"),
    ({"rest_s": 601}, "block 2: rest_s = 601 must be 0..600 s"),
    ({"tempo": {"down_s": 0.2, "hold_s": 1.0, "up_s": 2.0}},
     "block 2: tempo.down_s = 0.2 must be 0.5..10 s"),
    ({"tempo": {"down_s": 3.0, "hold_s": 11, "up_s": 2.0}},
     "block 2: tempo.hold_s = 11.0 must be 0..10 s"),
    ({"tempo": {"down_s": 3.0, "hold_s": 1.0, "up_s": 0}},
     "block 2: tempo.up_s = 0.0 must be 0.5..10 s"),
    ({"tempo": {"down_s": 3.0, "hold_s": 1.0}},
     "block 2: tempo.up_s is missing (it must be 0.5..10 s)"),
    ({"tempo": {"down_s": 3.0, "hold_s": 1.0, "up_s": 2.0, "pause": 1}},
     "block 2: tempo.pause is not a known field (known: down_s, hold_s, up_s)"),
    ({"tempo": "3-1-2"}, "block 2: tempo = '3-1-2' must be a table of down_s, hold_s, up_s "
     "or null (none)"),
    ({"max_hip_deg": 10}, "block 2: max_hip_deg = 10.0 must be 20..150 degrees"),
    ({"max_hip_deg": 151.0}, "block 2: max_hip_deg = 151.0 must be 20..150 degrees"),
    ({"faults": {"slouching": "strict"}}, "block 2: faults.slouching is not a fault "
     f"(faults: {', '.join(FAULTS)})"),
    ({"faults": {"knees_caving": "lenient"}},
     "block 2: faults.knees_caving = 'lenient' must be relaxed, standard or strict"),
    ({"faults": {"knees_caving": 1.25}},
     "block 2: faults.knees_caving = 1.25 must be relaxed, standard or strict"),
    ({"faults": {"knees_caving": ["strict"]}},
     "block 2: faults.knees_caving = ['strict'] must be relaxed, standard or strict"),
    ({"exercise": "kettlebell_swing", "faults": {"too_fast": "strict"}},
     "block 2: faults.too_fast = 'strict' does not apply to kettlebell_swing: it is never "
     "called"),
    ({"faults": ["knees_caving"]}, "block 2: faults = ['knees_caving'] must be a table of "
     "fault: word"),
    ({"note": "x" * 201}, f"block 2: note = {'x' * 201!r} must be at most 200 characters "
     "on one line"),
    ({"note": "one\ntwo"}, "block 2: note = 'one\\ntwo' must be at most 200 characters on "
     "one line"),
    ({"repz": 8}, "block 2: repz is not a known field (known: exercise, sets, reps, rest_s, "
     "tempo, max_hip_deg, faults, note)"),
]


@pytest.mark.parametrize(("change", "line"), BAD, ids=[line.split(" ")[2] for _, line in BAD])
def test_the_schema_refuses_each_bad_field_in_one_line(change, line):
    raw = {"blocks": [block(), block(**change)]}
    with pytest.raises(programs.ProgramError) as caught:
        programs.parse(raw)
    assert [str(e) for e in caught.value.errors] == [line]
    assert str(caught.value) == line and "\n" not in line.replace("\\n", "")


@pytest.mark.parametrize(("raw", "line"), [
    ({"blocks": [{"sets": 3, "reps": 8}]}, "block 1: exercise is missing (it must be one of "
     "deadlift, kettlebell_swing (good_morning, single_leg_rdl, dowel_hinge: not built yet))"),
    ({"blocks": [{"exercise": "deadlift", "sets": 3}]},
     "block 1: reps is missing (it must be 1..100)"),
    ({"blocks": []}, "program: blocks has 0: a program has 1..12 blocks"),
    ({"blocks": [block()] * 13}, "program: blocks has 13: a program has 1..12 blocks"),
    ({"blocks": "deadlift"}, "program: blocks = 'deadlift' must be a list of blocks"),
    ({}, "program: blocks is missing (a list of 1..12 blocks)"),
    ({"version": 2, "blocks": [block()]},
     "program: version = 2 must be 1..1 (a newer hinge-mirror wrote it?)"),
    ({"blocks": [block()], "owner": "x"},
     "program: owner is not a known key (known: version, client, blocks)"),
    ({"blocks": ["deadlift"]}, "block 1: block = 'deadlift' must be a table of fields"),
    ([block()], "program: JSON must be an object with \"blocks\""),
], ids=["no-exercise", "no-reps", "empty", "too-many", "not-a-list", "no-blocks",
        "newer", "unknown-key", "block-not-a-table", "not-an-object"])
def test_the_schema_refuses_a_bad_program_in_one_line(raw, line):
    with pytest.raises(programs.ProgramError) as caught:
        programs.parse(raw)
    assert str(caught.value) == line


def test_every_bad_field_is_named_at_once():
    with pytest.raises(programs.ProgramError) as caught:
        programs.parse({"blocks": [block(reps=0), block(sets=0, rest_s=-5)]})
    assert [str(e) for e in caught.value.errors] == [
        "block 1: reps = 0 must be 1..100", "block 2: sets = 0 must be 1..20",
        "block 2: rest_s = -5 must be 0..600 s"]
    with pytest.raises(programs.ProgramError) as caught:
        programs.loads("{not json")
    assert str(caught.value).startswith("program: JSON cannot be read (")
    big = json.dumps({"blocks": [block(note="x" * 70000)]})
    with pytest.raises(programs.ProgramError) as caught:
        programs.loads(big)
    assert str(caught.value) == \
        f"program: JSON is {len(big)} characters: a program's is at most 65536"


# The console -----------------------------------------------------------------

PAGE = "/staff/clients/K-017/program"
# Two blocks as an admin fills in the form, and an empty third slot.
FORM = {"b1.exercise": "deadlift", "b1.sets": "3", "b1.reps": "8", "b1.rest_s": "90",
        "b1.tempo.down_s": "3", "b1.tempo.hold_s": "1", "b1.tempo.up_s": "2",
        "b1.max_hip_deg": "60", "b1.note": "Slow on the way down",
        **{f"b1.faults.{f}": "strict" if f == "back_rounding" else "standard" for f in FAULTS},
        "b2.exercise": "kettlebell_swing", "b2.sets": "2", "b2.reps": "10", "b2.rest_s": "60",
        "b2.tempo.down_s": "", "b2.tempo.hold_s": "", "b2.tempo.up_s": "",
        "b2.max_hip_deg": "", "b2.note": "",
        "b3.exercise": "", "b3.sets": "", "b3.reps": ""}
SAVED = [block(), {"exercise": "kettlebell_swing", "sets": 2, "reps": 10, "rest_s": 60,
                   "tempo": None, "max_hip_deg": None, "faults": {}, "note": ""}]


def stored(store) -> dict:
    return {code: json.loads(p) for code, p in connect(store).execute(
        "SELECT client_code, program FROM programs")}


def audit_rows(store, action="program_changed") -> list[tuple]:
    return [(r["account"], r["target"], r["detail"]) for r in reversed(
        audit.rows(connect(store))) if r["action"] == action]


def test_an_admin_makes_a_program_copies_it_and_exports_it_a_viewer_reads_it(store):
    app = make_app(store)
    admin = login(app, store=store)
    page = admin.get(PAGE).get_data(as_text=True)
    assert "No program for K-017 yet" in page
    assert 'href="/staff/clients/K-017"' not in page  # no session yet: no client page to link
    resp = post(admin, "/staff/clients/k-017/program", FORM, PAGE)  # either case
    assert resp.status_code == 302 and resp.headers["Location"] == PAGE
    assert stored(store) == {"K-017": {"version": 1, "blocks": SAVED}}
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Saved the program of K-017." in page
    table = page[page.index('data-testid="program"'):page.index("</table>")]
    for shown in ("deadlift", "3 × 8", "90 s", "3 / 1 / 2 s", "60°", "Back rounding: strict",
                  "Slow on the way down", "kettlebell swing", "2 × 10", "no limit",
                  "all standard"):
        assert shown in table, shown
    # The form shows what is stored, and an empty block to add one.
    assert 'name="b1.reps" value="8"' in page and 'name="b3.exercise"' in page
    # The export is what was saved, named for its client.
    exported = admin.get(PAGE + ".json")
    assert exported.status_code == 200 and "program-K-017.json" in \
        exported.headers["Content-Disposition"]
    assert exported.get_json() == {"version": 1, "client": "K-017", "blocks": SAVED}
    # Copied to K-018 (typed lower-case), which had none.
    resp = post(admin, PAGE + "/copy", {"to": " k-018"}, PAGE)
    assert resp.headers["Location"] == "/staff/clients/K-018/program"
    assert stored(store)["K-018"] == stored(store)["K-017"]
    assert admin.get("/staff/clients/K-018/program.json").get_json()["blocks"] == SAVED
    # Copying over a program there is refused unless the form says to replace it.
    post(admin, "/staff/clients/K-018/program", {**FORM, "b2.exercise": ""},
         "/staff/clients/K-018/program")
    assert len(stored(store)["K-018"]["blocks"]) == 1  # block 2 removed on the form
    resp = post(admin, PAGE + "/copy", {"to": "K-018"}, PAGE)
    assert "K-018 has a program already" in admin.get(resp.headers["Location"]).get_data(
        as_text=True)
    assert len(stored(store)["K-018"]["blocks"]) == 1
    post(admin, PAGE + "/copy", {"to": "K-018", "replace": "on"}, PAGE)
    assert stored(store)["K-018"] == stored(store)["K-017"]
    resp = post(admin, PAGE + "/copy", {"to": "Jane Doe"}, PAGE)
    assert "never a name" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    listing = admin.get("/staff/clients").get_data(as_text=True)
    assert "/staff/clients/K-017/program" in listing and "/staff/clients/K-018/program" in listing
    # A viewer sees it, and its export, but changes nothing.
    accounts.add(connect(store), "vic", "viewer", PASSWORD)
    viewer = login(app, "vic")
    page = viewer.get(PAGE).get_data(as_text=True)
    assert "3 × 8" in page and "Only an admin can change it." in page
    assert 'data-testid="program-form"' not in page
    assert viewer.get(PAGE + ".json").get_json()["blocks"] == SAVED
    before = stored(store)
    for path, data in ((PAGE, FORM), (PAGE + "/copy", {"to": "K-019"}),
                       (PAGE + "/import", {"json": json.dumps({"blocks": [block()]})}),
                       (PAGE + "/delete", {})):
        assert post(viewer, path, data, PAGE).status_code == 403, path
    assert stored(store) == before
    # Each change is in the audit trail, by whom and for which client.
    assert audit_rows(store) == [
        ("ana", "client K-017", "set on the form: " + programs.summary(programs.parse(
            {"blocks": SAVED}))),
        ("ana", "client K-018", "copied from K-017: " + programs.summary(programs.parse(
            {"blocks": SAVED}))),
        ("ana", "client K-018", "set on the form: deadlift 3x8, rest 90 s, tempo 3/1/2 s, "
         "hip flexion to 60°, back_rounding strict"),
        ("ana", "client K-018", "copied from K-017: " + programs.summary(programs.parse(
            {"blocks": SAVED}))),
    ]
    assert ("ana", "program of client K-017", "json") in audit_rows(store, "export")
    assert ("vic", "client K-017", None) in audit_rows(store, "program_viewed")
    # Deleted by an admin: gone, and audited.
    post(admin, "/staff/clients/K-018/program/delete", {}, "/staff/clients/K-018/program")
    assert "K-018" not in stored(store)
    assert audit_rows(store)[-1] == ("ana", "client K-018", "deleted")
    assert admin.get("/staff/clients/K-018/program.json").status_code == 404


def test_an_invalid_form_shows_the_fields_error_and_saves_nothing(store):
    app = make_app(store)
    admin = login(app, store=store)
    post(admin, PAGE, FORM)
    before = stored(store)
    bad = {**FORM, "b2.reps": "0", "b1.tempo.up_s": "", "b1.sets": "three"}
    resp = post(admin, PAGE, bad)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert stored(store) == before
    errors = page[page.index('data-testid="program-errors"'):page.index("</ul>")]
    for line in ("block 1: sets = &#39;three&#39; must be a whole number",
                 "block 1: tempo.up_s is missing (it must be 0.5..10 s)",
                 "block 2: reps = 0 must be 1..100"):
        assert line in errors, line
    # Beside each field, its words; the form keeps what was typed, to put it right.
    assert 'data-testid="error-b2.reps">must be 1..100<' in page
    assert 'data-testid="error-b1.sets">must be a whole number<' in page
    assert 'name="b2.reps" value="0"' in page and 'name="b1.sets" value="three"' in page
    assert audit_rows(store) == audit_rows(store)[:1]  # only the first save
    # A removed block in the middle: the errors name the blocks as the page numbers them.
    resp = post(admin, PAGE, {**FORM, "b1.exercise": "", "b2.reps": "0"})
    assert "block 2: reps = 0 must be 1..100" in resp.get_data(as_text=True)
    assert stored(store) == before


def test_a_program_is_imported_pasted_or_uploaded_and_checked_the_same_way(store):
    app = make_app(store)
    admin = login(app, store=store)
    text = json.dumps({"version": 1, "client": "K-001", "blocks": SAVED})
    resp = post(admin, PAGE + "/import", {"json": text}, PAGE)
    assert resp.status_code == 302
    assert stored(store) == {"K-017": {"version": 1, "blocks": SAVED}}  # for this page's client
    upload = {"file": (io.BytesIO(json.dumps({"blocks": SAVED[1:]}).encode()), "p.json")}
    resp = admin.post("/staff/clients/K-018/program/import", data={
        **upload, "csrf_token": token(admin, "/staff/clients/K-018/program")},
        content_type="multipart/form-data")
    assert resp.status_code == 302 and stored(store)["K-018"]["blocks"] == SAVED[1:]
    bad = json.dumps({"blocks": [SAVED[0], {**SAVED[1], "reps": 0}]})
    resp = post(admin, PAGE + "/import", {"json": bad}, PAGE)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "block 2: reps = 0 must be 1..100" in page
    assert stored(store)["K-017"]["blocks"] == SAVED  # nothing saved
    assert "&#34;reps&#34;: 0" in page  # the pasted text kept, to put right
    assert "program: JSON cannot be read" in post(admin, PAGE + "/import", {"json": "{"},
                                                  PAGE).get_data(as_text=True)
    assert [t for _, t, d in audit_rows(store) if d.startswith("imported from JSON")] == [
        "client K-017", "client K-018"]


def test_a_code_of_no_pseudonyms_shape_has_no_program_page(store):
    admin = login(make_app(store), store=store)
    assert admin.get("/staff/clients/Jane%20Doe/program").status_code == 404
    assert admin.get("/staff/clients/" + "K" * 25 + "/program").status_code == 404
    assert admin.get(PAGE + ".json").status_code == 404  # no program yet


def test_a_clients_page_and_their_program_page_link_each_other(store):
    stored_session(store)
    connect(store).execute("UPDATE sessions SET client_code = 'K-017'")
    admin = login(make_app(store), store=store)
    assert 'href="/staff/clients/K-017/program"' in admin.get(
        "/staff/clients/K-017").get_data(as_text=True)
    assert 'href="/staff/clients/K-017"' in admin.get(PAGE).get_data(as_text=True)
