"""HTTPS for the staff console: the device's certificate, a real TLS server, the
redirects from plain HTTP, the Secure cookie and HSTS."""

from __future__ import annotations

import http.client
import re
import shutil
import ssl
import subprocess
import threading

import pytest

from device.cli import main
from device.errors import HingeMirrorError
from device.service import tls
from device.service.hub import StateHub
from device.service.server import make_server
from device.store import accounts, connect
from tests.helpers import PASSWORD, free_port, listening, unavailable


def test_the_device_makes_its_certificate_once_with_a_private_key(tmp_path):
    crt, key = tls.ensure_certificate(tmp_path)
    assert key.stat().st_mode & 0o777 == 0o600
    text = crt.read_text()
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(text.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert any(str(a) == "127.0.0.1" for a in san.get_values_for_type(x509.IPAddress))
    first = tls.fingerprint(crt)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first)
    assert tls.ensure_certificate(tmp_path) == (crt, key) and tls.fingerprint(crt) == first
    # The clinic's own pair is used as given; half a pair is one line.
    own = tmp_path / "own"
    own.mkdir()
    c2, k2 = tls.ensure_certificate(own)
    assert tls.ensure_certificate(tmp_path / "x", str(c2), str(k2)) == (c2, k2)
    with pytest.raises(HingeMirrorError, match="give both, or neither"):
        tls.ensure_certificate(tmp_path / "x", str(c2), "")


@pytest.fixture
def servers(tmp_path):
    """The app on plain HTTP (waitress) and HTTPS (cheroot), as run_device serves it."""
    from web_ui import create_app

    crt, key = tls.ensure_certificate(tmp_path)
    store = tmp_path / "s.db"
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    plain_port, tls_port = free_port(), free_port()
    app = create_app({"SECRET_KEY": "test-only", "STORE_PATH": str(store),
                      "HTTPS_PORT": tls_port, "TLS_CERT": str(crt),
                      "TLS_FINGERPRINT": tls.fingerprint(crt)},
                     hub=StateHub(), health=lambda: {"ok": True, "uptime_s": 1})
    plain = make_server(app, "127.0.0.1", plain_port, 8)
    threading.Thread(target=plain.run, daemon=True).start()
    secure = tls.make_tls_server(app, "127.0.0.1", tls_port, crt, key)
    threading.Thread(target=secure.serve, daemon=True).start()
    yield plain_port, tls_port, crt
    secure.stop()
    plain.close()


def https(port, crt):
    context = ssl.create_default_context(cafile=str(crt))  # verifies name and chain
    return http.client.HTTPSConnection("localhost", port, context=context, timeout=10)


def test_plain_http_on_the_https_port_gets_a_hint_to_use_https_not_a_reset(servers):
    """Issue 25, item 5: as nginx answers that mistake; and the port still speaks TLS."""
    plain_port, tls_port, crt = servers
    for _ in range(2):  # and again: the acceptor is not stuck on the first
        conn = http.client.HTTPConnection("127.0.0.1", tls_port, timeout=10)
        conn.request("GET", "/staff/sessions?page=2")
        resp = conn.getresponse()
        page = resp.read().decode()
        conn.close()
        assert resp.status == 400
        assert f'href="https://127.0.0.1:{tls_port}/staff/sessions?page=2"' in page, page
    conn = https(tls_port, crt)
    conn.request("GET", "/staff/login")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200


def test_a_plain_http_client_that_trickles_cannot_hold_the_consoles_door(servers):
    """The hint's exchange is bounded in time and bytes: a client that sends its
    head then a body a byte at a time does not keep HTTPS from answering."""
    import socket
    import time

    plain_port, tls_port, crt = servers
    stop = threading.Event()

    def trickle():
        with socket.create_connection(("127.0.0.1", tls_port)) as c:
            c.sendall(b"POST /staff/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n")
            while not stop.wait(0.1):
                try:
                    c.sendall(b"x")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    time.sleep(0.3)  # the trickler is at the door first
    try:
        conn = https(tls_port, crt)
        conn.timeout = 6  # the hint gives up on the trickler within HINT_S (2 s)
        conn.request("GET", "/staff/login")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200
    finally:
        stop.set()


def test_staff_pages_are_served_over_tls_with_the_devices_certificate(servers):
    plain_port, tls_port, crt = servers
    conn = https(tls_port, crt)
    conn.request("GET", "/staff/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    assert resp.status == 200 and "Staff login" in page
    assert resp.getheader("Strict-Transport-Security") == "max-age=31536000"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    conn.request("POST", "/staff/login",
                 body=f"name=ana&password={PASSWORD.replace(' ', '+')}&csrf_token={token}",
                  headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": cookie,  # a browser's Referer: CSRF checks it over TLS
                          "Referer": f"https://localhost:{tls_port}/staff/login"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302
    set_cookie = resp.getheader("Set-Cookie")
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    conn.close()
    # The same certificate, as openssl sees it from outside.
    if shutil.which("openssl") is None:
        unavailable("openssl is not installed")
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}",
                          "-servername", "localhost"], input="", capture_output=True,
                         text=True, timeout=20).stdout
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert pem and tls.fingerprint(crt) == _fp(pem.group(0))


def _fp(pem: str) -> str:
    import hashlib

    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def test_no_staff_route_answers_over_plain_http_but_the_mirror_does(servers):
    plain_port, tls_port, crt = servers
    for method, path in (("GET", "/staff/"), ("GET", "/staff/login"), ("POST", "/staff/login"),
                         ("GET", "/api/staff/health"), ("GET", "/api/staff/reps.csv?from=x"),
                         ("GET", "/metrics")):
        conn = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10)
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 308, (method, path, resp.status)
        assert resp.getheader("Location") == f"https://127.0.0.1:{tls_port}{path}"
        assert resp.getheader("Set-Cookie") is None and b"csrf" not in body
        conn.close()
    for path in ("/", "/healthz", "/api/state", "/certificate.pem"):
        conn = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, path
        assert resp.getheader("Strict-Transport-Security") is None
        conn.close()


def test_staff_cert_prints_the_fingerprint(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/data/s.db"\n')
    assert main(["staff", "cert", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("tls.crt") and out[1] == "SHA-256 " + tls.fingerprint(out[0])


# -- where the console is, and [server] https_port = 0 -----------------------------


def test_with_https_off_the_console_answers_this_machine_alone(tmp_path):
    """https_port = 0: no staff route (login, sessions, CSV exports, the JSON API)
    answers an address of the network, in clear; this machine's own browser
    (loopback) still reaches it. The mirror page and /metrics (counts) do."""
    from web_ui import create_app

    store = tmp_path / "s.db"
    accounts.add(connect(store), "ana", "admin", PASSWORD)
    app = create_app({"SECRET_KEY": "test-only", "STORE_PATH": str(store)}, hub=StateHub(),
                     health=lambda: {"ok": True, "uptime_s": 1})
    network = app.test_client()
    network.environ_base["REMOTE_ADDR"] = "192.168.1.20"
    for path in ("/staff/login", "/staff/", "/staff/sessions", "/staff/sessions.csv",
                 "/api/staff/sessions", "/staff/settings", "/staff/logs"):
        r = network.get(path)
        assert r.status_code == 404 and b"https_port = 0" in r.data, path
    r = network.post("/staff/login", data={"name": "ana", "password": PASSWORD})
    assert r.status_code == 404 and "Set-Cookie" not in r.headers
    assert network.get("/").status_code == 200 and network.get("/metrics").status_code == 200
    here = app.test_client()  # 127.0.0.1
    assert here.get("/staff/login").status_code == 200
    for addr in ("::1", "::ffff:127.0.0.1"):
        local = app.test_client()
        local.environ_base["REMOTE_ADDR"] = addr
        assert local.get("/staff/login").status_code == 200, addr





def _run_until_console(tmp_path, server: str, *args: str) -> tuple[str, set[str]]:
    """A real `hinge-mirror run` (the demo): its log, and where its TLS
    port listens, once it says where the staff console is."""
    import os
    import sys
    import time

    tls_port = free_port()
    tmp_path.mkdir(exist_ok=True)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/s.db"\n[log]\ndir = "{tmp_path}/log"\n'
                   f'[backup]\nevery_h = 0\n[server]\n{server.format(tls_port=tls_port)}\n')
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--source", "demo",
                             "--config", str(cfg), "--port", str(free_port()), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ))
    log = tmp_path / "log" / "hinge-mirror.log"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not re.search(
                "staff console( on|:)", log.read_text() if log.exists() else ""):
            assert proc.poll() is None
            time.sleep(0.1)
        time.sleep(0.3)  # the TLS server's thread binds beside the log line
        return log.read_text(), listening(tls_port)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_console_listens_where_the_mirror_does_unless_told(tmp_path):
    # --host 127.0.0.1 and no https_host: the console on loopback too, and said.
    log, where = _run_until_console(tmp_path / "a", "https_port = {tls_port}",
                                    "--host", "127.0.0.1")
    assert where == {"127.0.0.1"}, where
    assert re.search(r"staff console on https://127\.0\.0\.1:\d+/staff/ \(as \[server\] host, "
                     r"from --host;", log), log
    # [server] host on every address (the appliance's config): the console there too.
    log, where = _run_until_console(tmp_path / "b", 'host = "0.0.0.0"\nhttps_port = {tls_port}')
    assert where == {"0.0.0.0"} and "https://0.0.0.0:" in log, (where, log)
    # https_host given: it wins, and the log says it was the setting.
    log, where = _run_until_console(tmp_path / "c", 'https_host = "0.0.0.0"\n'
                                    "https_port = {tls_port}", "--host", "127.0.0.1")
    assert where == {"0.0.0.0"} and "([server] https_host;" in log, (where, log)


def test_with_https_off_every_start_warns_that_the_console_is_this_machines_alone(tmp_path):
    log, _ = _run_until_console(tmp_path, "https_port = 0", "--host", "127.0.0.1")
    assert re.search(r"WARNING .*staff console: off on the network \(\[server\] https_port = 0\)"
                     r"; this machine alone reaches it, over plain HTTP at "
                     r"http://127\.0\.0\.1:\d+/staff/", log), log
