"""A camera that is not there is a state the mirror shows, never a failed start
(DESIGN.md, Processes); `auto` takes the camera that is there; the demo only
when asked; a model that will not load is the one thing that stops the start."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from device.config import CameraConfig
from device.errors import CameraError
from device.vision import cameras
from tests import fakes
from tests.helpers import assert_console_answers, free_port, job, listen, messages, stop_and_close


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def start_run(tmp_path, config: str, env: dict, *args: str):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n[log]\ndir = "{tmp_path}/log"\n'
                   + config)
    out = open(tmp_path / "run.out", "wb")  # noqa: SIM115 - closed by the caller
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--config", str(cfg),
                             "--host", "127.0.0.1", *args], env={**os.environ, **env},
                            stdout=out, stderr=subprocess.STDOUT)
    return proc, out


def test_a_configured_camera_away_past_the_start_limit_is_served_and_ready(tmp_path,
                                                                          model_path):
    """The appliance with `[camera] source = "7"` and no camera 7: ready once the
    model is loaded; the page, /healthz and the staff console answer; still
    running past the start limit (2 s here, 120 s before), with no restart."""
    sock = listen(tmp_path / "notify")
    port, tls_port = free_port(), free_port()
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify"),
           "HINGE_MIRROR_LIMITS": "ready_s=2,camera_retry_s=0.5"}
    t0 = time.monotonic()
    proc, out = start_run(tmp_path, f'[camera]\nsource = "7"\n[server]\nhttps_port = {tls_port}\n'
                          'https_host = "127.0.0.1"\n', env, "--port", str(port))
    try:
        got: list[str] = []
        while time.monotonic() - t0 < 60 and not any(m.startswith("READY=1") for m in got):
            got += messages(sock, time.monotonic() + 0.2)
            assert proc.poll() is None, (tmp_path / "run.out").read_text()
        assert any(m.startswith("READY=1") for m in got), (tmp_path / "run.out").read_text()
        status, page = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and b'data-testid="rep-count"' in page
        time.sleep(3 * 2)  # three times the start limit
        assert proc.poll() is None, (tmp_path / "run.out").read_text()
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        # 503: the device serves, but something (here the camera) is not well.
        assert status == 503 and health["ok"] is False
        cam = health["camera"]
        assert cam["ok"] is False and cam["reason"].startswith("camera 7: cannot be opened")
        assert cam["words"] and cam["retry_in_s"] <= 0.5
        assert health["model"]["loaded"] is True and health["supervisor"] == {
            "state": "running", "pid": health["supervisor"]["pid"], "restarts": 0,
            "last_restart": None}
        # The glass says why; the staff console is served (over HTTPS).
        _, state = get(f"http://127.0.0.1:{port}/api/state")
        snap = json.loads(state)["state"]
        assert snap["camera"] == "unavailable" and snap["camera_text"] == cam["words"]
        assert_console_answers(tmp_path / "data" / "tls.crt", tls_port)
        log = (tmp_path / "log" / "hinge-mirror.log").read_text()
        assert "camera 7: cannot be opened" in log and "restarting" not in log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_and_close(proc, out, sock)


@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_a_model_that_will_not_load_stops_the_start_in_one_line(tmp_path, broken):
    """Even with the camera away (the camera was waited for first, 120 s)."""
    from device.vision import modelfiles

    models = tmp_path / "models"
    models.mkdir()
    if broken == "corrupt":
        spec = modelfiles.load_manifest()[modelfiles.DEFAULT_MODEL]
        (models / spec.file).write_bytes(b"\0" * 1000)
    t0 = time.monotonic()
    proc, out = start_run(tmp_path, '[camera]\nsource = "7"\n[server]\nhttps_port = 0\n',
                          {modelfiles.INSTALL_ENV: str(models)}, "--port", "0")
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        out.close()
    said = [line for line in (tmp_path / "run.out").read_text().splitlines()
            if " INFO " not in line and " WARNING " not in line]
    assert code == 2 and len(said) == 1, said
    assert said[0].startswith(f"hinge-mirror: error: model {models}/")
    assert "hinge-mirror models fetch" in said[0]
    assert time.monotonic() - t0 < 60


def test_a_camera_plugged_in_10_s_after_start_is_picked_up(rig):  # noqa: F811
    r = rig(job(open_source=functools.partial(fakes.open_auto, webcams_from_s=10.0),
                backoff_s=(1.0, 2.0)))
    t0 = time.monotonic()
    r.sup.start()  # ready with no camera: it does not wait for one
    assert time.monotonic() - t0 < 8.0
    away = r.wait(lambda: (r.sup.health()["camera"].get("reason_id") and r.sup.health()), 5,
                  "the camera reported away")
    assert away["ok"] is False and away["camera"]["reason_id"] == "not_found"
    assert away["camera"]["reason"].startswith("camera auto: no camera found")
    assert r.snaps[-1]["camera"] == "unavailable" and r.snaps[-1]["camera_reason"] == "not_found"
    r.wait(lambda: r.sup.health()["ok"], 30, "the webcam plugged in")
    assert time.monotonic() - t0 >= 10.0
    assert r.sup.source_info["source"] == "camera 0" and not r.sup.source_info["demo"]
    assert r.kinds()[0] == "camera_retry" and "camera_back" in r.kinds()
    assert "pipeline_restart" not in r.kinds()


def test_the_appliance_with_a_failing_webcam_never_shows_the_demo(rig):  # noqa: F811
    r = rig(job(open_source=functools.partial(fakes.open_auto, webcam_opens=False),
                backoff_s=(0.3,)))
    r.sup.start()
    r.wait(lambda: len([s for s in r.snaps if s.get("camera") == "unavailable"]) >= 4, 15,
           "four tries")
    assert not any(s.get("demo") for s in r.snaps)
    assert r.sup.source_info is None and r.sup.state == "running"
    cam = r.sup.health()["camera"]
    assert cam["reason_id"] == "cannot_open" and "/dev/video0 (Fake Webcam, uvcvideo)" in (
        cam["reason"])


def test_no_config_file_and_no_model_is_the_demo(rig):  # noqa: F811
    """A laptop's `make run` offline: the demo needs no model."""
    r = rig(job(open_source=functools.partial(fakes.open_auto, webcams_from_s=None, demo=True),
                load_pose=fakes.no_model, demo_fallback=True))
    r.sup.start()
    r.wait(lambda: r.sup.source_info, 10, "a source")
    assert r.sup.source_info["demo"] is True


# -- `auto`, in this process -----------------------------------------------------


@pytest.fixture
def fake_cameras(monkeypatch):
    """picamera2 importable; libcamera's list, /dev/video* and OpenCV faked."""
    import types

    listed: list[dict] = []
    opened: list[str] = []
    pc2, lc = types.ModuleType("picamera2"), types.ModuleType("libcamera")

    class Picamera2:
        global_camera_info = staticmethod(lambda: list(listed))

        def __init__(self):
            opened.append("picamera2")
            raise RuntimeError("Failed to acquire camera: Device or resource busy")

    pc2.Picamera2, lc.Transform = Picamera2, lambda **kw: None
    monkeypatch.setitem(sys.modules, "picamera2", pc2)
    monkeypatch.setitem(sys.modules, "libcamera", lc)
    nodes: list[cameras.V4L2Node] = []
    opens: dict[int, bool] = {}

    def webcam(index, size=None, mount=None):
        opened.append(f"video{index}")
        if not opens.get(index, True):
            raise CameraError(f"camera {index}: cannot be opened or gives no frames; check")
        return fakes.FakeWebcam(index)

    monkeypatch.setattr(cameras, "webcam_nodes", lambda: list(nodes))
    monkeypatch.setattr(cameras, "OpenCVSource", webcam)
    return types.SimpleNamespace(listed=listed, nodes=nodes, opens=opens, opened=opened)


def test_auto_with_picamera2_but_no_camera_takes_the_webcam(fake_cameras, caplog):
    fake_cameras.nodes.append(cameras.V4L2Node(0, "HD Webcam", "uvcvideo"))
    with caplog.at_level(logging.INFO, "device.vision.cameras"):
        source, demo = cameras.open_source("auto", CameraConfig(), loop=False)
    assert source.name == "camera 0" and demo is False
    assert fake_cameras.opened == ["video0"]  # libcamera listed none: not even tried
    assert "camera auto: /dev/video0 (HD Webcam, uvcvideo), the first webcam that gives " \
           "pictures (libcamera lists no camera)" in caplog.text


def test_auto_falls_through_each_camera_that_will_not_open(fake_cameras, caplog):
    fake_cameras.listed.append({"Model": "imx708", "Id": "/base/soc/i2c0mux/imx708@1a"})
    fake_cameras.nodes.extend([cameras.V4L2Node(0, "Old", "uvcvideo"),
                               cameras.V4L2Node(2, "New", "uvcvideo")])
    fake_cameras.opens[0] = False
    with caplog.at_level(logging.INFO, "device.vision.cameras"):
        source, _ = cameras.open_source("auto", CameraConfig(), loop=False)
    assert source.name == "camera 2" and fake_cameras.opened == ["picamera2", "video0", "video2"]
    assert "libcamera's would not open" in caplog.text
    fake_cameras.opens[2] = False  # none opens: the error names each
    with pytest.raises(CameraError) as err:
        cameras.open_source("auto", CameraConfig(), loop=False, demo=True)
    assert err.value.reason == "cannot_open"  # there but will not open: never the demo
    assert "imx708" in str(err.value) and "/dev/video0 (Old" in str(err.value) and (
        "/dev/video2 (New" in str(err.value))


def test_auto_with_no_camera_is_the_demo_only_when_asked(fake_cameras, caplog):
    with pytest.raises(CameraError, match="camera auto: no camera found") as err:
        cameras.open_source("auto", CameraConfig(), loop=False)
    assert err.value.reason == "not_found" and "demo" not in caplog.text
    source, demo = cameras.open_source("auto", CameraConfig(), loop=False, demo=True)
    assert demo is True and source.name == "demo (synthetic)"
    assert "starting the built-in demo" in caplog.text and "no config file" in caplog.text


def test_webcam_nodes_skip_metadata_and_libcamera_only_nodes(monkeypatch):
    asked = {"/dev/video0": ("uvcvideo", "HD Webcam", 0x04200001),  # capture
             "/dev/video1": ("uvcvideo", "HD Webcam", 0x04a00000),  # its metadata node
             "/dev/video10": ("bcm2835-codec", "bcm2835-codec-decode", 0x04204000),  # m2m
             "/dev/video19": ("rp1-cfe", "rp1-cfe", 0x04a00001),  # raw: libcamera's
             "/dev/video3": None}  # cannot be asked: OpenCV may try
    monkeypatch.setattr(cameras.glob, "glob", lambda pattern: list(asked))
    monkeypatch.setattr(cameras, "query_node", lambda path: asked[path])
    assert [(n.index, n.driver) for n in cameras.webcam_nodes()] == [(0, "uvcvideo"), (3, "")]


def test_run_plays_the_demo_fallback_only_without_a_config_file(tmp_path, monkeypatch):
    import device.app as app
    import device.cli as cli

    seen = {}
    monkeypatch.setattr(app, "run_device", lambda config, **kw: seen.update(kw) or 0)
    monkeypatch.delenv("HINGE_MIRROR_CONFIG", raising=False)
    monkeypatch.setattr(cli, "SYSTEM_CONFIG", tmp_path / "none.toml")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 0 and seen["demo_fallback"] is True
    cfg = tmp_path / "c.toml"
    cfg.write_text('[store]\npath = "s.db"\n')
    assert cli.main(["run", "--config", str(cfg)]) == 0 and seen["demo_fallback"] is False
    monkeypatch.setenv("HINGE_MIRROR_CONFIG", str(cfg))  # the unit's way
    assert cli.main(["run"]) == 0 and seen["demo_fallback"] is False
