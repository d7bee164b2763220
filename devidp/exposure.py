"""The credentials shipped in config/devidp.toml, refused when the IdP is reachable from elsewhere.

Everyone who has read the repository knows them. With the shipped ``secret_key`` anyone can sign
the IdP's cookies; with the demo user's password and the portal's client secret anyone can sign
in as that user or pose as the portal. They are fine on loopback, where only this machine talks
to the IdP; ``devidp run`` refuses to listen on another address (or to serve a non-loopback
issuer, i.e. behind a reverse proxy) until :func:`problems` finds nothing left to change.

"High entropy" for the secret key is judged without knowing how it was made: at least
``MIN_SECRET_KEY_LENGTH`` characters, not a repeated block, and at least ``MIN_SECRET_KEY_BITS``
bits as estimated from the characters' frequencies. ``secrets.token_urlsafe(32)`` and
``secrets.token_hex(16)`` pass; "changeme" written four times, a word repeated or a row of one
key do not. An estimate can only catch the obviously weak: the advice is a random value.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable

from werkzeug.security import check_password_hash

from .config import DEV_SECRET_KEY
from .config import Settings

SHIPPED_SECRET_KEY = DEV_SECRET_KEY
SHIPPED_USER = "demo"
SHIPPED_PASSWORD = "demo-password-2fa"  # noqa: S105 - the public demo value refused here
SHIPPED_CLIENT_SECRET = "demo-portal-secret-change-me"  # noqa: S105 - likewise
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_BITS = 96
MAKE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 - a hint


def secret_key_is_strong(key: str) -> bool:
    """At least 32 characters, no repeated block, and 96 bits or more by character frequency."""
    if key == SHIPPED_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
        return False
    if key in (key + key)[1:-1]:  # "abcabc...": a block repeated
        return False
    counts = Counter(key).values()
    bits_per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts)
    return bits_per_char * len(key) >= MIN_SECRET_KEY_BITS


def users_with_shipped_password(conn: sqlite3.Connection, usernames: Iterable[str]) -> list[str]:
    """Which of these users still sign in with the shipped demo password."""
    found = []
    for username in sorted(set(usernames)):
        row = conn.execute(
            "SELECT username, password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is not None and check_password_hash(row["password_hash"], SHIPPED_PASSWORD):
            found.append(row["username"])
    return found


def problems(settings: Settings, conn: sqlite3.Connection) -> list[str]:
    """What must change before the IdP may serve other machines; empty when nothing."""
    found = []
    if not secret_key_is_strong(settings.secret_key):
        found.append(
            f"set [idp] secret_key to at least {MIN_SECRET_KEY_LENGTH} random characters "
            f"(e.g. from {MAKE_SECRET})"
        )
    candidates = [SHIPPED_USER, *(seed.username for seed in settings.users)]
    for username in users_with_shipped_password(conn, candidates):
        found.append(f"change the password of user {username!r} (devidp set-password {username})")
    for client in settings.clients.values():
        if client.client_secret == SHIPPED_CLIENT_SECRET:
            found.append(f"change client_secret of client {client.client_id!r} in [[clients]]")
    return found
