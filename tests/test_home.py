"""A home with nobody to ask (issue 26, item 5 in part): `[device] mode = "home"`
has no staff console on the network unless asked for, nothing of the staff's on
the glass, and `[store] record = false` coaches without storing a session."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request

from device.core.synth import Session, session_track
from device.vision.tracks import Track, save_track
from tests.helpers import free_port, listening


def run_a_session(tmp_path, device: str, record: bool) -> dict:
    """A real `hinge-mirror run` over a synthetic track of 3 reps, to its end."""
    kp, t, size = session_track(Session(reps=3, lead_s=2.0, tail_s=1.0))
    tmp_path.mkdir(parents=True)
    track = tmp_path / "three.npz"
    save_track(track, Track(kp, t, size))
    tls_port, port = free_port(), free_port()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/s.db"\nrecord = {str(record).lower()}\n'
                   f'[log]\ndir = "{tmp_path}/log"\n[backup]\nevery_h = 0\n'
                   f'[server]\nhttps_port = {tls_port}\n[device]\n{device}\n')
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--source", str(track),
                             "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:  # until the recording has run out (realtime: about 12 s)
            assert proc.poll() is None and time.monotonic() < deadline, "run ended or hung"
            try:
                with urllib.request.urlopen(f"{base}/api/state", timeout=2) as r:
                    snap = json.load(r)["state"] or {}
                if snap.get("camera") == "ended":
                    break
            except OSError:
                pass
            time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/", timeout=5) as r:
            page = r.read().decode()
        out = {"snap": snap, "page": page, "tls": listening(tls_port),
               "log": (tmp_path / "log" / "hinge-mirror.log").read_text()}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with sqlite3.connect(tmp_path / "s.db") as db:
        out["sessions"] = db.execute("SELECT COUNT(*), COALESCE(SUM(reps), 0) FROM sessions"
                                     ).fetchone()
        out["events"] = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY id")]
    return out


def test_at_home_no_console_on_the_network_nothing_staff_on_the_glass_and_no_recording(
        tmp_path):
    home = run_a_session(tmp_path / "home", 'mode = "home"', record=False)
    assert home["snap"]["rep_count"] == 3  # coached and counted all the same
    assert home["tls"] == set()  # no console on the network
    assert 'data-testid="staff-link"' not in home["page"]
    assert re.search(r"staff console: off on the network at home", home["log"])
    assert home["sessions"] == (0, 0)  # nothing stored of the person
    assert home["events"][0] == "start" and home["events"][-1] == "stop"
    # The twin: a clinic's mirror, recording, its console on HTTPS and on the glass.
    clinic = run_a_session(tmp_path / "clinic", 'mode = "clinic"', record=True)
    assert clinic["snap"]["rep_count"] == 3
    assert clinic["tls"] == {"127.0.0.1"}
    assert 'data-testid="staff-link"' in clinic["page"]
    assert clinic["sessions"] == (1, 3)
