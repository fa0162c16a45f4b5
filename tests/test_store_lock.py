"""One device per store (issue 25, item 2): a second `run` on the same data
folder is refused in one line that names the process holding it; the lock
goes with the process, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from device.errors import HingeMirrorError
from device.store import lock

HOLD = ("import sys, time\n"
        "from device.store import lock\n"
        "with lock.holding(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")


def holder(store):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(store)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_device_on_the_same_store_is_refused_naming_the_first(tmp_path):
    store = tmp_path / "data" / "s.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n[server]\nhttps_port = 0\n[log]\ndir = ""\n')
    first = holder(store)
    try:
        # In a process of its own: without the lock it would start, and run on.
        second = subprocess.run([sys.executable, "-m", "device.cli", "run", "--source", "demo",
                                 "--host", "127.0.0.1", "--port", "0", "--config", str(cfg)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        err = second.stderr.strip().splitlines()
        assert len(err) == 1 and f"already in use by pid {first.pid}" in err[0], err
        assert str(store) in err[0] and "[store] path" in err[0]
        # Nothing written by the refused one beside the store: no secret key, no
        # certificate, no store (only the lock file the first one holds).
        assert sorted(p.name for p in store.parent.iterdir()) == ["s.db.lock"]
    finally:
        first.kill()
        first.wait()
        first.stdout.close()


def test_the_lock_goes_with_its_process_even_a_killed_one(tmp_path):
    store = tmp_path / "s.db"
    first = holder(store)
    with pytest.raises(HingeMirrorError, match=f"pid {first.pid}"):
        with lock.holding(store):
            pass
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    first.stdout.close()
    deadline = time.monotonic() + 10
    while True:  # the kernel frees it with the process
        try:
            with lock.holding(store):
                break
        except HingeMirrorError:
            assert time.monotonic() < deadline, "the lock outlived its process"
            time.sleep(0.05)
    with lock.holding(store):  # and again: released at the block's end
        pass
