"""The login screens: username, password, TOTP setup (first login) or TOTP code (later logins).

They reproduce the customer journey of DESIGN.md as authentik renders it. Each screen is one
``<form method="post">`` with a CSRF field. A wrong password says only "Incorrect username or
password", whether or not the user exists; wrong passwords and codes count towards a lockout per
account and client address, under a looser ceiling per account (:mod:`devidp.lockout`). The
flow's state is server-side and each step done gives it a new id (:mod:`devidp.flow`), so a
forged or copied flow cookie cannot skip a step. When the last factor is checked, an SSO
session starts (ending the one this browser had, with back-channel logouts, as authentik does
for ``prompt=login``; with ``reauth = "keep-session"`` the same user's live session is kept
instead, as Keycloak does, see :mod:`devidp.sso`) and the browser goes back to the
authorization request that sent it here (OpenID Connect Core 1.0 §3.1.2.3-§3.1.2.5).
Usernames longer than ``config.MAX_USERNAME_LENGTH`` are refused on the username page.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint
from flask import Response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from . import clock
from . import config
from . import csrf
from . import db
from . import flow
from . import lockout
from . import sso
from . import totp
from . import users
from .users import User

log = logging.getLogger(__name__)

bp = Blueprint("login", __name__, url_prefix="/login")

AMR_PASSWORD = ["pwd"]
AMR_PASSWORD_TOTP = ["pwd", "otp", "mfa"]

#: What the screens say, in the screen's language (translated when the page is rendered).
WRONG_PASSWORD = _l("Incorrect username or password.")
WRONG_CODE = _l(
    "That code is not valid. Enter the current 6-digit code from your authenticator app."
)
REUSED_CODE = _l("That code has already been used. Wait for the next code and enter it.")
USERNAME_MISSING = _l("Enter your username.")
USERNAME_TOO_LONG = _l(
    "Usernames are at most %(count)d characters long.", count=config.MAX_USERNAME_LENGTH
)


@bp.before_request
def _require_csrf() -> Response | None:
    if request.method == "POST" and not csrf.is_valid():
        log.warning("login form refused: missing or wrong CSRF token")
        return _page(
            "error.html",
            status=400,
            title=gettext("This page has expired"),
            message=gettext(
                "The form was sent without a valid security token. Please start again."
            ),
            restart=True,
        )
    return None


@bp.route("", methods=["GET", "POST"])
def username() -> Response:
    """Step 1: "Welcome to <Brand> Auth!", Username, "Log in"."""
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        if not name:
            return _page("username.html", status=400, error=USERNAME_MISSING, username=name)
        if len(name) > config.MAX_USERNAME_LENGTH:
            log.info("username refused: %d characters", len(name))
            return _page("username.html", status=400, error=USERNAME_TOO_LONG, username=name)
        flow.begin_login(name, clock.now())
        return redirect(url_for("login.password"))
    return _page("username.html")


@bp.route("/restart")
def restart() -> Response:
    """Back to the username step ("Not you?"), keeping the pending authorization request."""
    flow.restart_login(clock.now())
    return redirect(url_for("login.username"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> Response:
    """Step 2: the greeting with the username, Password, "Continue"."""
    now = clock.now()
    state = flow.login_state(now)
    if state is None or state.step != flow.STEP_PASSWORD:
        return _redirect_to_step(state)
    page = {"template": "password.html", "username": state.username}
    if request.method == "GET":
        return _page(**page)

    conn = db.get_db()
    settings = config.settings()
    known = users.find_by_username(conn, state.username)
    throttle = _throttle(known.id if known else None, state.username)
    wait = lockout.begin_attempt(conn, throttle, now)  # counted before the slow hash
    if wait:
        return _locked(wait, **page)
    user = users.authenticate(
        conn,
        state.username,
        request.form.get("password", ""),
        hash_method=settings.password_hash_method,
    )
    if user is None:
        log.info("wrong password for username %r", state.username)
        wait = lockout.attempt_failed(conn, throttle, now)
        if wait:
            return _locked(wait, **page)
        return _page(**page, error=WRONG_PASSWORD)
    lockout.attempt_succeeded(conn, throttle)

    if settings.skip_totp:
        return _complete(state, user, AMR_PASSWORD)
    if totp.get_device(conn, user.id) is not None:
        return _move_to(state, flow.STEP_TOTP, user)
    return _move_to(state, flow.STEP_TOTP_SETUP, user)


@bp.route("/totp-setup", methods=["GET", "POST"])
def totp_setup() -> Response:
    """Step 3 (first login): QR code, copy button, "TOTP code", "Continue"."""
    now = clock.now()
    state = flow.login_state(now)
    user = _user_at_step(state, flow.STEP_TOTP_SETUP)
    if user is None or state is None:
        return _redirect_to_step(state)
    conn = db.get_db()
    if totp.get_device(conn, user.id) is not None:  # enrolled meanwhile (another flow)
        return _move_to(state, flow.STEP_TOTP, user)
    settings = config.settings()
    secret = flow.enrolment_secret(state, totp.new_secret)
    if secret is None:  # the flow moved on in another request
        return _redirect_to_step(flow.login_state(now))
    uri = totp.provisioning_uri(secret, user.username, settings.brand)
    page = {
        "template": "totp_setup.html",
        "username": state.username,
        "secret": secret,
        "otpauth_uri": uri,
        "qr_svg": totp.qr_svg(uri, title=gettext("QR code for your authenticator app")),
    }
    if request.method == "GET":
        return _page(**page)

    throttle = _throttle(user.id, state.username)
    wait = lockout.begin_attempt(conn, throttle, now)
    if wait:
        return _locked(wait, **page)
    result = totp.verify(secret, request.form.get("code", ""), now=now, last_used_step=None)
    if result.outcome is totp.Outcome.VALID and result.step is not None:
        lockout.attempt_succeeded(conn, throttle)
        if not totp.confirm_device(conn, user.id, secret, result.step, now):
            log.warning("TOTP setup for user %s refused: a device is enrolled", user.username)
            return _move_to(state, flow.STEP_TOTP, user)
        log.info("TOTP device enrolled for user %s", user.username)
        amr = AMR_PASSWORD_TOTP if settings.enrolment_amr == "full" else AMR_PASSWORD
        return _complete(state, user, amr)
    return _code_failure(throttle, now, page, WRONG_CODE)


@bp.route("/totp", methods=["GET", "POST"])
def totp_code() -> Response:
    """Step 4 (later logins): the code field, "Continue"."""
    now = clock.now()
    state = flow.login_state(now)
    user = _user_at_step(state, flow.STEP_TOTP)
    if user is None or state is None:
        return _redirect_to_step(state)
    conn = db.get_db()
    device = totp.get_device(conn, user.id)
    if device is None:  # reset by the admin meanwhile: enrol again
        return _move_to(state, flow.STEP_TOTP_SETUP, user)
    page = {"template": "totp.html", "username": state.username}
    if request.method == "GET":
        return _page(**page)

    throttle = _throttle(user.id, state.username)
    wait = lockout.begin_attempt(conn, throttle, now)
    if wait:
        return _locked(wait, **page)
    result = totp.verify(
        device.secret, request.form.get("code", ""), now=now, last_used_step=device.last_used_step
    )
    if result.outcome is totp.Outcome.VALID and result.step is not None:
        if totp.claim_step(conn, user.id, result.step):
            return _complete(state, user, AMR_PASSWORD_TOTP)
        result = totp.Verification(totp.Outcome.REUSED, result.step)
    message = REUSED_CODE if result.outcome is totp.Outcome.REUSED else WRONG_CODE
    return _code_failure(throttle, now, page, message)


@bp.route("/done")
def done() -> Response:
    """Shown after a login that no application asked for."""
    session = sso.current()
    if session is None:
        return redirect(url_for("login.username"))
    user = users.find_by_id(db.get_db(), session.user_id)
    return _page("signed_in.html", name=user.name if user else "")


# --- helpers ----------------------------------------------------------------------------------


def _page(template: str, *, status: int = 200, **context: object) -> Response:
    return Response(
        render_template(template, **context),
        status=status,
        headers={"Cache-Control": "no-store"},
    )


def _locked(wait: int, **page: object) -> Response:
    response = _page(**page, status=429, error=lockout.message(wait))  # type: ignore[arg-type]
    response.headers["Retry-After"] = str(wait)
    return response


def _throttle(user_id: int | None, typed_username: str) -> tuple[lockout.Counter, ...]:
    """The lockout counters of a guess at this account from this client's address."""
    return lockout.counters(lockout.account_for(user_id, typed_username), request.remote_addr)


def _code_failure(
    throttle: tuple[lockout.Counter, ...], now: float, page: dict, message: str
) -> Response:
    log.info("wrong TOTP code for %s", throttle[-1].key)
    wait = lockout.attempt_failed(db.get_db(), throttle, now)
    if wait:
        return _locked(wait, **page)
    return _page(**page, error=message)


def _move_to(state: flow.LoginState, step: str, user: User) -> Response:
    """Advance the flow to the TOTP ``step``, unless another request already moved it."""
    if not flow.advance(state, step, user.id):
        log.info("login step refused: the flow of user %s had already moved on", user.username)
        return _redirect_to_step(None)
    return redirect(url_for(STEP_VIEWS[step]))


def _user_at_step(state: flow.LoginState | None, step: str) -> User | None:
    if state is None or state.step != step or state.user_id is None:
        return None
    return users.find_by_id(db.get_db(), state.user_id)


STEP_VIEWS = {
    flow.STEP_PASSWORD: "login.password",
    flow.STEP_TOTP: "login.totp_code",
    flow.STEP_TOTP_SETUP: "login.totp_setup",
}


def _redirect_to_step(state: flow.LoginState | None) -> Response:
    if state is None:
        return redirect(url_for("login.username"))
    return redirect(url_for(STEP_VIEWS.get(state.step, "login.username")))


def _complete(state: flow.LoginState, user: User, amr: list[str]) -> Response:
    """All factors checked: end the flow, start the SSO session, resume the request.

    The flow is consumed first, so two requests racing with one flow cannot both sign in.
    """
    if not flow.consume(state):
        log.warning("login of user %s refused: the flow was already used", user.username)
        return _redirect_to_step(None)
    conn = db.get_db()
    now = clock.now()
    token, session = _sign_in(conn, user, amr, now)
    lockout.reset(conn, _throttle(user.id, state.username))
    resume = flow.finish_login(state, session.sid, now)
    response = redirect(resume or url_for("login.done"))
    if token is not None:
        sso.set_cookie(response, token)
    return response


def _sign_in(
    conn: sqlite3.Connection, user: User, amr: list[str], now: float
) -> tuple[str | None, sso.SSOSession]:
    """The SSO session of this sign-in, and the cookie value to set (``None``: keep the cookie).

    With ``reauth = "keep-session"`` the same user's live session records the sign-in and
    keeps its sid and end, as Keycloak does. Otherwise (the default, and for another user) a
    new session starts and the browser's previous one ends with back-channel logouts, as
    authentik does.
    """
    settings = config.settings()
    previous = sso.current()
    if (
        previous is not None
        and previous.user_id == user.id
        and settings.reauth == config.REAUTH_KEEP_SESSION
    ):
        kept = sso.reauthenticate(conn, previous, amr=amr, now=now)
        if kept is not None:
            log.info(
                "user %s signed in again (amr %s), SSO session %s… kept",
                user.username,
                amr,
                kept.sid[:8],
            )
            return None, kept
    token, session = sso.create(
        conn, user_id=user.id, amr=amr, now=now, lifetime=settings.sso_session_seconds
    )
    if previous is not None:
        sso.end(previous, reason="replaced by a new login")
    log.info("user %s signed in (amr %s), SSO session %s…", user.username, amr, session.sid[:8])
    return token, session
