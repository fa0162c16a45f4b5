"""Many open mirror pages on the real server (waitress on loopback): `/healthz` keeps answering.

A bounded test: 50 stream clients are opened, `/healthz` is timed while they
stay open, then everything is closed. The only time bound is generous and
proves that nothing hangs (docs/measured.md reports the measured figures).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from device.service.hub import StateHub
from device.service.server import make_server
from web_ui import create_app

THREADS = 8
CLIENTS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    hub = StateHub()
    app = create_app({"SSE_SLOTS": THREADS - 3, "SSE_KEEPALIVE_S": 0.5}, hub=hub,
                     health=lambda: {"ok": True})
    port = free_port()
    srv = make_server(app, "127.0.0.1", port, THREADS)
    stop = threading.Event()

    def publish():  # a live device: a snapshot every 1/30 s
        n = 0
        while not stop.is_set():
            n += 1
            hub.publish({"rep_count": n, "set_reps": n % 8})
            time.sleep(1 / 30)

    threads = [threading.Thread(target=srv.run, daemon=True),
               threading.Thread(target=publish, daemon=True)]
    for t in threads:
        t.start()
    yield port
    stop.set()
    time.sleep(1.0)  # closed streams notice at their next keep-alive (0.5 s) and end
    srv.close()


def open_stream(port: int) -> tuple[socket.socket, int]:
    """A raw client that asks for the stream and keeps the socket open; its status."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    head = sock.recv(200).decode("latin-1")
    return sock, int(head.split()[1])


def test_fifty_open_streams_do_not_stop_healthz(server):
    clients = []
    try:
        for _ in range(CLIENTS):
            clients.append(open_stream(server))
        statuses = [status for _, status in clients]
        assert statuses.count(200) == THREADS - 3  # the slots, all taken
        assert statuses.count(503) == CLIENTS - (THREADS - 3)  # the rest told to poll
        times = []
        for _ in range(40):
            conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
            t0 = time.perf_counter()
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
            times.append(time.perf_counter() - t0)
            conn.close()
        times.sort()
        assert times[int(0.95 * len(times)) - 1] < 1.0, times  # does not hang, by far
        # The page itself and the polling fallback answer too.
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
        conn.request("GET", "/api/state")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        for sock, _ in clients:
            sock.close()


def test_a_closed_page_gives_its_slot_back(server):
    streams = [open_stream(server) for _ in range(THREADS - 3)]
    assert {status for _, status in streams} == {200}
    sock, refused = open_stream(server)
    sock.close()
    assert refused == 503
    streams[0][0].close()  # one page closes; the server sees it at the next write
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sock, status = open_stream(server)
        sock.close()
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200
    for sock, _ in streams[1:]:
        sock.close()
