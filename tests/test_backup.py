"""Backups that restore: made while reps are being written, restored into an empty
data folder with every session, rep, account and setting; tampered or newer
backups refused."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import threading
import time
from pathlib import Path

import pytest

from device.cli import main
from device.config import load_config
from device.errors import HingeMirrorError
from device.store import Recorder, accounts, connect
from device.store.backup import make_backup, restore_backup
from device.store.schema import VERSION
from tests.helpers import coach_events, unavailable


def config_for(tmp_path, folder: str):
    cfg = tmp_path / f"{folder}.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/{folder}/hinge-mirror.db"\n')
    return cfg


def test_a_backup_made_while_reps_are_written_restores_everything(tmp_path, capsys):
    live = config_for(tmp_path, "live")
    store = load_config(live).store.path
    rec = Recorder(store)
    accounts.add(connect(store), "ana", "admin", "correct horse battery")
    (tmp_path / "live" / "settings.toml").write_text("[coach]\nset_reps = 8\n")
    events, _ = coach_events(reps=4, style="hinge", tail_s=12.0)
    stop = threading.Event()

    def writer():  # the device, recording sessions the whole time
        while not stop.is_set():
            rec.on_events(events)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3):
            assert main(["backup", str(tmp_path / "b.tar.gz"), "--force",  # the last wins
                         "--config", str(live)]) == 0
    finally:
        stop.set()
        t.join()
        rec.close()
    backed = json.loads(tarfile.open(tmp_path / "b.tar.gz").extractfile("manifest.json").read())
    # Restore onto a fresh install: an empty data folder.
    fresh = config_for(tmp_path, "fresh")
    assert main(["restore", str(tmp_path / "b.tar.gz"), "--config", str(fresh)]) == 0
    new = connect(load_config(fresh).store.path)
    per = [n for (n,) in new.execute(
        "SELECT COUNT(r.id) FROM sessions s LEFT JOIN reps r ON r.session_id = s.id "
        "GROUP BY s.id ORDER BY s.id")]
    # One consistent moment: every session but the one being written is whole.
    assert len(per) > 1 and set(per[:-1]) == {4} and per[-1] <= 4, per
    assert new.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert accounts.check(new, "ana", "correct horse battery") is not None
    assert load_config(None, tmp_path / "fresh" / "settings.toml").coach.set_reps == 8
    assert backed["schema"] == VERSION and "settings.toml" in backed["files"]
    assert "restored" in capsys.readouterr().out


def _tamper(src, dst, change):
    with tarfile.open(src) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    change(files)
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_tampered_or_newer_backup_is_refused_and_nothing_is_written(tmp_path):
    store = tmp_path / "live" / "hinge-mirror.db"
    connect(store).close()
    make_backup(store, tmp_path / "b.tar.gz")

    def edit_db(files):
        files["hinge-mirror.db"] = files["hinge-mirror.db"][:-1] + b"x"

    def newer(files):
        m = json.loads(files["manifest.json"])
        m["schema"] = 99
        files["manifest.json"] = json.dumps(m).encode()

    target = tmp_path / "fresh" / "hinge-mirror.db"
    for change, says in ((edit_db, "fails its checksum"), (newer, "newer than this program")):
        _tamper(tmp_path / "b.tar.gz", tmp_path / "bad.tar.gz", change)
        with pytest.raises(HingeMirrorError, match=says):
            restore_backup(tmp_path / "bad.tar.gz", target)
        assert not target.parent.exists()
    (tmp_path / "junk.tar.gz").write_bytes(b"not a backup")
    with pytest.raises(HingeMirrorError, match="cannot be read"):
        restore_backup(tmp_path / "junk.tar.gz", target)


# Scheduled backups and the staff's download ----------------------------------

def test_scheduled_backups_keep_the_newest_and_touch_nothing_else(tmp_path):
    from device.service.backups import BackupSchedule
    from device.store import audit

    store = tmp_path / "data" / "hinge-mirror.db"
    Recorder(store).close()
    folder = tmp_path / "stick"
    folder.mkdir()
    (folder / "notes.txt").write_text("the clinic's own file")
    (folder / "pre-upgrade-schema3-20260101-000000.tar.gz").write_bytes(b"kept")
    now = [1_790_000_000.0]
    sched = BackupSchedule(store, folder, every_s=86400.0, keep=3, clock=lambda: now[0])
    assert sched.due_in() == 0.0  # none yet: one now
    made = []
    for _day in range(5):
        made.append(sched.run_once())
        assert made[-1] is not None and made[-1].exists()
        assert 86399 <= sched.due_in() <= 86400  # the next one a day on
        now[0] += 86400.0
        assert sched.due_in() == 0.0
    assert [p.name for p in sched.kept()] == [p.name for p in made[-3:]]
    assert (folder / "notes.txt").exists()
    assert (folder / "pre-upgrade-schema3-20260101-000000.tar.gz").exists()
    # Each is a backup that restores, and each is in the audit trail.
    restored = restore_backup(made[-1], tmp_path / "fresh" / "hinge-mirror.db")
    assert restored["sessions"] == 0 and restored["schema"] >= 4
    conn = connect(store)
    rows = [r for r in audit.rows(conn, limit=50) if r["action"] == "backup"]
    conn.close()
    assert len(rows) == 5 and all(r["detail"].startswith("scheduled") for r in rows)
    status = sched.status()
    assert status["kept"] == 3 and status["newest"] == made[-1].name and status["error"] is None


def test_a_stick_that_is_not_there_or_not_mounted_is_reported_never_written_to(tmp_path):
    import tempfile

    from device.service.backups import BackupSchedule

    store = tmp_path / "data" / "hinge-mirror.db"
    Recorder(store).close()
    failures = []
    stick = tmp_path / "media" / "stick"  # the config names it; it is not there
    sched = BackupSchedule(store, stick, every_s=86400.0, keep=3, external=True,
                           on_failure=failures.append)
    assert sched.run_once() is None
    assert "not there" in failures[-1] and "\n" not in failures[-1]
    assert not stick.exists()  # never created: a backup must not land on the card
    assert sched.status()["error"] == failures[-1] and sched.due_in() == 0.0
    # The mount point is there but nothing is mounted on it: the store's own disk.
    stick.mkdir(parents=True)
    assert sched.run_once() is None
    assert "on the store's own disk" in failures[-1]
    assert list(stick.iterdir()) == []
    # Its twin: a folder on another file system (here /dev/shm, a tmpfs) takes it.
    if not Path("/dev/shm").is_dir() or \
            os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        unavailable("no second file system (/dev/shm) to stand for a mounted stick")
    other = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        mounted = BackupSchedule(store, other, every_s=86400.0, keep=3, external=True)
        assert mounted.run_once() is not None and mounted.status()["error"] is None
        assert len(mounted.kept()) == 1
    finally:
        shutil.rmtree(other)


def test_any_failure_of_a_backup_is_reported_and_the_schedule_goes_on(tmp_path, monkeypatch):
    import sqlite3

    from device.service import backups
    from device.service.backups import BackupSchedule

    store = tmp_path / "data" / "hinge-mirror.db"
    Recorder(store).close()
    failures = []
    sched = BackupSchedule(store, tmp_path / "backups", every_s=86400.0, keep=3,
                           on_failure=failures.append)

    def full_temp(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(backups, "make_backup", full_temp)
    assert sched.run_once() is None
    assert "disk is full" in failures[-1] and sched.status()["error"] == failures[-1]
    # The thread lives on through it, and tries again.
    sched.every_s = 0.05
    sched.start()
    try:
        deadline = time.monotonic() + 5.0  # a bound against hanging only
        while len(failures) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(failures) >= 3 and sched._thread.is_alive()
    finally:
        sched.stop()
    # A backup made while the audit trail cannot be written is still a backup.
    monkeypatch.undo()
    monkeypatch.setattr(backups, "audit_backup", lambda *a, **k: False)
    sched.every_s = 86400.0
    assert sched.run_once() is not None and sched.status()["error"] is None


def test_hinge_mirror_backup_leaves_an_older_store_as_it_is(tmp_path):
    import sqlite3

    from device.store.schema import MIGRATIONS

    store = tmp_path / "old" / "hinge-mirror.db"
    store.parent.mkdir()
    old = sqlite3.connect(store)
    old.executescript(MIGRATIONS[0] + ";" + MIGRATIONS[1] + "; PRAGMA user_version = 2;")
    old.close()
    before = store.read_bytes()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n')
    assert main(["backup", str(tmp_path / "b.tar.gz"), "--config", str(cfg)]) == 0
    assert store.read_bytes() == before  # not migrated, no audit row forced into it
    check = sqlite3.connect(store)
    assert check.execute("PRAGMA user_version").fetchone() == (2,)
    check.close()


def test_the_schedule_runs_in_its_thread_and_stops(tmp_path):
    from device.service.backups import BackupSchedule

    store = tmp_path / "data" / "hinge-mirror.db"
    Recorder(store).close()
    sched = BackupSchedule(store, tmp_path / "backups", every_s=86400.0, keep=2)
    sched.start()
    try:
        deadline = time.monotonic() + 10.0  # a bound against hanging only
        while not sched.kept() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sched.kept()) == 1  # one at once, the next not for a day
    finally:
        sched.stop()
    assert not sched._thread.is_alive()
    assert len(sched.kept()) == 1


def test_an_admin_downloads_a_backup_that_restores_and_it_is_audited(tmp_path):
    from device.store import audit
    from tests.helpers import PASSWORD, login, make_app, post, stored_session

    store = tmp_path / "data" / "hinge-mirror.db"
    stored_session(store)
    health = {"ok": True, "uptime_s": 1.0, "backup": {
        "folder": "/media/stick", "every_h": 24.0, "keep": 7, "kept": 2,
        "newest": "hinge-mirror-20261201-030000.tar.gz", "error": None}}
    app = make_app(store, health=lambda: health)
    admin = login(app, store=store)
    page = admin.get("/staff/").get_data(as_text=True)
    assert "every 24 h into <code>/media/stick</code>, the newest 7 kept" in page
    assert 'data-testid="download-backup"' in page
    resp = post(admin, "/staff/backup", {}, page="/staff/")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="hinge-mirror-')
    assert resp.headers["Cache-Control"] == "no-store"
    got = tmp_path / "downloaded.tar.gz"
    got.write_bytes(resp.data)
    restored = restore_backup(got, tmp_path / "fresh" / "hinge-mirror.db")
    assert restored["sessions"] == 1
    fresh = connect(tmp_path / "fresh" / "hinge-mirror.db")
    assert fresh.execute("SELECT COUNT(*) FROM reps").fetchone() == (3,)
    assert accounts.check(fresh, "ana", PASSWORD) is not None
    fresh.close()
    assert not list(store.parent.glob(".download-*"))  # nothing left behind on the device
    conn = connect(store)
    rows = [r for r in audit.rows(conn, limit=20) if r["action"] == "backup"]
    conn.close()
    assert len(rows) == 1 and rows[0]["account"] == "ana" and rows[0]["target"] == "download"
    # A failure is shown on the dashboard.
    health["backup"]["error"] = "backup /media/stick/x: cannot be written (No such file)"
    assert "The last backup failed: backup /media/stick/x" in \
        admin.get("/staff/").get_data(as_text=True)
    # A backup that cannot be made is one line on a page, 503, and nothing audited.
    import device.store.backup as backup_module

    def refuse(store, out):
        raise HingeMirrorError(f"backup {out}: cannot be written (No space left on device)")

    original = backup_module.make_backup
    backup_module.make_backup = refuse
    try:
        failed = post(admin, "/staff/backup", {}, page="/staff/")
    finally:
        backup_module.make_backup = original
    assert failed.status_code == 503
    assert "No space left on device" in failed.get_data(as_text=True)
    conn = connect(store)
    assert len([r for r in audit.rows(conn, limit=20) if r["action"] == "backup"]) == 1
    conn.close()
    # Viewers may not, nor may anyone without the form's token.
    viewer = login(app, name="vic", role="viewer", store=store)
    assert 'data-testid="download-backup"' not in viewer.get("/staff/").get_data(as_text=True)
    assert post(viewer, "/staff/backup", {}, page="/staff/").status_code == 403
    assert admin.post("/staff/backup").status_code == 400


def test_a_restore_is_refused_while_another_process_has_the_store_open(tmp_path):
    import subprocess
    import sys

    from tests.helpers import stored_session

    store = tmp_path / "data" / "hinge-mirror.db"
    stored_session(store)
    made = tmp_path / "b.tar.gz"
    make_backup(store, made)
    # A running device: another process with the database open.
    device = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time; "
                               "c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1'); "
                               "print('open', flush=True); time.sleep(60)", str(store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert device.stdout.readline() == "open\n"
        before = store.read_bytes()
        with pytest.raises(HingeMirrorError, match=rf"the store {store} is open in process "
                           rf"{device.pid} \(a running device\?\); stop it first"):
            restore_backup(made, store)
        assert store.read_bytes() == before  # nothing written
    finally:
        device.kill()
        device.wait()
        device.stdout.close()
    assert restore_backup(made, store)["sessions"] == 1  # stopped: it goes ahead
