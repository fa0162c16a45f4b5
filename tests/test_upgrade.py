"""Upgrades that keep everything: the installer of a newer version run over a
device that has been in use. The store is the one a released version wrote
(tests/fixtures/store-schema3.sql, made by that release's own Recorder from
the synthetic demo: two sessions, sixteen reps, two staff accounts); beside it
the staff's settings, the session key and the HTTPS certificate. The same
scratch root and stand-ins as tests/test_installer.py (no Pi here)."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from device.store.schema import VERSION
from tests.helpers import REPO, install, log_of


@pytest.fixture
def device(scratch):  # noqa: F811  (test_installer's scratch root, by another name)
    return scratch

FIXTURE = Path(__file__).parent / "fixtures" / "store-schema3.sql"
DATA = "var/lib/hinge-mirror"
EMPTY = hashlib.sha256(b"").hexdigest()


def newer_source(tmp_path: Path) -> tuple[Path, str]:
    """This checkout's files as a newer version (pyproject's version + .post1)."""
    out = tmp_path / "newer"
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard"],
                            capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        for name in listed.stdout.splitlines():
            src = REPO / name
            if src.is_file():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out / name)
    else:  # not a git checkout
        shutil.copytree(REPO, out, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "models", "var", "__pycache__"))
    pyproject = out / "pyproject.toml"
    text = pyproject.read_text()
    old = re.search(r'^version = "(.*)"$', text, re.M).group(1)
    pyproject.write_text(text.replace(f'version = "{old}"', f'version = "{old}.post1"', 1))
    return out, f"{old}.post1"


def a_device_in_use(root: Path, *, conflicting: bool = False) -> dict:
    """The released version's store, settings, key and certificate in the data folder."""
    from device.config import Config, merge, save_settings
    from device.service import tls

    data = root / DATA
    db = sqlite3.connect(data / "hinge-mirror.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(FIXTURE.read_text())
    if conflicting:  # something migration 4 cannot get past: its table already there
        db.execute("CREATE TABLE audit (note TEXT)")
    db.close()
    save_settings(data / "settings.toml", merge(Config(), {"coach": {"set_reps": 8}}, "test"))
    (data / "secret_key").write_text("k" * 64 + "\n")
    cert, _ = tls.ensure_certificate(data, "", "")
    return {"fingerprint": tls.fingerprint(cert), **digests(root)}


def digests(root: Path) -> dict:
    data = root / DATA
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data.iterdir())
            if p.is_file()}


def rows(path: Path, table: str, columns: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()


def fixture_rows(table: str, columns: str) -> list[tuple]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(FIXTURE.read_text())
    return conn.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()


def fixture_columns(table: str) -> list[str]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(FIXTURE.read_text())
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def columns_of(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


REP_COLUMNS = "id, session_id, set_id, number, hinge_deg, knee_deg, faults, data"


def installed(device):
    """The current checkout installed in the scratch root: (root, state, env, venv
    symlink, the release it points at)."""
    root, state, env = device
    first = install(env)
    assert first.returncode == 0, first.stderr[-3000:]
    venv = root / "opt/hinge-mirror/venv"
    return root, state, env, venv, venv.readlink()


def test_the_fixture_is_what_a_schema_3_release_stored():
    # The upgrade test is only as good as its store: a real one, with reps.
    assert "PRAGMA user_version = 3;" in FIXTURE.read_text()
    assert len(fixture_rows("sessions", "id")) == 2
    assert len(fixture_rows("reps", "id")) == 16
    assert [r[0] for r in fixture_rows("accounts", "name")] == ["ana", "ben"]


def test_an_upgrade_keeps_every_session_account_setting_and_the_certificate(device, tmp_path):
    root, state, env = device
    first = install(env)
    assert first.returncode == 0, first.stderr[-3000:]
    old_release = (root / "opt/hinge-mirror/venv").readlink()
    before = a_device_in_use(root)
    config = root / "etc/hinge-mirror/config.toml"
    config.write_text(config.read_text().replace("retention_days = 365", "retention_days = 400"))
    config_text = config.read_text()
    log_of(state)

    src, version = newer_source(tmp_path)
    done = install(env, src=src)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"schema 3 -> {VERSION} would migrate cleanly (2 sessions, 16 reps)" in done.stdout
    assert f"schema 3 -> {VERSION} migrated" in done.stdout
    calls = log_of(state)
    stop = calls.index("systemctl stop hinge-mirror.service")
    assert "systemctl restart hinge-mirror.service" in calls[stop:]
    assert (state / "active-hinge-mirror.service").exists()
    # The program is the new release; the old one is kept to go back to.
    venv = root / "opt/hinge-mirror/venv"
    assert venv.readlink() != old_release and (root / "opt/hinge-mirror" / old_release).is_dir()
    out = subprocess.run([str(venv / "bin/hinge-mirror"), "--version"], capture_output=True,
                         text=True, env=env)
    assert out.stdout.strip() == f"hinge-mirror {version}", out.stderr
    # Every session and rep, row for row; the accounts still log in.
    from device.store import accounts, connect
    from device.store import version as schema_of

    db = root / DATA / "hinge-mirror.db"
    assert rows(db, "reps", REP_COLUMNS) == fixture_rows("reps", REP_COLUMNS)
    # The columns the old release had, as they were; a column a later schema added
    # (schema 8's sessions.program) is empty on every old row.
    for table in ("sessions", "sets"):
        kept = ", ".join(fixture_columns(table))
        assert rows(db, table, kept) == fixture_rows(table, kept), table
        added = sorted(set(columns_of(db, table)) - set(fixture_columns(table)))
        for column in added:
            assert {r[0] for r in rows(db, table, column)} == {None}, (table, column)
    assert columns_of(db, "sessions")[-1] == "program"
    conn = connect(db)
    try:
        assert schema_of(conn) == VERSION
        assert accounts.check(conn, "ana", "admin-pass-3") is not None
        assert accounts.check(conn, "ben", "viewer-pass-3") is not None
        assert accounts.check(conn, "ana", "wrong") is None
    finally:
        conn.close()
    # Settings, the session key, the certificate and the config as they were.
    after = digests(root)
    for name in ("settings.toml", "secret_key", "tls.crt", "tls.key"):
        assert after[name] == before[name], name
    assert config.read_text() == config_text
    # A backup of the store as it was before, that restores into an empty folder.
    backups = sorted((root / DATA / "backups").glob("pre-upgrade-schema3-*.tar.gz"))
    assert len(backups) == 1
    from device.store.backup import restore_backup

    restored = restore_backup(backups[0], tmp_path / "fresh" / "hinge-mirror.db")
    assert restored["schema"] == 3 and restored["sessions"] == 2
    # And once more: nothing to do, nothing stopped.
    again = install(env, src=src)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not [c for c in log_of(state) if c.split()[:2] in (["systemctl", "stop"],
                                                             ["systemctl", "restart"])]


def test_a_failed_migration_leaves_the_store_untouched_and_the_old_version_running(
        device, tmp_path):
    root, state, env, venv, old_release = installed(device)
    before = a_device_in_use(root, conflicting=True)
    log_of(state)

    src, version = newer_source(tmp_path)
    done = install(env, src=src)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "fails at migration 4" in last and "already exists" in last, done.stderr
    assert "is still the installed version" in last
    # The store is byte for byte as it was (reading it may leave SQLite's
    # index file and an empty log beside it), and no backup was needed.
    after = digests(root)
    assert after.pop("hinge-mirror.db-wal", EMPTY) == EMPTY
    after.pop("hinge-mirror.db-shm", None)
    assert after == {k: v for k, v in before.items() if k != "fingerprint"}
    assert not (root / DATA / "backups").exists()
    # The old version is the one installed and it was never stopped.
    assert venv.readlink() == old_release
    assert not list((root / "opt/hinge-mirror/releases").glob(f"{version}*"))
    calls = log_of(state)
    assert not [c for c in calls if c.split()[:2] in (["systemctl", "stop"],
                                                      ["systemctl", "restart"])], calls
    assert (state / "active-hinge-mirror.service").exists()


def test_a_migration_that_fails_for_real_rolls_back_and_the_old_version_starts_again(
        device, tmp_path):
    # The check on a copy passes; then, while the service is stopped, the store
    # changes under it (a stand-in for whatever the copy could not show), and the
    # real migration fails: it must roll back, and the old version run again.
    root, state, env, venv, old_release = installed(device)
    a_device_in_use(root)
    db = root / DATA / "hinge-mirror.db"
    hook = state / "on-stop"
    hook.write_text("#!/usr/bin/python3\nimport sqlite3\n"
                    f"c = sqlite3.connect({str(db)!r})\n"
                    "c.execute('CREATE TABLE audit (note TEXT)')\nc.commit()\n")
    hook.chmod(0o755)
    log_of(state)
    src, version = newer_source(tmp_path)
    done = install(env, src=src)
    assert done.returncode != 0
    assert "would migrate cleanly" in done.stdout  # the copy passed
    last = done.stderr.strip().splitlines()[-1]
    assert "fails at migration 4" in last and "is still the installed version" in last, last
    calls = log_of(state)
    stop = calls.index("systemctl stop hinge-mirror.service")
    assert "systemctl start hinge-mirror.service" in calls[stop:]  # the old one again
    assert (state / "active-hinge-mirror.service").exists()
    assert venv.readlink() == old_release
    assert not list((root / "opt/hinge-mirror/releases").glob(f"{version}*"))
    # Still schema 3 with every row: `store migrate` tries the copy again first
    # and refuses there, before its backup and before touching the store.
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    conn.close()
    assert rows(db, "reps", REP_COLUMNS) == fixture_rows("reps", REP_COLUMNS)
    assert not (root / DATA / "backups").exists()


def test_upgrade_backs_up_then_rolls_a_failing_migration_back(tmp_path, monkeypatch):
    # The last line of defence: the copy passed (here: said to), the real
    # migration fails. The backup is made first; the store stays at schema 3.
    import device.store.upgrade as upgrade_module
    from device.errors import HingeMirrorError
    from device.store.backup import _read

    db = tmp_path / "hinge-mirror.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(FIXTURE.read_text())
    conn.execute("CREATE TABLE audit (note TEXT)")
    conn.close()
    monkeypatch.setattr(upgrade_module, "check_upgrade", lambda path: {"from": 3, "to": 4})
    with pytest.raises(HingeMirrorError) as caught:
        upgrade_module.upgrade(db, tmp_path / "backups")
    assert "fails at migration 4" in str(caught.value)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    conn.close()
    assert rows(db, "reps", REP_COLUMNS) == fixture_rows("reps", REP_COLUMNS)
    backups = list((tmp_path / "backups").glob("pre-upgrade-schema3-*.tar.gz"))
    assert len(backups) == 1
    # It holds the store as it was (the same conflict too: a backup copies, never mends).
    manifest, files = _read(backups[0])
    assert manifest["schema"] == 3
    (tmp_path / "copy.db").write_bytes(files["hinge-mirror.db"])
    assert rows(tmp_path / "copy.db", "reps", REP_COLUMNS) == fixture_rows("reps", REP_COLUMNS)


def test_a_wrong_kiosk_user_is_refused_before_anything_is_stopped(device, tmp_path):
    root, state, env = device
    assert install(env).returncode == 0
    a_device_in_use(root)
    log_of(state)
    src, _ = newer_source(tmp_path)
    done = subprocess.run(["bash", str(src / "systemd/install.sh"), "--kiosk-user", "nobody-x",
                           "--pip-arg", "--no-deps"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode != 0 and "nobody-x: no such user" in done.stderr
    assert not [c for c in log_of(state) if c.startswith("systemctl")]
    assert (state / "active-hinge-mirror.service").exists()


def test_the_scripts_work_with_an_empty_root():
    # On a device HINGE_MIRROR_ROOT is unset: ${ROOT:?} would stop the script there.
    for name in ("install.sh", "uninstall.sh"):
        assert "${ROOT:?}" not in (REPO / "systemd" / name).read_text(), name


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(pytest.main([__file__, "-v"]))
