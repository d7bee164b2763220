"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): logout tokens and their delivery.

When an SSO session ends, every client that took part in it and registered a
``backchannel_logout_uri`` receives an HTTP POST of ``logout_token=<JWT>`` (§2.5). The token
(§2.4) is signed RS256 with header ``typ: logout+jwt`` and carries ``iss``, ``aud``, ``iat``,
``exp``, ``jti``, ``events``, ``sid`` and ``sub``, and never a ``nonce``. Delivery is tried
``TRIES`` times with a short backoff; failures are logged (never the token) and never block the
user: the web flow delivers in a background thread, the admin CLI waits for the results.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from joserfc import jwt

from .keys import SigningKey

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a JWT "typ", not a secret
LIFETIME_SECONDS = 120
TRIES = 3
BACKOFF_SECONDS = (0.25, 0.75)
TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Delivery:
    """One logout token to POST to one client."""

    client_id: str
    uri: str
    logout_token: str


@dataclass(frozen=True)
class Result:
    client_id: str
    uri: str
    delivered: bool
    attempts: int
    error: str | None = None


def logout_token(
    *, key: SigningKey, issuer: str, client_id: str, sub: str, sid: str, now: float
) -> str:
    """A signed logout token for one client (§2.4)."""
    iat = int(now)
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "events": {EVENT: {}},
        "sid": sid,
        "sub": sub,
    }
    return jwt.encode(key.header(typ=TOKEN_TYPE), claims, key.private, algorithms=["RS256"])


def deliver(
    delivery: Delivery,
    *,
    tries: int = TRIES,
    backoff: Sequence[float] = BACKOFF_SECONDS,
    post: Callable[..., requests.Response] = requests.post,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """POST the token, retrying on network errors and non-2xx answers (§2.8)."""
    error = None
    for attempt in range(1, tries + 1):
        try:
            response = post(
                delivery.uri,
                data={"logout_token": delivery.logout_token},
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                log.info(
                    "back-channel logout delivered to client %s at %s (try %d)",
                    delivery.client_id,
                    delivery.uri,
                    attempt,
                )
                return Result(delivery.client_id, delivery.uri, True, attempt)
            error = f"HTTP {response.status_code}"
        log.warning(
            "back-channel logout to client %s at %s failed (try %d of %d): %s",
            delivery.client_id,
            delivery.uri,
            attempt,
            tries,
            error,
        )
        if attempt < tries:
            sleep(backoff[min(attempt - 1, len(backoff) - 1)] if backoff else 0)
    log.error(
        "back-channel logout to client %s at %s given up after %d tries",
        delivery.client_id,
        delivery.uri,
        tries,
    )
    return Result(delivery.client_id, delivery.uri, False, tries, error)


def deliver_all(deliveries: Iterable[Delivery]) -> list[Result]:
    """Deliver one after the other and return what happened (used by the admin CLI)."""
    return [deliver(item) for item in deliveries]


def deliver_in_background(deliveries: Sequence[Delivery]) -> threading.Thread | None:
    """Deliver from a daemon thread so the browser's request is not held up."""
    if not deliveries:
        return None
    thread = threading.Thread(
        target=deliver_all, args=(list(deliveries),), name="devidp-backchannel", daemon=True
    )
    thread.start()
    return thread
