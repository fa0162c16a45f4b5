"""The mirror page and its live data: `/`, `/api/stream`, `/api/state`, `/healthz`."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, jsonify, render_template

from device.words import cue_ids, cue_text, page_words, placements

bp = Blueprint("mirror", __name__)


def _ext() -> dict:
    return current_app.extensions["hinge_mirror"]


def to_json(value) -> str:
    """Strict JSON: a NaN or infinity raises here rather than reaching the
    browser as a bare ``NaN`` that ``JSON.parse`` rejects."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _display() -> tuple[float, bool, bool]:
    """sleep_s, chime, speech: a running device's settings in effect, else the app's config."""
    live = _ext()["settings"]
    if live is not None:
        d = live.config.display
        return d.sleep_s, d.chime, d.speech
    c = current_app.config
    return c["SLEEP_S"], c["CHIME"], c["SPEECH"]


@bp.get("/")
def mirror():
    sleep_s, chime, speech = _display()
    return render_template("mirror.html", demo=current_app.config["DEMO"], sleep_s=sleep_s,
                           chime=chime, speech=speech and _ext()["speaker"].available,
                           placements=placements(), words=page_words())


@bp.get("/metrics")
def metrics():
    """Prometheus text format: counts only, nothing of any person."""
    return Response(_ext()["metrics"].text(), mimetype="text/plain; version=0.0.4")


@bp.get("/api/speech/<cue_id>")
def speech(cue_id: str):
    """A cue spoken by espeak-ng on the device (WAV), for the page to play."""
    if cue_id not in cue_ids():
        return Response(to_json({"error": f"no cue {cue_id!r}"}), status=404,
                        mimetype="application/json")
    wav = _ext()["speaker"].wav(cue_text(cue_id))
    if wav is None:
        return Response(to_json({"error": "speech is not available on this device"}),
                        status=503, mimetype="application/json")
    return Response(wav, mimetype="audio/wav", headers={"Cache-Control": "max-age=86400"})


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
    slow client simply skips snapshots. An `alive` event every keep-alive
    interval (half a second) lets the page see that the stream is alive (a
    second without one, and it shows the reconnecting screen), and lets the
    server see that the page is gone.

    waitress gives every request a thread for as long as it lasts, so streams
    get a fixed number of slots (``SSE_SLOTS``), fewer than the server's
    threads: the rest always answer `/`, `/healthz` and the staff pages. A page
    that finds no slot free gets 503 with ``Retry-After`` and polls
    `/api/state` meanwhile (mirror.js). A stream also ends after
    ``SSE_MAX_S``, and its page reconnects at once, so that slots circulate.
    """
    hub = _ext()["hub"]
    slots = _ext()["stream_slots"]
    keepalive = current_app.config["SSE_KEEPALIVE_S"]
    min_interval = current_app.config["SSE_MIN_INTERVAL_S"]
    max_s = current_app.config["SSE_MAX_S"]
    if not slots.acquire(blocking=False):
        return Response(to_json({"error": "every live-stream slot is taken",
                                 "poll": "api/state"}), status=503,
                        mimetype="application/json", headers={"Retry-After": "5"})

    opened = _ext()["streams_open"]
    opened[0] += 1  # under the GIL; read by /metrics only

    def events():
        try:
            seq = 0
            # A stream that ends (SSE_MAX_S) is taken up again at once: well within
            # the second of silence after which the page says it is reconnecting.
            yield "retry: 250\n\n"
            end = time.monotonic() + max_s
            while time.monotonic() < end and not hub.closed:  # closed: the device stops
                seq, snap = hub.wait(seq, timeout_s=keepalive)
                if snap is None:
                    yield "event: alive\ndata: {}\n\n"
                    continue
                yield f"id: {seq}\ndata: {to_json(snap)}\n\n"
                time.sleep(min_interval)
        finally:  # the client went away (a write failed) or the stream ran its course
            opened[0] -= 1
            slots.release()

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
