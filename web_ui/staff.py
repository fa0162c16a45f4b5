"""The staff console's door: login, logout, and the pages behind it.

Flask-Login keeps who is logged in, Flask-WTF's CSRFProtect guards every
state-changing request, Flask-Limiter slows guessing at the login. Accounts
live in the store (device/store/accounts.py); until one exists, the login
page (where every staff page sends you) says which command makes it.
Viewers read; admins will also change things (`admin_only`, for the settings
and account pages to come).
"""

from __future__ import annotations

import json
import sqlite3
from functools import wraps

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFProtect

from device.store import accounts, connect, queries
from device.words import fault_words
from web_ui.charts import bar_chart, line_chart

bp = Blueprint("staff", __name__)
ADD_COMMAND = "hinge-mirror staff add NAME --role admin"


class Staff(UserMixin):
    def __init__(self, row: tuple[int, str, str]) -> None:
        self.id, self.name, self.role = row

    def get_id(self) -> str:
        return str(self.id)


def _db() -> sqlite3.Connection:
    return connect(current_app.config["STORE_PATH"])


def install(app) -> None:
    """Login, CSRF and the login rate limit on `app`, and the staff blueprint."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    login = LoginManager(app)
    login.login_view = "staff.login"

    @login.user_loader
    def load(user_id: str) -> Staff | None:
        conn = _db()
        try:
            row = accounts.get(conn, int(user_id))
        finally:
            conn.close()
        return Staff(row) if row else None

    @login.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return jsonify({"error": "log in at /staff/login"}), 401
        return redirect("/staff/login")

    import datetime as dt

    app.add_template_filter(
        lambda t: dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M"), "timestamp")
    app.add_template_filter(fault_words, "fault_words")
    CSRFProtect(app)
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      default_limits=[])
    app.register_blueprint(bp)
    # Login attempts (POSTs, right or wrong), per client address: a few, then wait.
    app.view_functions["staff.login"] = limiter.limit(
        app.config.get("LOGIN_LIMIT", "5 per minute"), methods=["POST"])(login_view)


def admin_only(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _no_accounts() -> bool:
    conn = _db()
    try:
        return accounts.count(conn) == 0
    finally:
        conn.close()


def login_view():
    if _no_accounts():
        return render_template("staff/setup.html", command=ADD_COMMAND), 503
    error = None
    if request.method == "POST":
        conn = _db()
        try:
            row = accounts.check(conn, request.form.get("name", ""),
                                 request.form.get("password", ""))
        finally:
            conn.close()
        if row:
            login_user(Staff(row))
            return redirect("/staff/")
        error = "Wrong name or password."
    return render_template("staff/login.html", error=error), 401 if error else 200


bp.add_url_rule("/staff/login", "login", login_view, methods=["GET", "POST"])


@bp.post("/staff/logout")
@login_required
def logout():
    logout_user()
    return redirect("/staff/login")


@bp.get("/staff/")
@login_required
def dashboard():
    health = current_app.extensions["hinge_mirror"]["health"]()
    return render_template("staff/dashboard.html", health=health, user=current_user)


@bp.get("/api/staff/health")
@login_required
def api_health():
    return jsonify(current_app.extensions["hinge_mirror"]["health"]())


def _day(value: str | None) -> float | None:
    """A YYYY-MM-DD filter as Unix time (local midnight), or None."""
    import datetime as dt

    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").timestamp()
    except ValueError:
        abort(400, f"dates are YYYY-MM-DD, not {value!r}")


def _range() -> tuple[float | None, float | None]:
    until = _day(request.args.get("to"))
    return _day(request.args.get("from")), None if until is None else until + 86400


@bp.get("/staff/sessions")
@login_required
def sessions_page():
    conn = _db()
    try:
        rows = queries.sessions(conn, *_range())
    finally:
        conn.close()
    return render_template("staff/sessions.html", sessions=rows, words=fault_words,
                           args=request.args)


def _session_or_404(session_id: int) -> dict:
    conn = _db()
    try:
        s = queries.session(conn, session_id)
    finally:
        conn.close()
    if s is None:
        abort(404)
    return s


@bp.get("/staff/sessions/<int:session_id>")
@login_required
def session_page(session_id: int):
    s = _session_or_404(session_id)
    reps = s["reps_detail"]
    depth = line_chart("Depth per rep", {"hip flexion": [r["hip_deg"] for r in reps],
                                         "knee": [r["knee_deg"] for r in reps]}, "degrees")
    tempo = line_chart("Tempo per rep", {"down": [r["down_s"] for r in reps],
                                         "up": [r["up_s"] for r in reps]}, "seconds")
    per_set = {}
    for r in reps:
        key = f"set {r['set_number']}"
        per_set[key] = per_set.get(key, 0) + (1 if r["faults"] else 0)
    faults = bar_chart("Reps with a fault, per set", per_set)
    return render_template("staff/session.html", s=s, reps=reps, words=fault_words,
                           charts=[depth, tempo, faults])


def _export(rows: list[dict], name: str, fmt: str):
    from flask import Response

    if fmt == "csv":
        return Response(queries.reps_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(json.dumps(rows, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


@bp.get("/api/staff/sessions/<int:session_id>.<any(csv, json):fmt>")
@login_required
def export_session(session_id: int, fmt: str):
    s = _session_or_404(session_id)
    if fmt == "json":
        return _export(s, f"session-{session_id}", fmt)
    return _export(s["reps_detail"], f"session-{session_id}", fmt)


@bp.get("/api/staff/reps.<any(csv, json):fmt>")
@login_required
def export_range(fmt: str):
    conn = _db()
    try:
        ids = [s["id"] for s in queries.sessions(conn, *_range())]
        rows = queries.reps(conn, ids)
    finally:
        conn.close()
    return _export(rows, "reps", fmt)
