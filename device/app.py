"""`hinge-mirror run`, the composition root: choose the source, start the pipeline, serve the page.

The one module above the layers it wires (cli -> app -> web_ui | offline -> service
-> store | vision -> core; import-linter checks them, `[tool.importlinter]` in
pyproject.toml, tests/test_layers.py)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import signal
import socket
import threading
from pathlib import Path

from device.config import Config, backup_dir, settings_path
from device.errors import HingeMirrorError
from device.service import systemd
from device.service.backups import BackupSchedule
from device.service.child import BACKOFF_S as CAMERA_BACKOFF_S
from device.service.child import Job
from device.service.hub import StateHub
from device.service.menu import GlassMenu
from device.service.metrics import Metrics
from device.service.programs import ProgramRunner
from device.service.server import make_server
from device.service.settings import LiveSettings, display_of
from device.service.supervisor import Supervisor
from device.service.system import addresses, machine
from device.service.systemd import Watchdog
from device.store import Recorder
from device.store import lock as store_lock
from device.vision.cameras import needs_model, open_source
from web_ui import create_app
from web_ui.speech import Speaker

log = logging.getLogger(__name__)


def run_device(config: Config, **how) -> int:
    """`_run`, holding the store's lock: one device per store, from before
    anything is written beside it (its secret key, its certificate) until the
    device has stopped; released on any exit."""
    with store_lock.holding(config.store.path):
        return _run(config, **how)


def _run(config: Config, *, source: str | None, host: str | None, port: int | None,
         loop: bool, load_pose, demo_fallback: bool = False,
         limits: dict[str, float] | None = None, layers=None) -> int:
    """Serve the mirror and the staff console; the pipeline in its own process.

    Ready (the page, /healthz, the console, systemd's READY) once the model is
    loaded: a camera that is away is a state the mirror shows, retried for as
    long as it takes. `source` is the command line's `--source`: a camera or
    file named there that cannot be opened at start is a one-line error
    (someone is at a keyboard); the configured source (the appliance) is
    retried with backoff instead. `demo_fallback` (no config file: a laptop's
    `make run`): "auto" with no camera, or with no model, plays the built-in
    demo; a device with a config never does unless it says `source = "demo"`.
    `limits` (tests): "ready_s", the model's time to load; "camera_retry_s",
    the longest wait between tries to open the camera. `layers`: where each
    setting comes from (device.config.load_layers), for the settings page.
    """

    host = host or config.server.host
    port = port if port is not None else config.server.port
    p = config.pose
    spec = source or config.camera.source
    demo_fallback = demo_fallback and spec == "auto"
    limits = limits or {}
    retry_s = limits.get("camera_retry_s")
    job = Job(open_source=functools.partial(open_source, spec, config.camera, loop=loop,
                                            demo=demo_fallback),
              load_pose=functools.partial(load_pose, p.mode, p.model_threads(), p.runtime)
              if needs_model(spec) else None,
              params=config.coach.params(), skeleton=config.display.skeleton,
              cards=config.device.cards, menu=config.device.menu(),
              fail_fast=source is not None and source != "auto", demo_fallback=demo_fallback,
              backoff_s=CAMERA_BACKOFF_S if retry_s is None else tuple(
                  min(b, retry_s) for b in CAMERA_BACKOFF_S))
    hub = StateHub()
    metrics = Metrics()
    recorder: Recorder | None = None
    publisher = None  # made once the store is this device's (a broker knows one client id)

    def on_events(events: list[dict]) -> None:
        # The built-in demo's reps are nobody's: not in the clinic's store (its
        # dashboard, sessions and exports) nor published. Its device events are.
        if (supervisor.source_info or {}).get("demo"):
            return
        if live.config.store.record:  # [store] record = false: coached, never stored
            recorder.on_events(events)
        runner.on_events(events)  # after the store: it tags the session it follows
        glass_menu.on_events(events)
        if publisher is not None:
            publisher.on_events(events)

    supervisor = Supervisor(job, hub, on_events=on_events,
                            on_device_event=lambda kind, detail: recorder.device_event(
                                kind, detail),
                            on_restart=lambda why: recorder.close_open("interrupted"),
                            on_source=lambda info: on_source(info), metrics=metrics,
                            **({"ready_s": limits["ready_s"]} if "ready_s" in limits else {}))

    def on_source(info: dict) -> None:
        app.config["DEMO"] = bool(info.get("demo"))
        log.info("source %s open%s", info.get("source"),
                 " (the built-in demo: nothing is stored)" if info.get("demo") else "")
    store_dir = Path(config.store.path).parent
    backups = BackupSchedule(config.store.path, backup_dir(config), config.backup.every_h * 3600,
                             config.backup.keep, external=bool(config.backup.dir),
                             on_failure=lambda why: recorder.device_event("backup_failed", why))

    def health() -> dict:
        report = supervisor.health()
        report["store"] = {"recording": recorder.recording, "problem": recorder.problem,
                           "path": str(recorder.path)}
        report["machine"] = machine(store_dir)
        report["mqtt"] = publisher.status() if publisher else None
        report["backup"] = backups.status()
        return report

    # HTTPS for the staff console: the certificate first (made once), so that
    # the app knows to send staff routes there.
    srv = config.server
    https_host = srv.https_host or host  # the console listens where the mirror does, unless set
    tls_config: dict = {}
    # At home, no console on the network (nor anything of the staff's on the glass)
    # unless asked for.
    console = config.device.mode != "home" or config.device.console
    if srv.https_port and console:
        from device.service import tls

        cert, key = tls.ensure_certificate(store_dir, srv.cert, srv.key)
        tls_config = {"HTTPS_PORT": srv.https_port, "TLS_CERT": str(cert),
                      "TLS_FINGERPRINT": tls.fingerprint(cert),
                      "STAFF_URL": f"https://{_staff_host(https_host)}:{srv.https_port}/staff/",
                      "STAFF_ADDRESSES": _staff_addresses(https_host, srv.https_port)}
    # Streams take at most threads - 3 of waitress's threads: three always answer.
    speaker = Speaker()
    runner = ProgramRunner(config.store.path, supervisor.set_params, supervisor.shown,
                           tag=lambda code, program: recorder.tag(code, program),
                           latest=lambda: hub.latest()[1] or {})
    live = LiveSettings(config, settings_path(config),
                        settings_applier(lambda params: supervisor.set_params(
                            runner.settings_changed(params)), supervisor.shown,
                            speaker.available), layers=layers)
    glass_menu = GlassMenu(live, config.store.path,
                           running=lambda: runner.program is not None or runner.holding)
    app = create_app({**tls_config, "DEMO": spec == "demo",
                      "SSE_SLOTS": max(1, config.server.threads - 3),
                      "STORE_PATH": config.store.path, "LOG_DIR": config.log.dir,
                      "RETENTION_DAYS": config.store.retention_days,
                      "SECRET_KEY": secret_key(store_dir / "secret_key")},
                     hub=hub, health=health, metrics=metrics, speaker=speaker, settings=live,
                     framing=lambda: supervisor.framing, programs=runner)
    # Each part closes in the reverse of the order it is entered on a stack. The
    # servers are bound first (a port that is taken fails before the store is
    # touched); once everything runs they move to the top, so that they close
    # first and the supervisor and the store after them.
    with contextlib.ExitStack() as servers:
        server = make_server(app, host, port, config.server.threads)  # fails fast if taken
        servers.callback(server.close)
        port = int(server.effective_port)  # the port bound: --port 0 picks a free one
        tls_server = None
        if tls_config:
            tls_server = tls.make_tls_server(app, https_host, srv.https_port, cert, key)
            servers.callback(tls_server.stop)
        with contextlib.ExitStack() as stack:
            recorder = Recorder(config.store.path)  # fails fast (one line) if it cannot open
            stack.callback(recorder.close)
            recorder.close_open("interrupted")  # what a crash or a power cut left open
            if config.mqtt.enabled:
                from device.service.mqtt import Publisher

                publisher = Publisher(config.mqtt)
                stack.callback(publisher.close)  # after the supervisor's last events
            supervisor.start()  # the model loaded (not the camera), or a one-line error
            stack.callback(recorder.device_event, "stop", None)
            stack.callback(recorder.close_open, "stopped")
            backups.start()
            stack.callback(backups.stop)
            stack.callback(_Retention(recorder, config.store.retention_days).stop)
            stack.callback(supervisor.stop)
            recorder.device_event("start", f"source {spec}")
            _announce(tls_server, srv, host, https_host, port, tls_config, console)
            systemd.notify(f"READY=1\nSTATUS=mirror on port {port}, source {spec}")
            opened, info = supervisor.source_info or {}, supervisor.ready_info or {}
            log.info("mirror on http://%s:%d/ (source: %s; store %s; pipeline pid %s)", host,
                     port, opened.get("source") or f"{spec}, not open yet", recorder.path,
                     info.get("pid"))
            stack.enter_context(servers.pop_all())
            stack.callback(Watchdog(supervisor.watchdog_ok).stop)
            stack.callback(systemd.notify, "STOPPING=1")
            stack.callback(_stop_first(supervisor, hub))  # puts the signal handlers back
            # First: the servers' wind-down waits for the streams still open.
            stack.callback(hub.close)
            stack.callback(supervisor.stopping)
            server.run()
    return 0


def _announce(tls_server, srv, host: str, https_host: str, port: int, tls_config: dict,
              console: bool = True) -> None:
    """Start the console's HTTPS server, and say where the console is."""
    if tls_server is not None:
        threading.Thread(target=tls_server.serve, name="https", daemon=True).start()
        log.info("staff console on https://%s:%d/staff/ (%s; certificate SHA-256 %s)",
                 https_host, srv.https_port, "[server] https_host" if srv.https_host else
                 "as [server] host" + (", from --host" if host != srv.host else ""),
                 tls_config["TLS_FINGERPRINT"])
    elif not console:
        log.info("staff console: off on the network at home ([device] mode = \"home\"); this "
                 "machine alone reaches it, at http://127.0.0.1:%d/staff/; set [device] "
                 "console = true to serve it over HTTPS", port)
    else:
        log.warning("staff console: off on the network ([server] https_port = 0); this "
                    "machine alone reaches it, over plain HTTP at http://127.0.0.1:%d/staff/; "
                    "set https_port to serve it over HTTPS", port)


def _staff_addresses(https_host: str, port: int) -> list[str]:
    """The console's addresses by number, beside its name on the glass: a network
    without mDNS does not resolve NAME.local. Only the one it listens on, if one."""
    if https_host in ("127.0.0.1", "::1", "localhost"):
        return []
    ips = addresses() if https_host in ("0.0.0.0", "::", "") else [https_host]
    return [f"https://{ip}:{port}/staff/" for ip in ips]


def _staff_host(https_host: str) -> str:
    """The console's address for the glass: the device's name on the network,
    or localhost when the console listens on loopback only."""
    if https_host in ("127.0.0.1", "::1", "localhost"):
        return "localhost"
    return f"{socket.gethostname()}.local"


def _stop_first(supervisor, hub: StateHub):
    """A SIGTERM (systemd's stop, or one to the whole process group, which the
    pipeline's process gets too) or a Ctrl-C tells the supervisor and the hub
    before anything else: waitress's own stop waits up to 5 s for the requests
    still running, and the mirror's stream is one; a child that died meanwhile
    would be taken for a crash and restarted. With the hub closed the streams
    end at once. Returns what puts the handlers it replaced back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only (a test's run_device)
    replaced = {}

    def wrap(signum: int) -> None:
        previous = signal.getsignal(signum)
        replaced[signum] = previous

        def first(num, frame) -> None:
            supervisor.stopping()
            hub.close()
            if callable(previous):
                previous(num, frame)
            elif num == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(0)

        signal.signal(signum, first)

    for signum in (signal.SIGTERM, signal.SIGINT):
        wrap(signum)
    # None: a handler not set from Python; the default is the nearest to put back.
    return lambda: [signal.signal(num, signal.SIG_DFL if was is None else was)
                    for num, was in replaced.items()]


def settings_applier(set_params, shown: dict, speech_available: bool):
    """What a settings change does on a running device: the coach's parameters
    change at the pipeline's next frame (`set_params`), and every open mirror
    page reads the display's from the next snapshot (`shown` is merged into it);
    a page loaded afterwards reads the settings in effect."""

    def apply(new: Config) -> None:
        set_params(new.coach.params())
        shown["display"] = display_of(new, speech_available)

    return apply


def secret_key(path: Path) -> str:
    """The key that signs staff sessions, made once and kept beside the store
    (mode 0600), so that a restart does not log everyone out."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise HingeMirrorError(f"secret key {path}: cannot be written ({exc.strerror}); "
                               "check the [store] path's folder") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


class _Retention:
    """Delete sessions past the retention now, then once a day."""

    def __init__(self, recorder: Recorder, days: int) -> None:
        self.recorder, self.days = recorder, days
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        if days:
            self._thread.start()

    def _run(self) -> None:
        while True:
            n = self.recorder.prune(self.days)
            if n:
                log.info("store: %d sessions older than %d days deleted", n, self.days)
            if self._stop.wait(86400.0):
                return

    def stop(self) -> None:
        self._stop.set()


