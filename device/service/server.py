"""Serve the web UI with waitress (never Flask's development server)."""

from __future__ import annotations

import errno
import logging
import socket

from flask import Flask
from waitress import create_server

from device.errors import HingeMirrorError

log = logging.getLogger(__name__)


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
    return create_server(app, sockets=[sock], threads=threads, ident="hinge-mirror",
                         channel_timeout=30)
