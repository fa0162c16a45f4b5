"""Optional: rep, set and session events to an MQTT broker (paho-mqtt), off by default.

For clinics that run many mirrors and gather their figures elsewhere. Each
event goes to ``TOPIC/DEVICE/TYPE`` (e.g. ``hinge-mirror/mirror-2/rep``) as
JSON, QoS 1 (at least once). Nothing personal: the coach's figures only; a
client code is tagged later on the staff pages and never published.

A broker that is down never blocks coaching: `on_events` only appends to a
bounded outbox (the oldest event goes first when it is full, and is counted);
a sender thread hands events to paho while connected, and paho reconnects
with backoff on its own.
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import threading
import time

from device.config import MqttConfig

log = logging.getLogger(__name__)

PUBLISHED = ("rep", "partial", "set_started", "set_ended", "session_started", "session_ended")
# The only fields that leave the device: the coach's own figures and ids. A key
# not listed here (a client code, a name, anything added later) is never sent.
FIELDS = frozenset({
    "type", "t_s", "session", "set", "index", "reason", "reps", "sets",
    "start_s", "bottom_s", "end_s", "down_s", "up_s", "hinge_deg", "knee_deg", "hip_deg",
    "faults", "unjudged", "view", "confidence", "score", "depth_by", "hip_drop",
    "down_s_mean", "up_s_mean", "rep_period_s", "depth_trend_deg_per_rep", "faults_per_rep",
    "peak_hip_deg"})


class Publisher:
    def __init__(self, config: MqttConfig, *, clock=time.time) -> None:
        import paho.mqtt.client as mqtt

        self._mqtt = mqtt
        self.device = config.device or socket.gethostname()
        self.prefix = f"{config.topic.strip('/')}/{self.device}"
        self.outbox: collections.deque[tuple[str, str]] = collections.deque(
            maxlen=config.outbox)
        self.dropped = 0  # events pushed out of a full outbox
        self.sent = 0  # events the broker acknowledged
        self.connected = False
        self._clock = clock
        self._cv = threading.Condition()
        self._stop = False
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"hinge-mirror-{self.device}")
        if config.username:
            client.username_pw_set(config.username, config.password or None)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self.client = client
        self.where = f"{config.host}:{config.port}"
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()  # paho's network thread; it retries the connection itself
        self._thread = threading.Thread(target=self._send, name="mqtt-outbox", daemon=True)
        self._thread.start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        ok = not reason_code.is_failure
        if ok:
            log.info("mqtt: connected to %s", self.where)
        else:
            log.warning("mqtt: %s refused the connection (%s)", self.where, reason_code)
        with self._cv:
            self.connected = ok
            self._cv.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected:
            log.warning("mqtt: lost %s (%s); events wait in the outbox", self.where,
                        reason_code)
        with self._cv:
            self.connected = False

    def on_events(self, events: list[dict]) -> None:
        """Queue the events worth publishing; never waits for the network."""
        with self._cv:
            for e in events:
                if e.get("type") not in PUBLISHED:
                    continue
                if len(self.outbox) == self.outbox.maxlen:
                    self.dropped += 1
                payload = {k: v for k, v in e.items() if k in FIELDS}
                payload.update(device=self.device, at=round(self._clock(), 3))
                self.outbox.append((f"{self.prefix}/{e['type']}",
                                    json.dumps(payload, allow_nan=False, default=str)))
            self._cv.notify_all()

    def _send(self) -> None:
        while True:
            with self._cv:
                while not self._stop and not (self.connected and self.outbox):
                    self._cv.wait(1.0)
                if self._stop:
                    return
                topic, payload = self.outbox.popleft()
            info = self.client.publish(topic, payload, qos=1)
            try:
                info.wait_for_publish(timeout=10.0)
            except (RuntimeError, ValueError):
                pass
            if info.is_published():
                self.sent += 1
            elif info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                with self._cv:  # not taken at all: back to the front of the line
                    if len(self.outbox) < self.outbox.maxlen:
                        self.outbox.appendleft((topic, payload))
                    else:
                        self.dropped += 1
                time.sleep(0.5)
            # else: paho holds it and sends it again after reconnecting.

    def status(self) -> dict:
        with self._cv:
            return {"broker": self.where, "connected": self.connected,
                    "waiting": len(self.outbox), "sent": self.sent, "dropped": self.dropped}

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=2.0)
        self.client.disconnect()
        self.client.loop_stop()
