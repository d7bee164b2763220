"""The state of one browser's login flow, kept in Flask's signed session cookie ``devidp_flow``.

Only this module reads or writes ``session[...]`` keys (CSRF aside). It remembers the
authorization request to resume after the login screens, how far the login got (username,
password checked, which TOTP step), and a one-shot "fresh login" marker that lets the resumed
request skip ``prompt=login``/``max_age`` once, because the user has just signed in for it.
Login state expires after ``MAX_FLOW_SECONDS`` of the IdP's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import session

MAX_FLOW_SECONDS = 30 * 60

STEP_PASSWORD = "password"  # noqa: S105 - a step name
STEP_TOTP = "totp"
STEP_TOTP_SETUP = "totp_setup"


@dataclass(frozen=True)
class LoginState:
    username: str
    step: str
    user_id: int | None
    started: float


def remember_request(url: str) -> None:
    """Start a login for this authorization request (any earlier login progress is dropped)."""
    session.pop("login", None)
    session["resume"] = url


def pending_request() -> str | None:
    return session.get("resume")


def begin_login(username: str, now: float) -> None:
    """The username step is done; the password step comes next."""
    session["login"] = {"username": username, "step": STEP_PASSWORD, "user_id": None, "at": now}


def login_state(now: float) -> LoginState | None:
    """How far this browser got, or ``None`` (never started, or too old)."""
    data = session.get("login")
    if not isinstance(data, dict):
        return None
    if now - data.get("at", 0) > MAX_FLOW_SECONDS or now < data.get("at", 0) - MAX_FLOW_SECONDS:
        session.pop("login", None)
        return None
    return LoginState(data["username"], data["step"], data.get("user_id"), data["at"])


def password_checked(user_id: int, next_step: str) -> None:
    """The password was right; only the TOTP step (``next_step``) remains."""
    data = dict(session["login"])
    data.update(step=next_step, user_id=user_id)
    data.pop("totp_secret", None)
    session["login"] = data


def enrolment_secret(new_secret: Callable[[], str]) -> str:
    """The TOTP secret this flow's setup page shows: kept from the first visit, else new.

    It belongs to this flow only (another browser or tab enrolling the same user gets its own)
    and is forgotten with the flow.
    """
    data = dict(session["login"])
    secret = data.get("totp_secret")
    if not isinstance(secret, str) or not secret:
        secret = new_secret()
        data["totp_secret"] = secret
        session["login"] = data
    return secret


def restart_login() -> None:
    """Forget the username ("Not you?"), keep the authorization request."""
    session.pop("login", None)


def finish_login(sid: str) -> str | None:
    """The login completed: start a clean flow session and return the request to resume.

    Clearing the session gives the browser a fresh flow cookie after authentication, like
    ``session.clear()`` in flaskr's login view.
    """
    resume = session.get("resume")
    session.clear()
    if resume:
        session["fresh"] = {"sid": sid, "url": resume}
    return resume


def is_fresh_login(url: str, sid: str) -> bool:
    """True when the user just signed in (session ``sid``) to answer exactly this request."""
    data = session.get("fresh")
    return isinstance(data, dict) and data.get("sid") == sid and data.get("url") == url


def clear_fresh_login() -> None:
    session.pop("fresh", None)
