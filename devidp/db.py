"""The IdP's state in one SQLite file (stdlib ``sqlite3``), shaped like flaskr's ``db.py``.

Users (with werkzeug password hashes), TOTP devices, lockout counters, login flows in progress,
SSO sessions and the clients that took part in them, authorization codes, access tokens and the
signing key all live here, so a restart loses no enrolment and no live SSO session. Codes,
tokens and flow ids are stored as SHA-256 hashes only. One connection per request (or CLI command) is kept on ``g``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g

FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: SQLite's companion files in WAL mode (https://sqlite.org/tempfiles.html).
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    sub TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS totp_devices (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    last_used_step INTEGER,
    confirmed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lockouts (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    lockouts INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS lockouts_updated ON lockouts(updated_at);
CREATE TABLE IF NOT EXISTS login_flows (
    key TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    resume TEXT,
    username TEXT,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    totp_secret TEXT,
    sid TEXT,
    started_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_flows_started ON login_flows(started_at);
CREATE TABLE IF NOT EXISTS sso_sessions (
    key TEXT PRIMARY KEY,
    sid TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS sso_sessions_user ON sso_sessions(user_id);
CREATE TABLE IF NOT EXISTS sso_session_clients (
    session_key TEXT NOT NULL REFERENCES sso_sessions(key) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    PRIMARY KEY (session_key, client_id)
);
CREATE TABLE IF NOT EXISTS authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    session_key TEXT NOT NULL,
    sid TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS authorization_codes_nonce ON authorization_codes(client_id, nonce);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    code_hash TEXT,
    session_key TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database with rows addressable by column name and foreign keys enforced."""
    conn = sqlite3.connect(path, timeout=15)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def init_db(path: str | Path) -> None:
    """Create the folder, the file and the tables when missing (idempotent).

    The file holds the private signing key, TOTP seeds and password hashes, so only its owner
    may read it: folders the IdP creates are 0700, the database file is created 0600 and set
    to 0600 at every start (tightening files made by older versions). SQLite gives the ``-wal``
    and ``-shm`` files the mode of the database file; any found at start are set to 0600 too.
    """
    path = Path(path)
    _make_private_folders(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILE_SUFFIXES)):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) != FILE_MODE:
            file.chmod(FILE_MODE)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn)
        conn.executescript(SCHEMA)
        conn.commit()
    finally:
        conn.close()


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring tables made by earlier versions up to ``SCHEMA`` (before it adds indexes)."""
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(lockouts)")}
    if columns and "updated_at" not in columns:
        conn.execute("ALTER TABLE lockouts ADD COLUMN updated_at REAL NOT NULL DEFAULT 0")


def _make_private_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents as 0700; folders that exist are left alone."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()]
    for created in reversed(missing):
        try:
            created.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by someone else: not ours to change
            continue
        created.chmod(FOLDER_MODE)  # mkdir's mode is filtered by the umask


def get_db() -> sqlite3.Connection:
    """The connection of the current app context, opened on first use."""
    if "devidp_db" not in g:
        g.devidp_db = connect(current_app.extensions["devidp.settings"].database)
    return g.devidp_db


def close_db(_error: BaseException | None = None) -> None:
    conn = g.pop("devidp_db", None)
    if conn is not None:
        conn.close()


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a code, token or cookie value is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def init_app(app: Flask) -> None:
    init_db(app.extensions["devidp.settings"].database)
    app.teardown_appcontext(close_db)
