"""The audit trail: one line per security event, under names a SIEM can rely on.

The events (the README's "Audit trail" lists them with their fields; keep the two in step):

=============================  ==========================================================
``login.ok``                   a customer signed in; a portal session started
``login.refused``              a login did not sign anyone in; ``reason`` says why (the
                               ``result`` values of ``portal_logins_total``)
``logout.portal``              the customer logged out of the portal (the SSO session lives)
``logout.everywhere``          the customer logged out of the portal and, through the IdP,
                               of the SSO session
``session.ended.backchannel``  the IdP ended its session; ``sessions`` portal sessions ended
``session.ended.max_age``      a session reached auth_time + PORTAL_SSO_MAX_AGE (12 hours)
``session.ended.idle``         a session was idle longer than PORTAL_IDLE_TIMEOUT
``session.ended.device``       the customer ended another device's portal session (devices page)
=============================  ==========================================================

Every line carries ``sub`` (the IdP's subject), ``sid_hash`` (not the IdP's ``sid`` itself,
which names a live IdP session: the first 16 hex digits of its SHA-256, so a SIEM can match it
with the IdP's own logs by hashing the same way), ``client`` (the client address as the rate
limits see it, after PORTAL_TRUSTED_PROXIES; for a back-channel logout that is the IdP) and
``user_agent`` (the browser's family, such as "Chrome" or "Mobile Safari", from ua-parser,
the maintained port of the Browserscope/uap-core rules; never the whole header, which
fingerprints the customer). A value that is unknown is null in JSON and ``-`` in text.

The lines go to the ``portal.audit`` logger at INFO (WARNING for ``login.refused``), so a
deployer can route them on their own. With PORTAL_LOG_FORMAT=json the event name is the
``event`` key and the fields are keys of the same object. Each event is also counted in
:mod:`portal.metrics`, so the trail and the dashboard never disagree.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from flask import Flask
from flask import has_request_context
from flask import request
from ua_parser import parse_user_agent

from portal import metrics
from portal.logs import sid_hash
from portal.security import client_address

log = logging.getLogger("portal.audit")

LOGIN_OK = "login.ok"
LOGIN_REFUSED = "login.refused"
LOGOUT = "logout.{kind}"  # portal, everywhere
SESSION_ENDED = "session.ended.{reason}"  # backchannel, max_age, idle, device

#: Longest user agent header looked at; longer ones are cut before parsing (regex cost).
MAX_USER_AGENT = 512


@functools.lru_cache(maxsize=512)
def user_agent_family(header: str) -> str:
    """The browser's family: Chrome, Firefox, Mobile Safari, curl ... or Other (ua-parser's)."""
    parsed = parse_user_agent(header[:MAX_USER_AGENT]) if header else None
    return parsed.family if parsed is not None else "Other"


def login_ok(*, sub: str, sid: str | None, amr: tuple[str, ...] = ()) -> None:
    metrics.login("ok")
    _emit(logging.INFO, LOGIN_OK, sub=sub, sid=sid, fields={"amr": list(amr)})


def login_refused(
    reason: str, detail: str, *, sub: str | None = None, sid: str | None = None
) -> None:
    """``reason`` is one of :data:`portal.metrics.LOGIN_RESULTS`; ``detail`` the log reason
    (it never holds a token or a code)."""
    metrics.login(reason)
    _emit(
        logging.WARNING,
        LOGIN_REFUSED,
        sub=sub,
        sid=sid,
        fields={"reason": reason, "detail": detail},
    )


def logout(kind: str, *, sub: str, sid: str | None) -> None:
    """``kind``: "portal" or "everywhere"."""
    metrics.logout(kind)
    _emit(logging.INFO, LOGOUT.format(kind=kind), sub=sub, sid=sid)


def session_ended(
    reason: str, *, sub: str | None, sid: str | None, sessions: int | None = None
) -> None:
    """``reason``: "backchannel" (``sessions``: how many ended), "max_age", "idle" or
    "device" (the customer ended another device's session)."""
    count = 1 if sessions is None else sessions
    metrics.sessions_ended(reason, count)
    fields = {} if sessions is None else {"sessions": sessions}
    _emit(logging.INFO, SESSION_ENDED.format(reason=reason), sub=sub, sid=sid, fields=fields)


def _emit(
    level: int,
    event: str,
    *,
    sub: str | None,
    sid: str | None,
    fields: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {
        "sub": sub,
        "sid_hash": sid_hash(sid),
        "client": client_address() if has_request_context() else None,
        "user_agent": user_agent_family(request.headers.get("User-Agent", ""))
        if has_request_context()
        else None,
        **(fields or {}),
    }
    text = " ".join(f"{name}={_text(value)}" for name, value in values.items())
    log.log(level, "%s %s", event, text, extra={"event": event, "fields": values})


def _text(value: Any) -> str:
    """A field in the text format: bare when plain, JSON-quoted when it has spaces or quotes."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value) or "-"
    text = str(value)
    if not text or any(c in text for c in ' "=\\'):
        return json.dumps(text)
    return text


def init_app(app: Flask) -> None:
    """Load the user agent rules now, while the process starts (~0.4 s), not at the first
    customer's login."""
    user_agent_family("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36")
