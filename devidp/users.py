"""Users of the IdP: lookup, creation and password checks (werkzeug's password hashing).

Users listed in the config file are created when absent and never overwritten, so enrolments
survive restarts. A password check for an unknown username still runs one hash, against a dummy
hash, so the time taken does not reveal whether the user exists. The ``sub`` claim is a random,
stable identifier (OpenID Connect Core 1.0 §2: locally unique, never reassigned), not the username.
"""

from __future__ import annotations

import functools
import logging
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from . import clock
from . import db
from .config import MAX_USERNAME_LENGTH
from .config import UserSeed

log = logging.getLogger(__name__)


class UserExists(Exception):
    """A user with that username is already registered."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    email: str
    sub: str


def _from_row(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(row["id"], row["username"], row["name"], row["email"], row["sub"])


def find_by_username(conn: sqlite3.Connection, username: str) -> User | None:
    row = conn.execute("SELECT * FROM users WHERE username = ?", (username.strip(),)).fetchone()
    return _from_row(row)


def find_by_id(conn: sqlite3.Connection, user_id: int) -> User | None:
    return _from_row(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())


def create(
    conn: sqlite3.Connection,
    *,
    username: str,
    password: str,
    name: str,
    email: str,
    hash_method: str,
) -> User:
    """Register a user; raise :class:`UserExists` when the username is taken."""
    username = username.strip()
    if not username or not password:
        raise ValueError("username and password are required")
    if len(username) > MAX_USERNAME_LENGTH:
        raise ValueError(f"the username is longer than {MAX_USERNAME_LENGTH} characters")
    try:
        conn.execute(
            "INSERT INTO users (username, password_hash, name, email, sub, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                username,
                generate_password_hash(password, method=hash_method),
                name or username,
                email,
                secrets.token_hex(16),
                clock.now(),
            ),
        )
    except sqlite3.IntegrityError:
        raise UserExists(username) from None
    conn.commit()
    user = find_by_username(conn, username)
    assert user is not None
    return user


def set_password(
    conn: sqlite3.Connection, user_id: int, password: str, *, hash_method: str
) -> None:
    """Replace the user's password (``devidp set-password``)."""
    if not password:
        raise ValueError("the password must not be empty")
    conn.execute(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        (generate_password_hash(password, method=hash_method), user_id),
    )
    conn.commit()


@functools.lru_cache(maxsize=8)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(
    conn: sqlite3.Connection, username: str, password: str, *, hash_method: str
) -> User | None:
    """The user when the password is right; ``None`` otherwise, in about the same time."""
    row = conn.execute("SELECT * FROM users WHERE username = ?", (username.strip(),)).fetchone()
    if row is None:
        check_password_hash(_dummy_hash(hash_method), password)
        return None
    if not check_password_hash(row["password_hash"], password):
        return None
    return _from_row(row)


def seed(conn: sqlite3.Connection, seeds: Iterable[UserSeed], *, hash_method: str) -> list[str]:
    """Create the configured users that do not exist yet; return their usernames."""
    created = []
    for entry in seeds:
        if find_by_username(conn, entry.username) is not None:
            continue
        create(
            conn,
            username=entry.username,
            password=entry.password,
            name=entry.name,
            email=entry.email,
            hash_method=hash_method,
        )
        created.append(entry.username)
    return created


def init_app(app: Flask) -> None:
    settings = app.extensions["devidp.settings"]
    with app.app_context():
        created = seed(db.get_db(), settings.users, hash_method=settings.password_hash_method)
    for username in created:
        log.info("created user %s from the config file", username)
