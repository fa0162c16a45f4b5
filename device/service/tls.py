"""HTTPS for the staff console: the device's own certificate, and a TLS server.

A self-signed certificate (EC P-256, ten years) is made on first start for the
device's host name, `NAME.local`, `localhost` and its addresses, and kept with
the device's data (`tls.crt`, and `tls.key` mode 0600); a clinic's own
certificate and key replace it in the config. Staff check its SHA-256
fingerprint once: `hinge-mirror staff cert` prints it, and so do the staff
dashboard and the mirror's screen while nobody is in view.

The TLS server is cheroot's (CherryPy's WSGI server) with its adapter over the
standard library's `ssl`: no hand-written TLS. The mirror page, its stream and
/healthz stay on plain HTTP for the kiosk; staff routes asked for over plain
HTTP are redirected (web_ui/staff.py).
"""

from __future__ import annotations

import datetime as dt
import errno
import html
import ipaddress
import logging
import re
import socket
import time
from pathlib import Path

from device.errors import HingeMirrorError
from device.files import atomic_write
from device.service.system import addresses

log = logging.getLogger(__name__)


def _names() -> tuple[list[str], list[str]]:
    host = socket.gethostname()
    dns = sorted({host, f"{host}.local", "localhost"})
    ips = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(host, None):
            ips.add(info[4][0].split("%")[0])
    except OSError:
        pass
    ips.update(addresses())  # the console by number, where NAME.local does not resolve
    return dns, sorted(ips)


def ensure_certificate(folder: Path | str, cert: str = "", key: str = "") -> tuple[Path, Path]:
    """The certificate and key to serve: the clinic's own when given, else the
    device's, made once in `folder`."""
    if cert or key:
        if not (cert and key):
            raise HingeMirrorError("config [server] cert and key: give both, or neither "
                                   "(the device then makes its own)")
        for p in (cert, key):
            if not Path(p).is_file():
                raise HingeMirrorError(f"certificate {p}: no such file; check [server] "
                                       "cert and key")
        return Path(cert), Path(key)
    folder = Path(folder)
    crt, k = folder / "tls.crt", folder / "tls.key"
    if crt.is_file() and k.is_file():
        return crt, k
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    dns, ips = _names()
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hinge Mirror")])
    now = dt.datetime.now(dt.UTC)
    san = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a))
                                            for a in ips]
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.SubjectAlternativeName(san), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(private, hashes.SHA256()))
    key_pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    atomic_write(k, key_pem, what="TLS key", mode=0o600)
    atomic_write(crt, certificate.public_bytes(serialization.Encoding.PEM), what="certificate",
                 mode=0o600)  # public, but the data folder is the service user's alone
    log.info("made the staff console's certificate %s for %s (%s)", crt, ", ".join(dns),
             fingerprint(crt))
    return crt, k


def fingerprint(cert: Path | str) -> str:
    """SHA-256 of the certificate, as browsers show it (AB:CD:...)."""
    import hashlib
    import ssl

    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


HINT_S, HINT_BYTES = 2.0, 65536
_HOST = re.compile(r"^[A-Za-z0-9.\-]+$|^\[[0-9A-Fa-f:.]+\]$")


def plain_http_hint(sock: socket.socket, port: int) -> bool:
    """A browser that asks the HTTPS port over plain http:// gets, as nginx does,
    a short page saying to use https:// (with the link), not a reset connection.
    True when `sock` spoke plain HTTP and was answered (and closed)."""
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except OSError:
        return False
    if not first or first == b"\x16":  # a TLS handshake starts with 0x16
        return False
    # The acceptor waits on this exchange at most HINT_S in all, and reads at most
    # HINT_BYTES: a client trickling bytes cannot hold the console's door.
    deadline = time.monotonic() + HINT_S
    head, read = b"", 0

    def recv() -> bytes:
        nonlocal read
        left = deadline - time.monotonic()
        if left <= 0 or read >= HINT_BYTES:
            return b""
        sock.settimeout(left)
        chunk = sock.recv(4096)
        read += len(chunk)
        return chunk

    try:
        while b"\r\n\r\n" not in head and (chunk := recv()):
            head += chunk
    except OSError:
        pass
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else "/"
    host = next((v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
                 if k.strip().lower() == "host"), "")
    name = host[:host.index("]") + 1] if host.startswith("[") and "]" in host else (
        host.split(":")[0])
    if not target.startswith("/"):
        target = "/"
    url = (f"https://{name}:{port}{target}" if name and _HOST.match(name) else None)
    text = ("This is the staff console's HTTPS port: use https://" +
            (f", <a href=\"{html.escape(url)}\">{html.escape(url)}</a>" if url else "") + ".")
    body = (f"<!doctype html><title>Use https://</title><p>{text}</p>\n").encode()
    try:
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html; charset=utf-8\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        sock.shutdown(socket.SHUT_WR)
        while recv():  # what is left of the request, so that nothing resets
            pass
    except OSError:
        pass
    finally:
        sock.close()
    return True


def make_tls_server(app, host: str, port: int, cert: Path, key: Path, threads: int = 4):
    """cheroot over `ssl`, bound now (a port in use is one line, before anything runs)."""
    from cheroot import errors, wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    class Adapter(BuiltinSSLAdapter):
        def wrap(self, sock):
            if plain_http_hint(sock, port):
                raise errors.FatalSSLAlert("plain http:// on the HTTPS port: answered with "
                                           "a hint to use https://")
            return super().wrap(sock)

    server = wsgi.Server((host, port), app, numthreads=threads, server_name="hinge-mirror")
    server.ssl_adapter = Adapter(str(cert), str(key))
    said = server.error_log

    def error_log(msg="", level=logging.INFO, traceback=False):
        if "plain http:// on the HTTPS port" in msg:  # answered: not a dropped connection
            log.info("staff console: plain http:// on port %d, answered with the https:// link",
                     port)
            return
        said(msg, level, traceback)

    server.error_log = error_log
    try:
        server.prepare()
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.EADDRINUSE or "in use" in str(exc):
            raise HingeMirrorError(f"port {port} on {host}: already in use by another "
                                   "program; stop it or set [server] https_port") from None
        raise HingeMirrorError(f"address {host}:{port}: cannot listen for HTTPS ({exc}); "
                               "check [server] https_host/https_port") from None
    return server
