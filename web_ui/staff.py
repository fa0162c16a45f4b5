"""The staff console's door: login, logout, and the pages behind it.

Flask-Login keeps who is logged in, Flask-WTF's CSRFProtect guards every
state-changing request, Flask-Limiter slows guessing at the login. Accounts
live in the store (device/store/accounts.py); until one exists, the login
page (where every staff page sends you) says which command makes it.
Viewers read; admins also change the settings, manage accounts and tag
sessions with client codes (`admin_only`).

Routes, and who may use them (every one needs a login but the login page):
  /staff/login (GET, POST)              anyone: the form; POSTs rate limited
  /staff/logout (POST)                  staff
  /staff/                               staff: the dashboard
  /staff/sessions, /staff/sessions/ID   staff
  /staff/sessions/ID/client (POST)      admin: tag a session with a client code
  /staff/clients, /staff/clients/CODE   staff: clients and their trends
  /staff/clients/CODE/program (GET, POST), .../program.json   staff read, admin change
  /staff/clients/CODE/program/{import,copy,delete} (POST)     admin
  /staff/logs, /staff/logs/NAME         staff: log files, a tail, ?download=1
  /staff/settings (GET, POST)           staff read, admin change
  /staff/framing                        staff: the live skeleton, for aiming the camera
  /staff/accounts (GET, POST), /staff/accounts/ID/{role,delete} (POST)   admin
  /staff/audit, /api/staff/audit.csv    admin: the audit trail
  /api/staff/health                     staff
  /api/staff/sessions/ID.{csv,json}, /api/staff/reps.{csv,json}   staff: exports
"""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from functools import wraps
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
)
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup

from device.codes import card_qr
from device.config import TYPE_WORDS, ConfigValueError, form_fields
from device.errors import HingeMirrorError
from device.store import accounts, audit, connect, programs, queries
from device.words import (
    EXERCISE_WORDS,
    FRAMING,
    VIEWS,
    fault_words,
    judged_words,
    placements,
    rep_faults_words,
    score_words,
    standing_words,
    waits_for_standing,
)
from web_ui import logfiles
from web_ui.charts import bar_chart, line_chart, skeleton_svg

# The largest row id SQLite holds: a larger one in a URL is no page (404), not an
# OverflowError from the driver (500).
ID_MAX = 2**63 - 1

bp = Blueprint("staff", __name__)
log = logging.getLogger(__name__)
ADD_COMMAND = "hinge-mirror staff add NAME --role admin"


class Staff(UserMixin):
    """A logged-in account. Its id in the session is "ID:GENERATION": the
    account's login generation when it logged in (accounts.logins), so that a
    logout or a new password, which add one to it, ends every login before."""

    def __init__(self, row: tuple[int, str, str], logins: int) -> None:
        self.id, self.name, self.role = row
        self.logins = logins

    def get_id(self) -> str:
        return f"{self.id}:{self.logins}"


def _login(conn: sqlite3.Connection, row: tuple[int, str, str]) -> None:
    login_user(Staff(row, accounts.logins(conn, row[0])))


def _db() -> sqlite3.Connection:
    return connect(current_app.config["STORE_PATH"])


def _audit(action: str, target: str | None = None, detail: str | None = None,
           account: str | None = None) -> None:
    """One row of the audit trail for this request (device/store/audit.py)."""
    who = account if account is not None else (
        current_user.name if current_user and current_user.is_authenticated else None)
    with closing(_db()) as conn:
        audit.record(conn, who, request.remote_addr, action, target, detail)


def install(app) -> None:
    """Login, CSRF and the login rate limit on `app`, and the staff blueprint."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    login = LoginManager(app)
    login.login_view = "staff.login"

    @login.user_loader
    def load(user_id: str) -> Staff | None:
        account, _, generation = user_id.partition(":")
        if not (account.isdigit() and generation.isdigit()):
            return None  # a cookie from before schema 5, or not ours: log in again
        with closing(_db()) as conn:
            row = accounts.get(conn, int(account))
            now = accounts.logins(conn, int(account))
        if row is None or now != int(generation):  # deleted, logged out or a new password
            return None
        return Staff(row, now)

    @login.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return jsonify({"error": "log in at /staff/login"}), 401
        return redirect("/staff/login")

    import datetime as dt

    app.add_template_filter(
        lambda t: dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M"), "timestamp")
    app.add_template_filter(fault_words, "fault_words")
    app.add_template_filter(rep_faults_words, "rep_faults_words")
    app.add_template_filter(score_words, "score_words")
    _https(app)  # before CSRF: a plain-HTTP POST is sent to HTTPS, not refused
    CSRFProtect(app)
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      default_limits=[])
    app.register_blueprint(bp)
    for code in ERROR_PAGES:
        app.register_error_handler(code, error_page)
    # Failed logins (a wrong name or password: 401), per client address: a few,
    # then wait. A login that succeeds is not counted (a shared tablet whose
    # staff log in and out all morning is never locked out).
    app.view_functions["staff.login"] = limiter.limit(
        app.config.get("LOGIN_LIMIT", "5 per minute"), methods=["POST"],
        deduct_when=lambda response: response.status_code == 401)(login_view)


# What goes over HTTPS only when it is on: everything of the staff's, and /metrics.
STAFF_PATHS = ("/staff", "/api/staff")
SECURE_PATHS = (*STAFF_PATHS, "/metrics")


# The console without HTTPS ([server] https_port = 0): for this machine alone.
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
CONSOLE_OFF = ("The staff console is off on the network ([server] https_port = 0): set "
               "https_port to serve it over HTTPS.")


def _https(app) -> None:
    """With HTTPS_PORT set (the device runs its TLS server): staff routes asked
    for over plain HTTP are redirected there (308 keeps the method), the session
    cookie is Secure, HTTPS answers carry HSTS, and the certificate itself (public)
    can be fetched from /certificate.pem to import and check its fingerprint.
    Without it, staff routes answer this machine only (loopback): from any other
    address they are 404, so that nothing of a patient crosses the network in clear."""
    port = app.config.get("HTTPS_PORT")
    if not port:
        @app.before_request
        def loopback_only():
            if request.path.startswith(STAFF_PATHS) and request.remote_addr not in LOOPBACK:
                return Response(CONSOLE_OFF + "\n", status=404, mimetype="text/plain")
            return None

        return
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = True

    @app.before_request
    def to_https():
        if not request.is_secure and request.path.startswith(SECURE_PATHS):
            host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") \
                else request.host
            query = ("?" + request.query_string.decode()) if request.query_string else ""
            return redirect(f"https://{host}:{port}{request.path}{query}", code=308)
        return None

    @app.after_request
    def hsts(response):
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.get("/certificate.pem")
    def certificate():
        return send_file(app.config["TLS_CERT"], mimetype="application/x-pem-file",
                         as_attachment=True, download_name="hinge-mirror.pem")


# The console's own pages for the errors staff meet (the framework's are bare
# pages with no way back): the title, the one line and the way back. Each line
# is fixed here; nothing of the URL is shown.
ERROR_PAGES = {
    400: ("Not understood", "The request could not be read: go back, reload the page and "
          "try again."),
    403: ("For admins only", "This page or action is for admins, and this account is a "
          "viewer: ask an admin to do it, or to change your role on Accounts."),
    404: ("No such page", "Nothing is at this address: it may be mistyped, or what it showed "
          "has been deleted (sessions go after the retention's days)."),
    405: ("Not from a link", "This address takes a form's button, not a link: go back and use "
          "the button on the page."),
    429: ("Too many login attempts", "Too many failed logins from this address: try again in "
          "a minute."),
}


def error_page(exc):
    """An error as a page of the console (its layout, the way back); /api/
    routes answer as they always have (JSON where they gave JSON)."""
    from flask_wtf.csrf import CSRFError

    if request.path.startswith("/api/"):
        return exc
    title, line = ERROR_PAGES[exc.code]
    if isinstance(exc, CSRFError):  # a fixed sentence of Flask-WTF's: a form too old, or none
        line = (f"{exc.description} The form was too old or not the console's own: reload "
                "the page and send it again.")
    elif exc.code == 400 and exc.description != type(exc).description:
        line = exc.description  # one of this module's own fixed sentences (abort(400, ...))
    staff = current_user.is_authenticated
    back = [("/staff/", "Back to the dashboard")] if staff else \
        [("/staff/login", "To the staff login")]
    if not request.path.startswith("/staff"):
        back.append(("/", "The mirror page"))
    response = current_app.make_response(
        (render_template("staff/error.html", title=title, message=line, back=back), exc.code))
    if exc.code == 429:
        response.headers["Retry-After"] = "60"
    return response


def admin_only(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _no_accounts() -> bool:
    with closing(_db()) as conn:
        return accounts.count(conn) == 0


def login_view():
    if _no_accounts():
        return render_template("staff/setup.html", command=ADD_COMMAND), 503
    error = None
    if request.method == "POST":
        with closing(_db()) as conn:
            row = accounts.check(conn, request.form.get("name", ""),
                                 request.form.get("password", ""))
            if row:
                _login(conn, row)
        if row:
            _audit("login")
            return redirect("/staff/")
        _audit("login_failed", account=request.form.get("name", "")[:64])
        error = "Wrong name or password."
    return render_template("staff/login.html", error=error), 401 if error else 200


bp.add_url_rule("/staff/login", "login", login_view, methods=["GET", "POST"])


@bp.post("/staff/logout")
@login_required
def logout():
    """Ends every login of this account (another browser's, a forgotten tablet's)."""
    _audit("logout")
    with closing(_db()) as conn:
        accounts.end_logins(conn, current_user.id)
    logout_user()
    return redirect("/staff/login")


def _midnight() -> float:
    import datetime as dt

    return dt.datetime.combine(dt.date.today(), dt.time()).timestamp()


@bp.get("/staff/")
@login_required
def dashboard():
    health = current_app.extensions["hinge_mirror"]["health"]()
    with closing(_db()) as conn:
        today = queries.today(conn, _midnight())
        events = queries.events(conn, 10)
    return render_template("staff/dashboard.html", health=health, user=current_user,
                           today=today, events=events)



@bp.get("/staff/framing")
@login_required
def framing_page():
    """The framing check: the live skeleton on a blank frame (no video), refreshed
    every second, for aiming the camera at install time."""
    framing = current_app.extensions["hinge_mirror"]["framing"]()
    framing = framing or {}
    hint = FRAMING.get(framing.get("hint") or "", {}).get("staff")
    live = None
    if framing.get("present") and framing.get("judged") is not None:
        judged, unjudged = judged_words(set(framing["judged"]))
        view = framing.get("view") or "unknown"
        live = {"sees": VIEWS.get(view, VIEWS["unknown"]), "deg": framing.get("camera_deg"),
                "waits": [] if framing.get("calibrated") else waits_for_standing(view),
                "judged": judged, "unjudged": unjudged}
    return render_template("staff/framing.html", svg=skeleton_svg(framing), hint=hint,
                           seen=bool(framing.get("skeleton")), live=live,
                           view=framing.get("view") if live else None,
                           placements=placements(), standing=standing_words())


@bp.get("/api/staff/health")
@login_required
def api_health():
    return jsonify(current_app.extensions["hinge_mirror"]["health"]())


def _day(name: str) -> float | None:
    """The YYYY-MM-DD filter `name` of the query as Unix time (local midnight),
    or None. A bad one is a 400 that names the filter, not its text (the page
    shows nothing taken from the URL)."""
    import datetime as dt

    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").timestamp()
    except ValueError:
        abort(400, f"The {name.capitalize()} date is not a date: dates are YYYY-MM-DD "
              "(e.g. 2026-03-01); correct it and show the sessions again.")


def _range() -> tuple[float | None, float | None]:
    until = _day("to")
    return _day("from"), None if until is None else until + 86400


@bp.get("/staff/sessions")
@login_required
def sessions_page():
    with closing(_db()) as conn:
        rows = queries.sessions(conn, *_range(), client=request.args.get("client") or None)
    return render_template("staff/sessions.html", sessions=rows, words=fault_words,
                           args=request.args)


def _session_or_404(session_id: int) -> dict:
    with closing(_db()) as conn:
        s = queries.session(conn, session_id)
    if s is None:
        abort(404)
    return s


@bp.get(f"/staff/sessions/<int(max={ID_MAX}):session_id>")
@login_required
def session_page(session_id: int):
    s = _session_or_404(session_id)
    _audit("session_viewed", f"session {session_id}")
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
                           charts=[depth, tempo, faults], user=current_user,
                           adherence=programs.session_adherence(s),
                           exercise_words=EXERCISE_WORDS)


@bp.post(f"/staff/sessions/<int(max={ID_MAX}):session_id>/client")
@admin_only
def tag_session(session_id: int):
    """Tag a session with a pseudonymous client code ("" removes the tag)."""
    conn = _db()
    try:
        found = queries.set_client(conn, session_id, request.form.get("client_code", ""))
    except ValueError as exc:  # said on the next page by flash: never text from the URL
        flash(str(exc))
        return redirect(f"/staff/sessions/{session_id}")
    finally:
        conn.close()
    if not found:
        abort(404)
    _audit("client_tagged", f"session {session_id}",
           queries.client_code(request.form.get("client_code", "")) or "(removed)")
    return redirect(f"/staff/sessions/{session_id}")


@bp.get("/staff/clients")
@login_required
def clients_page():
    with closing(_db()) as conn:
        rows = queries.clients(conn)
        plans = programs.listing(conn)
    return render_template("staff/clients.html", clients=rows, programs=plans)


@bp.get("/staff/clients/<code>")
@login_required
def client_page(code: str):
    code = queries.client_code(code)  # k-017 is K-017
    with closing(_db()) as conn:
        trend = queries.trend(conn, code)
        rows = queries.sessions(conn, client=code)
        kept = programs.adherence_trend(conn, code)
    if not trend:
        abort(404)
    _audit("client_viewed", f"client {code}")
    import datetime as dt

    # Date and time: two sessions of one day are two points, each with its own label.
    days = [dt.datetime.fromtimestamp(t["started_at"]).strftime("%d %b\n%H:%M") for t in trend]
    charts = [line_chart("Mean depth per session", {"depth": [t["depth_deg"] for t in trend]},
                         "degrees of hip flexion", days),
              line_chart("Clean reps per session", {"clean": [t["clean_pct"] for t in trend]},
                         "% of reps", days, top=100)]
    if any(r["adherence_pct"] is not None for r in kept["sessions"]):
        charts.append(line_chart("Program adherence per session", {"adherence": [
            r["adherence_pct"] for r in kept["sessions"]]}, "% of the reps prescribed", days,
            top=100))
    if kept["main_fault"]:
        charts.append(line_chart(f"{fault_words(kept['main_fault'])}: share of reps", {
            "main fault": [r["main_fault_pct"] for r in kept["sessions"]]}, "% of reps", days,
            top=100))
    return render_template("staff/client.html", code=code, trend=trend, sessions=rows,
                           charts=charts, words=fault_words)


def _program_code(code: str) -> str:
    """The URL's client code as stored (k-017 is K-017); a code of no
    pseudonym's shape is no page."""
    code = queries.client_code(code)
    if not queries.CLIENT_CODE.match(code):
        abort(404)
    return code


def _shown(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _slots(blocks: list[dict], form=None) -> list[dict]:
    """The form's blocks as strings by field name ("exercise", "tempo.down_s",
    "faults.too_fast"), each with its number: the stored blocks and one empty
    slot to add a block, or the form as it was sent (to put an error right)."""
    if form is not None:
        numbers = sorted({int(k[1:].partition(".")[0]) for k in form
                          if k.startswith("b") and k.endswith(".exercise")
                          and k[1:].partition(".")[0].isdigit()})
        slots = [{"n": n, **{k.partition(".")[2]: v for k, v in form.items()
                             if k.startswith(f"b{n}.")}} for n in numbers]
    else:
        slots = _stored_slots(blocks)
    for slot in slots:  # the faults' choices open where one is not standard
        slot["faults_set"] = any(k.startswith("faults.") and v != "standard"
                                 for k, v in slot.items())
    return slots


def _stored_slots(blocks: list[dict]) -> list[dict]:
    out = []
    for n, b in enumerate([*blocks, None], 1):
        if b is None:
            out.append({"n": n, "exercise": ""})
            continue
        slot = {"n": n, **{k: _shown(v) for k, v in b.items() if k not in ("tempo", "faults")}}
        for k, v in (b["tempo"] or {}).items():
            slot[f"tempo.{k}"] = _shown(v)
        for fault, word in b["faults"].items():
            slot[f"faults.{fault}"] = word
        out.append(slot)
    return out


def _program_page(code: str, errors: list | None = None, form=None, status: int = 200,
                  imported: str = ""):
    with closing(_db()) as conn:
        stored = programs.get(conn, code)
        has_sessions = queries.has_sessions(conn, code)
    blocks = programs.to_dict(stored["program"])["blocks"] if stored else []
    by_field = {}  # "b2.reps" -> why, beside its field
    for e in errors or []:
        if e.block is not None:
            by_field.setdefault(f"b{e.block}.{e.key}", e.why)
    return render_template("staff/program.html", code=code, stored=stored, blocks=blocks,
                           slots=_slots(blocks, form), errors=errors or [], by_field=by_field,
                           fields=programs.form_fields(), exercises=programs.EXERCISES,
                           faults=programs.FAULTS, words=fault_words,
                           sensitivity=tuple(programs.SENSITIVITY), imported=imported,
                           user=current_user, has_sessions=has_sessions), status


def flash_ok(message: str) -> None:
    """A flash that says what was done (green), not what could not be."""
    flash(message, "ok")


def _save_program(code: str, program: programs.Program, how: str) -> None:
    with closing(_db()) as conn:
        programs.save(conn, code, program, current_user.name)
    _audit("program_changed", f"client {code}", f"{how}: {programs.summary(program)}")


@bp.route("/staff/clients/<code>/program", methods=["GET", "POST"])
@login_required
def program_page(code: str):
    """The client's program: everyone reads it, an admin edits it (the form
    goes through the program schema, device/store/programs.py)."""
    code = _program_code(code)
    if request.method == "GET":
        _audit("program_viewed", f"client {code}")
        return _program_page(code)
    if current_user.role != "admin":
        abort(403)
    raw, numbers = programs.from_form(request.form)
    try:
        program = programs.parse(raw, numbers)
    except programs.ProgramError as exc:
        return _program_page(code, exc.errors, request.form, 400)
    _save_program(code, program, "set on the form")
    flash_ok(f"Saved the program of {code}.")
    return redirect(f"/staff/clients/{code}/program")


@bp.post("/staff/clients/<code>/program/import")
@admin_only
def program_import(code: str):
    """A program's JSON, pasted or uploaded, checked like the form."""
    code = _program_code(code)
    upload = request.files.get("file")
    text = upload.read().decode("utf-8", "replace") if upload and upload.filename else \
        request.form.get("json", "")
    try:
        program = programs.loads(text)
    except programs.ProgramError as exc:
        return _program_page(code, exc.errors, status=400, imported=text)
    _save_program(code, program, "imported from JSON")
    flash_ok(f"Imported the program of {code}.")
    return redirect(f"/staff/clients/{code}/program")


@bp.post("/staff/clients/<code>/program/copy")
@admin_only
def program_copy(code: str):
    """This client's program to another code; one the other has is replaced
    only when the form says so."""
    code = _program_code(code)
    to = queries.client_code(request.form.get("to", ""))
    with closing(_db()) as conn:
        stored = programs.get(conn, code)
        there = programs.get(conn, to) if queries.CLIENT_CODE.match(to) else None
    if stored is None:
        abort(404)
    if not queries.CLIENT_CODE.match(to) or to == code:
        flash("copy to: a client code is 1-24 letters, digits, '-' or '_' (a pseudonym, "
              "never a name), other than this one; nothing was copied")
        return redirect(f"/staff/clients/{code}/program")
    if there is not None and request.form.get("replace") != "on":
        flash(f"{to} has a program already: tick \"replace theirs\" to copy over it; nothing "
              "was copied")
        return redirect(f"/staff/clients/{code}/program")
    _save_program(to, stored["program"], f"copied from {code}")
    flash_ok(f"Copied the program of {code} to {to}.")
    return redirect(f"/staff/clients/{to}/program")


@bp.post("/staff/clients/<code>/program/delete")
@admin_only
def program_delete(code: str):
    code = _program_code(code)
    with closing(_db()) as conn:
        gone = programs.delete(conn, code)
    if not gone:
        abort(404)
    _audit("program_changed", f"client {code}", "deleted")
    flash_ok(f"Deleted the program of {code}.")
    return redirect(f"/staff/clients/{code}/program")


@bp.post("/staff/clients/<code>/program/start")
@admin_only
def program_start(code: str):
    """"Next client: K-017": the running mirror follows K-017's program, and the
    session (the one under way, or the next) is stored as theirs."""
    code = _program_code(code)
    runner = current_app.extensions["hinge_mirror"]["programs"]
    if runner is None:
        abort(503, "a program is started on a running device (hinge-mirror run)")
    snap = current_app.extensions["hinge_mirror"]["hub"].latest()[1] or {}
    try:
        program = runner.start(code, snap)
    except HingeMirrorError as exc:
        flash(str(exc))
        return redirect(f"/staff/clients/{code}/program")
    _audit("program_started", f"client {code}", programs.summary(program))
    flash_ok(f"The mirror follows the program of {code}.")
    return redirect(f"/staff/clients/{code}/program")


@bp.get("/staff/clients/<code>/card")
@login_required
def client_card(code: str):
    """The client's card, to print: a QR code of their code (device/codes.py)
    that the mirror's camera reads to start their program. No name on it."""
    code = _program_code(code)
    qr = card_qr(code)
    _audit("card_printed", f"client {code}")
    return render_template("staff/card.html", code=code,
                           qr=Markup(qr.svg_inline(scale=1, border=4, omitsize=True)))


@bp.get("/staff/clients/<code>/program.json")
@login_required
def program_json(code: str):
    """The program as JSON (the import's own shape), named for its client."""
    code = _program_code(code)
    with closing(_db()) as conn:
        stored = programs.get(conn, code)
    if stored is None:
        abort(404)
    _audit("export", f"program of client {code}", "json")
    return Response(json.dumps(programs.to_dict(stored["program"], code), indent=1),
                    mimetype="application/json", headers={
                        "Content-Disposition": f'attachment; filename="program-{code}.json"'})


def _export(rows: list[dict], name: str, fmt: str):
    if fmt == "csv":
        return Response(queries.reps_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return Response(json.dumps(rows, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})


@bp.get(f"/api/staff/sessions/<int(max={ID_MAX}):session_id>.<any(csv, json):fmt>")
@login_required
def export_session(session_id: int, fmt: str):
    s = _session_or_404(session_id)
    _audit("export", f"session {session_id}", fmt)
    if fmt == "json":
        return _export(s, f"session-{session_id}", fmt)
    return _export(s["reps_detail"], f"session-{session_id}", fmt)


@bp.get("/api/staff/reps.<any(csv, json):fmt>")
@login_required
def export_range(fmt: str):
    with closing(_db()) as conn:
        ids = [s["id"] for s in queries.sessions(conn, *_range(),
                                                 client=request.args.get("client") or None)]
        rows = queries.reps(conn, ids)
    what = ", ".join(f"{k} {request.args[k]}" for k in ("from", "to", "client")
                     if request.args.get(k)) or "all"
    _audit("export", f"reps ({what})", f"{fmt}, {len(ids)} sessions")
    return _export(rows, "reps", fmt)


def _log_dir() -> str:
    return current_app.config.get("LOG_DIR") or ""


@bp.get("/staff/logs")
@login_required
def logs_page():
    folder = _log_dir()
    return render_template("staff/logs.html", folder=folder,
                           files=logfiles.listing(folder) if folder else [])


@bp.get("/staff/logs/<name>")
@login_required
def log_file(name: str):
    """One log file by its name: a tail, or the whole file with ?download=1.
    Any name that is not one of the folder's log files is a 404."""
    folder = _log_dir()
    path = logfiles.find(folder, name) if folder else None
    if path is None:
        abort(404)
    if request.args.get("download"):
        return send_file(path, mimetype="text/plain", as_attachment=True, download_name=name)
    # Newest first: the page opens at what just happened, not 300 lines above it.
    newest_first = "\n".join(reversed(logfiles.tail(path, 300).splitlines()))
    return render_template("staff/log.html", name=name, text=newest_first)


# The settings page: each setting's label, its kind and its choices (the schema's).
SETTING_FORM = form_fields()


def _form_values() -> dict:
    """The form's fields typed as the config file types them; a field that is
    not a number becomes a ConfigValueError naming it."""
    out = {}
    for name, (_, kind, _) in SETTING_FORM.items():
        raw = request.form.get(name)
        if kind == "bool":
            out[name] = raw == "on"
            continue
        if raw is None:
            continue  # not sent: unchanged
        try:
            out[name] = int(raw) if kind == "int" else float(raw) if kind == "float" else raw
        except ValueError:
            raise ConfigValueError("settings page", name, raw,
                                   f"must be {TYPE_WORDS[int if kind == 'int' else float]}"
                                   ) from None
    return out


@bp.route("/staff/settings", methods=["GET", "POST"])
@login_required
def settings_page():
    live = current_app.extensions["hinge_mirror"]["settings"]
    if live is None:
        abort(503, "settings are changed on a running device (hinge-mirror run)")
    errors, saved, status = {}, False, 200
    values = live.values()
    if request.method == "POST":
        if current_user.role != "admin":
            abort(403)
        try:
            before = values
            reset = request.form.get("reset")
            if reset:  # "back to the file's value": the other fields as they were
                live.reset(reset)
            else:
                live.change(dict(values, **_form_values()))
            values, saved = live.values(), True
            changed = [f"{k} {before[k]!r} -> {v!r}" for k, v in values.items()
                       if before[k] != v]
            log.info("settings changed by %s: %s", current_user.name,
                     "; ".join(changed) or "nothing")
            _audit("settings_changed", "settings", "; ".join(changed) or "nothing")
        except ConfigValueError as exc:
            errors[exc.key] = exc.why
            status = 400
        except HingeMirrorError as exc:
            errors["_"] = str(exc)
            status = 507
    return render_template("staff/settings.html", form=SETTING_FORM, values=values,
                           origins=live.origins(), errors=errors, saved=saved,
                           user=current_user, path=live.path), status


@bp.route("/staff/accounts", methods=["GET", "POST"])
@admin_only
def accounts_page():
    error, status = None, 200
    with closing(_db()) as conn:
        if request.method == "POST":
            f = request.form
            if f.get("password", "") != f.get("again", ""):
                error, status = "the two passwords differ; nothing was changed", 400
            else:
                try:
                    account_id = accounts.add(conn, f.get("name", ""), f.get("role", ""),
                                              f.get("password", ""))
                    _audit("account_changed", f"account {f.get('name', '')}",
                           f"added or password set, role {f.get('role', '')}")
                    if account_id == current_user.id:  # one's own new password: the
                        _login(conn, accounts.get(conn, account_id))  # others end, not this
                    return redirect("/staff/accounts")
                except ValueError as exc:
                    error, status = f"{exc}; nothing was changed", 400
        rows = accounts.all_accounts(conn)
    return render_template("staff/accounts.html", accounts=rows, error=error,
                           user=current_user, roles=accounts.ROLES,
                           least_role=accounts.LEAST_ROLE), status


@bp.post(f"/staff/accounts/<int(max={ID_MAX}):account_id>/<any(role, delete):action>")
@admin_only
def account_change(account_id: int, action: str):
    conn = _db()
    try:
        row = accounts.get(conn, account_id)
        if row is None:
            abort(404)
        if action == "delete":
            if account_id == current_user.id:
                flash("you cannot delete your own account while logged in to it")
                return redirect("/staff/accounts")
            accounts.delete(conn, account_id)
            _audit("account_changed", f"account {row[1]}", "deleted")
        else:
            accounts.set_role(conn, account_id, request.form.get("role", ""))
            _audit("account_changed", f"account {row[1]}",
                   f"role {row[2]} -> {request.form.get('role', '')}")
    except ValueError as exc:
        flash(str(exc))
        return redirect("/staff/accounts")
    finally:
        conn.close()
    return redirect("/staff/accounts")


@bp.post("/staff/backup")
@admin_only
def backup_download():
    """One backup file, made now (SQLite's online backup: safe while reps are
    written) in a private folder beside the store, sent, and not kept."""
    import tempfile
    import time

    from device.store.backup import make_backup

    store = Path(current_app.config["STORE_PATH"])
    name = time.strftime("hinge-mirror-%Y%m%d-%H%M%S.tar.gz")
    try:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=store.parent) as tmp:
            make_backup(store, Path(tmp) / name)
            data = (Path(tmp) / name).read_bytes()
    except (HingeMirrorError, OSError) as exc:
        log.error("backup download: %s", exc)
        return render_template("staff/message.html", title="No backup",
                               message=f"The backup could not be made: {exc}"), 503
    _audit("backup", "download", name)
    return Response(data, mimetype="application/gzip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.get("/staff/audit")
@admin_only
def audit_page():
    with closing(_db()) as conn:
        rows = audit.rows(conn, limit=500)
    return render_template("staff/audit.html", rows=rows)


@bp.get("/api/staff/audit.csv")
@admin_only
def audit_csv():
    with closing(_db()) as conn:
        text = audit.to_csv(conn)
    _audit("export", "audit trail", "csv")
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
