"""The device's log files read back for the staff pages, by safe names only.

`find` accepts only the names `device.service.logs` gives its rotated files,
found in that folder: no path, no `..`, no separator, encoded or not, ever
reaches the file system.
"""

from __future__ import annotations

import os
from pathlib import Path

from device.service.logs import NAME


def listing(folder: Path | str) -> list[dict]:
    """The log files, newest first: name, size in bytes, modified (Unix time)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for e in entries:
        if NAME.match(e.name) and e.is_file(follow_symlinks=False):
            st = e.stat(follow_symlinks=False)
            out.append({"name": e.name, "bytes": st.st_size, "modified": st.st_mtime})
    return sorted(out, key=lambda f: f["modified"], reverse=True)


def find(folder: Path | str, name: str) -> Path | None:
    """The file `name` of the log folder, or None when `name` is not one of its
    log files (any other name, any path, a symlink)."""
    if not NAME.match(name):
        return None
    for f in listing(folder):
        if f["name"] == name:
            return Path(folder) / name
    return None


def tail(path: Path, lines: int = 200, max_bytes: int = 256 * 1024) -> str:
    """The last `lines` lines of `path`, reading at most `max_bytes` from its end."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        data = f.read()
    text = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes:
        text = text[1:]  # the first line read is cut
    return "\n".join(text[-lines:])
