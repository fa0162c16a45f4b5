"""The audit trail: each staff action written, append-only in the database, read
and downloaded by admins only, pruned with the sessions, never on the mirror."""

from __future__ import annotations

import csv
import io
import sqlite3
import time

import pytest

from device.store import Recorder, accounts, audit, connect
from tests.helpers import FORM, PASSWORD, login, make_app, post, running, stored_session, token


@pytest.fixture
def store(tmp_path):
    return tmp_path / "data" / "hinge-mirror.db"


def actions(store) -> list[tuple]:
    return [(r["account"], r["action"], r["target"])
            for r in reversed(audit.rows(connect(store)))]


def test_every_staff_action_is_written_with_account_address_and_target(store, tmp_path):
    stored_session(store)
    app, processor, hub, live = running(store, tmp_path)
    admin = login(app, store=store)
    bad = app.test_client()
    bad.post("/staff/login", data={"name": "ana", "password": "not it",
                                   "csrf_token": token(bad)})
    admin.get("/staff/sessions/1")
    admin.get("/api/staff/sessions/1.csv")
    admin.get("/api/staff/reps.json?from=2000-01-01")
    post(admin, "/staff/sessions/1/client", {"client_code": "K-1"}, "/staff/sessions/1")
    admin.get("/staff/clients/K-1")
    post(admin, "/staff/settings", FORM)
    post(admin, "/staff/accounts", {"name": "vic", "role": "viewer", "password": PASSWORD,
                                    "again": PASSWORD})
    post(admin, "/staff/accounts/2/role", {"role": "admin"}, "/staff/accounts")
    post(admin, "/staff/accounts/2/delete", {}, "/staff/accounts")
    post(admin, "/staff/logout", {}, "/staff/")
    got = actions(store)
    assert got == [
        ("ana", "login", None), ("ana", "login_failed", None),
        ("ana", "session_viewed", "session 1"), ("ana", "export", "session 1"),
        ("ana", "export", "reps (from 2000-01-01)"), ("ana", "session_viewed", "session 1"),
        ("ana", "client_tagged", "session 1"), ("ana", "client_viewed", "client K-1"),
        ("ana", "settings_changed", "settings"),
        ("ana", "account_changed", "account vic"), ("ana", "account_changed", "account vic"),
        ("ana", "account_changed", "account vic"), ("ana", "logout", None)], got
    rows = audit.rows(connect(store))
    assert all(r["address"] == "127.0.0.1" and r["at"] <= time.time() for r in rows)
    details = {r["action"]: r["detail"] for r in rows}
    assert "coach.set_reps 0 -> 8" in details["settings_changed"]
    assert details["client_tagged"] == "K-1"


def test_the_trail_cannot_be_edited_and_only_the_retention_prunes_it(store):
    conn = connect(store)
    audit.record(conn, "ana", "10.0.0.2", "session_viewed", "session 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with conn:
            conn.execute("UPDATE audit SET account = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with conn:
            conn.execute("DELETE FROM audit")
    assert [r["account"] for r in audit.rows(conn)] == ["ana"]
    # A row as old as the sessions the retention deletes goes with them, and the
    # retention's own run is written down.
    old = time.time() - 400 * 86400
    audit.record(conn, "ana", "10.0.0.2", "session_viewed", "session 1", at=old)
    conn.execute("INSERT INTO sessions (started_at) VALUES (?)", (old - 60,))
    rec = Recorder(store)
    assert rec.prune(365) == 1
    rec.close()
    left = audit.rows(conn)
    assert [r["target"] for r in left] == ["1 sessions, 1 audit rows", "session 3"]
    assert left[0]["action"] == "retention"


def test_admins_read_and_download_it_viewers_and_the_mirror_never_see_it(store):
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    accounts.add(connect(store), "vic", "viewer", PASSWORD)
    app = make_app(store)
    admin = login(app)
    viewer = login(app, "vic")
    page = admin.get("/staff/audit").get_data(as_text=True)
    assert page.count("<td>login</td>") == 2
    text = admin.get("/api/staff/audit.csv").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in table] == ["login", "login"]
    assert {r["account"] for r in table} == {"ana", "vic"}
    assert viewer.get("/staff/audit").status_code == 403
    assert viewer.get("/api/staff/audit.csv").status_code == 403
    anyone = app.test_client()
    for path in ("/", "/api/state", "/healthz", "/metrics"):
        body = anyone.get(path).get_data(as_text=True)
        assert "login" not in body and "127.0.0.1" not in body and "audit" not in body
    assert actions(store)[-1] == ("ana", "export", "audit trail")


def test_an_account_made_on_the_command_line_is_in_the_trail(store, tmp_path, monkeypatch):
    """Issue 25, item 4: `hinge-mirror staff add` wrote no audit row."""
    from device.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n')
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PASSWORD)
    assert main(["staff", "add", "ana", "--role", "admin", "--config", str(cfg)]) == 0
    (row,) = audit.rows(connect(store))
    assert (row["account"], row["address"], row["action"], row["target"]) == (
        None, "local", "account_changed", "account ana")
    assert "role admin" in row["detail"] and "hinge-mirror staff add" in row["detail"]
    # Refused (the password too short): nothing changed, nothing written.
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "short")
    assert main(["staff", "add", "vic", "--role", "viewer", "--config", str(cfg)]) == 2
    assert len(audit.rows(connect(store))) == 1
