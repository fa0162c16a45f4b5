"""The device's log files: rotating, bounded, and read back only by safe names.

`install` adds a `RotatingFileHandler` (the standard library's) to the root
logger: `hinge-mirror.log`, rotated to `.1` ... `.N`, so the folder holds at
most (files + 1) * max_kb. The staff pages list, tail and download them through
`find`, which accepts only names of that pattern found in that folder: no
path, no `..`, no separator, encoded or not, ever reaches the file system.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

from device.config import LogConfig

BASE = "hinge-mirror.log"
_NAME = re.compile(r"^hinge-mirror\.log(\.[1-9][0-9]{0,2})?$")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def install(config: LogConfig) -> logging.Handler | None:
    """Log to the folder of `config` as well as to stderr; None (and a warning)
    if the folder cannot be written: the mirror runs on without log files."""
    if not config.dir:
        return None
    folder = Path(config.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            folder / BASE, maxBytes=config.max_kb * 1024, backupCount=config.files,
            encoding="utf-8")
    except OSError as exc:
        log.warning("log folder %s: cannot be written (%s); logging to stderr only",
                    folder, exc.strerror)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    return handler


def listing(folder: Path | str) -> list[dict]:
    """The log files, newest first: name, size in bytes, modified (Unix time)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for e in entries:
        if _NAME.match(e.name) and e.is_file(follow_symlinks=False):
            st = e.stat(follow_symlinks=False)
            out.append({"name": e.name, "bytes": st.st_size, "modified": st.st_mtime})
    return sorted(out, key=lambda f: f["modified"], reverse=True)


def find(folder: Path | str, name: str) -> Path | None:
    """The file `name` of the log folder, or None when `name` is not one of its
    log files (any other name, any path, a symlink)."""
    if not _NAME.match(name):
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
