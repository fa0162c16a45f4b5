"""Serve the web UI with waitress (never Flask's development server)."""

from __future__ import annotations

import errno
import logging
import socket

from flask import Flask
from waitress import create_server

from device.errors import HingeMirrorError

log = logging.getLogger(__name__)


class StreamGone(logging.Filter):
    """Drops waitress's "Client disconnected while serving /api/stream": every
    page that leaves (a reload, the kiosk's restart, a staff tab closed) ends
    its live stream that way, and that is normal for the mirror; it filled the
    log. A page that leaves any other request is still logged."""

    LINE = "Client disconnected while serving /api/stream"

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.LINE


def quiet_streams() -> None:
    """Put `StreamGone` on waitress's logger (once)."""
    waitress_log = logging.getLogger("waitress")
    if not any(isinstance(f, StreamGone) for f in waitress_log.filters):
        waitress_log.addFilter(StreamGone())


def make_server(app: Flask, host: str, port: int, threads: int):
    """Bind now, so a port in use fails before anything else starts.

    The socket is bound here and handed to waitress, so a failed bind closes
    it cleanly instead of leaving it to the garbage collector.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise HingeMirrorError(
                f"port {port} on {host}: already in use by another program; stop it "
                "(or an earlier hinge-mirror) or pass --port"
            ) from None
        raise HingeMirrorError(
            f"address {host}:{port}: cannot listen ({exc.strerror}); check --host/--port"
        ) from None
    quiet_streams()
    return create_server(app, sockets=[sock], threads=threads, ident="hinge-mirror",
                         channel_timeout=30)
