"""MQTT publishing against a real Mosquitto (Debian's `mosquitto`) on loopback,
started and stopped by these tests."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from device.config import MqttConfig
from tests.helpers import coach_events, free_port, unavailable

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """A mosquitto on 127.0.0.1:port, persistent in `folder`, started and stopped at will."""

    def __init__(self, folder: Path, port: int) -> None:
        if not Path(MOSQUITTO).exists():
            unavailable("mosquitto is not installed (apt install mosquitto)")
        self.port, self.proc = port, None
        self.conf = folder / "mosquitto.conf"
        # `user`: started as root (CI), mosquitto would drop to its own user,
        # who cannot write this test's folder.
        self.conf.write_text(f"user {getpass.getuser()}\n"
                             f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {folder}/\n"
                             f"log_dest file {folder}/mosquitto.log\n")

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: it saves its persistent sessions
            self.proc.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path, free_port())
    b.start()
    yield b
    b.stop()


class Subscriber:
    """A persistent-session subscriber: what the broker keeps for it while it is
    away arrives when it comes back."""

    def __init__(self, port: int) -> None:
        self.got: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.port = port

    def _message(self, client, userdata, msg) -> None:
        with self.lock:
            self.got.append((msg.topic, json.loads(msg.payload)))

    def connect(self) -> None:
        import paho.mqtt.client as mqtt

        # A new client each time (paho's loop_start leaks a socket pair when a
        # client is started twice); the same id: the broker's session is its own.
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber",
                        clean_session=False)
        c.on_connect = lambda c, u, f, rc, p: c.subscribe("hinge-mirror/#", qos=1)
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_message = self._message
        self.client = c
        self.subscribed.clear()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, n: int, timeout_s: float = 30.0) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.05)
        with self.lock:
            return list(self.got)


def test_reps_sets_and_sessions_reach_the_broker_without_personal_data(broker):
    from device.service.mqtt import Publisher

    sub = Subscriber(broker.port)
    sub.connect()
    events, _ = coach_events(reps=3, style="hinge", tail_s=12.0)
    wanted = [e for e in events if e["type"] in ("rep", "set_started", "set_ended",
                                                 "session_started", "session_ended")]
    pub = Publisher(MqttConfig(enabled=True, host="127.0.0.1", port=broker.port,
                               device="mirror-2"))
    # Whatever else an event might one day carry, only the coach's figures leave.
    events = [dict(e, client_code="K-017", name="Jane Doe") if e["type"] == "rep" else e
              for e in events]
    try:
        pub.on_events(events)
        got = sub.wait_for(len(wanted))
    finally:
        pub.close()
        sub.disconnect()
    assert [t for t, _ in got] == [f"hinge-mirror/mirror-2/{e['type']}" for e in wanted]
    reps = [p for t, p in got if t.endswith("/rep")]
    assert len(reps) == 3 and all(p["device"] == "mirror-2" for p in reps)
    assert [p["index"] for p in reps] == [e["index"] for e in wanted if e["type"] == "rep"]
    text = json.dumps([p for _, p in got])
    assert "K-017" not in text and "Jane" not in text and "client" not in text
    sent = [e for e in wanted if e["type"] == "rep"]
    assert [(p["hip_deg"], p["faults"]) for p in reps] == [(e["hip_deg"], e["faults"])
                                                           for e in sent]
    assert pub.status()["sent"] == len(wanted) and pub.status()["dropped"] == 0


def test_a_broker_that_is_down_never_blocks_and_the_outbox_stays_bounded(broker):
    from device.service.mqtt import Publisher

    sub = Subscriber(broker.port)
    sub.connect()  # its subscription is kept by the broker while it is away
    sub.disconnect()
    broker.stop()
    pub = Publisher(MqttConfig(enabled=True, host="127.0.0.1", port=broker.port,
                               device="mirror-3", outbox=50))
    try:
        rep = next(e for e in coach_events(reps=1, style="hinge")[0] if e["type"] == "rep")
        started = time.monotonic()
        for i in range(500):
            pub.on_events([dict(rep, index=i + 1)])
        assert time.monotonic() - started < 5.0  # generous: only proves it does not wait
        status = pub.status()
        assert not status["connected"] and status["waiting"] == 50
        assert status["dropped"] == 450
        broker.start()  # the broker is back: the outbox drains on paho's reconnect
        deadline = time.monotonic() + 60
        while pub.status()["sent"] < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pub.status()["sent"] == 50 and pub.status()["waiting"] == 0
    finally:
        pub.close()
    sub.connect()
    got = sub.wait_for(50)
    sub.disconnect()
    # The newest 50 arrive in order; the oldest were the ones let go.
    assert [p["index"] for _, p in got] == list(range(451, 501))
