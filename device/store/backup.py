"""Backups that restore: one file with the database, the settings and the keys.

`make_backup` copies the live database with SQLite's online backup API (safe
while the device writes: the copy is one consistent moment), and puts it with
`settings.toml`, the session-signing key and the TLS pair in a tar.gz whose
`manifest.json` holds the schema version and each member's SHA-256.
`restore_backup` checks that manifest first and refuses a file from a newer
schema or one whose checksums do not match, then puts everything in place
(each file atomically), into an empty data folder or over the old one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from device.errors import HingeMirrorError
from device.files import atomic_write
from device.store import connect, open_read_only, version
from device.store.schema import VERSION

DB_NAME = "hinge-mirror.db"
EXTRA = ("settings.toml", "secret_key", "tls.crt", "tls.key")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_backup(store: Path | str, out: Path | str) -> dict:
    """Write the backup of the store (and the files beside it) to `out`."""
    store, out = Path(store), Path(out)
    members: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / DB_NAME
        src = open_read_only(store)  # as it is: a backup never migrates
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # the online backup API: one consistent copy
            schema = version(dst)
        finally:
            dst.close()
            src.close()
        members[DB_NAME] = copy.read_bytes()
    for name in EXTRA:
        p = store.parent / name
        if p.is_file():
            members[name] = p.read_bytes()
    manifest = {"made_at": time.time(), "schema": schema,
                "files": {n: _sha(d) for n, d in members.items()}}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {"manifest.json": json.dumps(manifest, indent=1).encode(),
                           **members}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    atomic_write(out, buf.getvalue(), what="backup", mode=0o600)
    return manifest


def audit_backup(store: Path | str, target: str, detail: str,
                 account: str | None = None, address: str | None = None) -> bool:
    """Write a backup to the store's audit trail, without migrating or creating
    the store (a backup never changes it): only into a store at this version's
    schema. Returns whether it was written."""
    from device.store import audit

    try:
        conn = sqlite3.connect(f"file:{quote(str(Path(store).resolve()))}?mode=rw", uri=True,
                               timeout=5.0)
    except sqlite3.Error:
        return False
    try:
        if version(conn) != VERSION:
            return False
        audit.record(conn, account, address, "backup", target, detail)
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _read(path: Path) -> tuple[dict, dict[str, bytes]]:
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            files = {}
            for m in tar.getmembers():
                if not m.isfile() or "/" in m.name or m.name.startswith("."):
                    raise HingeMirrorError(f"backup {path}: unexpected member {m.name!r}; "
                                           "not a hinge-mirror backup")
                files[m.name] = tar.extractfile(m).read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise HingeMirrorError(f"backup {path}: cannot be read ({exc}); check the file") from None
    try:
        manifest = json.loads(files.pop("manifest.json"))
    except (KeyError, ValueError):
        raise HingeMirrorError(f"backup {path}: no manifest; not a hinge-mirror backup") from None
    return manifest, files


def holders(store: Path | str) -> list[int]:
    """The other processes that have the store's database open (Linux: their
    /proc/PID/fd links; a process this user cannot look into is not seen)."""
    target = Path(store).resolve()
    names = {str(target), *(str(target) + s for s in ("-wal", "-shm"))}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to look into
            continue
    return sorted(found)


def restore_backup(path: Path | str, store: Path | str) -> dict:
    """Check the backup, then put it in place. Nothing is written if any check
    fails, or while a running device has the store open: it would go on
    writing to the replaced file, and everything after the backup be lost."""
    path, store = Path(path), Path(store)
    running = holders(store)
    if running:
        raise HingeMirrorError(f"restore {path}: the store {store} is open in process "
                               f"{', '.join(map(str, running))} (a running device?); stop it "
                               "first (sudo systemctl stop hinge-mirror), then restore")
    manifest, files = _read(path)
    if manifest.get("schema", 0) > VERSION:
        raise HingeMirrorError(f"backup {path}: schema {manifest['schema']} is newer than this "
                               f"program's {VERSION}; restore it with a newer hinge-mirror")
    listed = manifest.get("files", {})
    if set(listed) != set(files) or DB_NAME not in files:
        raise HingeMirrorError(f"backup {path}: its files do not match its manifest; "
                               "refusing it")
    for name, data in files.items():
        if _sha(data) != listed[name]:
            raise HingeMirrorError(f"backup {path}: {name} fails its checksum; refusing it "
                                   "(the file is damaged or was changed)")
    for name, data in files.items():
        target = store if name == DB_NAME else store.parent / name
        if name == DB_NAME:  # no stale WAL of an older database may replay over it
            for suffix in ("-wal", "-shm"):
                Path(str(store) + suffix).unlink(missing_ok=True)
        atomic_write(target, data, what="restore", mode=0o600)
    conn = connect(store)  # migrates an older schema forward
    try:
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    finally:
        conn.close()
    return {"schema": manifest["schema"], "sessions": sessions, "files": sorted(files)}
