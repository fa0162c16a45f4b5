from __future__ import annotations

import json

import pytest

from device.service.hub import StateHub
from web_ui import create_app


@pytest.fixture
def hub():
    return StateHub()


@pytest.fixture
def health():
    report = {"ok": True}
    return report


@pytest.fixture
def client(hub, health):
    app = create_app({"TESTING": True, "SSE_KEEPALIVE_S": 0.2}, hub=hub, health=lambda: health)
    return app.test_client()


def test_mirror_page_has_the_rep_count(client):
    html = client.get("/").get_data(as_text=True)
    assert 'data-testid="rep-count"' in html and "mirror.js" in html


def test_state_is_the_latest_snapshot(client, hub):
    assert client.get("/api/state").get_json() == {"seq": 0, "state": None}
    hub.publish({"rep_count": 2})
    hub.publish({"rep_count": 3})
    assert client.get("/api/state").get_json() == {"seq": 2, "state": {"rep_count": 3}}


def test_healthz_status_follows_the_report(client, health):
    assert client.get("/healthz").status_code == 200
    health["ok"] = False
    assert client.get("/healthz").status_code == 503


def test_stream_sends_the_newest_snapshot_then_keepalives(client, hub):
    hub.publish({"rep_count": 1})
    hub.publish({"rep_count": 4})
    resp = client.get("/api/stream", buffered=False)
    assert resp.mimetype == "text/event-stream"
    chunks = resp.response
    assert next(chunks).startswith(b"retry:")
    event = next(chunks).decode()
    assert event.startswith("id: 2\n")
    assert json.loads(event.split("data: ", 1)[1]) == {"rep_count": 4}
    assert next(chunks) == b"event: alive\ndata: {}\n\n"  # nothing new within the keep-alive
    resp.close()


def test_state_after_a_bad_frame_is_strict_json(client, hub):
    # A NaN keypoint used to reach the page as a bare NaN, which JSON.parse rejects.
    import numpy as np

    from device.core.coach import Coach
    from device.core.synth import Session, session_track

    kp, t, size = session_track(Session(reps=1))
    kp[5, 13, 0] = np.nan
    coach = Coach()
    for k, ts in zip(kp, t, strict=True):
        coach.update(k, float(ts), size[1] / size[0])
    hub.publish(coach.snapshot())

    def refuse(token):
        raise ValueError(token)

    body = json.loads(client.get("/api/state").get_data(as_text=True), parse_constant=refuse)
    assert body["state"]["rep_count"] == 1


def test_the_page_json_refuses_nan_rather_than_sending_it():
    from web_ui.mirror import to_json

    with pytest.raises(ValueError):
        to_json({"hip_deg": float("nan")})


def test_cues_are_spoken_by_the_device(client):
    from web_ui.speech import Speaker

    assert client.get("/api/speech/no_such_cue").status_code == 404
    resp = client.get("/api/speech/praise")
    if not Speaker().available:
        from tests.helpers import unavailable

        assert resp.status_code == 503
        unavailable("espeak-ng not installed (apt install espeak-ng): cues cannot be spoken")
    assert resp.status_code == 200 and resp.mimetype == "audio/wav"
    assert resp.data[:4] == b"RIFF" and len(resp.data) > 10_000  # about a second of speech


def test_metrics_in_the_prometheus_format_count_frames_reps_and_faults(hub):
    from prometheus_client.parser import text_string_to_metric_families

    from device.core.coach import Coach
    from device.core.synth import Session, session_track
    from device.service.metrics import Metrics
    from device.service.pipeline import Processor
    from device.vision.sources import Frame

    metrics = Metrics()
    app = create_app({"TESTING": True}, hub=hub, health=lambda: {"ok": True}, metrics=metrics)
    kp, t, size = session_track(Session(reps=3, style="squat"))
    processor = Processor(None, Coach(), hub, metrics=metrics)
    for k, ts in zip(kp, t, strict=True):
        processor.process(Frame(t_s=float(ts), keypoints=k, size=size))
    metrics.device_event("camera_lost")
    metrics.device_event("pipeline_restart", "killed by signal SIGKILL")
    body = app.test_client().get("/metrics")
    assert body.status_code == 200 and body.mimetype == "text/plain"
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for fam in text_string_to_metric_families(body.get_data(as_text=True))
              for s in fam.samples}
    assert values[("hinge_mirror_frames_total", ())] == len(t)
    assert values[("hinge_mirror_reps_total", ())] == 3
    assert values[("hinge_mirror_faults_total", (("fault", "knees_bent_too_much"),))] == 3
    assert values[("hinge_mirror_camera_lost_total", ())] == 1
    assert values[("hinge_mirror_pipeline_restarts_total", ())] == 1
    assert values[("hinge_mirror_stream_clients", ())] == 0


def test_the_consoles_addresses_by_number_are_this_machines(monkeypatch):
    """Issue 25, item 5: the glass shows the console's addresses beside NAME.local
    (networks without mDNS): each of this machine's IPv4 addresses but loopback,
    as `ip` lists them; only the one the console listens on, if it is given one."""
    import ipaddress
    import shutil
    import subprocess

    from device import app
    from device.service.system import addresses

    found = addresses()
    assert all(not ipaddress.ip_address(a).is_loopback for a in found)
    if shutil.which("ip"):
        listed = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
        ips = [w.split("/")[0] for line in listed.splitlines() for i, w in
               enumerate(line.split()) if i and line.split()[i - 1] == "inet"]
        assert sorted(found) == sorted(ip for ip in ips if not ip.startswith("127."))
    monkeypatch.setattr(app, "addresses", lambda: ["192.168.1.20", "10.0.0.7"])
    assert app._staff_addresses("0.0.0.0", 8443) == ["https://192.168.1.20:8443/staff/",
                                                     "https://10.0.0.7:8443/staff/"]
    assert app._staff_addresses("10.0.0.7", 8443) == ["https://10.0.0.7:8443/staff/"]
    assert app._staff_addresses("127.0.0.1", 8443) == []
