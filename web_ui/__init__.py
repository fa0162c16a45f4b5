"""The mirror's web UI: a Flask app factory, no globals.

`create_app(config, hub=..., health=...)` puts its collaborators in
``app.extensions["hinge_mirror"]``; each screen is a blueprint. Served by
waitress (`device.server`), never by Flask's development server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from device.hub import StateHub


def create_app(config: dict[str, Any] | None = None, *, hub: StateHub,
               health: Callable[[], dict[str, Any]]) -> Flask:
    app = Flask(__name__)
    app.config.update(SSE_KEEPALIVE_S=15.0, SSE_MIN_INTERVAL_S=1 / 15, DEMO=False)
    app.config.update(config or {})
    app.extensions["hinge_mirror"] = {"hub": hub, "health": health}
    from web_ui.mirror import bp as mirror_bp

    app.register_blueprint(mirror_bp)
    return app
