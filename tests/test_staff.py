"""The staff console's door: no default account, login, CSRF, rate limit, logout."""

from __future__ import annotations

import html
import re

import pytest

from device.cli import main
from device.store import accounts, connect
from tests.helpers import PASSWORD, make_app, stored_session, token


@pytest.fixture
def store(tmp_path):
    return tmp_path / "staff.db"


def test_until_an_account_exists_the_page_says_which_command_makes_one(store):
    client = make_app(store).test_client()
    page = client.get("/staff/login")
    assert page.status_code == 503
    assert "hinge-mirror staff add NAME --role admin" in page.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # and nothing behind it opens
    assert client.get("/api/staff/health").status_code == 401


def test_staff_add_asks_twice_and_stores_a_slow_hash(store, tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n')
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["staff", "add", "ana", "--role", "admin", "--config", str(cfg)]) == 2
    assert "differ" in capsys.readouterr().err
    def no_terminal(prompt=""):  # piped input that ended, or Ctrl-D at the prompt
        raise EOFError

    monkeypatch.setattr("getpass.getpass", no_terminal)
    assert main(["staff", "add", "ana", "--role", "admin", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "staff add: no password was typed" in err and "Traceback" not in err
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    answers = iter([PASSWORD, PASSWORD])
    assert main(["staff", "add", "ana", "--role", "admin", "--config", str(cfg)]) == 0
    conn = connect(store)
    (digest,) = conn.execute("SELECT password_hash FROM accounts").fetchone()
    assert digest.startswith("scrypt:") and PASSWORD not in digest


def test_login_logout_and_what_each_needs(store):
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    client = make_app(store).test_client()
    assert client.get("/staff/").status_code == 302
    # Without a CSRF token the form is refused.
    assert client.post("/staff/login", data={"name": "ana", "password": PASSWORD}
                       ).status_code == 400
    ok = client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                           "csrf_token": token(client)})
    assert ok.status_code == 302
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/staff/").status_code == 200
    assert client.get("/api/staff/health").get_json()["ok"] is True
    assert client.post("/staff/logout", data={"csrf_token": token(client, "/staff/")}
                       ).status_code == 302
    assert client.get("/staff/").status_code == 302  # logged out


def test_wrong_passwords_are_refused_then_rate_limited(store):
    accounts.add(connect(store), "ana", "viewer", PASSWORD)
    client = make_app(store, {"LOGIN_LIMIT": "3 per minute"}).test_client()
    codes = [client.post("/staff/login", data={"name": "ana", "password": "wrong password",
                                               "csrf_token": token(client)}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    # Even the right password waits now: the limit is per client, not per guess.
    assert client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                             "csrf_token": token(client)}).status_code == 429


def test_only_failed_logins_count_towards_the_rate_limit(store):
    """Issue 25, item 4: a shared tablet's staff logging in and out all morning
    were locked out by their own successful logins."""
    accounts.add(connect(store), "ana", "viewer", PASSWORD)
    client = make_app(store, {"LOGIN_LIMIT": "3 per minute"}).test_client()
    for _ in range(5):
        assert client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                                 "csrf_token": token(client)}).status_code == 302
        client.post("/staff/logout", data={"csrf_token": token(client, "/staff/")})
    codes = [client.post("/staff/login", data={"name": "ana", "password": "wrong password",
                                               "csrf_token": token(client)}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_the_mirror_page_stays_open_and_shows_nothing_of_the_staff(store):
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    client = make_app(store).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/state").status_code == 200
    assert "ana" not in client.get("/").get_data(as_text=True)


def viewer_on_dashboard(store, health: dict):
    """A viewer logged in to an app whose /healthz report is `health` (live: a test changes it)."""
    accounts.add(connect(store), "ana", "viewer", PASSWORD)
    app = make_app(store, health=lambda: health)
    client = app.test_client()
    client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                      "csrf_token": token(client)})
    return client


def test_the_dashboard_says_when_the_device_cannot_record(store):
    health = {"ok": True, "uptime_s": 5, "camera": {"ok": True}, "pipeline": {"fps": 29.8},
              "model": {"runtime": "ai_edge_litert"},
              "store": {"recording": False, "problem": "cannot record: database or disk is full"}}
    client = viewer_on_dashboard(store, health)
    page = client.get("/staff/").get_data(as_text=True)
    assert "cannot record: database or disk is full" in page
    health["store"] = {"recording": True, "problem": None}  # its twin: recording says yes
    page = client.get("/staff/").get_data(as_text=True)
    assert "cannot record" not in page and "29.8" in page


def test_the_dashboard_says_why_the_camera_is_away_and_when_it_is_tried_again(store):
    health = {"ok": False, "uptime_s": 5, "pipeline": {"fps": 0.0}, "model": {"loaded": True},
              "camera": {"ok": False, "source": None, "reason_id": "not_found",
                         "words": "No camera found: check that it is plugged in",
                         "reason": "camera auto: no camera found (libcamera lists none)",
                         "retry_in_s": 27.6}}
    client = viewer_on_dashboard(store, health)
    page = client.get("/staff/").get_data(as_text=True)
    row = re.search(r'data-testid="camera">(.*?)</td>', page).group(1)
    assert "unavailable: No camera found: check that it is plugged in" in row
    assert "next try in 28 s" in row and "camera auto: no camera found" in row
    health["camera"] = {"ok": True, "source": "camera 0"}  # its twin: back
    row = re.search(r'data-testid="camera">(.*?)</td>', client.get("/staff/").get_data(
        as_text=True)).group(1)
    assert row == "ok (camera 0)"


def test_every_staff_route_is_refused_without_a_login(store):
    # Walks the app's own routes, so a staff page added later is covered too.
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    app = make_app(store)
    client = app.test_client()
    staff = [r for r in app.url_map.iter_rules()
             if r.rule.startswith(("/staff", "/api/staff")) and r.endpoint != "staff.login"]
    assert len(staff) >= 3
    urls = app.url_map.bind("localhost")
    for rule in staff:
        # A value each converter accepts: the first choice of an <any(...)>, else 1.
        values = {arg: sorted(getattr(rule._converters[arg], "items", None) or [1])[0]
                  for arg in rule.arguments}
        path = urls.build(rule.endpoint, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(path, method=method)
            assert resp.status_code in (302, 400, 401), (path, method, resp.status_code)
            if resp.status_code == 302:
                assert resp.headers["Location"].endswith("/staff/login")


def logged_in(store, role="viewer"):
    accounts.add(connect(store), "ana", role, PASSWORD)
    client = make_app(store).test_client()
    client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                      "csrf_token": token(client)})
    return client


def test_a_session_page_has_its_reps_and_charts_and_exports_match_the_store(store):
    stored_session(store)
    client = logged_in(store)
    listing = client.get("/staff/sessions").get_data(as_text=True)
    assert "/staff/sessions/1" in listing and "Squatting, not hinging" in listing
    page = client.get("/staff/sessions/1").get_data(as_text=True)
    assert page.count("<svg") == 3 and page.count("<circle") == 3 * 2 * 2  # 3 reps, 2 lines
    assert page.count("Squatting, not hinging") >= 3
    csv_text = client.get("/api/staff/sessions/1.csv").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    conn = connect(store)
    db = conn.execute("SELECT hip_deg, score FROM reps ORDER BY id").fetchall()
    assert len(lines) == 1 + len(db) == 4
    header = lines[0].split(",")
    for line, (hip, score) in zip(lines[1:], db, strict=True):
        cells = dict(zip(header, line.split(","), strict=True))
        assert float(cells["hip_deg"]) == hip and int(cells["score"]) == score
    exported = client.get("/api/staff/sessions/1.json").get_json()
    assert [r["hip_deg"] for r in exported["reps_detail"]] == [h for h, _ in db]
    assert client.get("/api/staff/reps.csv?from=2000-01-01").get_data(as_text=True) == csv_text
    assert client.get("/staff/sessions?from=not-a-date").status_code == 400
    assert client.get("/staff/sessions/99").status_code == 404


def test_every_state_changing_request_needs_a_csrf_token_even_when_logged_in(store):
    # Walks the app's own POST routes, logged in as an admin, without a token.
    client = logged_in(store, role="admin")
    app = client.application
    urls = app.url_map.bind("localhost")
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) >= 5
    for rule in posts:
        values = {arg: sorted(getattr(rule._converters[arg], "items", None) or [1])[0]
                  for arg in rule.arguments}
        resp = client.post(urls.build(rule.endpoint, values), data={"client_code": "X"})
        assert resp.status_code == 400 and b"CSRF" in resp.get_data(), rule.rule
    assert client.get("/staff/").status_code == 200  # and the login itself still holds


def test_errors_are_pages_of_the_console_with_the_way_back(store):
    """Issue 25, item 4: 400, 403, 404 and 429 were the framework's bare pages.
    /api/ routes answer as they did."""
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    accounts.add(connect(store), "vic", "viewer", PASSWORD)
    app = make_app(store, {"LOGIN_LIMIT": "2 per minute"})

    def console_page(resp, code, says, back):
        page = resp.get_data(as_text=True)
        assert resp.status_code == code and resp.mimetype == "text/html", (code, page)
        assert "<title>Hinge Mirror · staff</title>" in page, page
        assert says in html.unescape(re.search(r'data-testid="message">([^<]*)<', page).group(1))
        assert f'href="{back}"' in re.search(r'data-testid="way-back">(.*?)</p>', page).group(1)
        return page

    viewer = app.test_client()
    assert viewer.post("/staff/login", data={"name": "vic", "password": PASSWORD,
                                             "csrf_token": token(viewer)}).status_code == 302
    page = console_page(viewer.get("/staff/accounts"), 403, "for admins", "/staff/")
    assert 'data-testid="nav"' in page  # the console's own navigation, logged in
    console_page(viewer.get("/staff/sessions/99"), 404, "Nothing is at this address",
                 "/staff/")
    console_page(viewer.get("/staff/no-such-page"), 404, "Nothing is at this address",
                 "/staff/")
    console_page(viewer.get("/staff/sessions?from=2026-13-45"), 400,
                 "The From date is not a date", "/staff/")
    page = console_page(viewer.post("/staff/logout"), 400, "CSRF", "/staff/")
    assert "reload the page" in page
    console_page(viewer.get("/staff/logout"), 405, "a form's button", "/staff/")
    # Nothing of the URL is echoed, even in a 400's sentence.
    assert "0100" not in viewer.get("/staff/sessions?to=call-555-0100").get_data(as_text=True)
    # The login's rate limit: its own page, "try again in a minute".
    guesser = app.test_client()
    for _ in range(2):
        guesser.post("/staff/login", data={"name": "ana", "password": "wrong password",
                                           "csrf_token": token(guesser)})
    resp = guesser.post("/staff/login", data={"name": "ana", "password": "wrong password",
                                              "csrf_token": token(guesser)})
    console_page(resp, 429, "try again in a minute", "/staff/login")
    assert resp.headers["Retry-After"] == "60"
    # /api/ routes answer as they did: JSON where it was JSON, never the console's page.
    anyone = app.test_client()
    assert anyone.get("/api/staff/health").get_json() == {"error": "log in at /staff/login"}
    for path in ("/api/staff/sessions/99.json", "/api/nothing"):
        resp = viewer.get(path)
        assert resp.status_code == 404 and b"Hinge Mirror" not in resp.get_data(), path


def test_a_logout_or_a_new_password_ends_the_accounts_other_logins(store):
    """Issue 25, item 4: a logout, or a password changed, left the account's
    other logins (another browser, a forgotten tablet) open."""
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    app = make_app(store)

    def logged_in():
        client = app.test_client()
        assert client.post("/staff/login", data={"name": "ana", "password": PASSWORD,
                                                 "csrf_token": token(client)}).status_code == 302
        return client

    desk, tablet = logged_in(), logged_in()
    assert tablet.get("/staff/").status_code == 200
    desk.post("/staff/logout", data={"csrf_token": token(desk, "/staff/")})
    assert tablet.get("/staff/").status_code == 302  # logged out there too
    assert desk.get("/staff/").status_code == 302
    # A new password set on the accounts page: the other logins end, this one holds.
    desk, tablet = logged_in(), logged_in()
    new = {"name": "ana", "role": "admin", "password": PASSWORD, "again": PASSWORD}
    assert desk.post("/staff/accounts", data={**new, "csrf_token": token(desk, "/staff/accounts")}
                     ).status_code == 302
    assert tablet.get("/staff/").status_code == 302
    assert desk.get("/staff/").status_code == 200
    # A password reset from the command line (staff add) ends every login.
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    assert desk.get("/staff/").status_code == 302
    # A cookie from before the login generation (schema 4: the id alone) holds no more.
    old = logged_in()
    with old.session_transaction() as session:
        session["_user_id"] = "1"
    assert old.get("/staff/").status_code == 302


def test_staff_add_refuses_what_it_can_before_asking_for_the_password(store, tmp_path,
                                                                     monkeypatch, capsys):
    """Issue 25, item 7: a short password was refused only after it was typed
    twice, and the last admin's demotion after both passwords."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n')
    asked = []

    def typed(prompt=""):
        asked.append(prompt)
        return "short"

    monkeypatch.setattr("getpass.getpass", typed)
    assert main(["staff", "add", "ana", "--role", "admin", "--config", str(cfg)]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert asked == ["password for ana: "]  # once, not twice
    assert not store.exists()  # nothing made for a refusal
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    asked.clear()
    for argv, says in ((["ana", "--role", "viewer"], "last admin"),
                       (["x" * 65, "--role", "viewer"], "1-64 printable characters")):
        assert main(["staff", "add", *argv, "--config", str(cfg)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0] and "nothing was changed" in err[0], err
    assert asked == []  # refused before any password was asked for
    assert dict(connect(store).execute("SELECT name, role FROM accounts")) == {"ana": "admin"}


def test_a_password_reset_without_role_keeps_the_accounts_role(store, tmp_path, monkeypatch,
                                                              capsys):
    """Issue 25, item 7: `staff add NAME` for a password reset needed --role again."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{store}"\n')
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    accounts.add(connect(store), "vic", "viewer", PASSWORD)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PASSWORD + " new")
    for name, role in (("vic", "viewer"), ("ana", "admin")):
        assert main(["staff", "add", name, "--config", str(cfg)]) == 0
        assert f"staff account {name} ({role}) saved" in capsys.readouterr().out
        assert accounts.check(connect(store), name, PASSWORD + " new")[2] == role
    # A new account still says which role it gets.
    assert main(["staff", "add", "new", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "staff add new: no such account yet" in err[0] and \
        "--role" in err[0], err
    assert accounts.role_of(connect(store), "new") is None
