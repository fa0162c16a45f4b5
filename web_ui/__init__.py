"""The mirror's web UI: a Flask app factory, no globals.

`create_app(config, hub=..., health=..., ...)` receives every collaborator at
construction and keeps them in ``app.extensions["hinge_mirror"]``; nothing is
added there afterwards. Each screen is a blueprint. Served by
waitress (`device.service.server`), never by Flask's development server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from device.service.hub import StateHub
from device.service.metrics import Metrics
from device.service.programs import ProgramRunner
from device.service.settings import LiveSettings
from web_ui.speech import Speaker


def create_app(config: dict[str, Any] | None = None, *, hub: StateHub,
               health: Callable[[], dict[str, Any]], speaker: Speaker | None = None,
               metrics: Metrics | None = None, settings: LiveSettings | None = None,
               framing: Callable[[], dict | None] | None = None,
               programs: ProgramRunner | None = None) -> Flask:
    """`settings`: a running device's settings, changed from the staff page
    (None: the page says they are changed on a running device) and read by the
    mirror page; `framing`: the pipeline's latest framing view, for the staff's
    framing page; `programs`: the running device's program runner (staff start a
    client's program on the mirror)."""
    app = Flask(__name__)
    # SSE_SLOTS: live streams at once; keep it below the server's threads (run
    # passes threads - 3). SSE_MAX_S: a stream's life before its page reconnects.
    # SLEEP_S: nobody in view this long and the glass goes black (0: never).
    # CHIME, SPEECH: a chime on each counted rep, cues spoken (espeak-ng); with
    # `settings`, the three come from the settings in effect instead.
    app.config.update(SSE_KEEPALIVE_S=0.5, SSE_MIN_INTERVAL_S=1 / 15, SSE_SLOTS=5,
                      SSE_MAX_S=300.0, DEMO=False, SLEEP_S=300.0, CHIME=True, SPEECH=True)
    app.config.update(config or {})
    app.extensions["hinge_mirror"] = {
        "hub": hub, "health": health, "speaker": speaker or Speaker(),
        "stream_slots": threading.BoundedSemaphore(app.config["SSE_SLOTS"]),
        "metrics": metrics or Metrics(), "streams_open": [0], "settings": settings,
        "framing": framing or (lambda: None), "programs": programs}
    ext = app.extensions["hinge_mirror"]
    ext["metrics"].streams_from(lambda: ext["streams_open"][0])
    if app.config.get("STORE_PATH"):  # the staff console needs the store's accounts
        from web_ui.staff import install

        install(app)
    from web_ui.mirror import bp as mirror_bp

    app.register_blueprint(mirror_bp)
    return app
