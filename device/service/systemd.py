"""systemd's notify protocol (sd_notify): READY, STATUS, WATCHDOG and STOPPING.

A datagram to the socket in $NOTIFY_SOCKET, as sd_notify(3) describes; a few
lines of the standard library rather than a binding that needs libsystemd's
headers to build. Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1"); False when not under systemd or it failed."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("systemd notify %r failed: %s", message, exc)
        return False


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec= (systemd's advice for the ping period), or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6 / 2


class Watchdog:
    """Ping systemd's watchdog while `healthy()` says so; stop pinging otherwise,
    and systemd restarts the service when WatchdogSec= passes."""

    def __init__(self, healthy: Callable[[], bool]) -> None:
        self.healthy = healthy
        self.interval_s = watchdog_interval_s()
        self._stop = threading.Event()
        self.pings = 0
        if self.interval_s:
            threading.Thread(target=self._run, name="watchdog", daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.healthy() and notify("WATCHDOG=1"):
                self.pings += 1

    def stop(self) -> None:
        self._stop.set()
