"""One device per store: `run` holds an exclusive lock beside the store's file.

`fcntl.flock` on `<store>.lock`, taken without waiting: the kernel lets it go
when the process ends in any way (a crash and a SIGKILL too), so a lock is
never left behind. The file holds the holder's pid and command line, for the
one line a second `run` on the same data folder gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from device.errors import HingeMirrorError


def lock_path(store: Path | str) -> Path:
    return Path(str(store) + ".lock")


@contextlib.contextmanager
def holding(store: Path | str) -> Iterator[Path]:
    """The store's lock, held until the block ends; a one-line error naming the
    process that holds it when another does."""
    path = lock_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise HingeMirrorError(f"store {store}: its lock {path} cannot be opened "
                               f"({exc.strerror}); check the [store] path's folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            raise HingeMirrorError(
                f"store {store}: already in use by {holder}; stop that device first, or give "
                "this one its own [store] path") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv) or 'python'})\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # the lock goes with the descriptor
