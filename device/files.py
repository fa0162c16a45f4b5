"""Writing a file so that a reader, a crash or a full disk finds the old file or
the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path

from device.errors import HingeMirrorError


def atomic_write(path: Path | str, data: bytes, *, what: str = "file",
                 keeps: str = "nothing was changed", mode: int = 0o644) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over
    `path`, fsync the folder. A failure is one HingeMirrorError naming `what`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # A private file's new folders are private too (their names tell dates).
        folder_mode = 0o777 if mode & 0o077 else 0o700
        for folder in reversed([path.parent, *path.parent.parents]):
            if not folder.exists():
                folder.mkdir(mode=folder_mode, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is what failed (gone, or a file)
            pass
        raise HingeMirrorError(f"{what} {path}: cannot be written ({exc.strerror}); {keeps}; "
                               "free some space or check the folder's permissions") from None


def output_file(path: Path | str, what: str, option: str) -> Path:
    """A file the user named for a command to write, checked before the work
    starts: its folder must exist (a typo is not made into new folders) and
    be writable, and the path must not be a folder. One HingeMirrorError
    naming `what` and the `option` to fix it with ("-o", "--html", "path")."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise HingeMirrorError(f"{what} {path}: is a folder; give a file in it as {option}")
    if not folder.is_dir():
        raise HingeMirrorError(f"{what} {path}: folder {folder} does not exist; create it "
                               f"or give another {option}")
    if not os.access(folder, os.W_OK):
        raise HingeMirrorError(f"{what} {path}: folder {folder} is not writable; give "
                               f"another {option}")
    return path


def not_a_file(what: str, path: Path | str) -> HingeMirrorError:
    """The one line for a file to read that is not there: a folder, or nothing."""
    if Path(path).is_dir():
        return HingeMirrorError(f"{what} {path}: is a folder, not a file; give the file's path")
    return HingeMirrorError(f"{what} {path}: no such file; check the path")
