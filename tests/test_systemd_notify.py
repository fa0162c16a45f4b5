"""systemd's notify protocol, as `Type=notify` and `WatchdogSec=` see it: a real
`hinge-mirror run` with $NOTIFY_SOCKET pointing at a socket of this test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from device.service import systemd
from tests.helpers import assert_console_answers, free_port, listen, messages, stop_and_close


def test_ready_after_the_pipeline_is_up_then_watchdog_pings_then_stopping(tmp_path):
    sock = listen(tmp_path / "notify")
    port = free_port()
    cfg = tmp_path / "c.toml"
    tls_port = free_port()
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n[log]\ndir = "{tmp_path}/log"\n'
                   f'[server]\nhttps_port = {tls_port}\nhttps_host = "127.0.0.1"\n')
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify"), WATCHDOG_USEC="1000000")
    env.pop("WATCHDOG_PID", None)
    out = open(tmp_path / "run.out", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--source", "demo",
                             "--host", "127.0.0.1", "--port", str(port), "--config", str(cfg)],
                            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        got: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(m.startswith("READY=1") for m in got):
            got += messages(sock, time.monotonic() + 0.5)
        ready = next((m for m in got if m.startswith("READY=1")), None)
        assert ready, (tmp_path / "run.out").read_text()
        assert "STATUS=mirror on port" in ready and "demo" in ready
        # READY means the page answers and the model is loaded; the source's
        # first frames make /healthz well within moments.
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200
                    break
            except urllib.error.HTTPError as exc:
                exc.close()
                assert exc.code == 503 and time.monotonic() < deadline
                time.sleep(0.1)
        # The first scheduled backup is made at the first start, beside the store.
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                backup = json.load(r)["backup"]
            if backup["kept"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert backup["kept"] == 1 and backup["every_h"] == 24 and backup["error"] is None
        assert len(list((tmp_path / "data/backups").glob("hinge-mirror-*.tar.gz"))) == 1
        # The staff console answers over HTTPS with the certificate made beside the store.
        assert_console_answers(tmp_path / "data" / "tls.crt", tls_port)
        pings = [m for m in messages(sock, time.monotonic() + 2.5) if m == "WATCHDOG=1"]
        assert len(pings) >= 3  # every 0.5 s with WatchdogSec=1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "STOPPING=1" in messages(sock, time.monotonic() + 1.0)
    finally:
        stop_and_close(proc, out, sock)


def test_the_watchdog_is_fed_only_while_healthy(tmp_path, monkeypatch):
    sock = listen(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    healthy = [True]
    dog = systemd.Watchdog(lambda: healthy[0])
    try:
        assert len(messages(sock, time.monotonic() + 1.0)) >= 5
        healthy[0] = False
        time.sleep(0.3)
        messages(sock, time.monotonic() + 0.2)  # what was in flight
        assert messages(sock, time.monotonic() + 1.0) == []
    finally:
        dog.stop()
        sock.close()
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog: not ours to feed
    assert systemd.watchdog_interval_s() is None
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert systemd.notify("READY=1") is False  # outside systemd: nothing, no error
