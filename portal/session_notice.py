"""The session-ended notice: when a session ends without the customer doing it, say why.

A session ends by itself 12 hours after the sign-in, after PORTAL_IDLE_TIMEOUT without
activity, or when the IdP ends it (back-channel logout). The next page the customer opens
(the landing page, or Login, where every signed-in page sends a browser without a session)
then shows "Your session ended ..." with the reason and Login, before anything else, instead
of jumping to the IdP's username page.

How the next request knows why, without keeping anything for anonymous visitors:

* By the time the browser comes back, its session record is usually gone: the store's expiry
  follows the idle and 12-hour bounds (portal.session_store.storage_ttl), and a back-channel
  logout deletes the record from another process. So the reason cannot be read from the record.
* Instead, while a session lives, each response that changes its deadlines (login, and the
  activity write every 15 s) sets a small marker cookie: the session's 12-hour end, its last
  activity, and the IdP session id. It holds nothing secret (the customer's own deadlines and
  IdP session id, which is not a credential) and no name, and it is HttpOnly, SameSite=Lax,
  ``__Host-`` on https, and a browser-session cookie like the session's own.
* It is signed with the portal's secret key, so only a browser that had a session here can
  present one: a forged marker can neither show a notice nor make the portal look up an
  arbitrary sid (the back-channel tombstones would otherwise be an oracle for strangers).
* The reason is then decided from the marker and the clock: past the 12-hour end, or past the
  idle deadline, or else the sid's back-channel tombstone (portal.session_store, kept for 12
  hours anyway) says the IdP ended it. Anything else gets a plain "Your session has ended".
* The marker goes when the customer logs out (their own doing needs no notice), once the
  notice was shown, or when a new session replaces it. Reading it writes nothing server-side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from portal import sessions
from portal.redirects import safe_target
from portal.session_store import StoreUnavailable
from portal.settings import Settings

log = logging.getLogger("portal.sessions")

#: The marker's cookie on https (``__Host-``: Secure, Path=/, no Domain) and on http loopback.
HOST_COOKIE_NAME = "__Host-portal_ended"
PLAIN_COOKIE_NAME = "portal_ended"
SALT = "portal.session-notice"

#: Seconds of leeway on the deadlines: the store may drop a record up to a second before
#: them (its expiry is a whole number of seconds), and the marker keeps whole seconds.
SLACK = 5
#: How long after the 12-hour end a marker still explains anything; older ones are dropped.
NOTICE_WINDOW = 12 * 3600

#: Why a session ended, as the notice page words it.
MAX_AGE = "max_age"
IDLE = "idle"
SIGNED_OUT_AT_IDP = "idp"
ENDED = "ended"

#: Where the notice is shown: the two doors every visit without a session goes through.
NOTICE_PAGES = frozenset({"public.landing", "auth.login"})
#: Forms of a session that is already over: sent to the notice instead of failing their
#: CSRF check (the token lived in the ended session).
ENDED_FORMS = frozenset({"auth.logout", "auth.logout_everywhere"})
#: Requests that say nothing about the customer's session and leave the marker alone.
UNRELATED = frozenset({"static", "public.healthz", "public.readyz", "auth.backchannel_logout"})


@dataclass(frozen=True)
class Marker:
    """What a browser keeps of its session to explain its end: deadlines and the IdP sid."""

    ends_at: int
    last_seen: int
    sid: str

    @classmethod
    def of(cls, active: sessions.PortalSession) -> Marker:
        return cls(int(active.ends_at), int(active.last_seen), active.sid or "")


def reason(marker: Marker, *, now: float, idle_timeout: int, sid_ended: bool) -> str:
    """Why the session of ``marker`` is over at ``now`` (one of the constants above)."""
    if now >= marker.ends_at - SLACK:
        return MAX_AGE
    if now >= marker.last_seen + idle_timeout - SLACK:
        return IDLE
    if sid_ended:
        return SIGNED_OUT_AT_IDP
    return ENDED


def cookie_name(settings: Settings) -> str:
    return HOST_COOKIE_NAME if settings.secure_cookies else PLAIN_COOKIE_NAME


def _settings() -> Settings:
    return current_app.extensions["portal.settings"]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def encode(marker: Marker) -> str:
    return _serializer().dumps([marker.ends_at, marker.last_seen, marker.sid])


def decode(value: str | None) -> Marker | None:
    """The marker of a cookie value, or None when absent, forged or not of this shape."""
    if not value or len(value) > 512:
        return None
    try:
        fields = _serializer().loads(value)
    except BadSignature:
        return None
    if (
        not isinstance(fields, list)
        or len(fields) != 3
        or not all(isinstance(f, int) for f in fields[:2])
        or not isinstance(fields[2], str)
    ):
        return None
    return Marker(fields[0], fields[1], fields[2])


def _request_marker() -> Marker | None:
    return decode(request.cookies.get(cookie_name(_settings())))


def _ended_session() -> Marker | None:
    """The marker of a session that is over, when this browser had one and has none now."""
    if sessions.store_unavailable() or sessions.current() is not None:
        return None
    marker = _request_marker()
    now = current_app.extensions["portal.clock"].now()
    if marker is None or now > marker.ends_at + NOTICE_WINDOW:
        return None
    return marker


def _before_request() -> Response | None:
    # A session that is live now and gone after the view was ended by the customer (Log out,
    # Log out everywhere, Confirm your sign-in): their own doing needs no notice.
    g.notice_had_session = sessions.current() is not None
    if request.endpoint not in NOTICE_PAGES | ENDED_FORMS:
        return None
    marker = _ended_session()
    if marker is None:
        return None
    if request.endpoint in ENDED_FORMS:
        return redirect(url_for("public.landing"), code=303)
    if request.method not in ("GET", "HEAD"):
        return None
    g.notice_shown = True
    return _notice(marker)


def _notice(marker: Marker) -> Response:
    settings = _settings()
    try:
        ended = bool(marker.sid) and sessions.index().sid_ended(marker.sid)
    except StoreUnavailable:
        ended = False
    why = reason(
        marker,
        now=current_app.extensions["portal.clock"].now(),
        idle_timeout=settings.idle_timeout,
        sid_ended=ended,
    )
    log.info("session-ended notice shown: %s", why)
    target = safe_target(request.args.get("next")) if request.endpoint == "auth.login" else None
    page = render_template(
        "session_ended.html",
        reason=why,
        idle_timeout=settings.idle_timeout,
        sso_max_age=settings.sso_max_age,
        login_url=url_for("auth.login", next=target) if target else url_for("auth.login"),
    )
    response = make_response(page, 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_request(response: Response) -> Response:
    """Keep the marker in step with the live session; drop it once the notice was shown or
    the customer ended the session. A request that finds the session already over (a
    signed-in page sending the browser to Login) keeps it for the notice."""
    if request.endpoint in UNRELATED or sessions.store_unavailable():
        return response
    settings = _settings()
    name = cookie_name(settings)
    active = sessions.current()
    if active is not None and name in request.cookies and not session.modified:
        # the deadlines move only with a session write (login, or the activity write every
        # TOUCH_GRANULARITY seconds): without one the browser's marker is current, and
        # signing it again on every page view was a tenth of /account's time
        return response
    if active is not None:
        value = encode(Marker.of(active))
        if request.cookies.get(name) != value:
            response.set_cookie(
                name,
                value,
                secure=settings.secure_cookies,
                httponly=True,
                samesite="Lax",
                path="/",
            )
            response.headers["Cache-Control"] = "no-store"
    elif name in request.cookies and (g.get("notice_shown") or g.get("notice_had_session")):
        response.delete_cookie(
            name, secure=settings.secure_cookies, httponly=True, samesite="Lax", path="/"
        )
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the notice; call it after ``sessions.init_app`` (its ``_load`` runs first)
    and before ``security.init_app`` (the CSRF check), so that a form of an ended session
    reaches the notice instead of "This form has expired"."""
    app.before_request(_before_request)
    app.after_request(_after_request)
