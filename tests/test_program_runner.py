"""The mirror following a client's program (issue 26, item 2 in part): staff
start it; each block's exercise, reps, sets and rest are the coach's; it moves on
when a block's sets are done; the session is stored as the client's; the glass
gets the block and the note, never the code."""

from __future__ import annotations

import json

import pytest

from device.core.coach import Coach, CoachParams
from device.core.synth import Session, session_track
from device.errors import HingeMirrorError
from device.service.programs import ProgramRunner
from device.store import Recorder, connect
from device.store import programs as schema
from tests.helpers import login, make_app, post

PROGRAM = {"version": 1, "blocks": [
    {"exercise": "kettlebell_swing", "sets": 2, "reps": 5, "rest_s": 30, "note": "hips snap"},
    {"exercise": "deadlift", "sets": 1, "reps": 8, "rest_s": 90}]}


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.db"
    with connect(path) as conn:
        schema.save(conn, "K-017", schema.parse(PROGRAM), "ana")
    return path


def runner_for(store):
    applied, tagged, shown = [], [], {}
    runner = ProgramRunner(store, applied.append, shown, tag=tagged.append)
    runner.settings_changed(CoachParams(set_target_reps=12))
    return runner, applied, tagged, shown


def test_the_blocks_become_the_coachs_and_move_on_as_their_sets_are_done(store):
    runner, applied, tagged, shown = runner_for(store)
    runner.start("K-017")
    p = applied[-1]
    assert (p.exercise, p.set_target_reps, p.set_target_sets, p.rest_s) == (
        "kettlebell_swing", 5, 2, 30.0)
    assert shown["program"] == {"block": 1, "blocks": 2, "exercise": "kettlebell_swing",
                                "sets": 2, "reps": 5, "note": "hips snap"}
    assert "K-017" not in json.dumps(shown)  # the glass never gets the code
    runner.on_events([{"type": "session_started"}])
    assert tagged == ["K-017"]
    runner.on_events([{"type": "set_ended"}])
    assert applied[-1].exercise == "kettlebell_swing"  # one set of two: the same block
    runner.on_events([{"type": "set_ended"}])
    p = applied[-1]  # block 2; the session's sets count on: its target is the program's
    assert (p.exercise, p.set_target_reps, p.set_target_sets, p.rest_s) == (
        "deadlift", 8, 3, 90.0)
    assert shown["program"]["block"] == 2
    # Staff change the settings meanwhile (settings_applier applies what this gives).
    applied.append(runner.settings_changed(CoachParams(set_target_reps=12, guide=False)))
    assert (applied[-1].set_target_reps, applied[-1].guide) == (8, False)
    runner.on_events([{"type": "set_ended"}])  # the last block done: the settings' again
    assert shown["program"] is None
    assert applied[-1] == CoachParams(set_target_reps=12, guide=False)


def test_a_client_who_leaves_ends_the_program_and_one_with_none_is_refused(store):
    runner, applied, tagged, shown = runner_for(store)
    runner.start("K-017", session_active=True)  # someone is already training: theirs
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
    rows = recorder.conn.execute("SELECT client_code, reps FROM sessions").fetchall()
    assert rows == [("K-017", 3)]
    recorder.close()


def test_staff_start_a_clients_program_on_the_mirror_from_its_page(store):
    started = []

    class Runner:
        def start(self, code, session_active=False):
            started.append((code, session_active))
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
