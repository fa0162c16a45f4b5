"""The mirror page and its live data: `/`, `/api/stream`, `/api/state`, `/healthz`."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, jsonify, render_template

bp = Blueprint("mirror", __name__)


def _ext() -> dict:
    return current_app.extensions["hinge_mirror"]


def to_json(value) -> str:
    """Strict JSON: a NaN or infinity raises here rather than reaching the
    browser as a bare ``NaN`` that ``JSON.parse`` rejects."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@bp.get("/")
def mirror():
    return render_template("mirror.html", demo=current_app.config["DEMO"])


@bp.get("/api/state")
def state():
    seq, snap = _ext()["hub"].latest()
    return Response(to_json({"seq": seq, "state": snap}), mimetype="application/json")


@bp.get("/healthz")
def healthz():
    report = _ext()["health"]()
    return jsonify(report), 200 if report.get("ok") else 503


@bp.get("/api/stream")
def stream():
    """Server-Sent Events: the newest snapshot whenever it changes, at most ~15 per second.

    Each client waits on the hub's condition for a newer sequence number; a
    slow client simply skips snapshots. A comment line every keep-alive
    interval lets the client (and proxies) see that the stream is alive.
    """
    hub = _ext()["hub"]
    keepalive = current_app.config["SSE_KEEPALIVE_S"]
    min_interval = current_app.config["SSE_MIN_INTERVAL_S"]

    def events():
        seq = 0
        yield "retry: 2000\n\n"
        while True:
            seq, snap = hub.wait(seq, timeout_s=keepalive)
            if snap is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {seq}\ndata: {to_json(snap)}\n\n"
            time.sleep(min_interval)

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
