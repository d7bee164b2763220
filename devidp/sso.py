"""SSO sessions: the IdP's memory that a browser has signed in (OpenID Connect Core 1.0 §3.1.2.3).

A session starts when a login completes and is kept in the ``devidp_sso`` cookie (a random value
whose SHA-256 is the database key). While it lives, the authorization endpoint answers without any
screen. It ends ``sso_session_seconds`` after sign-in, at end_session, by the admin CLI, or when a
new login replaces it (``prompt=login``, ``max_age``). Its ``sid`` (Front/Back-Channel Logout
§2.1) is stable for the session and goes into ID tokens; when a live session is ended, every
client that received tokens for it is sent a logout token (see :mod:`devidp.backchannel`).

What a re-authentication does depends on the ``reauth`` setting, because IdPs differ and the
portal must cope with both: ``new-session`` (authentik) replaces the session, so a new ``sid``
and a logout token for the old one; ``keep-session`` (Keycloak) keeps the session, its ``sid``
and its end (counted from its first sign-in), sends no logout token, and only moves
``auth_time`` and ``amr`` on (:func:`reauthenticate`).
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from dataclasses import dataclass

from flask import Response
from flask import request

from . import backchannel
from . import clock
from . import config
from . import db
from . import keys
from . import users

log = logging.getLogger(__name__)

COOKIE_NAME = "devidp_sso"
ACR_MFA = "urn:devidp:mfa"
ACR_PASSWORD = "urn:devidp:pwd"  # noqa: S105 - an acr value


@dataclass(frozen=True)
class SSOSession:
    key: str
    sid: str
    user_id: int
    auth_time: int
    expires_at: float
    amr: tuple[str, ...]
    acr: str


def acr_for(amr: tuple[str, ...] | list[str]) -> str:
    """``urn:devidp:mfa`` when the methods include a second factor, else ``urn:devidp:pwd``."""
    return ACR_MFA if "mfa" in amr else ACR_PASSWORD


def _from_row(row: sqlite3.Row | None) -> SSOSession | None:
    if row is None:
        return None
    return SSOSession(
        key=row["key"],
        sid=row["sid"],
        user_id=row["user_id"],
        auth_time=row["auth_time"],
        expires_at=row["expires_at"],
        amr=tuple(json.loads(row["amr"])),
        acr=row["acr"],
    )


def create(
    conn: sqlite3.Connection, *, user_id: int, amr: list[str], now: float, lifetime: int
) -> tuple[str, SSOSession]:
    """Start a session; return the cookie value and the session."""
    token = secrets.token_urlsafe(32)
    session = SSOSession(
        key=db.digest(token),
        sid=secrets.token_urlsafe(24),
        user_id=user_id,
        auth_time=int(now),
        expires_at=int(now) + lifetime,
        amr=tuple(amr),
        acr=acr_for(amr),
    )
    conn.execute(
        "INSERT INTO sso_sessions (key, sid, user_id, auth_time, expires_at, amr, acr) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            session.key,
            session.sid,
            user_id,
            session.auth_time,
            session.expires_at,
            json.dumps(list(amr)),
            session.acr,
        ),
    )
    conn.commit()
    return token, session


def reauthenticate(
    conn: sqlite3.Connection, session: SSOSession, *, amr: list[str], now: float
) -> SSOSession | None:
    """Record a new sign-in in a live session, as Keycloak does (the ``keep-session`` mode).

    ``auth_time``, ``amr`` and ``acr`` become those of this sign-in; the key (so the cookie),
    the ``sid`` and ``expires_at`` stay, so the session still ends ``sso_session_seconds``
    after its first sign-in. ``None`` when the session ended meanwhile.
    """
    cur = conn.execute(
        "UPDATE sso_sessions SET auth_time = ?, amr = ?, acr = ? "
        "WHERE key = ? AND ended_at IS NULL AND expires_at > ?",
        (int(now), json.dumps(list(amr)), acr_for(amr), session.key, now),
    )
    conn.commit()
    if cur.rowcount != 1:
        return None
    return SSOSession(
        key=session.key,
        sid=session.sid,
        user_id=session.user_id,
        auth_time=int(now),
        expires_at=session.expires_at,
        amr=tuple(amr),
        acr=acr_for(amr),
    )


def lookup(conn: sqlite3.Connection, token: str, now: float) -> SSOSession | None:
    """The live session behind a cookie value."""
    row = conn.execute(
        "SELECT * FROM sso_sessions WHERE key = ? AND ended_at IS NULL AND expires_at > ?",
        (db.digest(token), now),
    ).fetchone()
    return _from_row(row)


def by_sid(conn: sqlite3.Connection, sid: str, now: float) -> SSOSession | None:
    row = conn.execute(
        "SELECT * FROM sso_sessions WHERE sid = ? AND ended_at IS NULL AND expires_at > ?",
        (sid, now),
    ).fetchone()
    return _from_row(row)


def live_for_user(conn: sqlite3.Connection, user_id: int, now: float) -> list[SSOSession]:
    rows = conn.execute(
        "SELECT * FROM sso_sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ? "
        "ORDER BY auth_time",
        (user_id, now),
    ).fetchall()
    return [s for s in map(_from_row, rows) if s is not None]


def add_client(conn: sqlite3.Connection, session_key: str, client_id: str) -> None:
    """Record that ``client_id`` received tokens for this session."""
    conn.execute(
        "INSERT OR IGNORE INTO sso_session_clients (session_key, client_id) VALUES (?, ?)",
        (session_key, client_id),
    )
    conn.commit()


def clients_of(conn: sqlite3.Connection, session_key: str) -> list[str]:
    rows = conn.execute(
        "SELECT client_id FROM sso_session_clients WHERE session_key = ? ORDER BY client_id",
        (session_key,),
    ).fetchall()
    return [row["client_id"] for row in rows]


def mark_ended(conn: sqlite3.Connection, session: SSOSession, now: float) -> bool:
    """End the session and revoke its access tokens; False if it had already ended."""
    cur = conn.execute(
        "UPDATE sso_sessions SET ended_at = ? WHERE key = ? AND ended_at IS NULL",
        (now, session.key),
    )
    conn.execute("UPDATE access_tokens SET revoked = 1 WHERE session_key = ?", (session.key,))
    conn.commit()
    return cur.rowcount == 1


def logout_deliveries(conn: sqlite3.Connection, session: SSOSession) -> list[backchannel.Delivery]:
    """One logout token per client that took part and has a back-channel logout URI."""
    settings = config.settings()
    user = users.find_by_id(conn, session.user_id)
    if user is None:
        return []
    deliveries = []
    now = clock.now()
    for client_id in clients_of(conn, session.key):
        client = settings.clients.get(client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        token = backchannel.logout_token(
            key=keys.current(),
            issuer=settings.issuer,
            client_id=client_id,
            sub=user.sub,
            sid=session.sid,
            now=now,
        )
        deliveries.append(backchannel.Delivery(client_id, client.backchannel_logout_uri, token))
    return deliveries


def end(session: SSOSession, *, reason: str, wait: bool = False) -> list[backchannel.Result]:
    """End a live session and notify its clients (in the background unless ``wait``)."""
    conn = db.get_db()
    if not mark_ended(conn, session, clock.now()):
        return []
    deliveries = logout_deliveries(conn, session)
    log.info(
        "SSO session %s… of user #%d ended (%s); back-channel logout to %d client(s)",
        session.sid[:8],
        session.user_id,
        reason,
        len(deliveries),
    )
    if wait:
        return backchannel.deliver_all(deliveries)
    backchannel.deliver_in_background(deliveries)
    return []


def current() -> SSOSession | None:
    """The live session named by the request's cookie, if any."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    return lookup(db.get_db(), token, clock.now())


def set_cookie(response: Response, token: str) -> None:
    settings = config.settings()
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.sso_session_seconds,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response) -> None:
    settings = config.settings()
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=settings.secure_cookies, httponly=True, samesite="Lax"
    )
