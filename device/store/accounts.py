"""Staff accounts: a name, a role (admin or viewer) and werkzeug's scrypt hash.

Passwords are never stored or logged; `hinge-mirror staff add` asks for one
twice on the terminal. There is no default account and no default password.
"""

from __future__ import annotations

import sqlite3
import time

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("admin", "viewer")
LEAST_ROLE = "viewer"  # what a new account is unless someone chooses more
MIN_PASSWORD = 10  # characters


def check_name_and_role(name: str, role: str) -> None:
    """ValueError if `name` or `role` cannot be an account's (before a password
    is asked for)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} must be one of {', '.join(ROLES)}")
    if not name.strip() or not name.isprintable() or len(name) > 64:
        raise ValueError("the name must be 1-64 printable characters")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")


def check_not_last_admin(conn: sqlite3.Connection, name: str, role: str) -> None:
    """ValueError if giving `name` the role `role` would leave no admin."""
    row = conn.execute("SELECT id, role FROM accounts WHERE name = ?", (name,)).fetchone()
    if row and row[1] == "admin" and role != "admin" and not _admins_left_without(conn, row[0]):
        raise ValueError("that is the last admin: make another admin first")


def add(conn: sqlite3.Connection, name: str, role: str, password: str) -> int:
    """Create or replace the account `name`; returns its id. ValueError says why not."""
    check_name_and_role(name, role)
    check_password(password)
    digest = generate_password_hash(password, method="scrypt")
    with conn:  # the check and the change in one transaction, as set_role's
        conn.execute("BEGIN IMMEDIATE")
        check_not_last_admin(conn, name, role)
        # A new password ends the account's logins made with the old one (`logins`).
        conn.execute("INSERT INTO accounts (name, role, password_hash, created_at) "
                     "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET role = "
                     "excluded.role, password_hash = excluded.password_hash, "
                     "logins = logins + 1",
                     (name, role, digest, time.time()))
    return conn.execute("SELECT id FROM accounts WHERE name = ?", (name,)).fetchone()[0]


def role_of(conn: sqlite3.Connection, name: str) -> str | None:
    """The role of the account `name`, or None if there is none."""
    row = conn.execute("SELECT role FROM accounts WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]


def get(conn: sqlite3.Connection, account_id: int) -> tuple[int, str, str] | None:
    """(id, name, role) or None."""
    return conn.execute("SELECT id, name, role FROM accounts WHERE id = ?",
                        (account_id,)).fetchone()


def check(conn: sqlite3.Connection, name: str, password: str) -> tuple[int, str, str] | None:
    """The account when the password is right, else None (same work either way)."""
    row = conn.execute("SELECT id, name, role, password_hash FROM accounts WHERE name = ?",
                       (name,)).fetchone()
    digest = row[3] if row else generate_password_hash("x" * MIN_PASSWORD, method="scrypt")
    ok = check_password_hash(digest, password)
    return (row[0], row[1], row[2]) if row and ok else None


def logins(conn: sqlite3.Connection, account_id: int) -> int | None:
    """The account's login generation (schema 5): a login carries it in its
    cookie and holds while it is the account's; None if there is no account."""
    row = conn.execute("SELECT logins FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return row[0] if row else None


def end_logins(conn: sqlite3.Connection, account_id: int) -> None:
    """End every login of the account, wherever it was made (a logout)."""
    with conn:
        conn.execute("UPDATE accounts SET logins = logins + 1 WHERE id = ?", (account_id,))


def all_accounts(conn: sqlite3.Connection) -> list[dict]:
    return [{"id": i, "name": n, "role": r, "created_at": t} for i, n, r, t in conn.execute(
        "SELECT id, name, role, created_at FROM accounts ORDER BY name")]


def _admins_left_without(conn: sqlite3.Connection, account_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM accounts WHERE role = 'admin' AND id != ?",
                        (account_id,)).fetchone()[0]


def set_role(conn: sqlite3.Connection, account_id: int, role: str) -> None:
    """Change a role; ValueError if it is unknown or would leave no admin."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} must be one of {', '.join(ROLES)}")
    with conn:  # the check and the change in one transaction
        conn.execute("BEGIN IMMEDIATE")
        if role != "admin" and not _admins_left_without(conn, account_id):
            raise ValueError("that is the last admin: make another admin first")
        conn.execute("UPDATE accounts SET role = ? WHERE id = ?", (role, account_id))


def delete(conn: sqlite3.Connection, account_id: int) -> None:
    """Delete an account; ValueError if it is the last admin."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = get(conn, account_id)
        if row and row[2] == "admin" and not _admins_left_without(conn, account_id):
            raise ValueError("that is the last admin: make another admin first")
        conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
