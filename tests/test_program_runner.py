"""The mirror following a client's program (issue 26, item 2): staff start it;
each block's exercise, reps, sets, rest, tempo, range limit and per-fault
sensitivity are the coach's; it moves on when a block's sets are done; the
session is stored as the client's with the program followed; the glass gets the
block, the note and at the end the summary, never the code."""

from __future__ import annotations

import json

import numpy as np
import pytest

from device.core.coach import Coach, CoachParams
from device.core.synth import Session, session_track
from device.errors import HingeMirrorError
from device.service.programs import ProgramRunner
from device.store import Recorder, connect
from device.store import programs as schema
from tests.helpers import login, make_app, post, program_store

PROGRAM = {"version": 1, "blocks": [
    {"exercise": "kettlebell_swing", "sets": 2, "reps": 5, "rest_s": 30, "note": "hips snap"},
    {"exercise": "deadlift", "sets": 1, "reps": 8, "rest_s": 90}]}


@pytest.fixture
def store(tmp_path):
    return program_store(tmp_path, PROGRAM)


def runner_for(store):
    applied, tagged, shown = [], [], {}
    runner = ProgramRunner(store, applied.append, shown,
                           tag=lambda code, program: tagged.append(code))
    runner.settings_changed(CoachParams(set_target_reps=12))
    return runner, applied, tagged, shown


def test_the_blocks_become_the_coachs_and_move_on_as_their_sets_are_done(store):
    runner, applied, tagged, shown = runner_for(store)
    runner.start("K-017")
    p = applied[-1]
    assert (p.exercise, p.set_target_reps, p.set_target_sets, p.rest_s) == (
        "kettlebell_swing", 5, 2, 30.0)
    assert shown["program"] == {"block": 1, "blocks": 2, "exercise": "kettlebell_swing",
                                "sets": 2, "reps": 5, "set": 1, "tempo": None,
                                "max_hip_deg": None, "note": "hips snap"}
    assert "K-017" not in json.dumps(shown)  # the glass never gets the code
    runner.on_events([{"type": "session_started"}])
    assert tagged == ["K-017"]
    runner.on_events([{"type": "set_ended"}])
    assert applied[-1].exercise == "kettlebell_swing"  # one set of two: the same block
    assert shown["program"]["set"] == 2
    runner.on_events([{"type": "set_ended"}])
    p = applied[-1]  # block 2; the session's sets count on: its target is the program's
    assert (p.exercise, p.set_target_reps, p.set_target_sets, p.rest_s) == (
        "deadlift", 8, 3, 90.0)
    assert shown["program"]["block"] == 2
    # Staff change the settings meanwhile (settings_applier applies what this gives).
    applied.append(runner.settings_changed(CoachParams(set_target_reps=12, guide=False)))
    assert (applied[-1].set_target_reps, applied[-1].guide) == (8, False)
    runner.on_events([{"type": "set_ended"}])  # the last block done
    assert shown["program"] is None
    # Until the person leaves, the glass says all sets are done (not "rest").
    assert (applied[-1].set_target_sets, applied[-1].set_target_reps) == (3, 8)
    runner.on_events([{"type": "session_ended"}])  # then the settings' again
    assert applied[-1] == CoachParams(set_target_reps=12, guide=False)


def test_a_client_who_leaves_ends_the_program_and_one_with_none_is_refused(store):
    runner, applied, tagged, shown = runner_for(store)
    runner.start("K-017", {"session": 3})  # someone is already training: theirs
    assert tagged == ["K-017"]
    runner.on_events([{"type": "session_ended"}])
    assert shown["program"] is None and applied[-1] == CoachParams(set_target_reps=12)
    with pytest.raises(HingeMirrorError, match="client K-018: has no program"):
        runner.start("K-018")


def test_a_session_followed_is_stored_as_the_clients(store):
    """Through the coach and the store as run_device wires them."""
    recorder = Recorder(store)
    coach = Coach()
    runner = ProgramRunner(store, lambda p: setattr(coach, "params", p), {},
                           tag=recorder.tag)
    runner.start("K-017")
    assert coach.params.exercise == "kettlebell_swing"
    kp, t, size = session_track(Session(reps=3, tail_s=1.0))
    for k, ts in zip(kp, t, strict=True):
        events = coach.update(k, float(ts), size[1] / size[0])
        recorder.on_events(events)
        runner.on_events(events)
    rows = recorder.conn.execute("SELECT client_code, reps, program FROM sessions").fetchall()
    assert [r[:2] for r in rows] == [("K-017", 3)]
    followed = json.loads(rows[0][2])  # the program as it was followed that day
    assert followed["first_set"] == 1 and schema.parse(followed["program"]) == \
        schema.parse(PROGRAM)
    recorder.close()


def test_staff_start_a_clients_program_on_the_mirror_from_its_page(store):
    started = []

    class Runner:
        def start(self, code, snapshot=None):
            started.append((code, (snapshot or {}).get("session") is not None))
            return schema.parse(PROGRAM)

    admin = login(make_app(store, programs=Runner()), store=store)
    resp = post(admin, "/staff/clients/k-017/program/start", {},
                page="/staff/clients/K-017/program")
    assert resp.status_code == 302 and started == [("K-017", False)]
    page = admin.get("/staff/clients/K-017/program").get_data(as_text=True)
    assert "The mirror follows the program of K-017." in page
    with connect(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'program_started'"
                            ).fetchone()[0] == 1
    viewer = login(make_app(store, programs=Runner()), name="vic", role="viewer", store=store)
    assert post(viewer, "/staff/clients/K-017/program/start", {},
                page="/staff/clients/K-017/program").status_code == 403
    assert started == [("K-017", False)]


TEMPO_PROGRAM = {"version": 1, "blocks": [
    {"exercise": "deadlift", "sets": 2, "reps": 2, "rest_s": 20,
     "tempo": {"down_s": 3, "hold_s": 1, "up_s": 2}, "max_hip_deg": 80,
     "faults": {"too_fast": "strict", "incomplete_lockout": "relaxed"}}]}


def rep(down_s, faults=(), past=False):
    return {"type": "rep", "down_s": down_s, "faults": list(faults), "past_range": past,
            "hip_deg": 90.0 if past else 70.0}


def test_a_blocks_tempo_range_and_sensitivity_are_the_coachs(store):
    with connect(store) as conn:
        schema.save(conn, "K-020", schema.parse(TEMPO_PROGRAM), "ana")
    runner, applied, _, shown = runner_for(store)
    runner.start("K-020")
    p = applied[-1]
    assert p.tempo == (3.0, 1.0, 2.0) and p.max_hip_deg == 80.0
    assert dict(p.fault_factors) == {"incomplete_lockout": 1.25, "too_fast": 0.8}
    assert shown["program"]["tempo"] == {"down_s": 3.0, "hold_s": 1.0, "up_s": 2.0}
    assert shown["program"]["max_hip_deg"] == 80.0


def test_the_summary_at_the_end_is_what_was_done_and_goes_when_the_person_leaves(store):
    with connect(store) as conn:
        schema.save(conn, "K-020", schema.parse(TEMPO_PROGRAM), "ana")
    runner, applied, _, shown = runner_for(store)
    # A set already open when staff start the program is not the program's.
    runner.start("K-020", {"session": 1, "set_reps": 3, "sets_done": [5]})
    assert applied[-1].set_target_sets == 2 + 2  # two sets before it, two of its own
    runner.on_events([rep(1.0), {"type": "set_ended"}])  # the open set, skipped
    assert shown["program"]["set"] == 1 and shown["program_summary"] is None
    runner.on_events([rep(2.9), rep(3.2, ["too_fast"]), {"type": "set_ended"}])
    assert shown["program"]["set"] == 2
    runner.on_events([rep(3.1, past=True), rep(2.8), {"type": "set_ended"}])
    assert shown["program"] is None
    summary = shown["program_summary"]
    [block] = summary["blocks"]
    assert block["reps_per_set"] == [2, 2] and block["sets_full"] == 2
    assert block["down_s_median"] == 3.0 and block["tempo_kept"] is True
    assert (block["past_range"], block["faulty"], block["main_fault"]) == (1, 1, "too_fast")
    assert summary["adherence_pct"] == 100 and summary["complete"] is True
    runner.on_events([{"type": "session_ended"}])
    assert shown["program_summary"] is None  # the next person never sees it


def test_adherence_counts_short_sets_missing_blocks_and_extra_sets():
    program = schema.parse({"blocks": [
        {"exercise": "deadlift", "sets": 2, "reps": 4, "tempo": {"down_s": 3, "hold_s": 0,
                                                                 "up_s": 2}},
        {"exercise": "kettlebell_swing", "sets": 1, "reps": 10, "max_hip_deg": 60}]})
    fast = [rep(1.0) for _ in range(4)]
    a = schema.adherence(program, [fast, fast[:2]])
    first, second = a["blocks"]
    assert first["reps_per_set"] == [4, 2] and first["sets_full"] == 1
    assert first["down_s_median"] == 1.0 and first["tempo_kept"] is False
    assert second["reps_per_set"] == [] and second["reps_done"] == 0
    assert a["adherence_pct"] == round(100 * 6 / 18) and not a["complete"]
    # Extra reps in a set do not make up for a block not done; extra sets are counted.
    many = [rep(3.0) for _ in range(12)]
    a = schema.adherence(program, [many, many, many, many])
    assert a["extra_sets"] == 1 and a["adherence_pct"] == 100
    # A stored rep without the coach's word on the range: its hip flexion says.
    assert schema.past_range({"hip_deg": 65.0}, 60.0) and not schema.past_range(
        {"hip_deg": 55.0}, 60.0) and not schema.past_range({"hip_deg": 99.0}, None)


def test_the_session_and_client_pages_show_prescribed_against_done(store):
    """A session followed through the coach and the store: its page's table and
    the client's adherence chart come from what was stored, not from the runner."""
    with connect(store) as conn:
        schema.save(conn, "K-020", schema.parse({"blocks": [
            {"exercise": "deadlift", "sets": 2, "reps": 3, "rest_s": 5,
             "tempo": {"down_s": 1.2, "hold_s": 0, "up_s": 1}, "max_hip_deg": 80}]}), "ana")
    recorder, coach = Recorder(store), Coach()
    shown = {}
    runner = ProgramRunner(store, lambda p: setattr(coach, "params", p), shown,
                           tag=recorder.tag)
    runner.start("K-020")
    # Five reps: a set of three (the target), then two, then the person leaves.
    kp, t, size = session_track(Session(reps=5, pause_s=0.8, tail_s=1.0, walk_out_s=3.0))
    for k, ts in zip(kp, t, strict=True):
        events = coach.update(k, float(ts), size[1] / size[0])
        recorder.on_events(events)
        runner.on_events(events)
    recorder.close()
    admin = login(make_app(store), store=store)
    with connect(store) as conn:
        [(sid,)] = conn.execute("SELECT id FROM sessions").fetchall()
    page = admin.get(f"/staff/sessions/{sid}").get_data(as_text=True)
    assert 'data-testid="adherence"' in page
    assert "3 · 2 (1 of 2 sets full)" in page
    assert "80.0°: 5 past it" in page  # the synthetic hinge goes to 109°
    assert "83% of the reps prescribed" in page  # 5 of 6
    client = admin.get("/staff/clients/K-020").get_data(as_text=True)
    assert "Program adherence per session" in client
    # A session that followed no program has no such table.
    with connect(store) as conn:
        conn.execute("UPDATE sessions SET program = NULL")
        conn.commit()
    assert 'data-testid="adherence"' not in admin.get(f"/staff/sessions/{sid}").get_data(
        as_text=True)


def test_analyze_follows_a_program_and_its_reports_say_what_was_done(capsys, tmp_path):
    """`analyze --program`: the blocks move on by sets as on the mirror; the text,
    JSON and HTML reports carry the program; a bad program file is one line."""
    from device.cli import main
    from device.vision.tracks import Track, save_track

    # Seven reps, a pause of 12 s after the fourth (a set ends after 10 s idle).
    first = session_track(Session(reps=4, tail_s=12.0))
    second = session_track(Session(reps=3, lead_s=1.0))
    kp = np.concatenate([first[0], second[0]])
    t = np.concatenate([first[1], second[1] + first[1][-1] + 1 / 30])
    save_track(tmp_path / "s.npz", Track(kp, t, first[2]))
    (tmp_path / "p.json").write_text(json.dumps({"blocks": [
        {"exercise": "deadlift", "sets": 1, "reps": 4, "max_hip_deg": 130,
         "tempo": {"down_s": 1, "hold_s": 0, "up_s": 1}},
        {"exercise": "kettlebell_swing", "sets": 1, "reps": 5}]}))
    assert main(["analyze", str(tmp_path / "s.npz"), "--json", "--program",
                 str(tmp_path / "p.json"), "--html", str(tmp_path / "r.html")]) == 0
    report = json.loads(capsys.readouterr().out)
    first_block, second_block = report["program"]["blocks"]
    assert first_block["reps_per_set"] == [4] and first_block["past_range"] == 0
    assert second_block["reps_per_set"] == [3]  # the recording ended in the set
    assert report["program"]["adherence_pct"] == round(100 * 7 / 9)
    # Each block's parameters were the coach's for its reps: the first block's
    # range limit on its four, none on the swings after it.
    assert [r.get("range_limit_deg") for r in report["reps"]] == [130.0] * 4 + [None] * 3
    html = (tmp_path / "r.html").read_text()
    assert 'data-testid="program"' in html and "Kettlebell swing: 1 × 5 · done 3" in html
    assert main(["analyze", str(tmp_path / "s.npz"), "--program",
                 str(tmp_path / "p.json")]) == 0
    assert "Program followed:" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text(json.dumps({"blocks": [{"exercise": "deadlift",
                                                                "sets": 0, "reps": 8}]}))
    assert main(["analyze", str(tmp_path / "s.npz"), "--program",
                 str(tmp_path / "bad.json")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0] and "block 1: sets = 0 must be 1..20" in err[0]
