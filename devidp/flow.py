"""One browser's login flow, kept server-side and named by a single-use id in its cookie.

The flow remembers the authorization request to resume after the login screens, how far the
login got (username typed, password checked, which TOTP step), the TOTP secret a setup page
shows, and, once the login is done, a one-shot "fresh login" marker that lets the resumed
request skip ``prompt=login``/``max_age`` once, because the user has just signed in for it.

All of it lives in the ``login_flows`` table. The signed session cookie ``devidp_flow`` holds
only a random id (stored as its SHA-256, like SSO session cookies), so knowing the cookie
signing key is not enough to skip a step, to choose the user or the TOTP secret of a flow, or
to choose where a finished login goes. Each completed step gives the flow a new id and drops
the old one (compare-and-swap on the id and the step): a copy of the cookie taken earlier is
worth nothing once the browser has moved on, and two requests racing with the same copy
cannot both pass a step. Wrong answers do not move the flow, so they keep the id.

Login progress expires ``MAX_FLOW_SECONDS`` after the username step (the IdP's clock); flows
left behind are deleted when new ones start. Only this module reads or writes the flow's
``session[...]`` key (CSRF aside).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from flask import session
from flask import url_for

from . import db

log = logging.getLogger(__name__)

MAX_FLOW_SECONDS = 30 * 60

STEP_USERNAME = "username"
STEP_PASSWORD = "password"  # noqa: S105 - a step name
STEP_TOTP = "totp"
STEP_TOTP_SETUP = "totp_setup"
STEP_DONE = "done"
#: Steps at which the login is under way (a username was typed).
LOGIN_STEPS = (STEP_PASSWORD, STEP_TOTP, STEP_TOTP_SETUP)

_SESSION_KEY = "flow"


@dataclass(frozen=True)
class LoginState:
    """A flow at one of ``LOGIN_STEPS``; ``key`` names its row."""

    key: str
    username: str
    step: str
    user_id: int | None
    started: float
    resume: str | None
    totp_secret: str | None


def remember_request(url: str, now: float) -> None:
    """Start a flow for this authorization request (any earlier login progress is dropped)."""
    _drop()
    _start(STEP_USERNAME, now, resume=url if is_resumable(url) else None)


def begin_login(username: str, now: float) -> None:
    """The username step is done: the password step comes next, in a new flow."""
    row = _row(now)
    resume = row["resume"] if row is not None and row["step"] != STEP_DONE else None
    _drop()
    _start(STEP_PASSWORD, now, resume=resume, username=username)


def login_state(now: float) -> LoginState | None:
    """How far this browser got, or ``None`` (never started, too old, or moved on elsewhere)."""
    row = _row(now)
    if row is None or row["step"] not in LOGIN_STEPS:
        return None
    return LoginState(
        key=row["key"],
        username=row["username"],
        step=row["step"],
        user_id=row["user_id"],
        started=row["started_at"],
        resume=row["resume"],
        totp_secret=row["totp_secret"],
    )


def advance(state: LoginState, next_step: str, user_id: int) -> bool:
    """Move the flow from ``state.step`` to ``next_step`` under a new id; False if it had moved.

    Used when the password was right (only a TOTP step remains), and between the TOTP steps.
    A pending TOTP secret is dropped, so each setup page the flow reaches shows a new one.
    """
    conn = db.get_db()
    flow_id = secrets.token_urlsafe(32)
    cur = conn.execute(
        "UPDATE login_flows SET key = ?, step = ?, user_id = ?, totp_secret = NULL "
        "WHERE key = ? AND step = ?",
        (db.digest(flow_id), next_step, user_id, state.key, state.step),
    )
    conn.commit()
    if cur.rowcount != 1:
        return False
    session[_SESSION_KEY] = flow_id
    return True


def enrolment_secret(state: LoginState, new_secret: Callable[[], str]) -> str | None:
    """The TOTP secret this flow's setup page shows: kept from the first visit, else new.

    It belongs to this flow only (another browser or tab enrolling the same user gets its own)
    and is forgotten with the flow. ``None`` when the flow has moved on meanwhile.
    """
    if state.totp_secret:
        return state.totp_secret
    conn = db.get_db()
    conn.execute(
        "UPDATE login_flows SET totp_secret = ? WHERE key = ? AND step = ? AND totp_secret IS NULL",
        (new_secret(), state.key, STEP_TOTP_SETUP),
    )
    conn.commit()
    row = conn.execute(
        "SELECT totp_secret FROM login_flows WHERE key = ? AND step = ?",
        (state.key, STEP_TOTP_SETUP),
    ).fetchone()
    return row["totp_secret"] if row is not None else None


def restart_login(now: float) -> None:
    """Forget the username ("Not you?"), keep the authorization request."""
    row = _row(now)
    resume = row["resume"] if row is not None and row["step"] != STEP_DONE else None
    _drop()
    if resume:
        _start(STEP_USERNAME, now, resume=resume)


def consume(state: LoginState) -> bool:
    """The last factor was right: end the flow, once; False if another request already did."""
    conn = db.get_db()
    cur = conn.execute(
        "DELETE FROM login_flows WHERE key = ? AND step = ?", (state.key, state.step)
    )
    conn.commit()
    return cur.rowcount == 1


def finish_login(state: LoginState, sid: str, now: float) -> str | None:
    """After :func:`consume` and the new SSO session: a clean flow, and the request to resume.

    Clearing the session gives the browser a fresh flow cookie after authentication, like
    ``session.clear()`` in flaskr's login view; its new flow only marks the login as fresh for
    the request it resumes (see :func:`is_fresh_login`).
    """
    session.clear()
    resume = state.resume if state.resume and is_resumable(state.resume) else None
    if resume:
        _start(STEP_DONE, now, resume=resume, sid=sid)
    return resume


def is_fresh_login(url: str, sid: str, now: float) -> bool:
    """True when the user just signed in (session ``sid``) to answer exactly this request."""
    row = _row(now)
    return (
        row is not None and row["step"] == STEP_DONE and row["sid"] == sid and row["resume"] == url
    )


def clear_fresh_login() -> None:
    """An authorization response is on its way: drop the fresh-login marker (and any flow).

    The SSO session answered, so a login this browser had left half-way is moot too.
    """
    _drop()


def is_resumable(url: str) -> bool:
    """Only this IdP's authorization endpoint is resumed after a login (never another site)."""
    return url.startswith(url_for("protocol.authorize") + "?")


def prune(conn: sqlite3.Connection, now: float) -> int:
    """Delete flows older than ``MAX_FLOW_SECONDS``; return how many went."""
    cur = conn.execute("DELETE FROM login_flows WHERE started_at < ?", (now - MAX_FLOW_SECONDS,))
    return cur.rowcount


# --- helpers ----------------------------------------------------------------------------------


def _row(now: float) -> sqlite3.Row | None:
    """This browser's flow row, if it names one that is not too old."""
    flow_id = session.get(_SESSION_KEY)
    if not isinstance(flow_id, str):
        return None
    row = (
        db.get_db()
        .execute("SELECT * FROM login_flows WHERE key = ?", (db.digest(flow_id),))
        .fetchone()
    )
    if row is None or abs(now - row["started_at"]) > MAX_FLOW_SECONDS:
        log.info("the flow cookie names no live login flow (used up, expired or never issued)")
        session.pop(_SESSION_KEY, None)
        return None
    return row


def _start(step: str, now: float, **fields: object) -> None:
    """A new flow row at ``step`` with a new id in the cookie; old flows are pruned."""
    conn = db.get_db()
    prune(conn, now)
    flow_id = secrets.token_urlsafe(32)
    values = {"key": db.digest(flow_id), "step": step, "started_at": now, **fields}
    columns = ", ".join(values)
    placeholders = ", ".join("?" for _ in values)
    conn.execute(
        f"INSERT INTO login_flows ({columns}) VALUES ({placeholders})",  # noqa: S608 - own names
        tuple(values.values()),
    )
    conn.commit()
    session[_SESSION_KEY] = flow_id


def _drop() -> None:
    """Forget this browser's flow, here and in the database."""
    flow_id = session.pop(_SESSION_KEY, None)
    if isinstance(flow_id, str):
        conn = db.get_db()
        conn.execute("DELETE FROM login_flows WHERE key = ?", (db.digest(flow_id),))
        conn.commit()
