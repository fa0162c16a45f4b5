"""Nothing the device writes to its data folder is readable by other users."""

from __future__ import annotations

import os

from device.app import secret_key
from device.config import Config, save_settings
from device.service import tls
from device.store import Recorder, accounts, audit, connect
from tests.helpers import coach_events


def test_every_file_in_the_data_folder_is_the_service_users_alone(tmp_path):
    data = tmp_path / "data"
    old = os.umask(0o022)  # a permissive umask: the files must not rely on a strict one
    try:
        store = data / "hinge-mirror.db"
        rec = Recorder(store)  # the store, its WAL and shared-memory files
        rec.on_events(coach_events(reps=2, style="hinge", tail_s=1.0)[0])
        conn = connect(store)
        accounts.add(conn, "ana", "admin", "correct horse battery")
        audit.record(conn, "ana", "127.0.0.1", "login")
        secret_key(data / "secret_key")
        tls.ensure_certificate(data)
        save_settings(data / "settings.toml", Config())
        from device.service.backups import BackupSchedule

        assert BackupSchedule(store, data / "backups", 86400.0, 3).run_once() is not None
        files = sorted(p for p in data.rglob("*") if p.is_file())
        names = {p.name for p in files}
        assert {"hinge-mirror.db", "hinge-mirror.db-wal", "secret_key", "tls.key", "tls.crt",
                "settings.toml"} <= names, names
        assert any(n.startswith("hinge-mirror-") and n.endswith(".tar.gz") for n in names)
        loose = {p.name: oct(p.stat().st_mode & 0o777) for p in files
                 if p.stat().st_mode & 0o077}
        assert loose == {}, loose
        folders = {p.name: oct(p.stat().st_mode & 0o777) for p in data.rglob("*")
                   if p.is_dir() and p.stat().st_mode & 0o077}
        assert folders == {}, folders
        rec.close()
        conn.close()
    finally:
        os.umask(old)
