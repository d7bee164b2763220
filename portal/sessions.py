"""The portal session's lifecycle: start, current, touch, end, end_by_sid, end_by_sub, and
the customer's own view of it: devices, end_device, and the previous sign-in.

No other module reads or writes the signed-in state in ``flask.session``. The rules of
DESIGN.md's "Session semantics" table live here: a session never outlives
``auth_time + PORTAL_SSO_MAX_AGE`` (the IdP's 12-hour SSO session; ``auth_time`` is the first
one seen for the IdP session, see :func:`start`), ends after ``PORTAL_IDLE_TIMEOUT`` without
requests, gets a fresh id at login (no fixation), and is indexed by the IdP's ``sid`` and the
``sub`` so a back-channel logout finds it at once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask import session

from portal import audit
from portal import device_info
from portal.clock import Clock
from portal.errors import error_page
from portal.redis_connection import connect
from portal.redis_connection import parse_redis_url
from portal.session_files import SessionFiles
from portal.session_files import prepare_session_dir
from portal.session_store import SESSION_PREFIX
from portal.session_store import STATE_KEY
from portal.session_store import FileSessionIndex
from portal.session_store import PortalFileSessionInterface
from portal.session_store import PortalRedisSessionInterface
from portal.session_store import RedisSessionIndex
from portal.session_store import SessionIndex
from portal.session_store import StoreUnavailable
from portal.settings import Settings

log = logging.getLogger("portal.sessions")

#: How often (seconds) a request refreshes ``last_seen``; the idle rule is this precise.
TOUCH_GRANULARITY = 15

#: Pending logins (Authlib's ``_state_<provider>_<state>`` entries) kept per browser session.
MAX_PENDING_LOGINS = 5
PENDING_LOGIN_PREFIX = "_state_"

#: The cookie on https: ``__Host-`` makes browsers refuse it unless Secure, Path=/ and
#: without Domain, so a sibling subdomain or a plain-http answer cannot plant one.
HOST_COOKIE_NAME = "__Host-portal_session"
#: The cookie on http (loopback only, demo and tests), where ``__Host-`` cannot be used.
PLAIN_COOKIE_NAME = "portal_session"

#: How long a customer's latest sign-in (time and browser label) is kept for "Previous
#: sign-in": 90 days from that sign-in; each sign-in replaces it and starts the 90 days again.
PREVIOUS_SIGN_IN_KEPT = 90 * 24 * 3600
#: Sessions the devices page lists: the most recently active (the page says when there
#: are more, and "End every other device" ends them all, listed or not).
MAX_DEVICES_LISTED = 50
#: Most index entries read for the devices page, so that its cost stays bounded however often
#: a customer signed in within 12 hours.
MAX_DEVICES_READ = 500


class LoginEnded(Exception):
    """The IdP session of this login is over already; no portal session is created."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PortalSession:
    """What the portal keeps about a signed-in customer: the minimum the pages need."""

    sub: str
    sid: str | None
    username: str
    name: str
    email: str
    auth_time: float
    amr: tuple[str, ...]
    started_at: float
    last_seen: float
    ends_at: float
    #: The ID token's ``groups`` claim, for ``portal.current_customer()``; empty when absent.
    groups: tuple[str, ...] = ()
    #: The browser and system this session started on ("Firefox on Windows") and the client's
    #: network (packed /24 or /48), for the devices page; see portal.device_info.
    device: str = ""
    network: bytes = b""
    #: The customer's sign-in before this one: (unix time, browser label), or None.
    previous_sign_in: tuple[int, str] | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.username or self.sub

    def idle_deadline(self, idle_timeout: int) -> float:
        return min(self.ends_at, self.last_seen + idle_timeout)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PortalSession:
        """The session a stored record describes; TypeError (which every reader takes as "no
        session") when a field has the wrong type, so that a corrupt or planted record ends
        the session instead of failing later in a comparison or a page (a 500)."""
        for name, kind in _FIELD_TYPES.items():
            if name in state and not isinstance(state[name], kind):
                raise TypeError(f"session field {name}: {type(state[name]).__name__}")
        for name in ("amr", "groups"):
            if not all(isinstance(item, str) for item in state.get(name, ())):
                raise TypeError(f"session field {name}: not a list of strings")
        groups = tuple(state.get("groups", ()))
        previous = state.get("previous_sign_in")
        if previous is not None and not (
            isinstance(previous, list | tuple)  # a list once stored, a tuple from to_state
            and len(previous) == 2
            and isinstance(previous[0], int | float)
            and isinstance(previous[1], str)
        ):
            previous = None
        # Records written before the ID token stopped being kept still carry it; they stay
        # readable (a deployment does not sign everyone out), and it is dropped here.
        kept = {k: v for k, v in state.items() if k not in RETIRED_FIELDS}
        return cls(
            **{
                **kept,
                "amr": tuple(state.get("amr", ())),
                "groups": groups,
                "previous_sign_in": tuple(previous) if previous is not None else None,
            }
        )

    def to_state(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "amr": list(self.amr),
            "groups": list(self.groups),
            # Read by the previous version, which needs the field (an empty one is fine):
            # during a rolling deployment, or after a rollback, its processes then keep the
            # sessions this one wrote instead of ending them. Drop in the release after next.
            "id_token": "",
        }


#: The type each stored field must have (checked by PortalSession.from_state).
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "sub": str,
    "sid": (str, type(None)),
    "username": str,
    "name": str,
    "email": str,
    "auth_time": (int, float),
    "amr": list,
    "started_at": (int, float),
    "last_seen": (int, float),
    "ends_at": (int, float),
    "groups": list,
    "device": str,
    "network": bytes,
}

#: Fields of records written by earlier versions, ignored when read. ``id_token`` was kept
#: for "Log out everywhere" to send as ``id_token_hint``, which put the token (name, email,
#: sid) in a URL, so in the browser's history and the IdP's access logs; the portal no
#: longer sends it, so it no longer keeps it: nothing in the store can be replayed as a token.
RETIRED_FIELDS = frozenset({"id_token"})


def init_app(app: Flask, settings: Settings, clock: Clock) -> None:
    """Install the session interface for the configured backend and the index beside it."""
    app.config.update(
        SESSION_COOKIE_NAME=cookie_name(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_PERMANENT=False,
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    common: dict[str, Any] = {
        "key_prefix": SESSION_PREFIX,
        "use_signer": False,
        "permanent": False,
        "sid_length": 32,
    }
    # an ended sid is remembered as long as an ID token of it could still start a session
    tombstone_ttl = settings.sso_max_age + settings.clock_skew
    index: SessionIndex
    if settings.session_backend == "redis":
        client = connect(parse_redis_url(settings.redis_url), timeout=settings.http_timeout)
        app.extensions["portal.redis"] = client  # shared with the rate limiter
        interface = PortalRedisSessionInterface(app, client=client, **common)
        index = RedisSessionIndex(client, tombstone_ttl=tombstone_ttl)
    else:
        files = SessionFiles(prepare_session_dir(settings.session_dir))
        interface = PortalFileSessionInterface(app, client=files, **common)
        index = FileSessionIndex(files, tombstone_ttl=tombstone_ttl)
    interface.clock = clock
    interface.idle_timeout = settings.idle_timeout
    interface.login_timeout = settings.login_timeout
    interface.index = index
    app.session_interface = interface
    app.extensions["portal.session_index"] = index
    app.before_request(_load)
    app.after_request(_keep_recent_login_states)
    app.register_error_handler(LoginEnded, _login_ended)


def cookie_name(settings: Settings) -> str:
    """``__Host-portal_session`` on https, ``portal_session`` on http loopback."""
    return HOST_COOKIE_NAME if settings.secure_cookies else PLAIN_COOKIE_NAME


def _settings() -> Settings:
    return current_app.extensions["portal.settings"]


def _clock() -> Clock:
    return current_app.extensions["portal.clock"]


def index() -> SessionIndex:
    return current_app.extensions["portal.session_index"]


def store_unavailable() -> bool:
    return bool(getattr(session, "store_unavailable", False))


def start(claims: dict[str, Any], profile: dict[str, Any]) -> PortalSession:
    """Begin a signed-in session under a fresh id, bounded by the IdP's SSO session.

    The pre-login session (state, nonce, PKCE verifier) is cleared and its id discarded, so
    an id planted before login is worthless afterwards (session fixation).

    The bound is the first ``auth_time`` the portal saw for this ``sid``, plus
    PORTAL_SSO_MAX_AGE. Keycloak keeps the same user session, and so the same sid, through a
    re-authentication (``prompt=login``, ``max_age``) but resets ``auth_time``, while its
    session still ends at its own start plus its max lifespan, with no logout token on
    expiry; bounding by the latest ``auth_time`` would let the portal session outlive it by
    up to 12 hours. (authentik starts a new sid instead and back-channels the old one.)

    Raises :class:`LoginEnded` when a back-channel logout already ended this sid, or this
    subject (its sessions without sid, for a login without sid) with a logout token issued
    no earlier than this login's ID token (it arrived while this login's callback was
    running), or when the sid's bound is past.
    """
    settings, now = _settings(), _clock().now()
    auth_time = float(claims["auth_time"])
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    issued_at = float(claims["iat"])
    ended_at = index().subject_ended_at(claims["sub"], without_sid=sid is None)
    if ended_at is not None and issued_at <= ended_at:
        raise LoginEnded("the IdP logged this customer out after issuing this login's ID token")
    first_auth_time = auth_time
    if sid:
        if index().sid_ended(sid):
            raise LoginEnded(
                f"the IdP ended session sid_hash={audit.sid_hash(sid)} during this login"
            )
        first_auth_time = index().first_auth_time(
            sid, auth_time, ttl=int(auth_time + settings.sso_max_age - now), sub=claims["sub"]
        )
    ends_at = min(first_auth_time, auth_time) + settings.sso_max_age
    if ends_at <= now:
        raise LoginEnded(
            f"IdP session sid_hash={audit.sid_hash(sid)} began more than PORTAL_SSO_MAX_AGE ago"
        )
    device, network = device_info.of_this_request()
    started = PortalSession(
        sub=claims["sub"],
        sid=sid,
        username=str(profile.get("preferred_username") or ""),
        name=str(profile.get("name") or ""),
        email=str(profile.get("email") or ""),
        auth_time=auth_time,
        amr=tuple(a for a in claims.get("amr", []) if isinstance(a, str)),
        started_at=now,
        last_seen=now,
        ends_at=ends_at,
        groups=_groups(profile if "groups" in profile else claims),
        device=device,
        network=network,
        previous_sign_in=_swap_previous_sign_in(claims["sub"], now, device),
    )
    session.clear()
    current_app.session_interface.rotate(session, sub=started.sub)  # type: ignore[attr-defined]
    index().add(
        session.sid,  # type: ignore[attr-defined]
        sid=started.sid,
        sub=started.sub,
        ends_at=started.ends_at,
        now=now,
    )
    session[STATE_KEY] = started.to_state()
    session.new_login = True  # type: ignore[attr-defined]  # the one save that may create it
    # for the check after that save (a logout of the subject meanwhile), not stored
    session.login_issued_at = issued_at  # type: ignore[attr-defined]
    g.portal_session = started
    return started


def _swap_previous_sign_in(sub: str, now: float, device: str) -> tuple[int, str] | None:
    """Remember this sign-in for PREVIOUS_SIGN_IN_KEPT and return the one before it, which
    the account page shows so that a customer may notice a sign-in that was not theirs."""
    return index().swap_last_sign_in(sub, int(now), device, ttl=PREVIOUS_SIGN_IN_KEPT)


def _groups(claims: dict[str, Any]) -> tuple[str, ...]:
    """``groups`` as a tuple of strings (other values are ignored): the provider's profile
    has it from the PORTAL_GROUPS_CLAIM claim of the ID token or userinfo; else the ID
    token's own ``groups`` claim."""
    value = claims.get("groups")
    if not isinstance(value, list):
        return ()
    return tuple(g for g in value if isinstance(g, str))


def current() -> PortalSession | None:
    """The signed-in session of this request, or None (lifetimes already enforced)."""
    return g.get("portal_session")


def _load() -> None:
    """Before every request: drop a session past its SSO bound or idle limit, else touch it."""
    g.portal_session = None
    if store_unavailable():
        return
    state = session.get(STATE_KEY)
    if not isinstance(state, dict):
        return
    try:
        loaded = PortalSession.from_state(state)
    except TypeError:
        log.warning("session ended: unreadable state")
        end()
        return
    now, settings = _clock().now(), _settings()
    if now >= loaded.ends_at:
        log.info("session ended: SSO max age reached sub=%s", loaded.sub)
        audit.session_ended("max_age", sub=loaded.sub, sid=loaded.sid)
        end()
        return
    if now - loaded.last_seen >= settings.idle_timeout:
        log.info("session ended: idle for %d s sub=%s", int(now - loaded.last_seen), loaded.sub)
        audit.session_ended("idle", sub=loaded.sub, sid=loaded.sid)
        end()
        return
    # A static file says nothing of the customer's activity (the page that asks for it was
    # counted), and writing the session there would put a session cookie on a cacheable file.
    g.portal_session = loaded if request.endpoint == "static" else touch(loaded, now)


def touch(active: PortalSession, now: float) -> PortalSession:
    """Record activity; written at most every TOUCH_GRANULARITY seconds to spare the store."""
    if now - active.last_seen < TOUCH_GRANULARITY:
        return active
    touched = PortalSession.from_state({**active.to_state(), "last_seen": now})
    session[STATE_KEY] = touched.to_state()
    return touched


def end() -> PortalSession | None:
    """End this browser's portal session (the SSO session at the IdP is untouched)."""
    ended = g.get("portal_session")
    if ended is None and isinstance(session.get(STATE_KEY), dict):
        try:
            ended = PortalSession.from_state(session[STATE_KEY])
        except TypeError:
            ended = None
    session_id = session.sid  # type: ignore[attr-defined]
    session.clear()
    if not store_unavailable():
        if ended is not None:
            # out of the sub and sid index too: ended sessions left there would crowd the
            # devices page (and hide a live one) and lengthen every later logout
            index().end_one(session_id, sub=ended.sub, sid=ended.sid)
        current_app.session_interface.rotate(session)  # type: ignore[attr-defined]
    g.portal_session = None
    return ended


def end_by_sid(sid: str, *, sub: str | None = None, issued_at: float | None = None) -> int:
    """Back-channel logout: every portal session of that IdP session, in one step.

    Back-Channel Logout 1.0, Section 2.7: the RP ends the sessions "identified by the iss and
    sub Claims and/or the sid Claim". A session whose ID token had no sid cannot be told
    apart from this IdP session, so with ``sub`` (the logout token's) it ends too; sessions
    of that subject known to belong to another sid are kept. The sid is then remembered
    (tombstone) so that a login of it still in its callback cannot outlive this logout.
    """
    return index().end_by_sid(sid, sub=sub, issued_at=issued_at)


def end_by_sub(sub: str, *, issued_at: float | None = None) -> int:
    """Back-channel logout without sid: every portal session of that subject, and any login
    of it whose ID token was issued up to ``issued_at`` (the logout token's iat) and is
    still in its callback."""
    return index().end_by_sub(sub, issued_at=issued_at)


@dataclass(frozen=True)
class Device:
    """One live portal session of the customer, as the devices page shows it."""

    #: How the page's End form names the session (the id itself is a credential).
    handle: str
    #: Browser and system, e.g. "Firefox on Windows".
    browser: str
    #: The client's network, e.g. "203.0.113.0/24", or "".
    network: str
    started_at: float
    #: The last activity, to TOUCH_GRANULARITY seconds.
    last_seen: float
    this_device: bool


def devices() -> tuple[list[Device], bool]:
    """The signed-in customer's live portal sessions, this device first, then the
    MAX_DEVICES_LISTED most recently active; and whether there are more (listed or not,
    "End every other device" ends them). Read through the subject's index, never a scan of
    the store."""
    active = current()
    assert active is not None, "devices() needs a signed-in customer"
    this_id = session.sid  # type: ignore[attr-defined]
    live, more = _live_sessions(active, this_id)
    found = [
        Device(
            handle=device_info.handle(session_id),
            browser=other.device or device_info.UNKNOWN_BROWSER,
            network=device_info.network_text(other.network),
            started_at=other.started_at,
            last_seen=other.last_seen,
            this_device=session_id == this_id,
        )
        for session_id, other in live.items()
    ]
    found.sort(key=lambda d: (not d.this_device, -d.last_seen))
    return found[:MAX_DEVICES_LISTED], more or len(found) > MAX_DEVICES_LISTED


def end_other_devices() -> int:
    """End every portal session of the signed-in customer but this one, listed or not, in
    one step; return how many. As with End, the SSO session at the IdP is untouched."""
    active = current()
    assert active is not None, "end_other_devices() needs a signed-in customer"
    return index().end_others(active.sub, keep=session.sid)  # type: ignore[attr-defined]


def end_device(handle: str) -> PortalSession | None:
    """End another live portal session of the signed-in customer, named by its handle.

    The record and its index entries go in one step, as with a back-channel logout, so the
    device is signed out at its next request, on any process. The SSO session at the IdP is
    untouched. Returns the ended session, or None when none of the customer's other live
    sessions has that handle (ended meanwhile, or not theirs).
    """
    active = current()
    assert active is not None, "end_device() needs a signed-in customer"
    this_id = session.sid  # type: ignore[attr-defined]
    for session_id, other in _live_sessions(active, this_id)[0].items():
        if session_id != this_id and device_info.handle(session_id) == handle:
            index().end_one(session_id, sub=active.sub, sid=other.sid)
            return other
    return None


def this_device_handle() -> str:
    return device_info.handle(session.sid)  # type: ignore[attr-defined]


def _live_sessions(active: PortalSession, this_id: str) -> tuple[dict[str, PortalSession], bool]:
    """The subject's sessions whose record is readable and within both bounds (of the first
    MAX_DEVICES_READ ids of its index), this one always included; and whether the index
    holds more ids than were read."""
    records, listed = index().records_of(active.sub, limit=MAX_DEVICES_READ)
    now, idle_timeout = _clock().now(), _settings().idle_timeout
    live: dict[str, PortalSession] = {}
    for session_id, record in records.items():
        state = record.get(STATE_KEY)
        if not isinstance(state, dict):
            continue
        try:
            other = PortalSession.from_state(state)
        except TypeError:
            continue
        if other.sub == active.sub and now < other.ends_at and now - other.last_seen < idle_timeout:
            live[session_id] = other
    live[this_id] = active  # this request's view of it is the freshest
    return live, listed > MAX_DEVICES_READ


def _login_ended(exc: LoginEnded) -> Response:
    log.warning("login refused: %s", exc.reason)
    return error_page("failed", 400)


def _keep_recent_login_states(response: Response) -> Response:
    """After each request: keep only the MAX_PENDING_LOGINS most recent pending logins.

    Authlib stores one entry per ``GET /login`` (state, nonce, PKCE verifier) and drops them
    only once expired; without a cap, 300 logins that are never finished make one stored
    session of 177 KB. The oldest go first; the login of an abandoned tab then fails with
    "state unknown" and starts again.
    """
    if not session.modified:
        return response
    pending = [key for key in session if key.startswith(PENDING_LOGIN_PREFIX)]
    if len(pending) <= MAX_PENDING_LOGINS:
        return response

    def created(key: str) -> float:  # Authlib's "exp" is its creation time plus one hour
        entry = session.get(key)
        exp = entry.get("exp") if isinstance(entry, dict) else None
        return float(exp) if isinstance(exp, int | float) else 0.0

    pending.sort(key=created)
    for key in pending[: len(pending) - MAX_PENDING_LOGINS]:
        session.pop(key, None)
    return response


def logout_token_seen(jti: str) -> bool:
    return index().jti_seen(jti)


def remember_logout_token(jti: str, ttl: int) -> None:
    index().remember_jti(jti, ttl)


def check_store() -> None:
    """Raise StoreUnavailable when the session store cannot be reached (for /readyz)."""
    if store_unavailable():
        raise StoreUnavailable("session store unavailable")
    index().ping()


def remember(key: str, value: Any) -> None:
    """Keep a small pre-login value (e.g. the MFA confirmation offer) in this browser's session."""
    session[f"portal.{key}"] = value


def recall(key: str, *, pop: bool = True) -> Any:
    name = f"portal.{key}"
    return session.pop(name, None) if pop else session.get(name)
