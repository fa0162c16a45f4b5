"""Helpers the test modules share: one place, so that no test module imports
another's. Fixtures live in conftest.py; fakes of the device's parts in fakes.py."""

from __future__ import annotations

import functools
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from device.core.coach import Coach, CoachParams, analyze
from device.core.synth import Session, session_track
from device.service.child import Job
from device.service.hub import StateHub
from device.service.supervisor import Supervisor
from device.store import Recorder, accounts, connect
from tests import fakes
from web_ui import create_app

REPO = Path(__file__).resolve().parents[1]
REQUIRE_ALL = os.environ.get("HINGE_MIRROR_REQUIRE_ALL") == "1"

def unavailable(reason: str):
    """Skip with the reason, or fail where everything must be there (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (HINGE_MIRROR_REQUIRE_ALL=1: required here)")
    pytest.skip(reason)

PASSWORD = "correct horse battery"


def make_app(store=None, config: dict | None = None, **parts):
    """The web app as tests build it: with `store`, the staff console on it;
    `config` over the test defaults; `parts` (hub, health, settings, framing,
    speaker, metrics) as create_app takes them, a fresh hub and a healthy
    device unless given."""
    base = {"TESTING": True, "SECRET_KEY": "test-only"}
    if store is not None:
        base["STORE_PATH"] = str(store)
    parts.setdefault("hub", StateHub())
    parts.setdefault("health", lambda: {"ok": True, "uptime_s": 1})
    return create_app({**base, **(config or {})}, **parts)


def token(client, path="/staff/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"',
                     client.get(path).get_data(as_text=True)).group(1)


def login(app, name="ana", role="admin", store=None):
    """A test client logged in as `name` (added to `store` first, if given)."""
    if store is not None:
        accounts.add(connect(store), name, role, PASSWORD)
    client = app.test_client()
    resp = client.post("/staff/login", data={"name": name, "password": PASSWORD,
                                             "csrf_token": token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def post(client, path, data, page=None):
    return client.post(path, data={**data, "csrf_token": token(client, page or path)})


def program_store(tmp_path, program: dict, code: str = "K-017") -> Path:
    """A store holding one client's program, set by ana."""
    from device.store import programs

    path = tmp_path / "s.db"
    with connect(path) as conn:
        programs.save(conn, code, programs.parse(program), "ana")
    return path


def coach_events(**kw) -> tuple[list[dict], dict]:
    """A synthetic session's coach events, then nobody for 11 s (the set and the
    session end), and its analysis report."""
    kp, t, size = session_track(Session(**kw))
    coach, events = Coach(CoachParams(set_idle_s=3.0)), []
    for k, ts in zip(kp, t, strict=True):
        events += coach.update(k, float(ts), size[1] / size[0])
    gone = np.zeros((90, 17, 3), np.float32)  # then nobody for 3 s, then 8 s more
    for i in range(90 + 240):
        events += coach.update(gone[0], float(t[-1]) + (i + 1) / 30, size[1] / size[0])
    return events, analyze(kp, t, size, CoachParams(set_idle_s=3.0))


def stored_session(store) -> None:
    """A synthetic squat session through the coach into the store."""
    rec = Recorder(store)
    rec.on_events(coach_events(reps=3, style="squat", tail_s=1.0)[0])
    rec.close()


def applier(processor):
    """Settings applied to an in-process Processor, as the supervisor applies them."""
    from device.app import settings_applier

    return settings_applier(lambda params: setattr(processor.coach, "params", params),
                            processor.extra, speech_available=True)


def running(store, tmp_path):
    """An app with live settings wired to a processor, as `run_device` wires them."""
    from dataclasses import replace

    from device.config import load_config, settings_path
    from device.service.pipeline import Processor
    from device.service.settings import LiveSettings

    config = load_config(None)
    config = replace(config, store=replace(config.store, path=str(store)))
    hub = StateHub()
    processor = Processor(None, Coach(config.coach.params()), hub, extra={})
    live = LiveSettings(config, settings_path(config), applier(processor))
    app = make_app(store, hub=hub, settings=live)
    return app, processor, hub, live


# The settings form as an admin fills it in.
FORM = {"coach.set_reps": "8", "coach.sets": "3", "coach.sensitivity": "strict",
        "coach.guide": "on", "display.sleep_s": "120", "display.speech": "on"}  # no chime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The supervisor, wired as run_device wires it (tests/test_supervisor.py, test_camera_away.py).

class Rig:
    """A supervisor wired as `run_device` wires it, to a real store."""

    def __init__(self, tmp_path, job: Job, **kw) -> None:
        self.store = tmp_path / "s.db"
        self.recorder = Recorder(self.store)
        self.hub = StateHub()
        self.device_events: list[tuple[str, str | None]] = []
        self.snaps: list[dict] = []
        publish = self.hub.publish

        def record(snap):
            self.snaps.append(snap)
            return publish(snap)

        self.hub.publish = record
        kw.setdefault("hang_s", 2.0)
        kw.setdefault("backoff_s", (0.2, 0.5))
        self.sup = Supervisor(job, self.hub, on_events=self.recorder.on_events,
                              on_device_event=self._device,
                              on_restart=lambda why: self.recorder.close_open("interrupted"),
                              **kw)

    def _device(self, kind, detail):
        self.device_events.append((kind, detail))
        self.recorder.device_event(kind, detail)

    def kinds(self) -> list[str]:
        return [k for k, _ in self.device_events]

    def reps(self) -> int:
        return connect(self.store).execute("SELECT COUNT(*) FROM reps").fetchone()[0]

    def wait(self, what, timeout_s: float = 30.0, why: str = ""):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = what()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {why or what}; device events: "
                             f"{self.device_events}; health: {self.sup.health()}")

    def close(self):
        self.sup.stop()
        self.recorder.close()


def job(**kw) -> Job:
    kw.setdefault("open_source", functools.partial(fakes.open_fake))
    kw.setdefault("load_pose", None)
    kw.setdefault("params", CoachParams(set_idle_s=3.0))
    return Job(**kw)


# systemd's notify socket, and the console over HTTPS (test_systemd_notify.py, test_camera_away.py).

def listen(path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(0.5)
    return s


def messages(s: socket.socket, until: float) -> list[str]:
    out = []
    while time.monotonic() < until:
        try:
            out.append(s.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def assert_console_answers(cert, tls_port: int) -> None:
    """The login page over HTTPS, verified against the device's certificate:
    with no account yet, 503 naming the command that makes one."""
    import ssl

    context = ssl.create_default_context(cafile=str(cert))
    try:
        urllib.request.urlopen(f"https://localhost:{tls_port}/staff/login", timeout=5,
                               context=context).close()
        raise AssertionError("no account exists: the login page should say so (503)")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503 and b"staff add" in exc.read()
        exc.close()


def stop_and_close(proc, *closing) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for c in closing:
        c.close()


# The installer in a scratch root (test_installer.py, test_upgrade.py; conftest's `scratch`).

# Stand-ins for the commands that would change the real system. Each logs its
# arguments; state (packages, users, enabled units) lives in $FAKE_STATE.
FAKES = {
    "apt-get": """
        echo "apt-get $*" >> "$FAKE_STATE/log"
        if [ "$1" = install ]; then shift; for p in "$@"; do
            case "$p" in -*) ;; *) echo "$p" >> "$FAKE_STATE/pkgs" ;; esac; done; fi
    """,
    "dpkg-query": """
        p="${@: -1}"
        grep -qx "$p" "$FAKE_STATE/pkgs" 2>/dev/null && printf 'install ok installed'
        exit 0
    """,
    "systemctl": """
        echo "systemctl $*" >> "$FAKE_STATE/log"
        case "$1" in
            is-enabled) [ -e "$FAKE_STATE/enabled-${@: -1}" ] ;;
            is-active) [ -e "$FAKE_STATE/active-${@: -1}" ] ;;
            enable) touch "$FAKE_STATE/enabled-$2" ;;
            start|restart) touch "$FAKE_STATE/active-$2" ;;
            stop) rm -f "$FAKE_STATE/active-$2"
                  if [ -x "$FAKE_STATE/on-stop" ]; then "$FAKE_STATE/on-stop"; fi ;;
            disable) rm -f "$FAKE_STATE/enabled-${@: -1}" "$FAKE_STATE/active-${@: -1}" ;;
        esac
    """,
    "useradd": """
        echo "useradd $*" >> "$FAKE_STATE/log"; echo "${@: -1}:998" >> "$FAKE_STATE/users"
    """,
    "userdel": """
        echo "userdel $*" >> "$FAKE_STATE/log"; sed -i "/^$1:/d" "$FAKE_STATE/users"
    """,
    "usermod": """
        echo "usermod $*" >> "$FAKE_STATE/log"; echo "${@: -1}:$3" >> "$FAKE_STATE/groups"
    """,
    "chown": """echo "chown $*" >> "$FAKE_STATE/log" """,
    "runuser": """
        echo "runuser $*" >> "$FAKE_STATE/log"
        while [ "$1" != -- ]; do shift; done; shift; exec "$@"
    """,
    "raspi-config": """echo "raspi-config $*" >> "$FAKE_STATE/log" """,
    "getent": """
        line=$(grep "^$2:" "$FAKE_STATE/users" 2>/dev/null) || { [ "$1" = group ]; exit $?; }
        [ "$1" = group ] && { echo "$2:x:44:"; exit 0; }
        echo "$2:x:${line#*:}:${line#*:}::/home/$2:/bin/sh"
    """,
    "id": """
        if [ "$1" = -nG ]; then
            grep "^$2:" "$FAKE_STATE/groups" 2>/dev/null | cut -d: -f2 | tr '\\n' ' '; echo
            exit 0
        fi
        exec /usr/bin/id "$@"
    """,
}


def install(env, *args, src: Path = REPO):
    # --no-deps: the device's dependencies come from PyPI on a Pi; here the
    # package itself is installed for real, its dependencies are not needed.
    return subprocess.run(["bash", str(src / "systemd" / "install.sh"), "--kiosk-user", "pi",
                           "--pip-arg", "--no-deps", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def log_of(state: Path) -> list[str]:
    path = state / "log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.write_text("")
    return lines


def listening(port: int) -> set[str]:
    """The local addresses a TCP port listens on, from /proc/net/tcp and tcp6."""
    import ipaddress

    found = set()
    for name, size in (("tcp", 4), ("tcp6", 16)):
        try:
            with open(f"/proc/net/{name}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, _, hexport = local.partition(":")
            if state != "0A" or int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, size, 4))  # host order words
            found.add(str(ipaddress.ip_address(raw)))
    return found
