"""Backups that restore: made while reps are being written, restored into an empty
data folder with every session, rep, account and setting; tampered or newer
backups refused."""

from __future__ import annotations

import io
import json
import tarfile
import threading

import pytest

from device.cli import main
from device.config import load_config
from device.errors import HingeMirrorError
from device.store import Recorder, accounts, connect
from device.store.backup import make_backup, restore_backup
from tests.test_store import coach_events


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
            assert main(["backup", str(tmp_path / "b.tar.gz"), "--config", str(live)]) == 0
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
    assert backed["schema"] == 4 and "settings.toml" in backed["files"]
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
